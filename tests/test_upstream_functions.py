"""deepface's verify, find and analyze call extract_faces and represent inside deepface:
while the package is active they must give upstream's results, unchanged (analyze of a
list is batched itself: within its declared tolerance)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import deepface_batch
from deepface_batch import samples
from tests.support.environment import recognition_model

DETECTOR = "centerface"
MODEL = "Dlib"  # real weights


@pytest.fixture(scope="module")
def faces():
    frames = samples.video_frames()
    return {"one": frames[0], "flipped": frames[1], "two": frames[2], "none": frames[3]}


def both(call):
    """``call()`` on upstream's own functions, then with deepface patched."""
    with deepface_batch.unpatched():
        want = call()
    with deepface_batch.patched():
        assert deepface_batch.is_patched()
        got = call()
    return got, want


def test_verify(faces):
    recognition_model(MODEL)
    from deepface import DeepFace

    for first, second in (("one", "flipped"), ("one", "two")):
        got, want = both(
            lambda first=first, second=second: DeepFace.verify(
                faces[first], faces[second], model_name=MODEL, detector_backend=DETECTOR
            )
        )
        got.pop("time"), want.pop("time")
        assert got == want


def test_find(faces, tmp_path):
    recognition_model(MODEL)
    from deepface import DeepFace

    db = tmp_path / "db"
    db.mkdir()
    for name in ("one", "flipped", "two"):
        cv2.imwrite(str(db / f"{name}.jpg"), faces[name])

    def run():
        for stale in db.glob("*.npz"):
            stale.unlink()  # each side builds the datastore itself
        result = DeepFace.find(faces["one"], db_path=str(db), model_name=MODEL, detector_backend=DETECTOR, silent=True)
        return [frame.to_dict("records") for frame in result]

    got, want = both(run)
    assert got == want
    assert sum(len(rows) for rows in got) >= 3  # every face of the database was compared


def test_analyze(faces):
    recognition_model("Emotion", task="facial_attribute")
    from deepface import DeepFace

    for img in (faces["one"], faces["two"]):  # one image: upstream's own call, exactly
        got, want = both(
            lambda img=img: DeepFace.analyze(img, actions=("emotion",), detector_backend=DETECTOR, silent=True)
        )
        assert got == want
    # a list: batched now, each face within the engine's declared tolerance
    from deepface_batch import analysis, compat

    tolerance = analysis.ATTRIBUTE_TOLERANCE[compat.get().backend_engine()]
    got, want = both(
        lambda: DeepFace.analyze([faces["one"], faces["two"]], actions=("emotion",), detector_backend=DETECTOR)
    )
    assert [len(entry) for entry in got] == [len(entry) for entry in want] == [1, 2]
    for entry, reference in zip(got, want):
        for face, expected in zip(entry, reference):
            assert not tolerance.problems(face, expected)
    with pytest.raises(ValueError, match="Face could not be detected"):
        with deepface_batch.patched():
            DeepFace.analyze(faces["none"], actions=("emotion",), detector_backend=DETECTOR)


def test_verify_with_precomputed_embeddings(faces):
    """verify also takes embeddings: the batched represent's output works there."""
    recognition_model(MODEL)
    from deepface import DeepFace

    first, second = deepface_batch.represent(
        [faces["one"], faces["flipped"]], model_name=MODEL, detector_backend=DETECTOR
    )
    with deepface_batch.unpatched():
        want = DeepFace.verify(faces["one"], faces["flipped"], model_name=MODEL, detector_backend=DETECTOR)
        got = DeepFace.verify(
            first[0]["embedding"], second[0]["embedding"], model_name=MODEL, detector_backend=DETECTOR
        )
    assert np.isclose(got["distance"], want["distance"], atol=1e-6)
    assert got["verified"] == want["verified"]
