"""The skip backend: no detection, the whole image is the face."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from deepface.models.Detector import FacialAreaRegion

from deepface_batch.plugin import DetectorPlugin

__all__ = ["SkipPlugin"]


class SkipPlugin(DetectorPlugin):
    """Takes each whole image as its one face, exactly as upstream's ``skip`` does.

    The engine gives ``skip`` upstream's own path (no border, no crop); ``detect_batch``
    reports the region that path uses, so the plugin answers like any other.
    """

    name = "skip"
    detects_faces = False

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[list[FacialAreaRegion]]:
        return [[FacialAreaRegion(x=0, y=0, w=image.shape[1], h=image.shape[0], confidence=0)] for image in images]
