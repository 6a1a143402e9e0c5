"""Files named in any language: the command, the package's functions and batches through
the patched deepface read any file the operating system opens (upstream's loader refuses
every non-ASCII path; one image through the patched ``DeepFace`` keeps upstream's rule)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
from deepface import DeepFace

import deepface_batch
from deepface_batch import records, samples
from tests.support.helpers import assert_identical, upstream

#: names from the issue and beyond: accents, Cyrillic, CJK, an emoji, spaces
NAMES = ["sub dir/gray é.png", "фото/лицо.jpg", "写真/顔 1.jpg", "emoji 🙂.png"]
KWARGS = {"detector_backend": "opencv", "enforce_detection": False}


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> tuple[Path, dict[str, Path]]:
    """The folder, and each non-ASCII file with an ASCII-named copy of its bytes."""
    root = tmp_path_factory.mktemp("names")
    folder = root / "photos"
    copies = root / "ascii"
    copies.mkdir()
    face = samples.astronaut()
    images = [cv2.cvtColor(cv2.cvtColor(face, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR), *samples.mixed_images()[:3]]
    pairs = {}
    for n, (name, image) in enumerate(zip(NAMES, images)):
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        assert cv2.imencode(Path(name).suffix, image)[0]
        path.write_bytes(cv2.imencode(Path(name).suffix, image)[1].tobytes())
        copy = copies / f"copy{n}{Path(name).suffix}"
        shutil.copyfile(path, copy)
        pairs[name] = copy
    return folder, pairs


def test_upstreams_loader_refuses_the_names(photos):
    """What this module fixes: upstream's own loader on one of these files."""
    folder, _ = photos
    with pytest.raises(ValueError, match="non-english characters"):
        upstream(str(folder / NAMES[0]), **KWARGS)


def test_the_functions_read_any_file_name(photos):
    """deepface_batch's own functions give each file what upstream gives its ASCII copy."""
    folder, pairs = photos
    paths = [str(folder / name) for name in NAMES]
    got = deepface_batch.extract_faces(paths, **KWARGS)
    for result, name in zip(got, NAMES):
        assert_identical(result, upstream(str(pairs[name]), **KWARGS))
    # one image in, too, and a pathlib.Path
    single = deepface_batch.extract_faces(folder / NAMES[1], **KWARGS)
    assert_identical(single, upstream(str(pairs[NAMES[1]]), **KWARGS))


def test_the_command_reads_any_file_name(photos, tmp_path):
    folder, pairs = photos
    out = tmp_path / "faces.jsonl"
    run = subprocess.run(
        [sys.executable, "-m", "deepface_batch", "extract", str(folder), "-o", str(out), "-q"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    written = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert all(record["status"] != records.ERROR for record in written), written
    by_source: dict[str, list[dict]] = {}
    for record in written:
        by_source.setdefault(record["source"], []).append(record)
    assert sorted(by_source) == sorted(str(folder / name) for name in NAMES)
    for name in NAMES:
        want = records.from_result(upstream(str(pairs[name]), **KWARGS), str(folder / name))
        assert by_source[str(folder / name)] == want


def test_patched_deepface_keeps_upstreams_rule_for_one_image_and_reads_any_name_in_a_list(photos):
    """One image is upstream's own call (its rule kept, bit for bit); a list goes through
    the engine, which reads the file."""
    folder, pairs = photos
    path = str(folder / NAMES[2])
    with deepface_batch.patched():
        with pytest.raises(ValueError, match="non-english characters"):
            DeepFace.extract_faces(path, **KWARGS)
        [got] = DeepFace.extract_faces([path], **KWARGS)
    assert_identical(got, upstream(str(pairs[NAMES[2]]), **KWARGS))
