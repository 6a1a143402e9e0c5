"""patch() / unpatch() / patched(): idempotent, reversible, upstream-exact for one image."""

from __future__ import annotations

import importlib.util
import logging
import threading

import numpy as np
import pytest
from deepface import DeepFace
from deepface.modules import detection

import deepface_batch
from deepface_batch import compat, samples
from deepface_batch.errors import UnsupportedDeepfaceVersion
from deepface_batch.patching import is_wrapper
from tests.support.helpers import OpenCvEverywhere, assert_identical, upstream


@pytest.fixture(scope="module")
def face():
    return samples.astronaut()


@pytest.fixture(scope="module")
def frames():
    return samples.video_frames()[:3]


@pytest.fixture(autouse=True)
def restore_patch_state():
    was = deepface_batch.is_patched()
    yield
    if was:
        deepface_batch.patch()
    else:
        deepface_batch.unpatch()


def test_round_trip_restores_the_very_same_function():
    deepface_batch.unpatch()
    original = detection.extract_faces
    assert not is_wrapper(original)
    assert deepface_batch.patch() is True
    wrapped = detection.extract_faces
    assert is_wrapper(wrapped) and wrapped.__wrapped__ is original
    assert deepface_batch.unpatch() is True
    assert detection.extract_faces is original
    assert deepface_batch.patch() is True
    assert detection.extract_faces.__wrapped__ is original


def test_double_patch_is_a_no_op():
    deepface_batch.patch()
    wrapped = detection.extract_faces
    assert deepface_batch.patch() is False
    assert detection.extract_faces is wrapped
    assert not is_wrapper(detection.extract_faces.__wrapped__)
    deepface_batch.unpatch()
    assert deepface_batch.unpatch() is False


def test_patched_context_manager_restores_state():
    deepface_batch.unpatch()
    original = detection.extract_faces
    with deepface_batch.patched():
        assert deepface_batch.is_patched()
    assert detection.extract_faces is original
    deepface_batch.patch()
    with deepface_batch.unpatched():
        assert detection.extract_faces is original
    assert deepface_batch.is_patched()


def test_single_image_is_bit_identical_to_unpatched(face):
    for kwargs in ({}, {"align": False}, {"max_faces": 1}, {"color_face": "bgr"}):
        with deepface_batch.unpatched():
            want = DeepFace.extract_faces(face, **{k: v for k, v in kwargs.items() if k != "max_faces"})
            want_module = detection.extract_faces(face, **kwargs)
        with deepface_batch.patched():
            got = DeepFace.extract_faces(face, **{k: v for k, v in kwargs.items() if k != "max_faces"})
            got_module = detection.extract_faces(face, **kwargs)
        assert_identical(got, want)
        assert_identical(got_module, want_module)


def test_single_image_goes_to_the_original_untouched(face, monkeypatch):
    """One image never reaches the engine: the original function answers it."""
    from deepface_batch import api

    def engine_called(*args, **kwargs):
        raise AssertionError("a single image reached the batch engine")

    monkeypatch.setattr(api, "extract_faces", engine_called)
    with deepface_batch.patched():
        DeepFace.extract_faces(face)


def test_deepface_lists_and_arrays_run_batched(frames, monkeypatch):
    from deepface_batch import api

    calls = []
    real = api.extract_faces
    monkeypatch.setattr(api, "extract_faces", lambda *a, **k: calls.append(1) or real(*a, **k))
    want = [upstream(f, enforce_detection=False) for f in frames]
    with deepface_batch.patched():
        from_list = DeepFace.extract_faces(list(frames), enforce_detection=False)
        from_array = DeepFace.extract_faces(np.stack(frames), enforce_detection=False)
        empty = DeepFace.extract_faces([])
    assert len(calls) == 3
    assert empty == []
    for got in (from_list, from_array):
        assert isinstance(got, list) and len(got) == len(frames)
        for entry, expected in zip(got, want):
            assert_identical(entry, expected)


def test_patched_batch_error_names_the_index(face):
    with deepface_batch.patched():
        with pytest.raises(ValueError, match=r"^item 1: Face could not be detected"):
            DeepFace.extract_faces([face, np.zeros((100, 100, 3), np.uint8)])


def test_patch_takes_settings_for_batches(face, monkeypatch):
    """Settings as arguments, as an instrumentor's instrument(**kwargs): the batch size
    and the error handling of batches through the patched functions."""
    from deepface_batch import api

    seen = []
    real = api.extract_faces
    monkeypatch.setattr(api, "extract_faces", lambda *a, **k: seen.append(k) or real(*a, **k))
    bad = np.zeros((100, 100, 3), np.uint8)
    with deepface_batch.patched(batch_size=2, errors="return"):
        got = DeepFace.extract_faces([face, bad, face])
        single = DeepFace.extract_faces(face)  # one image: upstream's own code, as always
    assert seen[0]["batch_size"] == 2 and seen[0]["errors"] == "return"
    assert isinstance(got[1], ValueError) and str(got[1]).startswith("item 1: Face could not be detected")
    assert_identical(got[0], upstream(face))
    assert_identical(single, upstream(face))
    # the block's settings end with it: a batch raises again, as upstream does
    with deepface_batch.patched():
        with pytest.raises(ValueError, match=r"^item 1: "):
            DeepFace.extract_faces([face, bad])
    assert deepface_batch.patch.__module__ == "deepface_batch.patching"


def test_patch_refuses_unknown_or_wrong_settings():
    with pytest.raises(TypeError, match="unknown settings batchsize"):
        deepface_batch.patch(batchsize=4)
    with pytest.raises(ValueError, match="errors must be 'raise' or 'return'"):
        deepface_batch.patch(errors="ignore")
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        deepface_batch.patch(batch_size=0)


def test_third_party_backend_through_patched_deepface(face):
    deepface_batch.register_detector(OpenCvEverywhere)
    try:
        with deepface_batch.patched():
            single = DeepFace.extract_faces(face, detector_backend="test-opencv")
            batch = DeepFace.extract_faces([face, face], detector_backend="test-opencv")
        assert_identical(single, upstream(face))
        assert len(batch) == 2
    finally:
        deepface_batch.unregister_detector("test-opencv")


def test_unsupported_version_is_refused_before_any_change(monkeypatch):
    deepface_batch.unpatch()
    original = detection.extract_faces
    monkeypatch.setattr(compat, "installed_version", lambda: "0.0.79")
    monkeypatch.setattr(compat, "_refused", threading.Lock())  # this test's own warning
    refusal = r"deepface 0\.0\.79 is installed.*supports deepface 0\.0\.100, 0\.0\.101, 0\.0\.102, 0\.0\.103"
    with pytest.warns(compat.UnsupportedDeepfaceWarning, match=refusal):
        assert deepface_batch.patch() is False
    assert detection.extract_faces is original
    with pytest.raises(UnsupportedDeepfaceVersion, match=refusal):
        compat.check_version()


def test_unpatch_leaves_someone_elses_wrapper(caplog):
    deepface_batch.patch()
    ours = detection.extract_faces

    def theirs(*args, **kwargs):
        return ours(*args, **kwargs)

    theirs.__wrapped__ = ours
    detection.extract_faces = theirs
    try:
        with caplog.at_level(logging.WARNING):
            deepface_batch.unpatch()
        assert detection.extract_faces is theirs
        assert "wrapped again" in caplog.text
    finally:
        detection.extract_faces = ours.__wrapped__


@pytest.mark.skipif(importlib.util.find_spec("dlib") is None, reason="Dlib needs dlib: pip install dlib-bin")
def test_verify_and_represent_keep_upstreams_results_while_patched(face):
    """verify and represent call extract_faces inside deepface; Dlib has real weights."""
    other = np.ascontiguousarray(face[:, ::-1])
    with deepface_batch.unpatched():
        want_verify = DeepFace.verify(face, other, model_name="Dlib")
        want_represent = DeepFace.represent([face, other], model_name="Dlib")
    with deepface_batch.patched():
        got_verify = DeepFace.verify(face, other, model_name="Dlib")
        got_represent = DeepFace.represent([face, other], model_name="Dlib")
    for key in ("verified", "distance", "threshold", "facial_areas"):
        assert got_verify[key] == want_verify[key]
    assert len(got_represent) == len(want_represent) == 2
    for got, want in zip(got_represent, want_represent):
        assert [g["embedding"] for g in got] == [w["embedding"] for w in want]
