"""The contract suite every detector plugin must pass, ours or a third party's.

A plugin's test module subclasses :class:`DetectorContract` and supplies fixtures only::

    import pytest
    from deepface_batch.testing import DetectorContract
    from my_package import MyPlugin

    class TestMyPlugin(DetectorContract):
        @pytest.fixture(scope="class")
        def plugin(self):
            return MyPlugin()

The suite proves what the plugin declares: that batched results equal the single-image
path within ``plugin.tolerance`` (on a same-size set and a mixed-size set), that order is
kept, that images without faces give empty entries, and that every input form works. For
a backend upstream deepface knows, the single-image path is upstream's own
``extract_faces``; for any other, it is upstream's helpers around ``plugin.detect_one``.

Optional fixtures to override: ``same_size_images`` and ``mixed_size_images`` (BGR images
in which the detector finds faces, or a mix with some in which it finds none),
``faceless_image`` (one in which it finds none), and ``extract_kwargs`` (extra arguments
for every call, e.g. ``{"align": False}``). The defaults are built from scikit-image's
bundled astronaut photograph.
"""

from __future__ import annotations

import itertools
from typing import Any, Callable, Sequence

import numpy as np
import pytest

from deepface_batch import api, compat, registry
from deepface_batch.plugin import BatchMode, DetectorPlugin, Tolerance
from deepface_batch.samples import astronaut, mixed_images, video_frames

LANDMARKS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


# --- comparison --------------------------------------------------------------------------


def _distance(a: Any, b: Any) -> float:
    if a is None and b is None:
        return 0.0
    if a is None or b is None:
        return float("inf")
    return float(max(abs(x - y) for x, y in zip(a, b)))


def _box_key(face: dict[str, Any]) -> tuple:
    area = face["facial_area"]
    # boxes clipped to the image edges can tie: the eyes and the confidence break ties
    eyes = tuple(tuple(area.get(k) or ()) for k in ("left_eye", "right_eye"))
    return (area["x"], area["y"], area["w"], area["h"], eyes, face.get("confidence", 0))


def compare_faces(
    actual: Sequence[dict[str, Any]],
    expected: Sequence[dict[str, Any]],
    tolerance: Tolerance,
    where: str = "",
) -> list[str]:
    """Differences between two ``extract_faces`` results beyond ``tolerance``.

    Each message reports the measured difference next to the allowed one.
    """
    problems: list[str] = []
    if len(actual) != len(expected):
        return [f"{where}: {len(actual)} faces, expected {len(expected)}"]
    # Faces of one image are compared in a canonical order: upstream's own opencv detector
    # returns them in an order that depends on thread scheduling, run to run.
    actual, expected = sorted(actual, key=_box_key), sorted(expected, key=_box_key)
    for n, (got, want) in enumerate(zip(actual, expected)):
        at = f"{where} face {n}"
        if set(got) != set(want):
            problems.append(f"{at}: keys {sorted(got)} != {sorted(want)}")
            continue
        area_got, area_want = got["facial_area"], want["facial_area"]
        if set(area_got) != set(area_want):
            problems.append(f"{at}: facial_area keys {sorted(area_got)} != {sorted(area_want)}")
            continue
        box = max(abs(area_got[k] - area_want[k]) for k in "xywh")
        if box > tolerance.box_px:
            problems.append(f"{at}: box differs by {box} px (allowed {tolerance.box_px})")
        for key in LANDMARKS:
            if key in area_want:
                diff = _distance(area_got[key], area_want[key])
                if diff > tolerance.landmark_px:
                    problems.append(
                        f"{at}: {key} {area_got[key]} vs {area_want[key]} differs by {diff} px "
                        f"(allowed {tolerance.landmark_px})"
                    )
        conf = abs(got["confidence"] - want["confidence"])
        if conf > tolerance.confidence:
            problems.append(f"{at}: confidence differs by {conf:.6g} (allowed {tolerance.confidence})")
        face_got, face_want = np.asarray(got["face"]), np.asarray(want["face"])
        if tolerance.exact:
            if face_got.dtype != face_want.dtype or not np.array_equal(face_got, face_want):
                diff = (
                    float(np.max(np.abs(face_got.astype(float) - face_want.astype(float))))
                    if face_got.shape == face_want.shape
                    else f"shape {face_got.shape} vs {face_want.shape}"
                )
                problems.append(f"{at}: face image differs ({diff}; allowed: bit-identical)")
        elif area_got == area_want and face_got.shape != face_want.shape:
            # a box clipped to the image edges can agree after clipping and still have
            # differed before it: the crop's size shows by how much
            crop = max(abs(a - b) for a, b in zip(face_got.shape, face_want.shape))
            if crop > tolerance.box_px:
                problems.append(
                    f"{at}: face crop {face_got.shape} vs {face_want.shape}: the box differs by "
                    f"{crop} px before clipping (allowed {tolerance.box_px})"
                )
        elif area_got == area_want:
            # the face image follows from the box and the eyes: where they agree, so must it
            diff = float(np.max(np.abs(face_got.astype(float) - face_want.astype(float))))
            if diff > tolerance.face:
                problems.append(f"{at}: face pixels differ by {diff:.6g} (allowed {tolerance.face})")
        for key in set(want) - {"face", "facial_area", "confidence"}:
            if got[key] != want[key]:
                problems.append(f"{at}: {key} {got[key]!r} != {want[key]!r}")
    return problems


def assert_results_close(
    actual: Sequence[Any], expected: Sequence[Any], tolerance: Tolerance, label: str = "item"
) -> None:
    """Assert per-input results agree within ``tolerance``, listing every difference."""
    assert len(actual) == len(expected), f"{len(actual)} results for {len(expected)} inputs"
    problems = []
    for index, (got, want) in enumerate(zip(actual, expected)):
        problems += compare_faces(got, want, tolerance, where=f"{label} {index}")
    assert not problems, "batched result differs from the single-image path:\n" + "\n".join(
        problems
    )


def reference_extract_faces(plugin: DetectorPlugin, img: np.ndarray, **kwargs: Any) -> list:
    """The single-image path for ``plugin``: upstream's own ``extract_faces`` when
    deepface knows the backend, else upstream's helpers around ``plugin.detect_one``."""
    layer = compat.get()
    if plugin.name in layer.DETECTORS:
        return layer.reference_extract_faces(img, detector_backend=plugin.name, **kwargs)
    options = {**layer.EXTRACT_FACES_DEFAULTS, **kwargs}
    image, name = layer.load_image(img)
    bordered, width_border, height_border = layer.add_border(image, options["align"])
    face_objs = layer.faces_from_regions(
        plugin.name,
        bordered,
        plugin.detect_one(bordered),
        align=options["align"],
        expand_percentage=layer.clamp_expand_percentage(options["expand_percentage"]),
        max_faces=options["max_faces"],
        width_border=width_border,
        height_border=height_border,
    )
    return layer.finish(
        image,
        name,
        face_objs,
        **{k: options[k] for k in ("enforce_detection", "grayscale", "color_face", "normalize_face", "anti_spoofing")},
    )


def _regions_close(actual: list, expected: list, tolerance: Tolerance) -> list[str]:
    if len(actual) != len(expected):
        return [f"{len(actual)} regions, expected {len(expected)}"]
    problems = []
    order = lambda region: (region.x, region.y, region.w, region.h)  # noqa: E731
    actual, expected = sorted(actual, key=order), sorted(expected, key=order)
    for n, (got, want) in enumerate(zip(actual, expected)):
        box = max(abs(getattr(got, k) - getattr(want, k)) for k in "xywh")
        if box > tolerance.box_px:
            problems.append(f"region {n}: box differs by {box} px (allowed {tolerance.box_px})")
        conf = abs((got.confidence or 0) - (want.confidence or 0))
        # regions carry raw confidences; upstream rounds them to 2 decimals afterwards
        if conf > max(tolerance.confidence, 0.0):
            problems.append(f"region {n}: confidence differs by {conf:.6g} (allowed {tolerance.confidence})")
        for key in LANDMARKS:
            diff = _distance(getattr(got, key), getattr(want, key))
            if diff > tolerance.landmark_px:
                problems.append(f"region {n}: {key} differs by {diff} px (allowed {tolerance.landmark_px})")
    return problems


def image_with_face(reference: Callable[[np.ndarray], list], images: Sequence[np.ndarray]):
    """The first image in which the single-image path finds a face."""
    for image in images:
        faces = reference(image)
        if any(face["confidence"] > 0 for face in faces):
            return image
    pytest.fail("the detector finds no face in any sample image; override the image fixtures")


class _Spy:
    """Wraps ``detect_batch`` to record the batch sizes it is called with."""

    def __init__(self, plugin: DetectorPlugin):
        self.plugin = plugin
        self.sizes: list[int] = []
        self._original = plugin.detect_batch

    def __enter__(self) -> "_Spy":
        def detect_batch(images):
            self.sizes.append(len(images))
            return self._original(images)

        self.plugin.detect_batch = detect_batch  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: Any) -> None:
        del self.plugin.detect_batch


# --- the suite ---------------------------------------------------------------------------


class DetectorContract:
    """Subclass this and provide a ``plugin`` fixture (class-scoped) to test a plugin."""

    @pytest.fixture(scope="class")
    @classmethod
    def plugin(cls) -> DetectorPlugin:  # pragma: no cover - subclasses provide it
        raise NotImplementedError("provide a 'plugin' fixture returning a DetectorPlugin")

    @pytest.fixture(scope="class")
    @classmethod
    def backend(cls, plugin: DetectorPlugin):
        """The plugin's name, registered for the duration of the class."""
        plugin.check_available()
        try:
            current = registry.get_detector(plugin.name)
        except Exception:  # pylint: disable=broad-except
            current = None
        if current is plugin:
            yield plugin.name
            return
        registry.register_detector(plugin, clobber=True)
        try:
            yield plugin.name
        finally:
            registry.unregister_detector(plugin.name)
            if current is not None and plugin.name not in registry.BUILTINS:
                registry.register_detector(current, clobber=True)

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
    def extract_kwargs(cls) -> dict[str, Any]:
        return {}

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

    # declarations

    def test_declarations(self, plugin: DetectorPlugin, backend: str) -> None:
        assert isinstance(plugin.name, str) and plugin.name
        assert isinstance(plugin.batch_mode, BatchMode)
        assert isinstance(plugin.tolerance, Tolerance)
        assert registry.get_detector(backend) is plugin
        # asking for the mode it declares works; asking for the other one says why not
        registry.get_detector(backend, batch_mode=plugin.batch_mode)
        other = BatchMode.PSEUDO if plugin.batch_mode is BatchMode.NATIVE else BatchMode.NATIVE
        with pytest.raises(ValueError, match="natively"):
            registry.get_detector(backend, batch_mode=other)

    def test_detect_batch_matches_detect_one(self, plugin, same_size_images, mixed_size_images):
        for images in (same_size_images, mixed_size_images):
            batch = plugin.detect_batch(images)
            assert len(batch) == len(images)
            for index, image in enumerate(images):
                problems = _regions_close(batch[index], plugin.detect_one(image), plugin.tolerance)
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

    # faces, and the lack of them

    def test_faceless_image_gives_empty_entry(
        self, plugin, backend, faceless_image, same_size_images, mixed_size_images, reference, extract_kwargs
    ):
        if not plugin.detects_faces:
            pytest.skip(f"'{plugin.name}' takes the whole image as the face: no image is faceless")
        face = image_with_face(reference, [*same_size_images, *mixed_size_images])
        batch = plugin.detect_batch([face, faceless_image])
        assert batch[1] == [], f"found {len(batch[1])} faces in the faceless image"
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

    # batching and input forms

    def test_ten_inputs_in_batches_of_four(self, plugin, backend, mixed_size_images, reference, extract_kwargs):
        images = list(itertools.islice(itertools.cycle(mixed_size_images), 10))
        with _Spy(plugin) as spy:
            got = self.batched(backend, images, extract_kwargs, batch_size=4)
        # skip runs no detector: the engine takes the whole image without calling it
        expected_sizes = [4, 4, 2] if plugin.detects_faces else []
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
