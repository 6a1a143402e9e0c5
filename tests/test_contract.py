"""The shipped contract suite, run over every registered detector plugin.

Real weights where they exist (../shared/weights), planted seeded weights for RetinaFace
and YOLO; a backend whose packages are missing here is skipped with the install command,
unless DEEPFACE_BATCH_REQUIRE names it (CI does), which turns the skip into a failure.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from deepface_batch import api, registry, samples, testing
from deepface_batch.errors import DetectorUnavailableError
from deepface_batch.testing import DetectorContract
from tests.support import photos, planting
from tests.support.environment import WEIGHTS_DIR, real_weight, require

#: planted networks that cost a second or more an image on 2 cores (CI's time)
SLOW = frozenset({"retinaface", "yolov8n", "yolov11n", "yolov12n"})

#: random weights score every box low; upstream reads this threshold from the environment
PLANTED_YOLO_CONFIDENCE = "0.03"


def _samples():
    return [samples.astronaut(), *samples.video_frames()[:3]]


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
        with pytest.MonkeyPatch.context() as environment:
            if name.startswith("yolo") and not real_weight(f"{name}-face.pt"):
                environment.setenv("YOLO_MIN_DETECTION_CONFIDENCE", PLANTED_YOLO_CONFIDENCE)
            plugin.prepare()
            yield plugin

    @pytest.fixture(scope="class")
    @classmethod
    def mixed_size_images(cls, plugin):
        """The mixed sizes; for the backends whose planted networks cost a second or more an
        image on 2 cores, three of them (300 x 300, a pair of faces, a faceless one)."""
        images = samples.mixed_images()
        return [images[1], images[3], images[4]] if plugin.name in SLOW else images

    @pytest.fixture(scope="class")
    @classmethod
    def agreement_images(cls, same_size_images, mixed_size_images):
        """deepface's own test photos and small-face frames made of them, with the samples:
        the sets benchmarks/bench_border.py measured the declared agreement on."""
        return [*photos.photos().values(), *photos.small_face_frames(), *same_size_images, *mixed_size_images]

    def test_one_backend_from_many_threads(self, plugin, backend, same_size_images, mixed_size_images, reference):
        """Upstream's detectors crash (ssd, yunet, dlib) or give wrong boxes (opencv) when
        threads share them; through the engine, every backend is safe to share."""
        images = [*same_size_images[:2], *mixed_size_images[:2]]
        want = [reference(image) for image in images]
        kwargs = {"detector_backend": backend, "enforce_detection": False}

        def call(index: int) -> list:
            if index % 2:  # batches and single images at the same time
                return api.extract_faces([images[index], images[index]], batch_size=1, **kwargs)[0]
            return api.extract_faces(images[index], **kwargs)

        order = [i % len(images) for i in range(2 * len(images))]  # each image twice, four threads
        with ThreadPoolExecutor(max_workers=4) as pool:
            got = list(pool.map(call, order))
        testing.assert_results_close(got, [want[i] for i in order], plugin.tolerance)
