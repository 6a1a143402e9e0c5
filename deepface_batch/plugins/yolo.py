"""The YOLO face detector backends (ultralytics), batched natively.

deepface offers eleven YOLO face models; each is a plugin class made here, named as deepface
names the backend. A batch goes to ``YOLO.predict`` as a list, one call per group of
same-shape images: ultralytics letterboxes a same-shape batch exactly as it letterboxes one
image (minimal padding), while a mixed-shape batch would be padded to a square and give
other boxes. Each result is mapped to facial areas as upstream maps it, eye keypoints
(yolov8 face models) included, and upstream's ``YOLO_MIN_DETECTION_CONFIDENCE`` applies
(``regions_of`` and ``predict``'s arguments restate deepface 0.0.103's
``YoloDetectorClient.detect_faces``, deepface/models/face_detection/Yolo.py).

Threads: importing ultralytics sets ``OMP_NUM_THREADS=1`` and turns OpenCV's threads off
(``cv2.setNumThreads(0)``), and its first prediction sets torch to ``min(8, cores - 1)``
threads (one, on two cores), all for good. The plugin runs its own
passes on a deliberate number of threads (``threads=``, ``DEEPFACE_BATCH_TORCH_THREADS``,
or every core the process may use) and afterwards puts both settings back as they were, so
neither YOLO nor the rest of the process runs on fewer cores than it had.

Pass size: on a CPU, passes of a few images are fastest (a few images per pass measured
faster per image than one, while large passes are slower again, as the activations
outgrow the cache), so a group is split into passes of ``images_per_pass``
images (4 by default on a CPU); on CUDA a whole group goes in one pass. Measurements:
benchmarks/results/2026-11-24-cpu-yolo-mtcnn-retinaface.md. ``half=True`` (or
``DEEPFACE_BATCH_YOLO_HALF=1``) runs CUDA passes in half precision, with a tolerance of its
own (not measured here: no GPU was lent).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from deepface.models.Detector import FacialAreaRegion

from deepface_batch import config
from deepface_batch.plugin import GroupedPlugin, Requirement, Tolerance
from deepface_batch.registry import YOLO_BACKENDS

__all__ = ["PLUGINS", "YoloPlugin", "regions_of", "usable_cores"]


def usable_cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@contextmanager
def _threads_kept(run_on: int | None = None) -> Iterator[None]:
    """Run the block on ``run_on`` torch threads (when given), and undo what ultralytics
    does to the process's thread settings inside it: ``OMP_NUM_THREADS``, torch's threads,
    and OpenCV's (its import turns OpenCV's threading off for the whole process)."""
    omp = os.environ.get("OMP_NUM_THREADS")
    import cv2
    import torch

    threads = torch.get_num_threads()
    cv2_threads = cv2.getNumThreads()
    if run_on:
        torch.set_num_threads(run_on)
    try:
        yield
    finally:
        if omp is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = omp
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        if cv2.getNumThreads() != cv2_threads:
            cv2.setNumThreads(cv2_threads)


def _half_precision() -> dict[str, Any]:
    """The predict argument for half precision: ``quantize=16`` where ultralytics has it
    (8.4 deprecates ``half``), else ``half=True``. Without it predict runs in full
    precision, as upstream's call does."""
    from ultralytics.cfg import DEFAULT_CFG_DICT

    return {"quantize": 16} if "quantize" in DEFAULT_CFG_DICT else {"half": True}


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
            FacialAreaRegion(x=x, y=y, w=w, h=h, left_eye=left_eye, right_eye=right_eye, confidence=confidence)
        )
    return regions


class YoloPlugin(GroupedPlugin):
    """A YOLO face model, one ``predict`` per same-shape group of a batch."""

    name = "yolov8n"
    requires = (Requirement("ultralytics", "'deepface-batch[yolo]'"),)
    # Measured on CPU with planted weights: a batched forward pass moves raw confidences by
    # up to 7e-6 and nothing else; upstream rounds confidences to 0.01, and a coordinate on
    # a rounding boundary may move by a pixel.
    tolerance = Tolerance(box_px=1, landmark_px=1, confidence=0.01)
    cpu_images_per_pass = 4  # see the module's docstring

    def __init__(
        self,
        half: bool | None = None,
        threads: int | None = None,
        images_per_pass: int | None = None,
    ) -> None:
        super().__init__(images_per_pass)
        self.half = bool(config.default("yolo_half")) if half is None else half
        if self.half:
            # provisional, not measured: no GPU was lent to measure half precision on
            # (on a CPU ultralytics runs in full precision whatever ``half`` says)
            self.tolerance = Tolerance(box_px=2, landmark_px=2, confidence=0.02)  # type: ignore[misc]
        self.threads = threads or config.default("torch_threads") or usable_cores()

    def on_gpu(self) -> bool:
        import torch

        return torch.cuda.is_available()

    def prepare(self) -> None:
        with _threads_kept():
            super().prepare()

    def predict(self, images: list[np.ndarray]) -> list[Any]:
        """ultralytics' results for same-shape images, in one call."""
        self.prepare()
        with _threads_kept(self.threads):
            return self.detector.model.predict(
                list(images),
                verbose=False,
                show=False,
                conf=float(os.getenv("YOLO_MIN_DETECTION_CONFIDENCE", "0.25")),
                **(_half_precision() if self.half else {}),
            )

    def _detect_group(self, images: list[np.ndarray]) -> list[list[FacialAreaRegion]]:
        return [regions_of(result) for result in self.predict(images)]


def _plugin_class(backend: str) -> type[YoloPlugin]:
    class_name = f"Yolo{backend[4:].upper()}Plugin"
    return type(class_name, (YoloPlugin,), {"name": backend, "__module__": __name__})


PLUGINS: dict[str, type[YoloPlugin]] = {backend: _plugin_class(backend) for backend in YOLO_BACKENDS}
