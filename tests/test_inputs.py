"""Every input form, bad inputs named by index, options, progress and streaming."""

from __future__ import annotations

import base64
import io
import itertools

import cv2
import numpy as np
import pytest
from deepface.modules.exceptions import FaceNotDetected

import deepface_batch
from deepface_batch import InvalidImageError, samples
from tests.support.helpers import assert_identical, upstream


@pytest.fixture(scope="module")
def face():
    return samples.astronaut()


@pytest.fixture(scope="module")
def pair(face):
    return samples.mixed_images()[3]


@pytest.fixture(scope="module")
def face_png(tmp_path_factory, face):
    path = tmp_path_factory.mktemp("images") / "astronaut.png"
    cv2.imwrite(str(path), face)
    return path


def test_every_single_image_form_gives_upstreams_result(face, face_png):
    want = upstream(face)
    data = face_png.read_bytes()
    forms = {
        "array": face,
        "path": str(face_png),
        "pathlib": face_png,
        "base64": "data:image/png;base64," + base64.b64encode(data).decode(),
        "file object": io.BytesIO(data),
    }
    for label, form in forms.items():
        got = deepface_batch.extract_faces(form)
        assert isinstance(got, list) and isinstance(got[0], dict), label
        assert_identical(got, want)


def test_a_list_of_mixed_forms_gives_one_entry_each(face, face_png, pair):
    data = face_png.read_bytes()
    items = [face, str(face_png), io.BytesIO(data), pair]
    got = deepface_batch.extract_faces(items, batch_size=3)
    assert len(got) == 4
    for entry, item in zip(got, [face, face, face, pair]):
        assert_identical(entry, upstream(item))


def test_tuple_and_4d_array_and_generator(face):
    frames = [face, face[:, ::-1].copy(), cv2.GaussianBlur(face, (3, 3), 0)]
    want = [upstream(f) for f in frames]
    for images in (tuple(frames), np.stack(frames), (f for f in frames), iter(frames)):
        got = deepface_batch.extract_faces(images, batch_size=2)
        assert len(got) == 3
        for entry, expected in zip(got, want):
            assert_identical(entry, expected)


def test_bad_items_are_named_by_index(face):
    with pytest.raises(InvalidImageError) as err:
        deepface_batch.extract_faces([face, face, face, np.zeros((5, 5))])
    assert str(err.value) == "item 3: expected an H x W x 3 image, got shape (5, 5)"
    assert err.value.index == 3

    with pytest.raises(InvalidImageError, match=r"^item 1: cannot read image '/missing/x\.jpg'"):
        deepface_batch.extract_faces([face, "/missing/x.jpg"])
    with pytest.raises(InvalidImageError, match=r"^item 0: cannot read image StringIO"):
        deepface_batch.extract_faces([io.StringIO("nope")])
    # 4 channels: upstream takes them to its detector, and so do we (issue 12)
    with pytest.raises(FaceNotDetected, match=r"^item 2: Face could not be detected"):
        deepface_batch.extract_faces([face, face, np.zeros((4, 4, 4), np.uint8)])
    with pytest.raises(FaceNotDetected, match=r"^item 0: Face could not be detected"):
        deepface_batch.extract_faces(np.zeros((2, 8, 8, 4), np.uint8))
    with pytest.raises(InvalidImageError, match="got a dict"):
        deepface_batch.extract_faces({"a": face})


def test_corrupt_file_names_its_path(tmp_path, face):
    bad = tmp_path / "corrupt.jpg"
    bad.write_bytes(b"not an image")
    with pytest.raises(InvalidImageError, match=rf"^item 1: cannot read image '{bad}'"):
        deepface_batch.extract_faces([face, str(bad)])


def test_faceless_image_error_names_its_index(face):
    blank = np.zeros((200, 200, 3), np.uint8)
    with pytest.raises(FaceNotDetected, match=r"^item 2: Face could not be detected"):
        deepface_batch.extract_faces([face, face, blank])
    # a single image keeps upstream's message, with no index
    with pytest.raises(FaceNotDetected, match=r"^Face could not be detected in numpy array"):
        deepface_batch.extract_faces(blank)


def test_errors_return_puts_the_exception_in_its_slot(face):
    blank = np.zeros((200, 200, 3), np.uint8)
    got = deepface_batch.extract_faces([face, blank, "/missing.png", face], errors="return", batch_size=2)
    assert_identical(got[0], upstream(face))
    assert isinstance(got[1], FaceNotDetected) and str(got[1]).startswith("item 1: ")
    assert isinstance(got[2], InvalidImageError) and got[2].index == 2
    assert_identical(got[3], upstream(face))
    with pytest.raises(ValueError, match="errors must be"):
        deepface_batch.extract_faces([face], errors="ignore")


@pytest.mark.parametrize(
    "options",
    [
        {"align": False},
        {"expand_percentage": 20},
        {"expand_percentage": -5},
        {"max_faces": 1},
        {"color_face": "bgr", "normalize_face": False},
        {"color_face": "gray"},
        {"grayscale": True},
        {"enforce_detection": False},
    ],
    ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()),
)
def test_upstream_options_match(pair, face, options):
    images = [pair, face]
    if options.get("enforce_detection") is False:
        images.append(np.zeros((120, 160, 3), np.uint8))  # the whole image, confidence 0
    got = deepface_batch.extract_faces(images, batch_size=2, **options)
    for entry, image in zip(got, images):
        assert_identical(entry, upstream(image, **options))


def test_bad_color_face_is_upstreams_error(face):
    with pytest.raises(ValueError, match=r"^item 0: The color_face can be rgb, bgr or gray"):
        deepface_batch.extract_faces([face], color_face="hsv")


def test_batch_size_must_be_positive(face):
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="batch_size must be a positive integer"):
            deepface_batch.extract_faces([face], batch_size=bad)


def test_batch_size_from_environment(face, monkeypatch):
    from deepface_batch import api, config

    monkeypatch.setenv("DEEPFACE_BATCH_SIZE", "3")
    assert api.batch_size_or_default(None) == 3
    monkeypatch.delenv("DEEPFACE_BATCH_SIZE")
    assert api.batch_size_or_default(None) == config.DEFAULTS["batch_size"].value == 32


def test_progress_callable_and_bar(face, capsys):
    calls = []
    deepface_batch.extract_faces([face] * 5, batch_size=2, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(2, 5), (4, 5), (5, 5)]
    deepface_batch.extract_faces([face] * 3, batch_size=2, progress=True)
    assert "3/3" in capsys.readouterr().err


def test_stream_memory_is_bounded_by_batch_size(face):
    """A long stream is read at most one batch ahead of the results it has given."""
    small = cv2.resize(face, (64, 64))
    read = itertools.count()
    consumed = []

    def frames():
        for _ in range(200):
            consumed.append(next(read))
            yield small

    stream = deepface_batch.iter_extract_faces(frames(), detector_backend="skip", batch_size=4)
    for given, _ in enumerate(stream, start=1):
        # the current batch and the one read ahead: never more than two batches
        assert len(consumed) - given < 2 * 4
    assert given == 200


def test_stream_of_frames_in_any_length(face):
    frames = (np.ascontiguousarray(face) for _ in range(7))
    results = list(deepface_batch.iter_extract_faces(frames, batch_size=3, prefetch=False))
    assert len(results) == 7
    assert all(r[0]["facial_area"] == results[0][0]["facial_area"] for r in results)
