"""``detect_without_border``: the detector sees the image as given, upstream aligns as ever."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
from deepface import DeepFace

import deepface_batch
from deepface_batch import compat, registry, samples, testing
from deepface_batch.plugin import BorderAgreement
from deepface_batch.plugins.yunet import YuNetPlugin
from tests.support import photos
from tests.support.environment import recognition_model
from tests.support.helpers import OpenCvEverywhere

BACKENDS = ("opencv", "ssd", "yunet", "centerface")


@pytest.fixture(scope="module")
def images():
    return samples.video_frames() + samples.mixed_images()


def _faces(result):
    return [face for face in result if face["confidence"] > 0]


def test_the_detector_sees_the_image_as_given(images):
    class Spy(OpenCvEverywhere):
        name = "spy-opencv"
        shapes: list = []

        def detect_batch(self, batch):
            type(self).shapes += [image.shape for image in batch]
            return super().detect_batch(batch)

    with registry.registered(Spy) as plugin:
        deepface_batch.extract_faces(images[:2], detector_backend=plugin.name, enforce_detection=False)
        bordered = list(Spy.shapes)
        Spy.shapes.clear()
        deepface_batch.extract_faces(
            images[:2], detector_backend=plugin.name, enforce_detection=False, detect_without_border=True
        )
        assert Spy.shapes == [image.shape for image in images[:2]]
        assert bordered == [(2 * i.shape[0], 2 * i.shape[1], 3) for i in images[:2]]
        Spy.shapes.clear()
        # without alignment there is no border to leave out: the option changes nothing
        deepface_batch.extract_faces(
            images[:1], detector_backend=plugin.name, enforce_detection=False, align=False, detect_without_border=True
        )
        assert Spy.shapes == [images[0].shape]


@pytest.mark.parametrize("backend", ["opencv", "centerface"])
def test_facial_areas_are_the_detectors_regions_on_the_image(backend, images):
    """Upstream's cropping and alignment run unchanged on the bordered image: the facial
    areas they report are the detector's own regions on the image as given."""
    plugin = registry.get_detector(backend)
    got = deepface_batch.extract_faces(
        images, detector_backend=backend, enforce_detection=False, detect_without_border=True
    )
    for image, faces in zip(images, got):
        regions = plugin.detect_one(image)
        found = sorted(
            (f["facial_area"]["x"], f["facial_area"]["y"], f["facial_area"]["w"], f["facial_area"]["h"])
            for f in _faces(faces)
        )
        want = sorted(
            (max(0, r.x), max(0, r.y), min(r.w, image.shape[1] - max(0, r.x)), min(r.h, image.shape[0] - max(0, r.y)))
            for r in regions
            if round(r.confidence or 0, 2) > 0
        )
        assert found == want


@pytest.mark.parametrize("backend", BACKENDS)
def test_finds_every_face_upstream_finds_on_the_samples(backend, images):
    """Recall at least upstream's default, image by image, on the bundled samples: the
    bordered copy makes ssd miss the 640 x 480 frames' faces, and yunet one of a pair."""
    kwargs = {"detector_backend": backend, "enforce_detection": False}
    layer = compat.get()
    upstream = [_faces(layer.reference_extract_faces(image, **kwargs)) for image in images]
    ours = [_faces(r) for r in deepface_batch.extract_faces(images, detect_without_border=True, **kwargs)]
    for index, (got, want) in enumerate(zip(ours, upstream)):
        assert len(got) >= len(want), f"image {index}: {len(got)} faces without the border, {len(want)} with it"


def test_patched_deepface_and_represent_take_the_option(images):
    recognition_model("Dlib")
    want = deepface_batch.extract_faces(images[0], enforce_detection=False, detect_without_border=True)
    with deepface_batch.patched(detect_without_border=True):
        got = DeepFace.extract_faces(images[0], enforce_detection=False)
    assert [f["facial_area"] for f in got] == [f["facial_area"] for f in want]
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a["face"], b["face"])
    embedded = deepface_batch.represent(
        images[:3], model_name="Dlib", enforce_detection=False, detect_without_border=True
    )
    assert [[e["facial_area"] for e in entry] for entry in embedded] == [
        [f["facial_area"] for f in _faces(r)] or [r[0]["facial_area"]]
        for r in deepface_batch.extract_faces(images[:3], enforce_detection=False, detect_without_border=True)
    ]


# --- the declared agreement, and that the contract suite's check of it can fail ----------


def _moved(regions, fraction):
    """Regions moved right by ``fraction`` of their width."""
    return [dataclasses.replace(r, x=r.x + int(fraction * r.w)) for r in regions]


class MovingYuNet(YuNetPlugin):
    """yunet whose boxes drift a fifth of their width: still the same faces (IoU 2/3)."""

    def detect_batch(self, images):
        return [_moved(regions, 0.2) for regions in super().detect_batch(images)]


class LosingYuNet(YuNetPlugin):
    """yunet that loses the faces of every other image it is given, counted across calls
    (a pseudo plugin's calls take one image each)."""

    def __init__(self):
        super().__init__()
        self._seen = itertools.count()

    def detect_batch(self, images):
        return [[] if next(self._seen) % 2 else regions for regions in super().detect_batch(images)]


@pytest.fixture(scope="module")
def agreement_images(images):
    return [*photos.photos().values(), *photos.small_face_frames(), *images]


@pytest.fixture(scope="module")
def yunet_upstream(agreement_images):
    return [
        compat.get().reference_extract_faces(image, detector_backend="yunet", enforce_detection=False)
        for image in agreement_images
    ]


@pytest.mark.parametrize(("drifting", "complaint"), [(MovingYuNet, "box deviation"), (LosingYuNet, "recall")])
def test_the_contract_fails_a_plugin_that_drifts(drifting, complaint, agreement_images, yunet_upstream):
    """A yunet plugin that moves boxes or loses faces, under yunet's name and with yunet's
    declaration, fails the contract suite's check against upstream's own yunet."""
    with registry.registered(drifting()) as plugin:
        assert plugin.border_agreement == YuNetPlugin.border_agreement is not None
        with pytest.raises(AssertionError, match=complaint):
            testing.assert_border_agreement(plugin, agreement_images, yunet_upstream)


def test_the_contract_fails_a_declaration_tighter_than_measured(images):
    """Without the border ssd finds faces upstream's bordered copy hides (the samples'
    640 x 480 frames): a declaration of full agreement fails, naming them."""
    plugin = registry.get_detector("ssd")
    with pytest.raises(AssertionError, match=r"precision .* extra \(image, box\): \[\(0, "):
        testing.assert_border_agreement(plugin, images, declared=BorderAgreement(box_px=100, box_fraction=1))


def test_builtin_yunet_passes_its_own_declaration(agreement_images, yunet_upstream):
    """The check the drifting plugins fail, passed by the plugin they drift from."""
    measured = testing.assert_border_agreement(registry.get_detector("yunet"), agreement_images, yunet_upstream)
    assert measured.found > 20 and measured.both > 20
