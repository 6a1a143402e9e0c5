"""Small helpers shared by the test modules."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from deepface.models.Detector import FacialAreaRegion

from deepface_batch import BatchMode, DetectorPlugin, comparison, compat
from deepface_batch.plugin import EXACT


def upstream(img: Any, **kwargs: Any) -> list:
    """Upstream deepface's single-image extract_faces, unpatched."""
    return compat.get().reference_extract_faces(img, **kwargs)


def assert_identical(got: Sequence[dict], want: Sequence[dict]) -> None:
    """Two extract_faces results are the same, face arrays bit for bit.

    Faces are matched by box: upstream's opencv detector itself orders the faces of one
    image differently from run to run (OpenCV's threads finish in any order).
    """
    problems = comparison.compare_faces(got, want, EXACT, where="result")
    assert not problems, "\n".join(problems)


class OpenCvEverywhere(DetectorPlugin):
    """A third-party-style plugin: upstream's opencv detector under another name."""

    name = "test-opencv"
    batch_mode = BatchMode.NATIVE

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[list[FacialAreaRegion]]:
        detector = compat.get().build_detector("opencv")
        return [detector.detect_faces(image) for image in images]


class NotAPlugin:
    """Something an entry point may wrongly name."""

    name = "not-a-plugin"
