"""The ``deepface-batch`` command, run in subprocesses on real files.

Images (JPEG, PNG and WebP of several sizes, in nested folders), broken files and a short
MP4 are written from :mod:`deepface_batch.samples`; every subcommand runs on them as a
user runs it (``python -m deepface_batch``, the same code as the console script), and
its records are checked against the library's own results on the same inputs.

The opencv detector throughout: it needs no weight file and finds the sample faces at
400 x 300, where a frame takes a quarter of the time 640 x 480 takes.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

import deepface_batch
from deepface_batch import records, samples
from deepface_batch.video import iter_frames
from tests.support.environment import recognition_model

FPS = 10.0
CLIP_FRAMES = 40
CLIP_SIZE = (300, 400)  # height, width
DETECTOR = {"detector_backend": "opencv", "enforce_detection": False}

#: the image files of the tree, in the order a folder walk gives them (sorted paths)
WALK = [
    "a.jpg",
    "b.png",
    "corrupt.jpg",
    "empty.jpg",
    "sub/blank.png",
    "sub/c.webp",
    "sub/deeper/d.jpg",
]
GOOD = ["a.jpg", "b.png", "sub/blank.png", "sub/c.webp", "sub/deeper/d.jpg"]
BROKEN = ["corrupt.jpg", "empty.jpg"]  # and notes.txt, named on the command line


# --- helpers -----------------------------------------------------------------------------


def cli(*args: object, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "deepface_batch", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def parse_jsonl(text: str) -> list[dict]:
    """Every line a JSON object (fails on a line that is not)."""
    return [json.loads(line) for line in text.splitlines()]


def by_source(recs: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for record in recs:
        out.setdefault(record["source"], []).append(record)
    return out


def keys(recs: list[dict]) -> list[tuple]:
    return [(r["source"], r["frame"], r["face"]) for r in recs]


def as_set(recs: list[dict]) -> set[str]:
    return {json.dumps(r, sort_keys=True) for r in recs}


@contextlib.contextmanager
def interruptible_children():
    """Children started in the block get Python's Ctrl-C handler.

    A process that starts with SIGINT ignored (pytest run as a background job of a
    non-interactive shell, as some CI runners start it) passes that on, and Python then leaves it
    ignored; a handled signal is reset to the default at exec instead.
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def wait_for_lines(path: Path, proc: subprocess.Popen, lines: int = 1, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_bytes().count(b"\n") >= lines:
            return
        if proc.poll() is not None:
            pytest.fail(f"the run ended (status {proc.returncode}) before writing {lines} lines to {path}")
        time.sleep(0.01)
    proc.kill()
    pytest.fail(f"nothing written to {path} in {timeout} s")


# --- the files ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_data(tmp_path_factory.mktemp("cli-data"))


def make_data(root: Path) -> Path:
    """The command's test files in ``root``: photos (good, faceless, broken) and a clip."""
    photos = root / "photos"
    (photos / "sub" / "deeper").mkdir(parents=True)
    frames, small, mixed = samples.video_frames(), samples.video_frames(*CLIP_SIZE), samples.mixed_images()
    written = {
        "a.jpg": frames[0],  # 640 x 480
        "b.png": mixed[1],  # 300 x 300
        "sub/c.webp": mixed[2],  # 400 x 520, flipped
        "sub/deeper/d.jpg": small[2],  # 400 x 300, two faces
        "sub/blank.png": mixed[-1],  # no face
    }
    for name, image in written.items():
        assert cv2.imwrite(str(photos / name), image), name
    (photos / "corrupt.jpg").write_bytes(np.random.default_rng(0).bytes(2000))
    (photos / "empty.jpg").write_bytes(b"")
    (photos / "readme.md").write_text("not an image: a folder walk leaves it out\n")
    (root / "notes.txt").write_text("not an image, named on the command line\n")

    writer = cv2.VideoWriter(str(root / "clip.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), FPS, CLIP_SIZE[::-1])
    assert writer.isOpened()
    for n in range(CLIP_FRAMES):
        writer.write(small[n % len(small)])
    writer.release()
    return root


def photo(data: Path, name: str) -> str:
    return str(data / "photos" / name)


@pytest.fixture(scope="module")
def library(data) -> dict[str, list[dict]]:
    """The library's records for each good image, by path."""
    paths = [photo(data, name) for name in GOOD]
    results = deepface_batch.extract_faces(paths, errors="return", batch_size=4, **DETECTOR)
    return {path: records.from_result(result, path) for path, result in zip(paths, results)}


@pytest.fixture(scope="module")
def extract_run(data) -> subprocess.CompletedProcess:
    """``extract`` on the folder and notes.txt, JSONL to stdout."""
    return cli("extract", data / "photos", data / "notes.txt", "--batch-size", 4)


@pytest.fixture(scope="module")
def decoded(data) -> list:
    return list(iter_frames(str(data / "clip.mp4")))


@pytest.fixture(scope="module")
def video_run(data, tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    """``video`` on the whole clip, with an annotated copy and a contact sheet."""
    out = tmp_path_factory.mktemp("video-run")
    run = cli(
        "video", data / "clip.mp4", "-o", out / "faces.jsonl", "--batch-size", 8,
        "--annotate", out / "annotated.mp4", "--sheet", out / "sheet.jpg",
    )  # fmt: skip
    return run, out


@pytest.fixture(scope="module")
def video_records(video_run) -> list[dict]:
    run, out = video_run
    assert run.returncode == 0, run.stderr
    return parse_jsonl((out / "faces.jsonl").read_text())


# --- extract -----------------------------------------------------------------------------


def test_extract_folder_tree_gives_a_record_per_face_and_per_failure(data, library, extract_run):
    assert extract_run.returncode == 1, extract_run.stderr  # some inputs failed
    recs = parse_jsonl(extract_run.stdout)
    assert all(list(r) == list(records.FIELDS) for r in recs)
    grouped = by_source(recs)
    # the walk: image extensions only (readme.md left out), recursive, sorted; then notes.txt
    assert list(grouped) == [photo(data, name) for name in WALK] + [str(data / "notes.txt")]

    for path, want in library.items():
        assert grouped[path] == want, path
    faces = [r for r in recs if r["status"] == records.FACE]
    assert faces and all(isinstance(r[k], int) for r in faces for k in "xywh")
    assert all(0 < r["confidence"] and r["error"] is None for r in faces)
    assert any(r["left_eye"] is not None for r in faces)
    for path in grouped:
        if grouped[path][0]["status"] == records.FACE:
            assert [r["face"] for r in grouped[path]] == list(range(len(grouped[path])))
    assert grouped[photo(data, "sub/blank.png")] == [
        {**dict.fromkeys(records.FIELDS), "source": photo(data, "sub/blank.png"), "status": "no_face"}
    ]
    assert len(library[photo(data, "sub/deeper/d.jpg")]) == 2  # what the CSV resume test cuts

    failed = [photo(data, name) for name in BROKEN] + [str(data / "notes.txt")]
    for path in failed:
        [record] = grouped[path]
        assert record["status"] == records.ERROR and record["face"] is None
        assert Path(path).name in record["error"], record["error"]
        assert not re.search(r"\bitem \d+: ", record["error"]), record["error"]
        assert re.search(rf"input \d+ \({re.escape(path)}\) failed", extract_run.stderr), path
    # stderr counts inputs; the engine's "item N" (what reached it) is not repeated there
    assert not re.search(r"failed: .*\bitem \d+: ", extract_run.stderr)
    assert f"{len(WALK) + 1} images" in extract_run.stderr and f"{len(failed)} failed" in extract_run.stderr


def test_extract_glob_and_exit_0_when_every_input_is_good(data, library):
    run = cli("extract", data / "photos" / "**" / "*.png", "-q")
    assert run.returncode == 0, run.stderr
    paths = [photo(data, "b.png"), photo(data, "sub/blank.png")]
    assert parse_jsonl(run.stdout) == library[paths[0]] + library[paths[1]]
    assert run.stderr == ""  # --quiet


def test_strict_stops_at_the_first_failure(data, library, extract_run):
    command = ["extract", data / "photos", data / "notes.txt", "--strict", "--batch-size", 2, "-q"]
    run = cli(*command)
    assert run.returncode == 1, run.stderr
    recs = parse_jsonl(run.stdout)
    assert list(by_source(recs)) == [photo(data, name) for name in WALK[:3]]  # a, b, corrupt.jpg
    assert recs[:-1] == library[photo(data, "a.jpg")] + library[photo(data, "b.png")]
    assert recs[-1]["status"] == records.ERROR
    assert len(recs) < len(parse_jsonl(extract_run.stdout))
    assert "corrupt.jpg" in run.stderr  # named even with --quiet
    # the run stops while the next batch is being read on a daemon thread: the process
    # must still exit with the run's status, not abort in OpenCV at interpreter exit
    # (it did, at random, one run in five)
    statuses = [cli(*command).returncode for _ in range(4)]
    assert statuses == [1] * 4


@pytest.mark.parametrize(
    "args, message",
    [
        (["extract", "{photos}", "--detector", "no-such-detector", "-o", "{out}"], "unknown detector backend"),
        (["represent", "{photos}", "--model", "NoSuchModel", "-o", "{out}"], "unknown model_name 'NoSuchModel'"),
        (["extract", "{photos}", "-o", "{tmp}/out.txt"], "cannot tell the output format"),
        (["extract", "{photos}", "--resume"], "--resume needs an output file"),
        (["extract", "{photos}", "--batch-size", "0", "-o", "{out}"], "--batch-size must be 1 or more"),
        (["video", "{clip}", "--every", "0", "-o", "{out}"], "--every must be 1 or more"),
        (["video", "{clip}", "{tmp}/missing.mp4", "-o", "{out}"], "cannot open video"),
    ],
)
def test_usage_errors_exit_2_and_leave_the_output_alone(data, tmp_path, args, message):
    out = tmp_path / "out.jsonl"
    out.write_text('{"an earlier run": 1}\n')
    names = {"photos": data / "photos", "clip": data / "clip.mp4", "tmp": tmp_path, "out": out}
    run = cli(*(arg.format(**names) for arg in args))
    assert run.returncode == 2, run.stderr
    assert message in run.stderr and run.stdout == ""
    assert out.read_text() == '{"an earlier run": 1}\n'
    assert not (tmp_path / "out.txt").exists()


# --- output formats ----------------------------------------------------------------------


def test_csv_output_holds_the_same_records(data, extract_run, tmp_path):
    out = tmp_path / "faces.csv"
    run = cli("extract", data / "photos", data / "notes.txt", "-o", out, "-q")
    assert run.returncode == 1 and run.stdout == ""
    with open(out, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == list(records.FIELDS)
    want = [
        [json.dumps(v) if isinstance(v, list) else ("" if v is None else str(v)) for v in r.values()]
        for r in parse_jsonl(extract_run.stdout)
    ]
    assert rows[1:] == want
    eyes = [row[records.FIELDS.index("left_eye")] for row in rows[1:]]
    assert any(json.loads(cell) for cell in eyes if cell)  # landmarks as JSON lists


def test_parquet_output_has_the_declared_schema(data, extract_run, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "faces.parquet"
    run = cli("extract", data / "photos", data / "notes.txt", "-o", out, "-q")
    assert run.returncode == 1, run.stderr
    table = pq.read_table(out)
    assert table.schema.equals(records.parquet_schema())
    assert table.to_pylist() == parse_jsonl(extract_run.stdout)
    assert not out.with_name(out.name + ".partial").exists()


def test_represent_parquet_embeddings_and_crops(data, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    recognition_model("Dlib")
    out, crops = tmp_path / "faces.parquet", tmp_path / "crops"
    run = cli("represent", data / "photos", "--model", "Dlib", "-o", out, "--crops", crops, "--batch-size", 4, "-q")
    assert run.returncode == 1, run.stderr  # the broken files
    paths = [photo(data, name) for name in GOOD]
    results = deepface_batch.represent(paths, model_name="Dlib", errors="return", batch_size=4, **DETECTOR)
    want = [r for path, result in zip(paths, results) for r in records.from_result(result, path)]
    size = len(next(r["embedding"] for r in want if "embedding" in r))

    table = pq.read_table(out)
    assert table.schema.equals(records.parquet_schema(size))
    got = [r for r in table.to_pylist() if r["status"] != records.ERROR]
    assert [r["source"] for r in table.to_pylist() if r["status"] == records.ERROR] == [
        photo(data, name) for name in BROKEN
    ]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert {k: g[k] for k in records.FIELDS} == {k: w[k] for k in records.FIELDS}
        if w["status"] == records.FACE:
            np.testing.assert_array_equal(np.float32(g["embedding"]), np.float32(w["embedding"]))
        else:
            assert g["embedding"] is None
    # one PNG per face record
    pngs = sorted(crops.glob("*.png"))
    assert len(pngs) == sum(r["status"] == records.FACE for r in want) > 0
    assert all(cv2.imread(str(p)) is not None for p in pngs)


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_represent_resume_keeps_embeddings_when_the_first_run_found_no_face(data, tmp_path, suffix):
    """The embedding column is there from the first run, whatever it found, so the run that
    resumes it writes the same columns (a first run on a faceless image wrote no embedding
    column, and the resumed run then dropped every embedding)."""
    if suffix == ".parquet":
        pytest.importorskip("pyarrow.parquet")
    recognition_model("Dlib")
    out = tmp_path / f"faces{suffix}"
    first = cli("represent", photo(data, "sub/blank.png"), "--model", "Dlib", "-o", out, "-q")
    assert first.returncode == 0, first.stderr
    written = list(records.read(out))
    assert [r["status"] for r in written] == [records.NO_FACE]
    assert "embedding" in written[0] and written[0]["embedding"] is None
    second = cli(
        "represent", photo(data, "sub/blank.png"), photo(data, "a.jpg"), "--model", "Dlib", "-o", out, "--resume", "-q"
    )
    assert second.returncode == 0, second.stderr
    written = list(records.read(out))
    assert [r["source"] for r in written] == [photo(data, "sub/blank.png"), photo(data, "a.jpg")]
    [want] = deepface_batch.represent([photo(data, "a.jpg")], model_name="Dlib", **DETECTOR)
    embedding = written[1]["embedding"]
    if isinstance(embedding, str):  # CSV: a JSON list in its cell
        embedding = json.loads(embedding)
    np.testing.assert_array_equal(np.float32(embedding), np.float32(want[0]["embedding"]))
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        assert pq.read_table(out).schema.equals(records.parquet_schema(128))


def test_batch_size_from_the_environment_is_checked_by_the_command(data):
    """The command takes its default batch size from DEEPFACE_BATCH_SIZE (it always passed
    32): a value that cannot be read is a usage error naming the variable."""
    run = subprocess.run(
        [sys.executable, "-m", "deepface_batch", "extract", photo(data, "a.jpg"), "-q"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "DEEPFACE_BATCH_SIZE": "lots"},
    )
    assert run.returncode == 2, run.stderr
    assert "DEEPFACE_BATCH_SIZE must be a positive integer, got 'lots'" in run.stderr


def test_crops_are_the_faces_the_records_keep(data, tmp_path):
    path = photo(data, "sub/deeper/d.jpg")
    faces = deepface_batch.extract_faces(path, **DETECTOR)
    confidences = sorted(face["confidence"] for face in faces)
    assert len(confidences) == 2 and confidences[0] < confidences[1]
    crops = tmp_path / "crops"
    run = cli("extract", path, "--min-confidence", confidences[1], "--crops", crops, "-q")
    assert run.returncode == 0, run.stderr
    [record] = parse_jsonl(run.stdout)
    assert record["face"] == 0 and record["confidence"] == confidences[1]
    [png] = crops.glob("*.png")
    assert png.name.endswith("-d-face0.png")
    best = max(faces, key=lambda face: face["confidence"])["face"]  # RGB, 0..1
    want = np.clip(best * 255.0, 0, 255).astype(np.uint8)[:, :, ::-1]
    np.testing.assert_array_equal(cv2.imread(str(png)), want)


# --- video -------------------------------------------------------------------------------


def test_video_records_match_the_library_frame_by_frame(data, decoded, video_records):
    clip = str(data / "clip.mp4")
    capture = cv2.VideoCapture(clip)
    fps = capture.get(cv2.CAP_PROP_FPS)
    capture.release()
    assert [f.index for f in decoded] == list(range(CLIP_FRAMES))
    frames = sorted({r["frame"] for r in video_records})
    assert frames == [f.index for f in decoded]  # every frame has a record, no_face included
    assert all(r["timestamp"] == r["frame"] / fps for r in video_records)
    results = deepface_batch.extract_faces([f.image for f in decoded], batch_size=8, **DETECTOR)
    want = [r for f, result in zip(decoded, results) for r in records.from_result(result, clip, f.index, f.timestamp)]
    assert video_records == want
    assert {r["status"] for r in want} == {records.FACE, records.NO_FACE}


def test_video_annotated_copy_and_contact_sheet(data, video_run, video_records):
    _, out = video_run
    capture = cv2.VideoCapture(str(out / "annotated.mp4"))
    count, size = 0, None
    while True:
        ok, image = capture.read()
        if not ok:
            break
        count, size = count + 1, image.shape[:2]
    capture.release()
    assert count == len({r["frame"] for r in video_records})
    assert size == CLIP_SIZE
    sheet = cv2.imread(str(out / "sheet.jpg"))
    assert sheet is not None and sheet.ndim == 3 and sheet.shape[1] >= sheet.shape[0]


def test_video_every_start_and_end(data, decoded, video_records):
    clip = data / "clip.mp4"
    run = cli("video", clip, "--every", 3, "--batch-size", 8, "-q")
    assert run.returncode == 0, run.stderr
    recs = parse_jsonl(run.stdout)
    kept = [f.index for f in decoded if f.index % 3 == 0]
    assert sorted({r["frame"] for r in recs}) == kept
    assert recs == [r for r in video_records if r["frame"] in kept]

    run = cli("video", clip, "--start", 1.05, "--end", 2.0, "--batch-size", 8, "-q")
    assert run.returncode == 0, run.stderr
    recs = parse_jsonl(run.stdout)
    kept = [f.index for f in decoded if 1.05 <= f.timestamp < 2.0]
    assert kept and sorted({r["frame"] for r in recs}) == kept
    # the frames a seek reached are the frames a full decode gives
    assert recs == [r for r in video_records if r["frame"] in kept]


def test_video_annotated_copy_takes_sources_of_another_size(data, tmp_path):
    small = tmp_path / "small.mp4"
    writer = cv2.VideoWriter(str(small), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (320, 240))
    for image in samples.video_frames(240, 320):
        writer.write(image)
    writer.release()
    out = tmp_path / "annotated.mp4"
    run = cli("video", small, data / "clip.mp4", "--every", 4, "--annotate", out, "-q")
    assert run.returncode == 0, run.stderr
    frames = {(r["source"], r["frame"]) for r in parse_jsonl(run.stdout)}
    capture = cv2.VideoCapture(str(out))
    count = 0
    while capture.read()[0]:
        count += 1
    assert (capture.get(cv2.CAP_PROP_FRAME_WIDTH), capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (320, 240)
    capture.release()
    assert count == len(frames) == 1 + CLIP_FRAMES // 4


def test_video_with_a_model_gives_embeddings(data, decoded):
    recognition_model("Dlib")
    clip = str(data / "clip.mp4")
    run = cli("video", clip, "--model", "Dlib", "--every", 5, "--batch-size", 4, "-q")
    assert run.returncode == 0, run.stderr
    recs = parse_jsonl(run.stdout)
    frames = [f for f in decoded if f.index % 5 == 0]
    results = deepface_batch.represent([f.image for f in frames], model_name="Dlib", batch_size=4, **DETECTOR)
    want = [r for f, result in zip(frames, results) for r in records.from_result(result, clip, f.index, f.timestamp)]
    assert [{k: r[k] for k in records.FIELDS} for r in recs] == [{k: r[k] for k in records.FIELDS} for r in want]
    faces = [(g, w) for g, w in zip(recs, want) if w["status"] == records.FACE]
    assert faces
    for g, w in faces:
        np.testing.assert_array_equal(np.float32(g["embedding"]), np.float32(w["embedding"]))
    assert all("embedding" not in r for r in recs if r["status"] != records.FACE)


# --- resume ------------------------------------------------------------------------------


def test_resume_after_ctrl_c_finishes_the_video_without_duplicates(data, tmp_path, video_records):
    out, log = tmp_path / "faces.jsonl", tmp_path / "stderr.txt"
    command = [sys.executable, "-m", "deepface_batch", "video", str(data / "clip.mp4"), "-o", str(out)]
    with interruptible_children(), open(log, "w") as stderr:
        proc = subprocess.Popen([*command, "--batch-size", "4", "-q"], stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        wait_for_lines(out, proc)
        proc.send_signal(signal.SIGINT)
        status = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert status == 130, log.read_text()
    assert "--resume" in log.read_text()
    first = parse_jsonl(out.read_text())  # every line whole
    assert first and len({r["frame"] for r in first}) < CLIP_FRAMES, "the run was not interrupted"
    # a frame's records are all there or not at all
    assert all(r in video_records for r in first)

    run = cli(*command[3:], "--resume", "--batch-size", 4, "-q")
    assert run.returncode == 0, run.stderr
    final = parse_jsonl(out.read_text())
    assert len(set(keys(final))) == len(final)  # nothing twice
    assert final[: len(first)] == first  # appended, not rewritten
    assert as_set(final) == as_set(video_records)


def test_resume_repairs_a_line_cut_in_half(data, tmp_path, video_records):
    # cut inside the second face of a late frame: that frame's first face is whole, but
    # the frame is not done
    lines = [json.dumps(r) + "\n" for r in video_records]
    cut = max(n for n, r in enumerate(video_records) if r["face"] == 1)
    out = tmp_path / "faces.jsonl"
    out.write_text("".join(lines[:cut]) + lines[cut][: len(lines[cut]) // 2])
    run = cli("video", data / "clip.mp4", "-o", out, "--resume", "--batch-size", 4, "-q")
    assert run.returncode == 0, run.stderr
    final = parse_jsonl(out.read_text())
    assert len(set(keys(final))) == len(final)
    assert as_set(final) == as_set(video_records)


def test_resume_repairs_a_csv_row_cut_in_half(data, tmp_path, extract_run):
    want = parse_jsonl(extract_run.stdout)
    last = photo(data, "sub/deeper/d.jpg")  # the walk's last image, with two faces
    out = tmp_path / "faces.csv"
    run = cli("extract", data / "photos", "-o", out, "-q")
    assert run.returncode == 1, run.stderr
    text = out.read_bytes().decode("utf-8")
    assert text.endswith("\r\n")
    cut = text.rstrip("\r\n").rfind("\r\n") + 2  # the start of d.jpg's second row
    assert text[cut:].startswith(last)
    out.write_bytes(text[: cut + 20].encode("utf-8"))

    run = cli("extract", data / "photos", "-o", out, "--resume", "-q")
    assert run.returncode == 0, run.stderr  # d.jpg only, again
    with open(out, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == list(records.FIELDS)
    expected = [
        [json.dumps(v) if isinstance(v, list) else ("" if v is None else str(v)) for v in r.values()]
        for r in want
        if r["source"] != str(data / "notes.txt")
    ]
    assert len(rows) - 1 == len(expected) and sorted(rows[1:]) == sorted(expected)


# --- backends and parity -----------------------------------------------------------------


def test_backends_lists_every_backend_in_aligned_columns():
    from deepface_batch import compat

    run = cli("backends")
    assert run.returncode == 0, run.stderr
    first, header, *rows = run.stdout.splitlines()
    assert first.startswith(f"deepface {deepface_version()} ")
    assert f"engine {compat.get().backend_engine()}" in first and "import hook " in first
    assert header.split() == ["backend", "batching", "tolerance", "here"]
    plugins = deepface_batch.detectors()
    assert [row.split()[0] for row in rows] == list(plugins)
    here = header.index("here")
    tolerance = header.index("tolerance")
    for row in rows:
        name, batching = row.split()[:2]
        plugin = plugins[name]
        assert batching == plugin.batch_mode.value
        assert row[here - 2 : here] == "  " and row[here] != " ", row
        assert re.match(r"available$|missing: pip install |unavailable: ", row[here:]), row
        declared = row[tolerance:here].strip()
        assert (declared == "exact") == plugin.tolerance.exact, row
        if not plugin.tolerance.exact:
            assert declared.startswith(f"box {plugin.tolerance.box_px:g} px"), row
    assert {"opencv", "ssd", "yunet", "centerface", "skip"} <= set(plugins)


def deepface_version() -> str:
    from importlib.metadata import version

    return version("deepface")


def test_console_script_runs():
    script = Path(sys.executable).with_name("deepface-batch")
    assert script.is_file() and os.access(script, os.X_OK)
    run = subprocess.run([str(script), "backends"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout == cli("backends").stdout


def test_parity_table_on_the_bundled_samples():
    run = cli("parity", "--detector", "opencv,ssd")
    assert run.returncode == 0, run.stdout + run.stderr
    table = [line for line in run.stdout.splitlines() if line.startswith("|")]
    assert table[0].startswith("| backend | batching | declared tolerance |")
    rows = {line.split("|")[1].strip(): line for line in table[2:]}
    assert list(rows) == ["opencv", "ssd"]
    for name, row in rows.items():
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells[1] == deepface_batch.get_detector(name).batch_mode.value
        assert cells[-1] == "yes", row
        assert cells[3].startswith("0, 0, 0"), row  # exact backends: no difference at all


SHIFTED = """
import copy, sys
from deepface_batch import registry
from deepface_batch.cli import main
from deepface_batch.plugin import EXACT, DetectorPlugin


class Shifted(DetectorPlugin):
    \"\"\"opencv, but its batches put every box 5 px to the right of its single path.\"\"\"

    name = "shifted"
    tolerance = EXACT

    def prepare(self):
        registry.get_detector("opencv").prepare()

    def detect_one(self, image):
        return registry.get_detector("opencv").detect_one(image)

    def detect_batch(self, images):
        out = []
        for image in images:
            regions = [copy.copy(r) for r in self.detect_one(image)]
            for region in regions:
                region.x += 5
            out.append(regions)
        return out


registry.register_detector(Shifted)
sys.exit(main(sys.argv[1:]))
"""


def test_parity_fails_when_a_plugin_exceeds_its_declared_tolerance(data):
    images = [photo(data, "b.png"), photo(data, "sub/deeper/d.jpg")]
    run = subprocess.run(
        [sys.executable, "-c", SHIFTED, "parity", *images, "--detector", "shifted,opencv"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    # the header names the image set, not every path
    assert f"on 2 images from {images[0]} and 1 more path;" in run.stdout.splitlines()[0], run.stdout
    rows = {line.split("|")[1].strip(): line for line in run.stdout.splitlines() if line.startswith("| ")}
    assert rows["shifted"].rstrip().endswith("| NO |"), rows["shifted"]
    assert "| 5, " in rows["shifted"]  # the measured box difference
    assert rows["opencv"].rstrip().endswith("| yes |")
    assert "<!-- shifted: " in run.stdout  # what differs, named
