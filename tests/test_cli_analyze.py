"""The command's analyze (issue 22): ``deepface-batch analyze`` and ``--actions`` on
``extract``, ``represent`` and ``video``, their records in JSONL, CSV and Parquet, a
Parquet schema that stays the same across ``--resume`` runs (also when the first run found
no face), and the dominant emotion drawn on the annotated video."""

from __future__ import annotations

import csv
import json

import cv2
import numpy as np
import pytest

import deepface_batch
from deepface_batch import compat, records, samples, video
from tests.support.environment import recognition_model
from tests.test_cli import CLIP_FRAMES, DETECTOR, GOOD, cli, make_data, parse_jsonl, photo

ALL = list(compat.get().ANALYZE_ACTIONS)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_data(tmp_path_factory.mktemp("cli-data"))


@pytest.fixture(scope="module", autouse=True)
def planted():
    for model in compat.get().ATTRIBUTE_MODELS.values():
        recognition_model(model, task="facial_attribute")


def _expected(paths, actions):
    results = deepface_batch.analyze(paths, actions=actions, errors="return", batch_size=4, **DETECTOR)
    return [r for path, result in zip(paths, results) for r in records.from_result(result, path)]


def _same(got: list[dict], want: list[dict]) -> None:
    """Records equal field by field, scores within the engine's tolerance (the command and
    this process may stack the faces differently)."""
    from deepface_batch import analysis

    tolerance = analysis.ATTRIBUTE_TOLERANCE[compat.get().backend_engine()]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert set(w) <= set(g), (sorted(g), sorted(w))
        # a file's columns are there for every row: null where the record has no value
        assert all(g[key] is None for key in set(g) - set(w)), g
        for key, value in w.items():
            if key.endswith("_scores") and value is not None:
                assert list(g[key]) == list(value)
                assert max(abs(g[key][k] - value[k]) for k in value) <= tolerance.score, key
            elif key == "age" and value is not None:
                assert abs(g[key] - value) <= tolerance.age
            else:
                assert g[key] == value, (key, g[key], value)


def test_analyze_writes_every_attribute_in_parquet(data, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "faces.parquet"
    run = cli("analyze", data / "photos", "-o", out, "--batch-size", 4, "-q")
    assert run.returncode == 1, run.stderr  # the broken files are failures
    table = pq.read_table(out)
    assert table.schema.equals(records.parquet_schema(None, ALL))
    rows = [r for r in table.to_pylist() if r["status"] != records.ERROR]
    _same(rows, _expected([photo(data, name) for name in GOOD], ALL))
    faces = [r for r in rows if r["status"] == records.FACE]
    assert faces and all(r["emotion"] in r["emotion_scores"] for r in faces)


def test_parquet_schema_is_the_same_across_resume_after_a_faceless_first_run(data, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "faces.parquet"
    first = cli("analyze", photo(data, "sub/blank.png"), "--actions", "emotion,age", "-o", out, "-q")
    assert first.returncode == 0, first.stderr
    schema = records.parquet_schema(None, ["emotion", "age"])
    assert pq.read_table(out).schema.equals(schema)
    second = cli(
        "analyze", photo(data, "sub/blank.png"), photo(data, "a.jpg"), "--actions", "emotion,age", "-o", out,
        "--resume", "-q",
    )  # fmt: skip
    assert second.returncode == 0, second.stderr
    table = pq.read_table(out)
    assert table.schema.equals(schema)
    rows = table.to_pylist()
    assert [r["status"] for r in rows][0] == records.NO_FACE and rows[0]["emotion"] is None
    _same(rows[1:], _expected([photo(data, "a.jpg")], ["emotion", "age"]))


def test_extract_with_actions_in_csv(data, tmp_path):
    out = tmp_path / "faces.csv"
    run = cli("extract", photo(data, "a.jpg"), photo(data, "sub/deeper/d.jpg"), "--actions", "emotion", "-o", out, "-q")
    assert run.returncode == 0, run.stderr
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == [*records.FIELDS, "emotion", "emotion_scores"]
    assert len(rows) == 3  # one face, two faces
    got = [json.loads(r["emotion_scores"]) for r in rows]
    want = _expected([photo(data, "a.jpg"), photo(data, "sub/deeper/d.jpg")], ["emotion"])
    for scores, expected, row in zip(got, want, rows):
        assert row["emotion"] == expected["emotion"]
        assert max(abs(scores[k] - expected["emotion_scores"][k]) for k in scores) < 0.05


def test_represent_with_actions_is_one_pass(data):
    recognition_model("Dlib")
    run = cli("represent", photo(data, "a.jpg"), "--model", "Dlib", "--actions", "emotion,gender", "-q")
    assert run.returncode == 0, run.stderr
    [record] = parse_jsonl(run.stdout)
    assert len(record["embedding"]) == 128
    [want] = _expected([photo(data, "a.jpg")], ["emotion", "gender"])
    assert record["emotion"] == want["emotion"] and record["gender"] == want["gender"]
    [embedded] = deepface_batch.represent([photo(data, "a.jpg")], model_name="Dlib", **DETECTOR)
    np.testing.assert_array_equal(np.float32(record["embedding"]), np.float32(embedded[0]["embedding"]))


def test_video_with_actions_draws_the_dominant_emotion(data, tmp_path):
    out = tmp_path / "faces.jsonl"
    run = cli("video", data / "clip.mp4", "--actions", "emotion", "-o", out, "--annotate", tmp_path / "a.mp4", "-q")
    assert run.returncode == 0, run.stderr
    recs = parse_jsonl(out.read_text())
    assert len({r["frame"] for r in recs}) == CLIP_FRAMES
    faces = [r for r in recs if r["status"] == records.FACE]
    assert faces and all(r["emotion"] for r in faces)
    assert (tmp_path / "a.mp4").stat().st_size > 0
    # the label is drawn under the box: the annotation differs from one without it
    image = samples.video_frames(300, 400)[0]
    face = dict(faces[0])
    without = video.annotate(image, [{k: v for k, v in face.items() if k != "emotion"}])
    drawn = video.annotate(image, [face])
    x, y, w, h = face["x"], face["y"], face["w"], face["h"]
    below = (slice(y + h, min(image.shape[0], y + h + 40)), slice(x, x + w))
    assert not np.array_equal(drawn[below], without[below])
    assert cv2.absdiff(drawn, without).sum() > 0


def test_unknown_action_is_a_usage_error(data, tmp_path):
    out = tmp_path / "faces.jsonl"
    out.write_text("kept\n")
    run = cli("extract", photo(data, "a.jpg"), "--actions", "emotion,smile", "-o", out)
    assert run.returncode == 2 and "Invalid action passed ('smile')" in run.stderr
    assert out.read_text() == "kept\n"
