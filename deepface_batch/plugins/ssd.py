"""The ssd detector backend, batched natively.

OpenCV's ResNet-10 SSD resizes every image to 300 x 300, so a batch of any shapes is one
``blobFromImages`` and one forward pass. The network is upstream's own (deepface's
``SsdClient`` loads it), and each image's detections go through upstream's arithmetic
unchanged, so boxes and confidences are upstream's (``forward`` and ``regions_of``
restate deepface 0.0.103's ``SsdClient.detect_faces``,
deepface/models/face_detection/Ssd.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np
from deepface.models.Detector import FacialAreaRegion

from deepface_batch.plugin import BatchMode, BorderAgreement, Tolerance, UpstreamDetectorPlugin

__all__ = ["MARGINS", "SIZE", "THRESHOLD", "SsdPlugin", "regions_of"]

SIZE = 300
THRESHOLD = 0.90
# detection rows: image id, label, confidence, left, top, right, bottom (fractions)
IMAGE, LABEL, CONFIDENCE = 0, 1, 2
MARGINS = [3, 4, 5, 6]


def regions_of(faces: np.ndarray, shape: tuple[int, ...]) -> list[FacialAreaRegion]:
    """Upstream's conversion of one image's SSD rows into facial areas, step for step."""
    faces = faces[(faces[:, LABEL] == 1) & (faces[:, CONFIDENCE] >= THRESHOLD)]
    aspect_x, aspect_y = shape[1] / SIZE, shape[0] / SIZE
    faces[:, MARGINS] = np.int32(faces[:, MARGINS] * SIZE)
    faces[:, MARGINS] = np.int32(faces[:, MARGINS] * [aspect_x, aspect_y, aspect_x, aspect_y])
    faces[:, [5, 6]] -= faces[:, [3, 4]]
    regions = []
    for face in faces:
        x, y, w, h = map(int, face[MARGINS])
        regions.append(FacialAreaRegion(x=x, y=y, w=w, h=h, confidence=float(face[CONFIDENCE])))
    return regions


class SsdPlugin(UpstreamDetectorPlugin):
    """ssd with one forward pass per batch, on upstream's network."""

    name = "ssd"
    batch_mode = BatchMode.NATIVE
    # Measured on the benchmark sets: batched and single forward passes give the same
    # detections bit for bit (OpenCV's convolutions do not depend on the batch size here).
    tolerance = Tolerance()
    # detect_without_border=True against upstream's default, the worst of deepface's test
    # photos, small-face frames and the samples: recall 1.00; precision 0.00 on the small-face
    # frames, where the bordered copy hides every face from upstream; boxes within 16 px, 20 %
    # (benchmarks/results/2026-11-25-cpu-border-agreement.md); declared with a little margin
    border_agreement = BorderAgreement(recall=0.95, precision=0.0, box_px=18, box_fraction=0.22)
    # OpenCV's dnn runs on the CPU: a pass of 8 bordered 640 x 480 frames was the fastest
    # (32 at once held 120 MB of bordered copies and ran 0.8x upstream's loop; 8: 1.1x;
    # benchmarks/results/2026-12-02-cpu-default-mode.md)
    images_per_call = 8

    def forward(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """The network's raw output for a batch: (1, 1, rows, 7), column 0 the image."""
        net: Any = self.detector.model
        resized = [cv2.resize(img if img.dtype == np.uint8 else img.astype(np.uint8), (SIZE, SIZE)) for img in images]
        net.setInput(cv2.dnn.blobFromImages(resized))
        return net.forward()

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[list[FacialAreaRegion]]:
        if len(images) == 0:
            return []
        rows = self.forward(images)[0][0]
        return [regions_of(rows[rows[:, IMAGE] == i].copy(), img.shape) for i, img in enumerate(images)]
