"""``python -m deepface_batch``: the main command, in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys

# pytest and its internals made unimportable: the main job's environment has no test extras
NO_PYTEST = (
    "import sys; sys.modules.update(pytest=None, _pytest=None); "
    "from deepface_batch.__main__ import main; sys.exit(main(sys.argv[1:]))"
)


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", NO_PYTEST, *args], capture_output=True, text=True, timeout=600)


def test_demo_runs_where_pytest_cannot_be_imported(tmp_path):
    # the video demo (the default), its files in tmp_path rather than the working directory
    out = run("demo", "--frames", "6", "--batch-size", "2", "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert "records: every frame's faces match upstream's" in out.stdout
    assert "pytest" not in out.stderr
    for name in ("clip.mp4", "faces.jsonl", "annotated.mp4", "sheet.jpg", "preview.png", "table.md"):
        assert (tmp_path / name).is_file(), name
    # the table: every row measured in this run, none hard-coded
    table = (tmp_path / "table.md").read_text().splitlines()
    rows = [line for line in table if line.startswith("| ") and not line.startswith(("| mode", "| ---"))]
    assert [row.split("|")[1].strip() for row in rows] == [
        "the default mode (exact)",
        "a natively batched detector",
        "without the border (opt-in)",
        "represent (Dlib)",
    ], table
    assert "| the default mode (exact) | opencv | pseudo | 6 |" in out.stdout
    assert "not run here" not in out.stdout, out.stdout


def test_image_demo_runs_where_pytest_cannot_be_imported():
    out = run("demo", "--images", "--frames", "2", "--batch-size", "2")
    assert out.returncode == 0, out.stderr
    assert "results          : every image matches upstream's" in out.stdout
    assert "pytest" not in out.stderr


def test_backends_lists_every_builtin_where_pytest_cannot_be_imported():
    out = run("backends")
    assert out.returncode == 0, out.stderr
    names = [line.split()[0] for line in out.stdout.splitlines()[1:]]
    assert {"opencv", "ssd", "centerface", "skip", "yolov8n"} <= set(names)
    # a missing package is reported with its install command, from the error's data
    for line in out.stdout.splitlines()[1:]:
        if "missing" in line:
            assert "pip install " in line, line
