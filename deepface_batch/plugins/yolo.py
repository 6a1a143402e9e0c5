"""The YOLO face detector backends (ultralytics), batched natively.

deepface offers eleven YOLO face models; each is a plugin class made here, named as deepface
names the backend. A batch goes to ``YOLO.predict`` as a list, one call per group of
same-shape images: ultralytics letterboxes a same-shape batch exactly as it letterboxes one
image (minimal padding), while a mixed-shape batch would be padded to a square and give
other boxes. Each result is mapped to facial areas as upstream maps it, eye keypoints
(yolov8 face models) included, and upstream's ``YOLO_MIN_DETECTION_CONFIDENCE`` applies.

Threads: importing ultralytics sets ``OMP_NUM_THREADS=1``, and its first prediction sets
torch to ``min(8, cores - 1)`` threads (one, on two cores). The plugin puts both back as
they were, so neither YOLO nor the rest of the process runs on fewer cores than before.

On CUDA, ultralytics uses the GPU by itself; ``half=True`` (or ``DEEPFACE_BATCH_YOLO_HALF=1``)
runs it in half precision, which has a tolerance of its own (not measured here: no GPU).
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

import numpy as np
from deepface.models.Detector import FacialAreaRegion

from deepface_batch.pipeline import run_grouped
from deepface_batch.plugin import BatchMode, Requirement, Tolerance, UpstreamPseudoPlugin

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


@contextmanager
def _threads_kept() -> Iterator[None]:
    """Undo what ultralytics does to the process's thread settings inside the block."""
    omp = os.environ.get("OMP_NUM_THREADS")
    import torch

    threads = torch.get_num_threads()
    try:
        yield
    finally:
        if omp is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = omp
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)


def regions_of(result: Any) -> list[FacialAreaRegion]:
    """Upstream's mapping of one image's ultralytics ``Results``, step for step."""
    regions = []
    for detection in result:
        if detection.boxes is None:
            continue
        x, y, w, h = detection.boxes.xywh.tolist()[0]
        confidence = detection.boxes.conf.tolist()[0]
        right_eye = left_eye = None
        if detection.keypoints is not None:
            right_eye = tuple(int(i) for i in detection.keypoints.xy[0][0].tolist())
            left_eye = tuple(int(i) for i in detection.keypoints.xy[0][1].tolist())
        x, y, w, h = int(x - w / 2), int(y - h / 2), int(w), int(h)
        regions.append(
            FacialAreaRegion(
                x=x, y=y, w=w, h=h, left_eye=left_eye, right_eye=right_eye, confidence=confidence
            )
        )
    return regions


class YoloPlugin(UpstreamPseudoPlugin):
    """A YOLO face model, one ``predict`` per same-shape group of a batch."""

    name = "yolov8n"
    batch_mode = BatchMode.NATIVE
    requires = (Requirement("ultralytics", "'deepface-batch[yolo]'"),)
    # Measured on CPU with planted weights: a batched forward pass moves raw confidences by
    # up to 7e-6 and nothing else; upstream rounds confidences to 0.01, and a coordinate on
    # a rounding boundary may move by a pixel.
    tolerance = Tolerance(box_px=1, landmark_px=1, confidence=0.01)

    def __init__(self, half: bool | None = None) -> None:
        super().__init__()
        self.half = (
            os.environ.get("DEEPFACE_BATCH_YOLO_HALF", "") in {"1", "true", "yes"}
            if half is None
            else half
        )

    def prepare(self) -> None:
        with _threads_kept():
            super().prepare()

    def predict(self, images: list[np.ndarray]) -> list[Any]:
        """ultralytics' results for same-shape images, in one call."""
        self.prepare()
        with _threads_kept():
            return self.detector.model.predict(
                list(images),
                verbose=False,
                show=False,
                conf=float(os.getenv("YOLO_MIN_DETECTION_CONFIDENCE", "0.25")),
                half=self.half,
            )

    def _detect_group(self, images: list[np.ndarray]) -> list[list[FacialAreaRegion]]:
        return [regions_of(result) for result in self.predict(images)]

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[list[FacialAreaRegion]]:
        return run_grouped(images, self._detect_group)


def _plugin_class(backend: str) -> type[YoloPlugin]:
    class_name = f"Yolo{backend[4:].upper()}Plugin"
    return type(class_name, (YoloPlugin,), {"name": backend, "__module__": __name__})


PLUGINS: dict[str, type[YoloPlugin]] = {backend: _plugin_class(backend) for backend in YOLO_BACKENDS}
