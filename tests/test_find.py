"""find's datastore built through the batched engine: upstream's file, rows and search
results (within the embedding tolerance), upstream's refresh rules, and a build that keeps
what it has done when it is interrupted. Real photos (deepface's own test set), centerface
and Dlib (real weights); upstream's own ``find`` is the reference."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from deepface import DeepFace

import deepface_batch
from deepface_batch import compat, datastore, embedding, representation
from tests.support.environment import recognition_model
from tests.support.photos import PHOTOS_DIR

KWARGS = {"model_name": "Dlib", "detector_backend": "centerface", "silent": True}  # Dlib: real weights
PHOTOS = ("img5.jpg", "img11.jpg", "img16.jpg", "couple-half.jpg")


@pytest.fixture(scope="module", autouse=True)
def _supported():
    if not compat.get().FIND_BUILD:
        pytest.skip(f"find's build stays upstream's own on deepface {compat.get().VERSION}")
    recognition_model("Dlib")


def folder(path, names=PHOTOS):
    path.mkdir()
    for name in names:
        shutil.copy(PHOTOS_DIR / name, path / name)
    return path


def datastore_file(db):
    (found,) = db.glob("ds_model_*.npz")
    return found


def rows(db):
    store = _store(db)
    got = compat.get().read_datastore(store, str(datastore_file(db)), "npz")
    return sorted(got, key=lambda row: (row["identity"], row["target_x"]))


def _store(db):
    from deepface.modules.filestore import build_file_store

    return build_file_store(str(db))


def find(db, query=None, **kwargs):
    query = str(PHOTOS_DIR / "img11.jpg") if query is None else query
    return [frame.to_dict("records") for frame in DeepFace.find(query, db_path=str(db), **{**KWARGS, **kwargs})]


def assert_same_rows(got, want, db_got, db_want):
    """The same files, upstream's hashes (of the path too: each folder's own), the same
    boxes; embeddings within Dlib's tolerance."""
    tolerance = embedding.get_embedder("Dlib").tolerance
    assert len(got) == len(want)
    for ours, theirs in zip(got, want):
        assert ours["identity"].replace(str(db_got), "") == theirs["identity"].replace(str(db_want), "")
        assert ours["hash"] == _store(db_got).find_hash(ours["identity"])
        assert theirs["hash"] == _store(db_want).find_hash(theirs["identity"])
        for key in ("target_x", "target_y", "target_w", "target_h"):
            assert ours[key] == theirs[key], key
        if theirs["embedding"] is None:
            assert ours["embedding"] is None
        else:
            assert tolerance.holds(ours["embedding"], theirs["embedding"])


@pytest.fixture
def builds(monkeypatch):
    """The files each batched build embedded, per call."""
    calls: list[list[str]] = []
    original = datastore.build

    def recording(store_, store, employees, **kwargs):
        calls.append(sorted(employees))
        return original(store_, store, employees, **kwargs)

    monkeypatch.setattr(datastore, "build", recording)
    return calls


def test_the_build_is_batched_and_gives_upstreams_file_and_matches(tmp_path, builds, monkeypatch):
    ours, theirs = folder(tmp_path / "ours"), folder(tmp_path / "theirs")
    entries: list[object] = []
    original = representation.iter_represent

    def counting(*args, **kwargs):
        for entry in original(*args, **kwargs):
            entries.append(entry)
            yield entry

    monkeypatch.setattr(representation, "iter_represent", counting)
    with deepface_batch.patched():
        got = find(ours)
    with deepface_batch.unpatched():
        want = find(theirs)
    assert builds == [sorted(str(ours / name) for name in PHOTOS)]
    assert len(entries) == len(PHOTOS)  # every file went through the batched engine
    assert_same_rows(rows(ours), rows(theirs), ours, theirs)
    # the search: upstream's rows, in upstream's order, distances within the tolerance
    assert [len(frame) for frame in got] == [len(frame) for frame in want]
    for frame, reference in zip(got, want):
        for row, expected in zip(frame, reference):
            assert row["identity"].replace(str(ours), "") == expected["identity"].replace(str(theirs), "")
            assert row["distance"] == pytest.approx(expected["distance"], abs=1e-6)
            differ = ("identity", "hash", "distance", "confidence")  # the hash is of the path too
            assert {k: v for k, v in row.items() if k not in differ} == {
                k: v for k, v in expected.items() if k not in differ
            }
    assert any(row["identity"].endswith("img5.jpg") for frame in got for row in frame)  # the same person


def test_each_side_reads_the_others_file_with_nothing_to_rebuild(tmp_path, builds):
    from deepface.modules import recognition

    ours, theirs = folder(tmp_path / "ours"), folder(tmp_path / "theirs")
    with deepface_batch.patched():
        find(ours)
    with deepface_batch.unpatched():
        find(theirs)
        with pytest.MonkeyPatch.context() as upstream_build:  # upstream reads our file: nothing to embed
            upstream_build.setattr(recognition, "__find_bulk_embeddings", _no_build)
            assert find(ours)
    builds.clear()
    with deepface_batch.patched():
        assert find(theirs)  # ours reads upstream's file: nothing to build
    assert builds == []


def _no_build(*args, **kwargs):
    raise AssertionError("the datastore was built again")


def test_a_refresh_embeds_only_new_and_changed_files(tmp_path, builds):
    db = folder(tmp_path / "db", PHOTOS[:3])
    with deepface_batch.patched():
        find(db)
        shutil.copy(PHOTOS_DIR / "couple-half.jpg", db / "new.jpg")
        shutil.copy(PHOTOS_DIR / "img22.jpg", db / "img16.jpg")  # replaced: another hash
        (db / "img5.jpg").unlink()  # removed
        find(db)
    assert builds[1] == sorted([str(db / "new.jpg"), str(db / "img16.jpg")])
    reference = folder(tmp_path / "reference", ())
    for name in ("img11.jpg", "img16.jpg", "new.jpg"):
        shutil.copy(db / name, reference / name)
    with deepface_batch.unpatched():
        find(reference)
    assert_same_rows(rows(db), rows(reference), db, reference)


def test_an_interrupted_build_keeps_what_it_did_and_the_next_call_goes_on(tmp_path, builds, monkeypatch):
    db = folder(tmp_path / "db")
    monkeypatch.setenv("DEEPFACE_BATCH_SAVE_SECONDS", "0")  # save after every file
    original = datastore._rows
    seen = []

    def interrupted(layer, employee, file_hash, entry):
        seen.append(employee)
        if len(seen) == 3:
            raise KeyboardInterrupt
        return original(layer, employee, file_hash, entry)

    monkeypatch.setattr(datastore, "_rows", interrupted)
    with deepface_batch.patched(), pytest.raises(KeyboardInterrupt):
        find(db)
    done = {row["identity"] for row in rows(db)}  # a whole file, by upstream's reader
    assert done == set(seen[:2])
    assert not list(db.glob("*.partial"))
    monkeypatch.setattr(datastore, "_rows", original)
    with deepface_batch.patched():
        find(db)
    assert builds[1] == sorted(str(db / name) for name in PHOTOS if str(db / name) not in done)
    reference = folder(tmp_path / "reference")
    with deepface_batch.unpatched():
        find(reference)
    assert_same_rows(rows(db), rows(reference), db, reference)


def test_an_unreadable_file_gets_upstreams_row_and_is_named(tmp_path, capsys):
    ours = folder(tmp_path / "ours", PHOTOS[:2])
    theirs = folder(tmp_path / "theirs", PHOTOS[:2])
    header = (PHOTOS_DIR / "img5.jpg").read_bytes()[:8]  # listed as a JPEG, cannot be decoded
    for db in (ours, theirs):
        (db / "broken.jpg").write_bytes(header + b"garbage" * 20)
    with deepface_batch.patched():
        find(ours)
    assert f"{ours / 'broken.jpg'}" in capsys.readouterr().out
    with deepface_batch.unpatched():
        find(theirs)
    assert_same_rows(rows(ours), rows(theirs), ours, theirs)
    assert [row["embedding"] is None for row in rows(ours)] == [True, False, False]


def test_a_failed_save_leaves_the_file_as_it_was(tmp_path, monkeypatch):
    db = folder(tmp_path / "db", PHOTOS[:2])
    with deepface_batch.patched():
        find(db)
    before = datastore_file(db).read_bytes()
    store = _store(db)

    def failing(fd):
        raise OSError("disk full")

    monkeypatch.setattr(datastore.os, "fsync", failing)
    with pytest.raises(OSError, match="disk full"):
        datastore.write(store, str(datastore_file(db)), "npz", [])
    assert datastore_file(db).read_bytes() == before
    assert not list(db.glob("*.partial"))
    assert np.load(datastore_file(db))["embedding"].shape[0] == 2  # img5's face, img11's


def test_the_patch_settings_reach_the_build(tmp_path, monkeypatch):
    db = folder(tmp_path / "db", PHOTOS[:2])
    seen: list[dict] = []
    original = representation.iter_represent

    def recording(*args, **kwargs):
        seen.append(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(representation, "iter_represent", recording)
    with deepface_batch.patched(batch_size=1, detect_without_border=True):
        find(db)
    # the build's call first (then the query's own, through the patched represent)
    assert (seen[0]["batch_size"], seen[0]["detect_without_border"], seen[0]["errors"]) == (1, True, "return")
