"""The fastmtcnn detector backend (facenet-pytorch's MTCNN), batched natively.

facenet-pytorch's ``MTCNN.detect`` takes a stack of equal-size images: P-Net runs once per
pyramid scale on the whole stack, R-Net and O-Net once on every candidate of every image,
and non-maximum suppression stays per image. The plugin sends each same-shape group as one
such stack and maps every image's boxes, probabilities and landmarks as upstream maps a
single image's (``regions_of`` restates deepface 0.0.103's ``FastMtCnnClient.detect_faces``,
deepface/models/face_detection/FastMtCnn.py).

On a CPU a stack buys nothing: facenet-pytorch already runs one image on every core, and
P-Net's activations on a stack of bordered frames outgrow the cache, so a stack is slower
per image. So on a CPU the plugin sends one image per pass (``images_per_pass``); where
upstream put the network on CUDA, a whole same-shape group goes in one pass.
Measurements: benchmarks/results/2026-11-24-cpu-yolo-mtcnn-retinaface.md.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from deepface.models.Detector import FacialAreaRegion

from deepface_batch.plugin import BorderAgreement, GroupedPlugin, Requirement, Tolerance

__all__ = ["FastMtCnnPlugin", "regions_of"]


def regions_of(boxes: Any, probs: Any, points: Any) -> list[FacialAreaRegion]:
    """Upstream's mapping of one image's detections, step for step (its ``None`` check,
    issue 1043 upstream, included)."""
    if boxes is None or points is None or any(p is None for p in probs):
        return []
    regions = []
    for box, confidence, eyes in zip(boxes, probs, points):
        x, y = box[0], box[1]
        w, h = box[2] - x, box[3] - y
        right_eye = tuple(int(i) for i in eyes[0])
        left_eye = tuple(int(i) for i in eyes[1])
        regions.append(
            FacialAreaRegion(
                x=int(x),
                y=int(y),
                w=int(w),
                h=int(h),
                left_eye=left_eye,
                right_eye=right_eye,
                # a single image's values come out of an object array as Python floats
                confidence=float(confidence),
            )
        )
    return regions


class FastMtCnnPlugin(GroupedPlugin):
    """facenet-pytorch's MTCNN, one ``detect`` per same-shape group of a batch."""

    name = "fastmtcnn"
    requires = (
        Requirement("torch", "torch torchvision"),
        # facenet-pytorch pins ancient torch and numpy releases: install it without them
        Requirement("facenet_pytorch", "--no-deps facenet-pytorch"),
    )
    # A stack goes through the same convolutions as one image; float sums in another order
    # can move a probability in the last bits, and a coordinate on a rounding boundary by
    # a pixel. Measured on the contract suite's images: no difference at all.
    tolerance = Tolerance(box_px=1, landmark_px=1, confidence=1e-4)
    # detect_without_border=True against upstream's default, the worst of deepface's test
    # photos, small-face frames and the samples: recall 0.81 (upstream's extra faces are cut
    # by the image's edge), precision 0.95, boxes within 24 px, 15 %
    # (benchmarks/results/2026-11-25-cpu-border-agreement.md); declared with a little margin
    border_agreement = BorderAgreement(recall=0.75, precision=0.9, box_px=27, box_fraction=0.17)

    def on_gpu(self) -> bool:
        return self.detector.model.device.type == "cuda"

    def _detect_group(self, images: list[np.ndarray]) -> list[list[FacialAreaRegion]]:
        # upstream converts BGR to RGB with cv2 and makes sure of uint8, per image
        stack = np.stack([cv2.cvtColor(image, cv2.COLOR_BGR2RGB).astype("uint8") for image in images])
        boxes, probs, points = self.detector.model.detect(stack, landmarks=True)
        return [regions_of(boxes[i], probs[i], points[i]) for i in range(len(images))]
