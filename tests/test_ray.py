"""Ray Data: the same rows as the local engine, on a local cluster the test starts (2 CPUs)."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest

import deepface_batch
from deepface_batch import records, samples

ray = pytest.importorskip("ray", reason="Ray Data needs: pip install 'deepface-batch[ray]'")
dfr = pytest.importorskip("deepface_batch.ray")

IMAGES = 40


@pytest.fixture(scope="module")
def cluster():
    """A local cluster with 2 CPUs and one GPU by configuration only (none is present):
    an actor asking for a GPU is scheduled, and its model runs on the CPU."""
    ray.init(num_cpus=2, num_gpus=1, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """40 images in nested folders (JPEG and PNG, several sizes), some without a face, one
    corrupt; the sorted paths."""
    root = tmp_path_factory.mktemp("ray-images")
    pool = samples.video_frames() + samples.mixed_images()
    paths = []
    for n in range(IMAGES - 1):
        sub = root / f"part{n % 3}"
        sub.mkdir(exist_ok=True)
        path = sub / f"img{n:02d}.{'png' if n % 2 else 'jpg'}"
        cv2.imwrite(str(path), pool[n % len(pool)])
        paths.append(str(path))
    corrupt = root / "part0" / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8 this is not a jpeg")
    paths.append(str(corrupt))
    return root, sorted(paths)


def _local(paths, model_name=None):
    kwargs = {"detector_backend": "opencv", "enforce_detection": False, "errors": "return", "batch_size": 8}
    if model_name:
        results = deepface_batch.represent(paths, model_name=model_name, **kwargs)
    else:
        results = deepface_batch.extract_faces(paths, **kwargs)
    return [row for path, result in zip(paths, results) for row in records.from_result(result, path)]


def _key(row):
    return (row["source"], row["x"] or 0, row["y"] or 0, row["w"] or 0, row["h"] or 0)


def _comparable(rows):
    """Rows by source and box. Upstream's opencv detector orders one image's faces by
    thread scheduling, run to run, so the face number is left out; an error row's message
    is the loader's own (upstream's by path locally, OpenCV's decode on a worker), so
    errors compare by status."""
    out = {}
    for row in rows:
        row = {k: v for k, v in row.items() if k != "face"}
        if row["status"] == records.ERROR:
            row["error"] = "error"
        out[_key(row)] = row
    return out


def test_command_line_runs_on_ray(folder, tmp_path):
    """``deepface-batch extract ... --ray`` on a local cluster of its own: a folder of
    Parquet files with the same rows."""
    root, paths = folder
    out = tmp_path / "faces"
    done = subprocess.run(
        [sys.executable, "-m", "deepface_batch", "extract", str(root), "--ray", "-o", str(out), "--batch-size", "8"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = list(records.read_parquet_folder(out))
    assert _comparable(rows) == _comparable(_local(paths))
    assert f"{IMAGES} inputs on Ray Data" in done.stderr


def test_rows_equal_the_local_results(cluster, folder):
    root, paths = folder
    rows = dfr.faces_dataset(root, detector_backend="opencv", batch_size=8).take_all()
    assert len({row["source"] for row in rows}) == IMAGES  # nothing dropped
    assert _comparable(rows) == _comparable(_local(paths))
    corrupt = [row for row in rows if row["source"].endswith("corrupt.jpg")]
    assert [row["status"] for row in corrupt] == [records.ERROR]
    assert "could not be decoded" in corrupt[0]["error"]
    statuses = {row["status"] for row in rows}
    assert statuses == {records.FACE, records.NO_FACE, records.ERROR}


def test_embeddings_with_two_actors_and_a_gpu_by_configuration(cluster, folder, tmp_path):
    """represent on two actors from a list of paths, then one actor asking for a GPU; the
    Parquet written has the records' schema with a fixed-size float32 embedding."""
    from tests.support.environment import recognition_model

    recognition_model("Dlib")
    _, paths = folder
    subset = paths[:12]
    want = _comparable(_local(subset, "Dlib"))
    two = dfr.faces_dataset(subset, model_name="Dlib", detector_backend="opencv", batch_size=4, concurrency=2)
    two.write_parquet(str(tmp_path / "two"))
    got = list(records.read_parquet_folder(tmp_path / "two"))
    assert set(_comparable(got)) == set(want)
    for key, row in _comparable(got).items():
        expected = want[key]
        if row["status"] == records.FACE:
            np.testing.assert_array_equal(
                np.asarray(row["embedding"], np.float32), np.asarray(expected["embedding"], np.float32)
            )
        assert {k: v for k, v in row.items() if k != "embedding"} == {
            k: v for k, v in expected.items() if k != "embedding"
        }
    import pyarrow.parquet as pq

    part = sorted((tmp_path / "two").glob("*.parquet"))[0]
    schema = pq.read_schema(part)
    expected_schema = records.parquet_schema(128)
    assert [(f.name, f.type) for f in schema] == [(f.name, f.type) for f in expected_schema]

    gpu = dfr.faces_dataset(subset[:4], model_name="Dlib", detector_backend="opencv", batch_size=4, num_gpus=1)
    assert set(_comparable(gpu.take_all())) == set(_comparable(_local(subset[:4], "Dlib")))


def test_actions_give_each_face_its_attributes_on_ray(cluster, folder, tmp_path):
    """``DetectFaces`` with ``actions`` (analyze), from a list of paths, one with a name in
    another language: the local engine's attributes, in the records' Parquet schema."""
    from deepface_batch import analysis, compat
    from tests.support.environment import recognition_model

    recognition_model("Emotion", task="facial_attribute")
    _, paths = folder
    named = tmp_path / "лицо é.png"
    named.write_bytes(open(paths[1], "rb").read())
    subset = [*paths[:5], str(named)]
    kwargs = {"detector_backend": "opencv", "enforce_detection": False}
    local = deepface_batch.analyze(subset, actions=("emotion",), errors="return", batch_size=4, **kwargs)
    want = _comparable([r for p, res in zip(subset, local) for r in records.from_result(res, p)])
    dataset = dfr.faces_dataset(subset, batch_size=4, actions=("emotion",), **kwargs)
    dataset.write_parquet(str(tmp_path / "analyzed"))
    got = _comparable(list(records.read_parquet_folder(tmp_path / "analyzed")))
    assert set(got) == set(want)
    assert {row["status"] for row in got.values() if row["source"] == str(named)} == {records.FACE}
    tolerance = analysis.ATTRIBUTE_TOLERANCE[compat.get().backend_engine()].score
    for key, row in got.items():
        expected = want[key]
        assert row["status"] == expected["status"], row
        assert row["emotion"] == expected.get("emotion")
        if row["status"] == records.FACE:
            assert max(abs(row["emotion_scores"][k] - v) for k, v in expected["emotion_scores"].items()) <= tolerance
    import pyarrow.parquet as pq

    schema = pq.read_schema(sorted((tmp_path / "analyzed").glob("*.parquet"))[0])
    expected_schema = records.parquet_schema(None, ["emotion"])
    assert [(f.name, f.type) for f in schema] == [(f.name, f.type) for f in expected_schema]
