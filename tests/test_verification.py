"""Batched verify over many pairs: upstream's result per pair, each distinct image read and
embedded once, upstream's errors with the pair's index. Real photos (deepface's own test
set), centerface and Dlib (real weights); upstream's own ``verify`` is the reference."""

from __future__ import annotations

import pytest

import deepface_batch
from deepface_batch import compat, embedding, samples
from tests.support.environment import recognition_model
from tests.support.photos import PHOTOS_DIR

DETECTOR = "centerface"
MODEL = "Dlib"  # real weights
KWARGS = {"model_name": MODEL, "detector_backend": DETECTOR}


@pytest.fixture(scope="module", autouse=True)
def _model():
    recognition_model(MODEL)


def photo(name: str) -> str:
    return str(PHOTOS_DIR / name)


def upstream(a, b, **kwargs):
    return compat.get().reference_verify(a, b, **{**KWARGS, "silent": True, **kwargs})


def assert_upstreams(got: dict, want: dict) -> None:
    """``got`` is upstream's dict for the pair: the same keys and values, the distance
    within what the embeddings' tolerance allows, and ``time`` aside."""
    assert set(got) == set(want)
    slack = 4 * embedding.get_embedder(MODEL).tolerance.relative + 1e-12
    assert got["distance"] == pytest.approx(want["distance"], abs=slack)
    assert got["confidence"] == pytest.approx(want["confidence"], abs=max(slack * 100, 0.01))
    for key in set(want) - {"distance", "confidence", "time"}:
        assert got[key] == want[key], key


# deepface's master.csv: img5 and img11 are one person, img16 another; couple-half holds two
PAIRS = [
    ("img5.jpg", "img11.jpg"),
    ("img5.jpg", "img16.jpg"),
    ("img11.jpg", "img16.jpg"),
    ("couple-half.jpg", "img5.jpg"),
    ("img16.jpg", "couple-half.jpg"),
]


def test_each_pair_gets_upstreams_result():
    pairs = [(photo(a), photo(b)) for a, b in PAIRS]
    got = deepface_batch.verify(pairs, batch_size=2, **KWARGS)
    assert len(got) == len(pairs)
    for result, (a, b) in zip(got, pairs):
        assert_upstreams(result, upstream(a, b))
    # real weights on real photos: the same person is verified, another is not
    assert [result["verified"] for result in got[:3]] == [True, False, False]


def test_each_distinct_image_is_read_once(monkeypatch):
    layer = compat.get()
    loaded: list[str] = []
    original = layer.load_image

    def counting(item):
        loaded.append(item if isinstance(item, str) else "array")
        return original(item)

    monkeypatch.setattr(layer, "load_image", counting)
    frames = samples.video_frames()
    pairs = [(photo("img5.jpg"), photo("img11.jpg")), (photo("img11.jpg"), frames[0]), (frames[0], photo("img5.jpg"))]
    got = deepface_batch.verify(pairs, enforce_detection=False, **KWARGS)
    assert sorted(loaded) == sorted([photo("img5.jpg"), photo("img11.jpg"), "array"])
    monkeypatch.undo()
    for result, (a, b) in zip(got, pairs):
        assert_upstreams(result, upstream(a, b, enforce_detection=False))


def test_a_pre_calculated_embedding_is_taken_as_upstream_takes_it():
    (face,) = deepface_batch.represent(photo("img5.jpg"), **KWARGS)
    vector = face["embedding"]
    pairs = [(vector, photo("img11.jpg")), (photo("img16.jpg"), vector), (vector, vector)]
    for result, (a, b) in zip(deepface_batch.verify(pairs, **KWARGS), pairs):
        assert_upstreams(result, upstream(a, b))


def test_a_bad_pair_is_upstreams_error_with_its_index(tmp_path):
    missing = str(tmp_path / "missing.jpg")
    faceless = samples.video_frames()[3]
    short = [0.5] * 3
    bad = [(photo("img5.jpg"), missing), (faceless, photo("img5.jpg")), (photo("img5.jpg"), short)]
    pairs = [(photo("img5.jpg"), photo("img11.jpg")), *bad]
    got = deepface_batch.verify(pairs, errors="return", **KWARGS)
    assert_upstreams(got[0], upstream(*pairs[0]))
    for index, (result, pair) in enumerate(zip(got[1:], bad), start=1):
        with pytest.raises(ValueError) as want:
            upstream(*pair)
        assert type(result) is type(want.value)
        assert str(result) == f"item {index}: {want.value}"
        assert result.index == index
        if want.value.__cause__ is not None:  # the image's own error, as upstream chains it
            assert isinstance(result.__cause__.__cause__, type(want.value.__cause__))
    with pytest.raises(ValueError, match=r"^item 1: Exception while processing img2_path$"):
        deepface_batch.verify(pairs, **KWARGS)


def test_pairs_must_be_pairs():
    with pytest.raises(deepface_batch.InvalidImageError, match=r"item 1: expected an \(img1, img2\) pair"):
        deepface_batch.verify([(photo("img5.jpg"), photo("img11.jpg")), (photo("img5.jpg"),)], **KWARGS)
    with pytest.raises(deepface_batch.InvalidImageError, match="expected a list of"):
        deepface_batch.verify(photo("img5.jpg"), **KWARGS)
