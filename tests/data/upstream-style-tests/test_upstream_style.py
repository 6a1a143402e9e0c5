"""deepface's functions as upstream's own unit tests call them (tests/unit/test_*.py)."""

import numpy as np
import pytest
from deepface import DeepFace
from deepface.modules import detection

DATASET = "../deepface-dataset"
# deepface's master.csv labels img5 / img11 the same person, img11 / img16 two people
IMG_SAME_A = f"{DATASET}/img5.jpg"
IMG_SAME_B = f"{DATASET}/img11.jpg"
IMG_OTHER = f"{DATASET}/img16.jpg"


@pytest.mark.parametrize("detector_backend", ["opencv", "ssd"])
def test_extract_faces_finds_a_face(detector_backend):
    faces = DeepFace.extract_faces(IMG_SAME_A, detector_backend=detector_backend)
    assert len(faces) >= 1
    for face in faces:
        assert face["face"].shape[2] == 3
        assert 0 <= face["face"].min() and face["face"].max() <= 1
        assert {"x", "y", "w", "h", "left_eye", "right_eye"} <= set(face["facial_area"])


def test_extract_faces_takes_a_list_of_images():
    results = DeepFace.extract_faces([IMG_SAME_A, IMG_OTHER], detector_backend="opencv")
    assert len(results) == 2
    assert all(isinstance(faces, list) and faces for faces in results)


def test_extract_faces_without_a_face_raises():
    blank = np.zeros((240, 320, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="Face could not be detected"):
        DeepFace.extract_faces(blank, detector_backend="opencv")


def test_represent_gives_an_embedding_per_face():
    objs = DeepFace.represent(IMG_SAME_A, model_name="Dlib", detector_backend="opencv")
    assert objs and all(len(obj["embedding"]) == 128 for obj in objs)


def test_verify_tells_the_same_person_from_another():
    same = DeepFace.verify(IMG_SAME_A, IMG_SAME_B, model_name="Dlib", detector_backend="opencv")
    other = DeepFace.verify(IMG_SAME_A, IMG_OTHER, model_name="Dlib", detector_backend="opencv")
    assert same["verified"] is True
    assert other["verified"] is False
    assert same["distance"] < other["distance"]


def test_extract_faces_is_upstreams_own_function():
    """Fails on purpose under deepface-batch (its wrapper keeps the original as
    ``__wrapped__``): the one test the parity report must name."""
    assert not hasattr(detection.extract_faces, "__wrapped__")
