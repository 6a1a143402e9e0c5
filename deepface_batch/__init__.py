"""deepface-batch: true batched inference for deepface's extract_faces, represent, analyze and verify.

    import deepface_batch
    faces_per_image = deepface_batch.extract_faces([img1, img2], detector_backend="ssd")
    embeddings_per_image = deepface_batch.represent(frames, model_name="Facenet")
    attributes_per_image = deepface_batch.analyze(frames, actions=("emotion",))
    results_per_pair = deepface_batch.verify([(img1, img2), (img1, img3)], model_name="Dlib")

Installed with pip, the package also patches deepface itself when deepface is imported
(``DEEPFACE_BATCH_DISABLE=1`` opts out), so ``DeepFace.extract_faces([img1, img2])``,
``DeepFace.represent([...])`` and ``DeepFace.analyze([...])`` run batched too. One image in
gives exactly upstream's result.
"""

from __future__ import annotations

from importlib import metadata as _metadata
from typing import Any

from deepface_batch.analysis import analyze, iter_analyze
from deepface_batch.api import extract_faces, iter_extract_faces
from deepface_batch.errors import (
    BatchModeError,
    DeepfaceBatchError,
    DetectorNameTakenError,
    DetectorUnavailableError,
    InputSourceError,
    InvalidImageError,
    PluginValidationError,
    UnknownDetectorError,
    UnsupportedDeepfaceVersion,
    WeightFileError,
)
from deepface_batch.patching import is_patched, patch, patched, unpatch, unpatched
from deepface_batch.plugin import BatchMode, BorderAgreement, DetectorPlugin, Requirement, Tolerance
from deepface_batch.registry import (
    detectors,
    get_detector,
    register_detector,
    registered,
    unregister_detector,
)
from deepface_batch.representation import iter_represent, represent
from deepface_batch.verification import iter_verify, verify

try:  # the version is pyproject.toml's, read from the installed distribution
    __version__ = _metadata.version("deepface-batch")
except _metadata.PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "BatchMode",
    "FacialAreaRegion",
    "BatchModeError",
    "BorderAgreement",
    "DeepfaceBatchError",
    "DetectorNameTakenError",
    "DetectorPlugin",
    "DetectorUnavailableError",
    "InputSourceError",
    "InvalidImageError",
    "PluginValidationError",
    "Requirement",
    "Tolerance",
    "UnknownDetectorError",
    "UnsupportedDeepfaceVersion",
    "WeightFileError",
    "analyze",
    "detectors",
    "extract_faces",
    "get_detector",
    "is_patched",
    "iter_analyze",
    "iter_extract_faces",
    "iter_represent",
    "iter_verify",
    "patch",
    "patched",
    "register_detector",
    "registered",
    "represent",
    "unpatch",
    "unpatched",
    "unregister_detector",
    "verify",
    "__version__",
]


def __getattr__(name: str) -> Any:
    """``FacialAreaRegion``: upstream's region class, what a plugin's ``detect_batch``
    returns for each face, read from the installed deepface when first asked for (``import
    deepface_batch`` itself does not import deepface)."""
    if name == "FacialAreaRegion":
        from deepface_batch import compat

        return compat.get().FacialAreaRegion
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
