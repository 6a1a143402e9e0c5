"""An example third-party detector plugin for deepface-batch.

It registers the backend ``example-ssd`` through the ``deepface_batch.detectors`` entry
point (see pyproject.toml). The detector is OpenCV's ResNet-10 SSD, the network behind
deepface's ``ssd`` backend, run natively batched: every image is resized to 300 x 300, so
a whole batch is one ``blobFromImages`` and one forward pass. Its test module subclasses
deepface-batch's contract suite and supplies only the plugin.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
from deepface.models.Detector import FacialAreaRegion

from deepface_batch import BatchMode, DetectorPlugin, Tolerance

SIZE = 300
THRESHOLD = 0.9


class BatchedSsdPlugin(DetectorPlugin):
    """OpenCV's SSD face detector, one forward pass per batch."""

    name = "example-ssd"
    batch_mode = BatchMode.NATIVE
    # A batched convolution may round differently from a single one in the last float
    # bit; boxes are whole pixels, and the tests measure no difference at all.
    tolerance = Tolerance(box_px=1, landmark_px=1, confidence=1e-4, face=0)

    def __init__(self) -> None:
        self._net: Any = None

    def prepare(self) -> None:
        if self._net is None:
            # deepface's own loader: the same Caffe files, from $DEEPFACE_HOME
            from deepface.models.face_detection.Ssd import SsdClient

            self._net = SsdClient().model

    def _forward(self, images: Sequence[np.ndarray]) -> np.ndarray:
        self.prepare()
        resized = [cv2.resize(img.astype(np.uint8, copy=False), (SIZE, SIZE)) for img in images]
        self._net.setInput(cv2.dnn.blobFromImages(resized))
        return self._net.forward()  # (1, 1, N * 200, 7): column 0 is the image's index

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[list[FacialAreaRegion]]:
        if not images:
            return []
        detections = self._forward(images)[0, 0]
        results: list[list[FacialAreaRegion]] = [[] for _ in images]
        keep = (detections[:, 1] == 1) & (detections[:, 2] >= THRESHOLD)
        for row in detections[keep]:
            index = int(row[0])
            height, width = images[index].shape[:2]
            left, top, right, bottom = (np.int32(row[3:7] * SIZE)).tolist()
            scale_x, scale_y = width / SIZE, height / SIZE
            x, y = int(left * scale_x), int(top * scale_y)
            w, h = int(right * scale_x) - x, int(bottom * scale_y) - y
            results[index].append(FacialAreaRegion(x=x, y=y, w=w, h=h, confidence=float(row[2])))
        return results
