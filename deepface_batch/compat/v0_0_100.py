"""deepface 0.0.100: the last TensorFlow-only release. ``modeling.AVAILABLE_MODELS`` holds
the client classes themselves (imported eagerly with ``modeling``), every recognition
client is a Keras one at the top of ``facial_recognition/`` (Dlib and SFace beside them),
and there is no ``commons/backend_utils``: the engine is always TensorFlow.

Against 0.0.101 (:mod:`deepface_batch.compat.v0_0_101`, whose differences from 0.0.103
apply here too), read in ``modules/detection.py``, ``representation.py``,
``preprocessing.py`` and ``modeling.py``:

* ``detection.extract_faces`` divides a face by 255 whenever ``normalize_face`` is set;
  0.0.101 and later only when the face's maximum is above 1. :func:`finish` keeps that.
* ``preprocessing.normalize_input`` reaches Keras' ``img_to_array`` (0.0.101 and later
  ``np.asarray(img, dtype=np.float32)``: the same array); called, not restated.
* ``representation.py`` is 0.0.101's (``cryptosystem`` included; 0.0.101's module takes
  that part from here).
"""

from __future__ import annotations

from typing import Any

import deepface
import numpy as np
from deepface.models.Detector import DetectedFace

from deepface_batch.compat import _shared
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

RELEASES: tuple[str, ...] = ("0.0.100",)
VERSION: str = deepface.__version__

_RECOGNITION = "deepface.models.facial_recognition"
RECOGNITION_MODULES: dict[str, str] = {
    "tf.VGGFace": f"{_RECOGNITION}.VGGFace",
    "dlib.Dlib": f"{_RECOGNITION}.Dlib",
}


#: ``represent``'s ``cryptosystem`` (0.0.100 and 0.0.101): upstream's own code encrypts
REPRESENT_UPSTREAM_ONLY: dict[str, object] = {"cryptosystem": None}
REPRESENT_DEFAULTS = {**_shared.REPRESENT_DEFAULTS, **REPRESENT_UPSTREAM_ONLY}


def backend_engine() -> str:
    """The engine deepface runs on: always ``tensorflow``."""
    return "tensorflow"


def finish(  # type: ignore[no-redef]  # 0.0.100's own, over the shared one
    img: np.ndarray,
    img_name: str | None,
    face_objs: list[DetectedFace],
    enforce_detection: bool = True,
    grayscale: bool = False,
    color_face: str = "rgb",
    normalize_face: bool = True,
    anti_spoofing: bool = False,
) -> list[dict[str, Any]]:
    """Detected faces as 0.0.100's result dicts: 0.0.101's tail, but ``normalize_face``
    divides every face by 255, whatever its values."""
    resp_objs = _shared.finish(img, img_name, face_objs, enforce_detection, grayscale, color_face, False, anti_spoofing)
    if normalize_face:
        for resp_obj in resp_objs:
            resp_obj["face"] = resp_obj["face"] / 255
    return resp_objs
