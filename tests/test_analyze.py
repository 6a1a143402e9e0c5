"""Batched analyze against upstream's single-image analyze, on every facial attribute model
deepface offers (Emotion, Age, Gender, Race), on the engine the tests run on.

The attribute models have no real weights here: each is planted with seeded weights of its
real architecture (``tests.support.environment.recognition_model(..., "facial_attribute")``)
and loaded by upstream's own code. Detection runs on CenterFace (real weights).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from deepface import DeepFace
from deepface.modules.exceptions import FaceNotDetected, SpoofDetected

import deepface_batch
from deepface_batch import analysis, compat, records, samples
from tests.support import planting
from tests.support.environment import WEIGHTS_DIR, recognition_model

DETECTOR = "centerface"
ACTIONS = list(compat.get().ANALYZE_ACTIONS)
MODELS = compat.get().ATTRIBUTE_MODELS


def upstream(img, **kwargs):
    """Upstream deepface's single-image analyze, unpatched."""
    return compat.get().reference_analyze(img, **kwargs)


def plant(actions) -> None:
    for action in dict.fromkeys(actions):
        recognition_model(MODELS[action], task="facial_attribute")


def tolerance() -> analysis.AttributeTolerance:
    return analysis.ATTRIBUTE_TOLERANCE[compat.get().backend_engine()]


def assert_same(got, want, where: str) -> None:
    assert not isinstance(got, Exception), f"{where}: {got!r}"
    assert len(got) == len(want), f"{where}: {len(got)} faces, upstream {len(want)}"
    problems = [p for k, (a, b) in enumerate(zip(got, want)) for p in tolerance().problems(a, b, f"{where} face {k}")]
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="module")
def inputs10():
    """Ten inputs: same-size frames (one, flipped, two faces, none) and mixed sizes."""
    return samples.video_frames() + samples.mixed_images() + [samples.video_frames()[2]]


@pytest.mark.parametrize("action", ACTIONS)
def test_batched_matches_upstream_single_image(action, inputs10):
    plant([action])
    # the VGG-based models cost about 300 ms a face on 2 cores: for them, the four frames
    # (one face, flipped, two, none) and two of the mixed sizes (one face, a pair), 7 faces
    inputs = inputs10 if action == "emotion" else [*inputs10[:4], inputs10[4], inputs10[7]]
    options = dict(actions=(action,), detector_backend=DETECTOR, enforce_detection=False)
    got = deepface_batch.analyze(inputs, batch_size=4, **options)
    want = [upstream(img, **options) for img in inputs]
    assert len(got) == len(inputs)
    for i, (faces, reference) in enumerate(zip(got, want)):
        assert_same(faces, reference, f"input {i}")
    # the comparison can fail: the faces' scores differ far beyond the tolerance
    key = "age" if action == "age" else action
    values = [face[key] if action == "age" else max(face[key].values()) for r in want for face in r]
    assert len(values) > 5
    if action == "age":
        assert len(set(values)) > 1, f"every face is {values[0]}"
    else:
        assert max(values) - min(values) > 100 * tolerance().score, f"{action}: scores barely differ"


def test_all_actions_at_once_keep_upstreams_keys_and_order(inputs10):
    plant(ACTIONS)
    options = dict(detector_backend=DETECTOR, enforce_detection=False)  # the default: all four
    inputs = [inputs10[0], inputs10[2], inputs10[4]]  # one face, two faces, another size
    got = deepface_batch.analyze(inputs, batch_size=2, **options)
    for i, img in enumerate(inputs):
        want = upstream(img, **options)
        assert_same(got[i], want, f"input {i}")
        for face in got[i]:
            assert list(face) == [
                "emotion",
                "dominant_emotion",
                "region",
                "face_confidence",
                "age",
                "gender",
                "dominant_gender",
                "race",
                "dominant_race",
            ]


def test_one_image_in_is_upstream_exactly():
    plant(["emotion", "gender"])
    img = samples.video_frames()[2]  # two faces
    options = dict(actions=["gender", "emotion", "gender"], detector_backend=DETECTOR)  # repeats, as upstream
    assert deepface_batch.analyze(img, **options) == upstream(img, **options)


def _unusual_neighbours() -> dict[str, np.ndarray]:
    face = samples.astronaut()
    return {
        "uint16x257": face.astype(np.uint16) * 257,  # upstream's resize leaves values up to 257
        "float01": face.astype(np.float32) / 255,
        "black": np.zeros_like(face),
    }


@pytest.mark.parametrize("action", ACTIONS)
def test_stack_mates_do_not_change_a_result(action):
    """Each face's attributes in a stack with an unusual neighbour are its single-image
    ones: with ``skip`` each image is one face, and all three share one stack."""
    plant([action])
    subjects = [samples.astronaut(), samples.mixed_images()[2]]
    for name, neighbour in _unusual_neighbours().items():
        images = [subjects[0], neighbour, subjects[1]]
        options = dict(actions=(action,), detector_backend="skip")
        got = deepface_batch.analyze(images, batch_size=3, errors="return", **options)
        for i, img in enumerate(images):
            where = f"{name} input {i}"
            try:
                want = upstream(img, **options)
            except Exception as err:
                assert isinstance(got[i], type(err)), f"{where}: upstream raised {err!r}, got {got[i]!r}"
                continue
            assert_same(got[i], want, where)


def test_models_see_stacks_of_at_most_batch_size_faces(inputs10, monkeypatch):
    plant(["emotion"])
    client = compat.get().build_attribute_model("Emotion")
    sizes = []
    original = type(client).predict

    def predict(self, img):
        sizes.append(np.asarray(img).shape[0])
        return original(self, img)

    monkeypatch.setattr(type(client), "predict", predict)
    got = deepface_batch.analyze(
        inputs10, actions="emotion", detector_backend=DETECTOR, enforce_detection=False, batch_size=4
    )
    faces = sum(len(r) for r in got)
    assert sum(sizes) == faces and max(sizes) <= 4 and len(sizes) < faces


def test_actions_are_checked_at_the_call_as_upstream_checks_them():
    with pytest.raises(ValueError, match="Invalid action passed \\('Age'\\)"):
        deepface_batch.iter_analyze([samples.astronaut()], actions=("Age",))
    with pytest.raises(ValueError, match="must be a list of strings"):
        deepface_batch.analyze([samples.astronaut()], actions=())
    assert analysis.check_actions("emotion") == ["emotion"]


def test_errors_name_the_input_and_keep_upstreams_class():
    plant(["emotion"])
    blank = np.zeros((200, 260, 3), np.uint8)
    images = [samples.astronaut(), blank]
    with pytest.raises(FaceNotDetected, match=r"^item 1: Face could not be detected"):
        deepface_batch.analyze(images, actions="emotion", detector_backend=DETECTOR)
    got = deepface_batch.analyze(images, actions="emotion", detector_backend=DETECTOR, errors="return")
    assert isinstance(got[1], FaceNotDetected) and got[1].index == 1
    assert_same(got[0], upstream(images[0], actions="emotion", detector_backend=DETECTOR), "input 0")


def test_streaming_reads_at_most_two_batches_ahead():
    plant(["emotion"])
    taken: list[int] = []

    def frames():
        for n in range(20):
            taken.append(n)
            yield samples.video_frames()[n % 3]

    stream = deepface_batch.iter_analyze(
        frames(), actions="emotion", detector_backend=DETECTOR, enforce_detection=False, batch_size=3
    )
    next(stream)
    assert len(taken) <= 6
    stream.close()


def test_patched_deepface_analyze_batches_lists_and_keeps_one_image_upstreams(inputs10, monkeypatch):
    plant(["emotion"])
    options = dict(actions=("emotion",), detector_backend=DETECTOR, enforce_detection=False)
    calls = []
    real = analysis.analyze
    monkeypatch.setattr(analysis, "analyze", lambda *a, **k: calls.append(k) or real(*a, **k))
    with deepface_batch.patched(batch_size=3):
        batch = DeepFace.analyze(inputs10[:4], **options)
        stacked = DeepFace.analyze(np.stack(samples.video_frames()), **options)
        single = DeepFace.analyze(inputs10[2], **options)
        empty = DeepFace.analyze([], actions="not checked, as upstream")
    assert len(calls) == 2 and calls[0]["batch_size"] == 3
    assert single == upstream(inputs10[2], **options)  # upstream's own call
    assert empty == []
    for i, img in enumerate(inputs10[:4]):
        assert_same(batch[i], upstream(img, **options), f"list input {i}")
    for i, img in enumerate(samples.video_frames()):
        assert_same(stacked[i], upstream(img, **options), f"4-D input {i}")


def test_one_pass_gives_represent_and_analyze_from_one_detection(inputs10, monkeypatch):
    """``represent(..., actions=...)``: each face's embedding and attributes from one
    detection and alignment, each equal to its own function's."""
    plant(["emotion", "age"])
    recognition_model("Dlib")
    common = dict(detector_backend=DETECTOR, enforce_detection=False, batch_size=4)
    detections = []
    from deepface_batch import api

    real = api.process
    monkeypatch.setattr(api, "process", lambda *a, **k: detections.append(len(a[1])) or real(*a, **k))
    both = deepface_batch.represent(inputs10, model_name="Dlib", actions=("emotion", "age"), **common)
    assert sum(detections) == len(inputs10)  # every input detected once
    embeddings = deepface_batch.represent(inputs10, model_name="Dlib", **common)
    attributes = deepface_batch.analyze(inputs10, actions=("emotion", "age"), **common)
    for i, (faces, alone, analyzed) in enumerate(zip(both, embeddings, attributes)):
        assert [f["facial_area"] for f in faces] == [f["facial_area"] for f in alone]
        for face, embedded, attrs in zip(faces, alone, analyzed):
            assert face["embedding"] == embedded["embedding"], f"input {i}"
            extra = {k: v for k, v in face.items() if k not in embedded}
            want = {k: v for k, v in attrs.items() if k not in ("region", "face_confidence")}
            assert list(extra) == list(want)
            problems = tolerance().problems({**extra}, want, f"input {i}")
            assert not problems, problems


def test_threads_share_the_models_safely(inputs10):
    plant(["emotion"])
    options = dict(actions=("emotion",), detector_backend=DETECTOR, enforce_detection=False)
    images = inputs10[:4]
    want = [upstream(img, **options) for img in images]

    def call(index: int):
        if index % 2:
            return deepface_batch.analyze([images[index], images[index]], batch_size=1, **options)[0]
        return deepface_batch.analyze(images[index], **options)

    order = [i % len(images) for i in range(12)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(call, order))
    for n, (result, i) in enumerate(zip(got, order)):
        assert_same(result, want[i], f"call {n} ({threading.active_count()} threads)")


def test_records_hold_the_dominant_values_and_the_scores():
    plant(ACTIONS)
    img = samples.video_frames()[2]
    [faces] = deepface_batch.analyze([img], detector_backend=DETECTOR)
    found = records.from_result(faces, "frame.png")
    assert len(found) == len(faces) == 2
    for record, face in zip(found, faces):
        assert (record["x"], record["y"]) == (face["region"]["x"], face["region"]["y"])
        assert record["confidence"] == face["face_confidence"]
        assert record["emotion"] == face["dominant_emotion"] and record["age"] == face["age"]
        assert record["gender"] == face["dominant_gender"] and record["race"] == face["dominant_race"]
        assert record["emotion_scores"] == {k: float(v) for k, v in face["emotion"].items()}
        assert list(record["race_scores"]) == compat.get().ATTRIBUTE_LABELS["race"]


def test_a_spoofed_face_is_its_inputs_spoof_detected_error(inputs10):
    """With ``anti_spoofing=True`` a spoofed face fails its input as upstream's
    ``SpoofDetected``, now with the input's index (the planted Fasnet calls every face a
    spoof)."""
    engine = compat.get().backend_engine()
    try:
        planting.plant_fasnet(engine, WEIGHTS_DIR)
    except LookupError as err:
        pytest.skip(str(err))
    plant(["emotion"])
    images = [inputs10[0], inputs10[2]]
    options = dict(actions="emotion", detector_backend=DETECTOR, anti_spoofing=True)
    for img in images:
        with pytest.raises(SpoofDetected, match="^Spoof detected in the given image"):
            upstream(img, **options)
    got = deepface_batch.analyze(images, errors="return", **options)
    for index, entry in enumerate(got):
        assert isinstance(entry, SpoofDetected) and entry.index == index
        assert str(entry) == f"item {index}: Spoof detected in the given image."
    with pytest.raises(SpoofDetected, match=r"^item 0: Spoof detected"):
        deepface_batch.analyze(images, **options)
    with deepface_batch.patched():
        with pytest.raises(SpoofDetected, match=r"^item 0: Spoof detected"):
            DeepFace.analyze(images, **options)
        with pytest.raises(SpoofDetected, match=r"^Spoof detected"):  # one image: upstream's own
            DeepFace.analyze(images[1], **options)
