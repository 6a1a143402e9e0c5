"""The engine around the plugins, tested once: input forms, errors, batching, laziness.

The shipped contract suite (:mod:`deepface_batch.testing`) tests plugins only; what the
engine does with any plugin is tested here, on one backend of each kind: a pseudo one
(opencv), native ones (ssd, and centerface, which groups by shape) and skip, which runs
no detector.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from deepface_batch import api, registry, samples, testing
from deepface_batch.errors import DetectorUnavailableError
from deepface_batch.plugin import DetectorPlugin
from deepface_batch.testing import ContractFixtures, assert_results_close, image_with_face
from tests.support.environment import require
from tests.support.helpers import OpenCvEverywhere

ENGINE_BACKENDS = ("opencv", "ssd", "centerface", "skip")


class _Spy:
    """Wraps ``detect_batch`` to record the batch sizes it is called with."""

    def __init__(self, plugin: DetectorPlugin):
        self.plugin = plugin
        self.sizes: list[int] = []
        self._original = plugin.detect_batch

    def __enter__(self) -> _Spy:
        def detect_batch(images):
            self.sizes.append(len(images))
            return self._original(images)

        self.plugin.detect_batch = detect_batch  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: Any) -> None:
        del self.plugin.detect_batch


class TestEngine(ContractFixtures):
    @pytest.fixture(scope="class", params=ENGINE_BACKENDS)
    @classmethod
    def plugin(cls, request):
        try:
            plugin = registry.get_detector(request.param)
        except DetectorUnavailableError as err:
            require(request.param, str(err))
        plugin.prepare()
        return plugin

    def test_faceless_image_with_enforce_detection_names_it(
        self, plugin, backend, faceless_image, same_size_images, mixed_size_images, reference, extract_kwargs
    ):
        if not plugin.detects_faces:
            pytest.skip(f"'{plugin.name}' takes the whole image as the face: no image is faceless")
        face = image_with_face(reference, [*same_size_images, *mixed_size_images])
        with pytest.raises(ValueError, match=r"^item 1: Face could not be detected"):
            self.batched(backend, [face, faceless_image], extract_kwargs, enforce_detection=True)

    def test_errors_return_keeps_going(self, plugin, backend, mixed_size_images, reference, extract_kwargs):
        images = [mixed_size_images[0], np.zeros((5, 5)), mixed_size_images[1], "/no/such/image.jpg"]
        got = self.batched(backend, images, extract_kwargs, errors="return", batch_size=4)
        assert isinstance(got[1], ValueError)
        assert str(got[1]) == "item 1: expected an H x W x 3 image, got shape (5, 5)"
        assert isinstance(got[3], ValueError) and "item 3" in str(got[3])
        assert "/no/such/image.jpg" in str(got[3])
        assert_results_close([got[0], got[2]], [reference(images[0]), reference(images[2])], plugin.tolerance)
        with pytest.raises(ValueError, match=r"^item 1: expected an H x W x 3 image"):
            self.batched(backend, images, extract_kwargs, batch_size=4)

    def test_empty_input(self, backend, extract_kwargs) -> None:
        assert self.batched(backend, [], extract_kwargs) == []
        assert list(api.iter_extract_faces(iter([]), detector_backend=backend)) == []

    def test_ten_inputs_in_batches_of_four(self, plugin, backend, mixed_size_images, reference, extract_kwargs):
        images = [mixed_size_images[i % len(mixed_size_images)] for i in range(10)]
        with _Spy(plugin) as spy:
            got = self.batched(backend, images, extract_kwargs, batch_size=4)
        # skip runs no detector: the engine takes the whole image without calling it; a
        # batch goes to the detector in calls of images_per_call (one for a pseudo plugin)
        per_call = plugin.images_per_call
        expected_sizes = (
            []
            if not plugin.detects_faces
            else [4, 4, 2]
            if per_call is None or per_call >= 4
            else [min(per_call, n - start) for n in (4, 4, 2) for start in range(0, n, per_call)]
        )
        assert spy.sizes == expected_sizes, f"detect_batch saw batches of {spy.sizes}"
        assert_results_close(got, [reference(i) for i in images], plugin.tolerance)

    def test_four_dimensional_array(self, plugin, backend, same_size_images, reference, extract_kwargs):
        stacked = np.stack(same_size_images)
        got = self.batched(backend, stacked, extract_kwargs, batch_size=3)
        assert_results_close(got, [reference(i) for i in same_size_images], plugin.tolerance)

    def test_generator_is_consumed_lazily(self, plugin, backend, same_size_images, reference, extract_kwargs):
        taken: list[int] = []

        def frames():
            for index, image in enumerate(same_size_images):
                taken.append(index)
                yield image

        stream = api.iter_extract_faces(
            frames(),
            detector_backend=backend,
            batch_size=1,
            **{"enforce_detection": False, **extract_kwargs},
        )
        first = next(stream)
        # the batch being detected and the one being read ahead, no more
        assert len(taken) <= 2, f"{len(taken)} frames read before the first result"
        got = [first, *stream]
        assert_results_close(got, [reference(i) for i in same_size_images], plugin.tolerance)


def test_reference_path_runs_the_engines_chain_through_detect_one(monkeypatch):
    """For a backend upstream does not know, the single-image path is the engine's own
    chain with ``detect_one`` as its detector call: no second composition of it."""
    plugin = OpenCvEverywhere()
    calls: list[tuple[int, ...]] = []
    original = plugin.detect_one

    def detect_one(image):
        calls.append(image.shape)
        return original(image)

    monkeypatch.setattr(plugin, "detect_one", detect_one)
    image = samples.astronaut()
    with registry.registered(plugin):
        got = testing.reference_extract_faces(plugin, image, enforce_detection=False)
        # the bordered image reaches the detector, as upstream's border puts it there
        assert calls == [(image.shape[0] * 2, image.shape[1] * 2, 3)]
        want = api.extract_faces(image, detector_backend=plugin.name, enforce_detection=False)
    assert_results_close([got], [want], plugin.tolerance)
