"""The YOLO face detector backends (ultralytics): upstream's detectors in a loop.

deepface offers eleven YOLO face models; each is a plugin class made here, named as
deepface names the backend.
"""

from __future__ import annotations

from deepface_batch.plugin import Requirement, UpstreamPseudoPlugin

#: deepface's YOLO detector_backend names.
YOLO_BACKENDS = (
    "yolov8n",
    "yolov8m",
    "yolov8l",
    "yolov11n",
    "yolov11s",
    "yolov11m",
    "yolov11l",
    "yolov12n",
    "yolov12s",
    "yolov12m",
    "yolov12l",
)


class YoloPlugin(UpstreamPseudoPlugin):
    """A YOLO face model through upstream deepface's own detector, one image at a time."""

    name = "yolov8n"
    requires = (Requirement("ultralytics", "'deepface-batch[yolo]'"),)


def _plugin_class(backend: str) -> type[YoloPlugin]:
    class_name = f"Yolo{backend[4:].upper()}Plugin"
    return type(class_name, (YoloPlugin,), {"name": backend, "__module__": __name__})


PLUGINS: dict[str, type[YoloPlugin]] = {backend: _plugin_class(backend) for backend in YOLO_BACKENDS}
