"""Reliability: a bad input, a slow or failing source, a second thread never costs a good
result, memory or control (issue 12).

Each test here failed before the fix it names.
"""

from __future__ import annotations

import gc
import os
import socket
import subprocess
import sys
import textwrap
import time
import tracemalloc
import weakref
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest
from deepface import DeepFace
from deepface.modules.exceptions import FaceNotDetected, ImgNotFound

import deepface_batch
from deepface_batch import InputSourceError, InvalidImageError, samples
from tests.support.environment import recognition_model
from tests.support.helpers import assert_identical, upstream

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def face():
    return samples.astronaut()


@pytest.fixture(scope="module")
def frames():
    """Three frames with a face and one without."""
    return samples.video_frames()[:4]


#: the frames include one without a face: its entry is upstream's whole-image result
LENIENT = {"enforce_detection": False}


@pytest.fixture
def patched():
    with deepface_batch.patched():
        yield


@pytest.fixture
def silent_server():
    """A loopback server that accepts connections and never answers (a dead camera)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    yield f"http://127.0.0.1:{server.getsockname()[1]}/frame.jpg"
    server.close()


# -- 2. returned and raised errors hold no batch --------------------------------------------


def _tracked(frame: np.ndarray, refs: list) -> np.ndarray:
    refs.append(weakref.ref(frame))
    return frame


def _faceless_frames(count: int, refs: list):
    # no local names the frame: a suspended generator would keep it
    for _ in range(count):
        yield _tracked(np.zeros((240, 320, 3), np.uint8), refs)


def test_returned_errors_do_not_keep_their_batch_alive():
    refs: list = []
    tracemalloc.start()
    try:
        results = deepface_batch.extract_faces(_faceless_frames(60, refs), batch_size=20, errors="return")
        gc.collect()
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert all(isinstance(r, FaceNotDetected) for r in results)
    alive = sum(ref() is not None for ref in refs)
    assert alive == 0, f"{alive} of 60 frames are still alive through the returned errors"
    # 60 frames of 230 kB, bordered 920 kB each: the errors alone would hold ~70 MB
    assert held < 5e6, f"{held / 1e6:.1f} MB held after the run by 60 exceptions"


def test_a_raised_error_does_not_keep_its_batch_alive():
    refs: list = []
    with pytest.raises(FaceNotDetected) as err:
        deepface_batch.extract_faces(_faceless_frames(20, refs), batch_size=10)
    gc.collect()
    assert err.value.index == 0
    alive = sum(ref() is not None for ref in refs)
    assert alive == 0, f"{alive} frames are still alive through the raised error's traceback"


def test_represent_errors_do_not_keep_their_batch_alive():
    recognition_model("Dlib")
    refs: list = []
    results = deepface_batch.represent(_faceless_frames(10, refs), model_name="Dlib", batch_size=5, errors="return")
    gc.collect()
    assert all(isinstance(r, FaceNotDetected) for r in results)
    assert sum(ref() is not None for ref in refs) == 0


# -- 3. an unusual array is that image's error --------------------------------------------


@pytest.mark.parametrize("backend", ["opencv", "ssd"])
@pytest.mark.parametrize("dtype", [bool, object])
def test_an_array_the_border_refuses_is_its_own_error(face, backend, dtype):
    odd = face.astype(dtype)
    got = deepface_batch.extract_faces([face, odd, face], detector_backend=backend, errors="return", batch_size=3)
    with pytest.raises(cv2.error):  # upstream's own error for the same image
        upstream(odd, detector_backend=backend)
    assert isinstance(got[1], cv2.error) and str(got[1]).startswith("item 1: ")
    for entry in (got[0], got[2]):
        assert_identical(entry, upstream(face, detector_backend=backend))
    with pytest.raises(cv2.error, match=r"^item 1: "):
        deepface_batch.extract_faces([face, odd], detector_backend=backend)


# -- 4. what was read is finished when the source fails ---------------------------------


def _failing_source(images, then=None):
    yield from images
    raise then if then is not None else RuntimeError("camera unplugged")


@pytest.mark.parametrize("prefetch", [True, False])
def test_a_failing_source_keeps_the_results_read_before_it(frames, prefetch):
    images = [*frames, frames[0]]  # 5 frames, then the source raises
    got: list = []
    with pytest.raises(RuntimeError, match="camera unplugged"):
        for entry in deepface_batch.iter_extract_faces(
            _failing_source(images), batch_size=2, prefetch=prefetch, **LENIENT
        ):
            got.append(entry)
    assert len(got) == 5, f"{len(got)} of the 5 frames read before the failure were given"
    for entry, image in zip(got, images):
        assert_identical(entry, upstream(image, **LENIENT))

    returned = deepface_batch.extract_faces(
        _failing_source(images), batch_size=2, errors="return", prefetch=prefetch, **LENIENT
    )
    assert len(returned) == 6
    for entry, image in zip(returned, images):
        assert_identical(entry, upstream(image, **LENIENT))
    failure = returned[5]
    assert isinstance(failure, InputSourceError) and failure.index == 5
    assert isinstance(failure.error, RuntimeError) and failure.__cause__ is failure.error
    assert str(failure).startswith("item 5: the input raised RuntimeError")


def test_represent_keeps_the_results_read_before_a_failing_source(frames):
    recognition_model("Dlib")
    images = [*frames, frames[0]]
    kwargs = {"model_name": "Dlib", "detector_backend": "opencv", "batch_size": 2, **LENIENT}
    got: list = []
    with pytest.raises(RuntimeError, match="camera unplugged"):
        for entry in deepface_batch.iter_represent(_failing_source(images), **kwargs):
            got.append(entry)
    assert len(got) == 5
    expected = deepface_batch.represent(images, **kwargs)
    assert [[f["facial_area"] for f in e] for e in got] == [[f["facial_area"] for f in e] for e in expected]
    returned = deepface_batch.represent(_failing_source(images), errors="return", **kwargs)
    assert len(returned) == 6 and isinstance(returned[5], InputSourceError)
    skipped = deepface_batch.represent(
        _failing_source(images), errors="return", **{**kwargs, "detector_backend": "skip"}
    )
    assert len(skipped) == 6 and isinstance(skipped[5], InputSourceError)


def test_the_source_is_read_at_most_two_batches_past_a_break(face):
    small = cv2.resize(face, (64, 64))
    read = []

    def frames():
        for index in range(100):
            read.append(index)
            yield small

    stream = deepface_batch.iter_extract_faces(frames(), batch_size=4, **LENIENT)
    for given, _ in enumerate(stream, 1):
        if given == 6:
            break
    # the documented bound: the batch being given and the one read ahead
    assert len(read) - given <= 2 * 4, f"{len(read)} read for {given} given"


# -- 5. leaving is prompt while the read-ahead waits on a dead server ---------------------


def test_break_returns_while_the_loader_waits_on_a_dead_server(face, silent_server):
    stream = deepface_batch.iter_extract_faces([face, silent_server, face], batch_size=1, errors="return")
    first = next(stream)  # the silent URL is being read ahead now
    assert_identical(first, upstream(face))
    start = time.monotonic()
    stream.close()  # what a `break` does
    waited = time.monotonic() - start
    assert waited < 5, f"closing the stream waited {waited:.0f} s for the loader thread"


#: how the Ctrl-C arrives: at the process (the kernel picks a thread that does not block
#: it, any of them), or at a thread other than the main one, as it does in a busy process
#: with OpenMP's threads (the main thread then only sees a flag, between waits)
SEND_SIGINT = {
    "process": "os.kill(os.getpid(), signal.SIGINT)",
    "another thread": "signal.pthread_kill(threading.get_ident(), signal.SIGINT)",
}


@pytest.mark.parametrize("send", list(SEND_SIGINT))
def test_ctrl_c_interrupts_a_run_waiting_on_a_dead_server(silent_server, tmp_path, send):
    script = tmp_path / "interrupt.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import os, signal, sys, threading, time
            # a terminal's process: Ctrl-C at its default, not blocked. A child inherits an
            # ignored SIGINT and a blocked signal mask from the process that starts it, and
            # in the full suite the pytest process can carry either; say so, then reset it
            inherited = signal.getsignal(signal.SIGINT), signal.pthread_sigmask(signal.SIG_BLOCK, [])
            print("inherited:", *inherited, flush=True)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {{signal.SIGINT}})
            signal.signal(signal.SIGINT, signal.default_int_handler)
            import numpy as np
            import deepface_batch
            # deepface imported and the backend built first: a Ctrl-C during those imports
            # can be swallowed by a bare except in a dependency, under load as in CI
            deepface_batch.extract_faces(np.zeros((64, 64, 3), np.uint8), detector_backend="skip")
            threading.Timer(3, lambda: {SEND_SIGINT[send]}).start()
            start = time.monotonic()
            try:
                deepface_batch.extract_faces(
                    [np.zeros((64, 64, 3), np.uint8), {silent_server!r}],
                    detector_backend="skip", batch_size=1,
                )
            except KeyboardInterrupt:
                print("interrupted after", round(time.monotonic() - start), "s", flush=True)
                sys.exit(3)
            """
        )
    )
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DEEPFACE_BATCH_DISABLE": "1"},
    )
    took = time.monotonic() - start
    assert proc.returncode == 3, proc.stdout[-500:] + proc.stderr[-2000:]
    # upstream's read times out after 60 s; the interpreter must not wait for it either
    assert took < 40, f"the process took {took:.0f} s to stop after Ctrl-C: {proc.stdout}"


# -- 6. one backend from many threads ------------------------------------------------------


def test_patched_deepface_from_threads_gives_upstreams_results(frames, patched):
    images = [*frames, samples.astronaut()] * 3
    with deepface_batch.unpatched():
        want = [upstream(image, **LENIENT) for image in images]

    def single(index):
        return DeepFace.extract_faces(images[index], **LENIENT)

    def batch(index):
        return DeepFace.extract_faces([images[index], images[index]], **LENIENT)[1]

    with ThreadPoolExecutor(4) as pool:
        got_single = list(pool.map(single, range(len(images))))
        got_batch = list(pool.map(batch, range(len(images))))
    for index, expected in enumerate(want):
        assert_identical(got_single[index], expected)
        assert_identical(got_batch[index], expected)


# -- 7. patched deepface keeps what upstream accepts ---------------------------------------


def test_patched_list_takes_a_4_channel_image_as_upstream_does(face, patched):
    rgba = np.dstack([face, np.full(face.shape[:2], 255, np.uint8)])
    with deepface_batch.unpatched():
        want = DeepFace.extract_faces(rgba)
    assert len(want) == 1  # upstream finds the face
    got = DeepFace.extract_faces([rgba, face])
    assert_identical(got[0], want)
    assert_identical(got[1], upstream(face))


def test_patched_missing_file_is_still_upstreams_exception(face, patched):
    with pytest.raises(ImgNotFound, match=r"^item 1: cannot read image '/no/such\.jpg'"):
        DeepFace.extract_faces([face, "/no/such.jpg"])
    try:
        DeepFace.extract_faces(["/no/such.jpg"])
    except ImgNotFound as err:  # what code written for upstream catches
        assert isinstance(err, InvalidImageError) and err.index == 0
    else:
        pytest.fail("no error for a missing file")


def test_patched_empty_image_gives_upstreams_result(face, patched):
    empty = np.zeros((0, 0, 3), np.uint8)
    with deepface_batch.unpatched():
        want = DeepFace.extract_faces(empty, enforce_detection=False)
        with pytest.raises(FaceNotDetected):
            DeepFace.extract_faces(empty)
    got = DeepFace.extract_faces([face, empty], enforce_detection=False)
    assert got[1] == want == []
    with pytest.raises(FaceNotDetected, match=r"^item 1: "):
        DeepFace.extract_faces([face, empty])


def test_load_errors_pickle_with_their_upstream_class(face):
    import pickle

    got = deepface_batch.extract_faces([face, "/no/such.jpg"], errors="return")
    again = pickle.loads(pickle.dumps(got[1]))
    assert isinstance(again, ImgNotFound) and isinstance(again, InvalidImageError)
    assert again.index == 1 and str(again) == str(got[1])


# -- 10. settings and arguments are checked at the call, naming what is wrong ---------------


def test_a_bad_batch_size_variable_is_named(face, monkeypatch):
    monkeypatch.setenv("DEEPFACE_BATCH_SIZE", "abc")
    with pytest.raises(ValueError, match=r"^DEEPFACE_BATCH_SIZE must be a positive integer, got 'abc'"):
        deepface_batch.extract_faces([face])


@pytest.mark.parametrize("function", ["iter_extract_faces", "iter_represent"])
def test_iterators_check_their_arguments_at_the_call(face, function):
    call = getattr(deepface_batch, function)
    with pytest.raises(ValueError, match=r"^batch_size must be a positive integer, got '4'"):
        call([face], batch_size="4")
    with pytest.raises(ValueError, match="errors must be"):
        call([face], errors="ignore")


def test_url_credentials_are_left_out_of_errors(face):
    with socket.socket() as closed:  # a port nobody listens on: refused at once
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    url = f"http://alice:s3cret@127.0.0.1:{port}/frame.jpg"
    got = deepface_batch.extract_faces([face, url], errors="return")
    assert isinstance(got[1], InvalidImageError)
    assert "s3cret" not in str(got[1]) and "alice" not in str(got[1]), str(got[1])
    assert f"'http://***@127.0.0.1:{port}/frame.jpg'" in str(got[1])
