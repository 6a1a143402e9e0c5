"""deepface 0.0.101: TensorFlow and PyTorch, model sources in a registry of dotted paths
per engine (``modeling.AVAILABLE_MODELS``), TensorFlow clients still at the top of
``facial_recognition/`` and PyTorch ones in ``facial_recognition/pytorch``.

Against 0.0.103 (the glue of :mod:`deepface_batch.compat._shared`), read in
``modules/detection.py``, ``representation.py``, ``preprocessing.py`` and ``modeling.py``:

* ``representation.represent`` takes ``cryptosystem`` (a LightPHE system) and adds
  ``encrypted_embedding`` to each result when it is given. deepface_batch does not batch
  that: a call with a cryptosystem runs upstream's own ``represent``
  (``REPRESENT_UPSTREAM_ONLY``); the package's own API does not take it.
* ``detection.extract_face`` slices the face without clipping its box first (0.0.102
  clips, so that a negative coordinate no longer wraps around); the glue calls upstream's
  own function, so each release keeps its own crop.
* ``preprocessing.normalize_input`` ("Facenet") has no floor under the standard deviation
  (0.0.102 added it), so a flat face's embedding is NaN; called, not restated.
* ``modeling``: no onnx engine, no ``tf/``, ``onnx/`` and ``dlib/`` packages; the
  ``AVAILABLE_MODELS`` keys and ``build_model(task, model_name)`` are 0.0.103's.
* Detectors: ``CenterFace.detect_faces`` fails on an image without detections (0.0.103
  returns empty arrays); the plugin maps raw output itself, as on 0.0.103.
"""

from __future__ import annotations

import deepface
from deepface.commons import backend_utils

from deepface_batch.compat import _shared, v0_0_100
from deepface_batch.compat._shared import *  # noqa: F403  (the glue; below, what differs)

#: the Protocol's names: the shared glue's and this release's own
__all__ = [
    *_shared.__all__,
    "RECOGNITION_MODULES",
    "RELEASES",
    "REPRESENT_UPSTREAM_ONLY",
    "VERSION",
    "backend_engine",
]

RELEASES: tuple[str, ...] = ("0.0.101",)
# 0.0.100's representation.py (``cryptosystem``)
REPRESENT_DEFAULTS = v0_0_100.REPRESENT_DEFAULTS
REPRESENT_UPSTREAM_ONLY = v0_0_100.REPRESENT_UPSTREAM_ONLY
VERSION: str = deepface.__version__

_RECOGNITION = "deepface.models.facial_recognition"
RECOGNITION_MODULES: dict[str, str] = {
    "tf.VGGFace": f"{_RECOGNITION}.VGGFace",
    "pytorch.TorchFacialRecognition": f"{_RECOGNITION}.pytorch.TorchFacialRecognition",
    "pytorch.VGGFace": f"{_RECOGNITION}.pytorch.VGGFace",
    "dlib.Dlib": f"{_RECOGNITION}.Dlib",
}


def backend_engine() -> str:
    """The engine deepface runs on: ``tensorflow`` or ``pytorch``."""
    return backend_utils.get_backend_engine()
