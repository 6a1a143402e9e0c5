"""deepface 0.0.102 and 0.0.103: three engines (onnxruntime, the default, TensorFlow and
PyTorch), model sources in a registry of dotted paths per engine, each engine's clients in
its own package (``facial_recognition/tf``, ``pytorch``, ``onnx``, ``dlib``).

0.0.102 and 0.0.103 have the same ``modules/`` and ``models/`` (but for a docstring line
in ``models/spoofing/pytorch/FasNet.py``; they differ in ``commons/``: image format
sniffing without PIL, onnxruntime providers from ``DEEPFACE_ONNX_PROVIDERS``, install
hints), so one module serves both. The glue is
:mod:`deepface_batch.compat._shared`; this module adds what names this layout.
"""

from __future__ import annotations

import deepface
from deepface.commons import backend_utils

from deepface_batch.compat import _shared
from deepface_batch.compat._shared import *  # noqa: F403  (the glue; below, what differs)

#: the Protocol's names: the shared glue's and this release's own
__all__ = [*_shared.__all__, "RECOGNITION_MODULES", "RELEASES", "REPRESENT_UPSTREAM_ONLY", "VERSION", "backend_engine"]

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

#: find's datastore build through the engine: this layout's file store and datastore
FIND_BUILD = True

#: register's list streams into the database through the engine: every target is here
ABSENT_TARGETS = frozenset[str]()


def backend_engine() -> str:
    """The engine deepface runs on: ``onnx``, ``tensorflow`` or ``pytorch``."""
    return backend_utils.get_backend_engine()
