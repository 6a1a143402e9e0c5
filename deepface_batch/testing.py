"""The contract suite every detector plugin must pass, ours or a third party's.

A plugin's test module subclasses :class:`DetectorContract` and supplies fixtures only::

    import pytest
    from deepface_batch.testing import DetectorContract
    from my_detector import MyDetector

    class TestMyDetector(DetectorContract):
        @pytest.fixture(scope="class")
        @classmethod
        def plugin(cls):
            return MyDetector()

The suite proves what the plugin declares, and nothing about the engine around it: that
batched results equal the single-image path within ``plugin.tolerance`` (on a same-size
set, a mixed-size set, reordered and repeated images), that images without faces give
empty entries, and, where the plugin declares a ``border_agreement``, that detection
without upstream's border (``detect_without_border=True``) agrees with the single-image
path's default result as declared. For a backend upstream deepface knows, the
single-image path is upstream's own ``extract_faces``; for any other, it is the engine's
chain run on one image with the detector called through ``plugin.detect_one``. The suite
calls the plugin as the engine does: ``prepare()`` first, then ``detect_batch`` and
``detect_one``.

The fixtures, split as fsspec's abstract tests split theirs:

* **must give** (:class:`ContractFixtures`): ``plugin``, a class-scoped fixture returning
  the plugin instance (the default raises ``NotImplementedError``).
* **may override** (:class:`ContractFixtures`): ``same_size_images`` and
  ``mixed_size_images`` (BGR images in which the detector finds faces, or a mix with some
  in which it finds none), ``faceless_image`` (one in which it finds none),
  ``agreement_images`` (the images a declared ``border_agreement`` is checked on: by
  default both image sets; real photos and small faces say more) and ``extract_kwargs``
  (extra arguments for every call, e.g. ``{"align": False}``). The defaults are built
  from scikit-image's bundled astronaut photograph.
* **must not override** (:class:`BaseContractFixtures`): ``backend`` (the plugin checked,
  registered under its name and prepared, as the engine prepares it) and ``reference``
  (the single-image path's result per image). A subclass that overrides one is refused
  when it is defined.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

from deepface_batch import api, compat, registry
from deepface_batch.comparison import Agreement, agreement, compare_faces, regions_close
from deepface_batch.plugin import BatchMode, BorderAgreement, DetectorPlugin, Tolerance
from deepface_batch.samples import mixed_images, video_frames

__all__ = [
    "BaseContractFixtures",
    "ContractFixtures",
    "DetectorContract",
    "assert_border_agreement",
    "assert_results_close",
]


def assert_results_close(
    actual: Sequence[Any], expected: Sequence[Any], tolerance: Tolerance, label: str = "item"
) -> None:
    """Assert per-input results agree within ``tolerance``, listing every difference."""
    assert len(actual) == len(expected), f"{len(actual)} results for {len(expected)} inputs"
    problems = []
    for index, (got, want) in enumerate(zip(actual, expected)):
        problems += compare_faces(got, want, tolerance, where=f"{label} {index}")
    assert not problems, "batched result differs from the single-image path:\n" + "\n".join(problems)


def reference_extract_faces(plugin: DetectorPlugin, img: np.ndarray, **kwargs: Any) -> list:
    """The single-image path for ``plugin``: upstream's own ``extract_faces`` when
    deepface knows the backend, else the engine's chain run on one image with the
    detector called through ``plugin.detect_one``."""
    layer = compat.get()
    if plugin.name in layer.DETECTORS:
        return layer.reference_extract_faces(img, detector_backend=plugin.name, **kwargs)
    return api.extract_one(plugin, img, **kwargs)


def assert_border_agreement(
    plugin: DetectorPlugin,
    images: Sequence[np.ndarray],
    expected: Sequence[list] | None = None,
    declared: BorderAgreement | None = None,
    **kwargs: Any,
) -> Agreement:
    """Assert that ``detect_without_border=True`` agrees with the single-image path's
    default result (upstream's, for a backend upstream knows) as ``declared``.

    Args:
        plugin: a plugin registered under its name.
        images: the images to compare on, as one set: recall, precision and the box
            deviations are counted over all of them.
        expected: the single-image results for ``images``; computed when not given.
        declared: what to hold the plugin to; ``plugin.border_agreement`` when not given.
        kwargs: upstream's ``extract_faces`` arguments for both paths.

    Returns:
        The measured agreement.
    """
    declared = declared or plugin.border_agreement
    if declared is None:
        raise ValueError(f"'{plugin.name}' declares no border_agreement, and none was given")
    kwargs = {"enforce_detection": False, **kwargs}
    if expected is None:
        expected = [reference_extract_faces(plugin, image, **kwargs) for image in images]
    got = api.extract_faces(list(images), detector_backend=plugin.name, detect_without_border=True, **kwargs)
    measured = agreement(got, expected)
    problems = measured.problems(declared)
    assert not problems, (
        f"'{plugin.name}' without upstream's border agrees with the single-image path less than "
        f"it declares ({declared}), over {len(images)} images:\n" + "\n".join(problems)
    )
    return measured


def image_with_face(reference: Callable[[np.ndarray], list], images: Sequence[np.ndarray]):
    """The first image in which the single-image path finds a face."""
    for image in images:
        faces = reference(image)
        if any(face["confidence"] > 0 for face in faces):
            return image
    pytest.fail("the detector finds no face in any sample image; override the image fixtures")


# --- the suite ---------------------------------------------------------------------------


#: the fixtures a plugin's tests must not override: the suite's own
BASE_FIXTURES = ("backend", "reference")


class BaseContractFixtures:
    """The fixtures a plugin's tests never override: the suite calls the plugin through
    them as the engine does."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        overridden = [name for name in BASE_FIXTURES if name in cls.__dict__]
        if overridden:
            raise TypeError(
                f"{cls.__qualname__} overrides the contract suite's {', '.join(map(repr, overridden))} fixture, "
                "which a plugin's tests must not override: give 'plugin', the image fixtures or 'extract_kwargs'"
            )

    @pytest.fixture(scope="class")
    @classmethod
    def backend(cls, plugin: DetectorPlugin):
        """The plugin's name: the plugin checked, registered under it and prepared for the
        duration of the class, as the engine prepares a plugin before its first batch."""
        plugin.check_available()
        with registry.registered(plugin):
            with api.backend_lock(plugin.name):
                plugin.prepare()
            yield plugin.name

    @pytest.fixture(scope="class")
    @classmethod
    def reference(cls, plugin, backend, extract_kwargs) -> Callable[[np.ndarray], list]:
        """The single-image result for an image, computed once per image."""
        cache: dict[int, list] = {}
        kwargs = {"enforce_detection": False, **extract_kwargs}

        def single(img: np.ndarray) -> list:
            key = id(img)
            if key not in cache:
                cache[key] = reference_extract_faces(plugin, img, **kwargs)
            return cache[key]

        return single

    def batched(self, backend: str, images: Any, extract_kwargs: dict, **kwargs: Any) -> Any:
        return api.extract_faces(
            images, detector_backend=backend, **{"enforce_detection": False, **extract_kwargs, **kwargs}
        )


class ContractFixtures(BaseContractFixtures):
    """The fixtures a plugin's tests give: ``plugin`` (must), the images and
    ``extract_kwargs`` (may). Shared with the engine's own tests."""

    @pytest.fixture(scope="class")
    @classmethod
    def plugin(cls) -> DetectorPlugin:
        raise NotImplementedError("provide a 'plugin' fixture returning a DetectorPlugin")

    @pytest.fixture(scope="class")
    @classmethod
    def same_size_images(cls) -> list[np.ndarray]:
        return video_frames()

    @pytest.fixture(scope="class")
    @classmethod
    def mixed_size_images(cls) -> list[np.ndarray]:
        return mixed_images()

    @pytest.fixture(scope="class")
    @classmethod
    def faceless_image(cls) -> np.ndarray:
        return np.zeros((240, 320, 3), dtype=np.uint8)

    @pytest.fixture(scope="class")
    @classmethod
    def agreement_images(cls, same_size_images, mixed_size_images) -> list[np.ndarray]:
        """The images the declared ``border_agreement`` is checked on, as one set."""
        return [*same_size_images, *mixed_size_images]

    @pytest.fixture(scope="class")
    @classmethod
    def extract_kwargs(cls) -> dict[str, Any]:
        return {}


class DetectorContract(ContractFixtures):
    """Subclass this and provide a ``plugin`` fixture (class-scoped) to test a plugin.

    Every test here is about the plugin: what it declares, and that its batches give what
    the single-image path gives. How the engine around it reads inputs, reports errors and
    splits batches is tested once, in deepface-batch's own tests.
    """

    # declarations

    def test_declarations(self, plugin: DetectorPlugin, backend: str) -> None:
        assert isinstance(plugin.name, str) and plugin.name
        assert isinstance(plugin.batch_mode, BatchMode)
        assert isinstance(plugin.tolerance, Tolerance)
        declared = plugin.border_agreement
        assert declared is None or isinstance(declared, BorderAgreement)
        if declared is not None:
            assert 0 <= declared.recall <= 1 and 0 <= declared.precision <= 1, declared
            assert declared.box_px >= 0 and declared.box_fraction >= 0, declared
        assert registry.get_detector(backend) is plugin
        # asking for the mode it declares works; asking for the other one says why not
        registry.get_detector(backend, batch_mode=plugin.batch_mode)
        other = BatchMode.PSEUDO if plugin.batch_mode is BatchMode.NATIVE else BatchMode.NATIVE
        with pytest.raises(ValueError, match="natively"):
            registry.get_detector(backend, batch_mode=other)

    def test_detect_batch_matches_detect_one(self, plugin, backend, same_size_images, mixed_size_images):
        for images in (same_size_images, mixed_size_images):
            batch = plugin.detect_batch(images)
            assert len(batch) == len(images)
            for index, image in enumerate(images):
                problems = regions_close(batch[index], plugin.detect_one(image), plugin.tolerance)
                assert not problems, f"image {index}: " + "; ".join(problems)

    # equivalence with the single-image path

    def test_same_size_batch_matches_single(self, plugin, backend, same_size_images, reference, extract_kwargs):
        got = self.batched(backend, same_size_images, extract_kwargs)
        assert_results_close(got, [reference(i) for i in same_size_images], plugin.tolerance)

    def test_mixed_size_batch_matches_single(self, plugin, backend, mixed_size_images, reference, extract_kwargs):
        got = self.batched(backend, mixed_size_images, extract_kwargs)
        assert_results_close(got, [reference(i) for i in mixed_size_images], plugin.tolerance)

    def test_single_image_matches_single(self, plugin, backend, same_size_images, reference, extract_kwargs):
        got = self.batched(backend, same_size_images[0], extract_kwargs)
        assert_results_close([got], [reference(same_size_images[0])], plugin.tolerance)

    def test_order_is_kept(self, plugin, backend, mixed_size_images, reference, extract_kwargs):
        reordered = list(reversed(mixed_size_images))
        got = self.batched(backend, reordered, extract_kwargs, batch_size=2)
        assert_results_close(got, [reference(i) for i in reordered], plugin.tolerance)

    def test_repeated_images_in_batches_of_four(self, plugin, backend, mixed_size_images, reference, extract_kwargs):
        images = list(itertools.islice(itertools.cycle(mixed_size_images), 10))
        got = self.batched(backend, images, extract_kwargs, batch_size=4)
        assert_results_close(got, [reference(i) for i in images], plugin.tolerance)

    # faces, and the lack of them

    def test_faceless_image_gives_empty_entry(
        self, plugin, backend, faceless_image, same_size_images, mixed_size_images, reference
    ):
        if not plugin.detects_faces:
            pytest.skip(f"'{plugin.name}' takes the whole image as the face: no image is faceless")
        face = image_with_face(reference, [*same_size_images, *mixed_size_images])
        batch = plugin.detect_batch([face, faceless_image])
        assert batch[1] == [], f"found {len(batch[1])} faces in the faceless image"

    # detection without upstream's border

    def test_without_border_agrees_as_declared(
        self, plugin, backend, agreement_images, reference, extract_kwargs
    ) -> None:
        """Faces found with ``detect_without_border=True`` agree with the single-image
        path's default result as the plugin's ``border_agreement`` declares: a plugin
        that drifts (finds other faces, moves boxes) fails here."""
        if plugin.border_agreement is None:
            pytest.skip(f"'{plugin.name}' declares no border_agreement")
        expected = [reference(image) for image in agreement_images]
        assert_border_agreement(plugin, agreement_images, expected, **extract_kwargs)
