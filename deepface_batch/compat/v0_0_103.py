"""deepface 0.0.102 and 0.0.103: three engines (onnxruntime, the default, TensorFlow and
PyTorch), model sources in a registry of dotted paths per engine, each engine's clients in
its own package (``facial_recognition/tf``, ``pytorch``, ``onnx``, ``dlib``).

0.0.102 and 0.0.103 have the same ``modules/`` and ``models/`` (they differ in
``commons/``: image format sniffing without PIL, onnxruntime providers from
``DEEPFACE_ONNX_PROVIDERS``, install hints), so one module serves both. The glue is
:mod:`deepface_batch.compat._shared`; this module adds what names this layout.
"""

from __future__ import annotations

import deepface
from deepface.commons import backend_utils

from deepface_batch.compat._shared import (
    DETECTORS,
    EXTRACT_FACES_DEFAULTS,
    RECOGNITION_MODELS,
    REPRESENT_DEFAULTS,
    add_border,
    build_detector,
    build_recognition_model,
    clamp_expand_percentage,
    faces_from_regions,
    finish,
    load_image,
    reference_extract_faces,
    reference_represent,
    represent_entry,
    represent_input,
    represent_select,
    represent_skip_faces,
    shift_regions,
    skip_faces,
)

__all__ = [
    "DETECTORS",
    "EXTRACT_FACES_DEFAULTS",
    "RECOGNITION_MODELS",
    "RECOGNITION_MODULES",
    "RELEASES",
    "REPRESENT_DEFAULTS",
    "REPRESENT_UPSTREAM_ONLY",
    "VERSION",
    "add_border",
    "backend_engine",
    "build_detector",
    "build_recognition_model",
    "clamp_expand_percentage",
    "faces_from_regions",
    "finish",
    "load_image",
    "reference_extract_faces",
    "reference_represent",
    "represent_entry",
    "represent_input",
    "represent_select",
    "represent_skip_faces",
    "shift_regions",
    "skip_faces",
]

RELEASES: tuple[str, ...] = ("0.0.102", "0.0.103")
VERSION: str = deepface.__version__

_RECOGNITION = "deepface.models.facial_recognition"
RECOGNITION_MODULES: dict[str, str] = {
    name: f"{_RECOGNITION}.{name}"
    for name in (
        "tf.VGGFace",
        "onnx.OnnxFacialRecognition",
        "onnx.VGGFace",
        "pytorch.TorchFacialRecognition",
        "pytorch.VGGFace",
        "dlib.Dlib",
    )
}

REPRESENT_UPSTREAM_ONLY: dict[str, object] = {}


def backend_engine() -> str:
    """The engine deepface runs on: ``onnx``, ``tensorflow`` or ``pytorch``."""
    return backend_utils.get_backend_engine()
