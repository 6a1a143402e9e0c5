"""The shipped contract suite, run over every registered detector plugin.

Real weights where they exist (../shared/weights), planted seeded weights for RetinaFace
and YOLO; a backend whose packages are missing here is skipped with the install command,
unless DEEPFACE_BATCH_REQUIRE names it (CI does), which turns the skip into a failure.
"""

from __future__ import annotations

import os

import pytest

import planting
from conftest import WEIGHTS_DIR, real_weight, require
from deepface_batch import registry, testing
from deepface_batch.errors import DetectorUnavailableError
from deepface_batch.testing import DetectorContract

#: random weights score every box low; upstream reads this threshold from the environment
PLANTED_YOLO_CONFIDENCE = "0.03"

def _samples():
    return [testing.astronaut(), *testing.video_frames()[:3]]


def _ensure_weights(name: str, engine: str) -> None:
    """Plant weights the backend needs when the real ones are absent."""
    planting.ensure_weights(name, engine, WEIGHTS_DIR, _samples(), require)


class TestBuiltinPlugins(DetectorContract):
    """Every built-in (and entry-point) plugin, against upstream's single-image path."""

    @pytest.fixture(scope="class", params=registry.names())
    @classmethod
    def plugin(cls, request, engine):
        name = request.param
        try:
            plugin = registry.get_detector(name)
        except DetectorUnavailableError as err:
            require(name, str(err))
        _ensure_weights(name, engine)
        saved = os.environ.get("YOLO_MIN_DETECTION_CONFIDENCE")
        if name.startswith("yolo") and not real_weight(f"{name}-face.pt"):
            os.environ["YOLO_MIN_DETECTION_CONFIDENCE"] = PLANTED_YOLO_CONFIDENCE
        plugin.prepare()
        yield plugin
        if saved is None:
            os.environ.pop("YOLO_MIN_DETECTION_CONFIDENCE", None)
        else:
            os.environ["YOLO_MIN_DETECTION_CONFIDENCE"] = saved

