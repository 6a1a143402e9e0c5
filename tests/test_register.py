"""register's list streamed into real databases (deepface's embedded sqlite backend and a
PostgreSQL server the tests start and stop) through the batched engine, inserted as it
goes: upstream's records (within the embedding tolerance), what was inserted before a
failure kept, a single image upstream's own call, search's queries in one batched pass.
Real photos (deepface's own test set), centerface and Dlib (real weights); upstream's own
``register`` is the reference."""

from __future__ import annotations

import json
import shutil
import sqlite3
import uuid

import numpy as np
import pytest
from deepface import DeepFace

import deepface_batch
from deepface_batch import compat, database, embedding
from tests.support import postgres
from tests.support.environment import recognition_model, require
from tests.support.photos import PHOTOS_DIR

KWARGS = {"model_name": "Dlib", "detector_backend": "centerface"}  # Dlib: real weights
PHOTOS = [str(PHOTOS_DIR / name) for name in ("img5.jpg", "couple-half.jpg", "img11.jpg", "img16.jpg")]


@pytest.fixture(scope="module", autouse=True)
def _supported():
    if "deepface.modules.datastore:__register" in compat.get().ABSENT_TARGETS:
        pytest.skip(f"register stays upstream's own on deepface {compat.get().VERSION}")
    recognition_model("Dlib")


class Sqlite:
    """deepface's embedded sqlite backend: a database is a file."""

    kind = "sqlite"

    def __init__(self, folder):
        self.folder = folder

    def new(self, name):
        return str(self.folder / f"{name}.db")

    def client(self):
        from deepface.modules.database.sqlite import SqliteClient

        return SqliteClient

    def rows(self, details):
        with sqlite3.connect(details) as conn:
            return _rows(conn.execute(QUERY).fetchall(), json.loads, lambda blob: np.frombuffer(blob, dtype="<f8"))


class Postgres:
    """A real PostgreSQL server (tests/support/postgres.py): a database per name."""

    kind = "postgres"

    def __init__(self, uri):
        self.uri = uri

    def new(self, name):
        import psycopg

        name = f"{name}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(self.uri, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.uri.replace("/postgres?", f"/{name}?")

    def client(self):
        from deepface.modules.database.postgres import PostgresClient

        return PostgresClient

    def rows(self, details):
        import psycopg

        with psycopg.connect(details) as conn:
            return _rows(conn.execute(QUERY).fetchall(), list, np.asarray)


QUERY = (
    "SELECT img_name, face_shape, model_name, detector_backend, aligned, l2_normalized, embedding"
    " FROM embeddings ORDER BY id"
)


def _rows(got, shape, vector):
    """The rows, in insertion order: name, face shape, model, detector, flags, embedding."""
    return [
        (name, tuple(shape(s)), m, d, bool(a), bool(n), vector(e).astype(np.float64)) for name, s, m, d, a, n, e in got
    ]


@pytest.fixture(scope="module")
def postgres_uri():
    try:
        with postgres.server() as uri:
            yield uri
    except RuntimeError as err:
        require("postgres", str(err))


@pytest.fixture(params=["sqlite", "postgres"])
def db(request, tmp_path):
    if request.param == "sqlite":
        return Sqlite(tmp_path)
    return Postgres(request.getfixturevalue("postgres_uri"))


@pytest.fixture
def sqlite_db(tmp_path):
    return Sqlite(tmp_path)


def register(db, details, img, **kwargs):
    return DeepFace.register(img, database_type=db.kind, connection_details=details, **{**KWARGS, **kwargs})


def inserts(db, monkeypatch):
    """The number of records in each call to the backend's insert_embeddings, from now."""
    calls: list[int] = []
    client = db.client()
    original = client.insert_embeddings

    def counting(self, embeddings, batch_size=100):
        calls.append(len(embeddings))
        return original(self, embeddings, batch_size=batch_size)

    monkeypatch.setattr(client, "insert_embeddings", counting)
    return calls


def test_a_list_gives_upstreams_records_inserted_as_it_goes(db, monkeypatch):
    monkeypatch.setattr(database, "INSERT_EVERY", 2)
    theirs, ours = db.new("theirs"), db.new("ours")
    calls = inserts(db, monkeypatch)
    with deepface_batch.unpatched():
        want = register(db, theirs, PHOTOS)
    upstream_calls = list(calls)
    calls.clear()
    with deepface_batch.patched(batch_size=2):
        got = register(db, ours, PHOTOS)
    assert upstream_calls == [5]  # upstream: every face at the end, in one call
    # ours: as the faces come, once two are waiting (img5's and the couple's 3, then img11's and img16's 2)
    assert calls == [3, 2]
    assert got == want == {"inserted": 5}
    mine, reference = db.rows(ours), db.rows(theirs)
    tolerance = embedding.get_embedder("Dlib").tolerance
    assert [row[:-1] for row in mine] == [row[:-1] for row in reference]
    assert [row[0] for row in mine] == [PHOTOS[0], PHOTOS[1], PHOTOS[1], PHOTOS[2], PHOTOS[3]]
    for row, expected in zip(mine, reference):
        assert tolerance.holds(row[-1], expected[-1])


def test_what_was_inserted_before_a_failure_stays(db):
    blank = np.zeros((240, 320, 3), np.uint8)  # no face: upstream's enforce_detection error
    images = [PHOTOS[0], PHOTOS[2], blank, PHOTOS[3]]
    theirs, ours = db.new("theirs"), db.new("ours")
    with deepface_batch.unpatched(), pytest.raises(ValueError) as upstream:
        register(db, theirs, images)
    with deepface_batch.patched(batch_size=1), pytest.raises(ValueError) as failed:
        register(db, ours, images)
    assert type(failed.value) is type(upstream.value)
    assert failed.value.index == 2  # the item, by position
    assert db.rows(theirs) == []  # upstream's: nothing before the end
    assert [row[0] for row in db.rows(ours)] == [PHOTOS[0], PHOTOS[2]]


def test_errors_return_leaves_out_only_the_bad_image(sqlite_db, caplog):
    blank = np.zeros((240, 320, 3), np.uint8)
    ours = sqlite_db.new("ours")
    with deepface_batch.patched(errors="return"):
        got = register(sqlite_db, ours, [PHOTOS[0], blank, PHOTOS[2]], img_name="someone")
    assert got == {"inserted": 2}
    assert [row[0] for row in sqlite_db.rows(ours)] == ["someone", "someone"]
    assert "image 1 not registered" in caplog.text


def test_a_4d_array_is_a_batch_and_its_faces_get_a_name_each(sqlite_db):
    import cv2

    frames = np.stack([cv2.resize(cv2.imread(path), (480, 640)) for path in (PHOTOS[0], PHOTOS[2])])
    theirs, ours = sqlite_db.new("theirs"), sqlite_db.new("ours")
    with deepface_batch.unpatched():
        want = register(sqlite_db, theirs, frames)
    with deepface_batch.patched():
        got = register(sqlite_db, ours, frames)
    assert got == want == {"inserted": 2}
    mine, reference = sqlite_db.rows(ours), sqlite_db.rows(theirs)
    assert [row[1:-1] for row in mine] == [row[1:-1] for row in reference]
    assert len({row[0] for row in mine}) == 2  # upstream's rule: a UUID per array


def test_one_image_is_upstreams_own_call(sqlite_db):
    theirs, ours = sqlite_db.new("theirs"), sqlite_db.new("ours")
    with deepface_batch.unpatched():
        register(sqlite_db, theirs, PHOTOS[1])
    with deepface_batch.patched():
        register(sqlite_db, ours, PHOTOS[1])
    mine, reference = sqlite_db.rows(ours), sqlite_db.rows(theirs)
    assert len(mine) == 2
    for row, expected in zip(mine, reference):
        assert row[:-1] == expected[:-1]
        assert np.array_equal(row[-1], expected[-1])  # bit-identical


def test_search_with_a_list_is_one_batched_pass_with_upstreams_matches(db, monkeypatch):
    from deepface_batch import representation

    details = db.new("db")
    with deepface_batch.unpatched():
        register(db, details, PHOTOS)
    queries = [str(PHOTOS_DIR / "img11.jpg"), str(PHOTOS_DIR / "img22.jpg")]  # img11: img5 is the same person
    options = {**KWARGS, "database_type": db.kind, "connection_details": details, "return_type": "dict"}
    calls: list[int] = []
    original = representation.represent

    def counting(images, *args, **kwargs):
        calls.append(len(images))
        return original(images, *args, **kwargs)

    monkeypatch.setattr(representation, "represent", counting)
    with deepface_batch.unpatched():
        want = DeepFace.search(queries, **options)
    assert calls == []  # upstream's own, also where the import hook had patched it first
    with deepface_batch.patched():
        got = DeepFace.search(queries, **options)
    assert calls == [2]  # both queries, one batched call
    assert [len(matches) for matches in got] == [len(matches) for matches in want]
    assert any(m["img_name"] == PHOTOS[0] for matches in got for m in matches)  # the same person found
    for matches, reference in zip(got, want):
        for match, expected in zip(matches, reference):
            assert match["distance"] == pytest.approx(expected["distance"], abs=0.01)
            assert {k: v for k, v in match.items() if k not in ("distance", "confidence")} == {
                k: v for k, v in expected.items() if k not in ("distance", "confidence")
            }


def test_the_command_registers_a_folder_names_failures_and_resumes(tmp_path, sqlite_db, capsys):
    import cv2

    from deepface_batch import cli

    photos = tmp_path / "photos"
    (photos / "sub dir").mkdir(parents=True)
    cv2.imwrite(str(photos / "blank.png"), np.zeros((240, 320, 3), np.uint8))  # no face
    (photos / "broken.jpg").write_bytes(b"not an image")
    shutil.copy(PHOTOS[0], photos / "img5.jpg")
    shutil.copy(PHOTOS[1], photos / "sub dir" / "cöuple été.jpg")  # any name the system can open
    details = sqlite_db.new("faces")
    command = ["register", str(photos), "--database", f"sqlite:{details}", "--model", "Dlib"]
    command += ["--detector", "centerface"]
    assert cli.main(command) == cli.FAILED
    stderr = capsys.readouterr().err
    assert "broken.jpg" in stderr and "img5.jpg" not in stderr
    assert "4 images, 3 faces, 1 without a face, 1 failed" in stderr
    names = [row[0] for row in sqlite_db.rows(details)]
    couple = str(photos / "sub dir" / "cöuple été.jpg")
    assert sorted(names) == sorted([str(photos / "img5.jpg"), couple, couple])
    # an image added, and the run again: only what the database does not hold is embedded
    shutil.copy(PHOTOS[2], photos / "img11.jpg")
    assert cli.main([*command, "--resume"]) == cli.FAILED  # broken.jpg is still broken
    assert "3 images, 1 faces, 1 without a face, 1 failed, 2 skipped" in capsys.readouterr().err
    assert [row[0] for row in sqlite_db.rows(details)] == [*names, str(photos / "img11.jpg")]


def test_the_command_refuses_a_database_without_a_type(capsys):
    from deepface_batch import cli

    assert cli.main(["register", "photos/", "--database", "faces.db"]) == cli.USAGE
    assert "TYPE:DETAILS" in capsys.readouterr().err
