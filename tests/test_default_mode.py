"""The default mode costs no more than upstream's loop: the causes of the slowdowns seen
(yunet 0.69x, ssd 0.86x on frames in memory), each held to its fix without timing anything.

* A thread read ahead even where there is nothing to read (arrays in memory) and competed
  with a detector that keeps both cores busy: now it starts only for inputs that need
  reading (paths, URLs, base64 strings, file objects).
* Every image of a batch was bordered (a 4x-pixel copy) before the first detection, so a
  loop over upstream's detector held 32 bordered copies at once where upstream's own loop
  holds one (page faults and cache misses; the same detector call ran a third slower): now
  the detector gets ``images_per_call`` images at a time, one for a pseudo plugin, each
  call's copies let go of before the next.

The speed itself is measured in ``benchmarks/bench_default.py`` (results committed).
"""

from __future__ import annotations

import tracemalloc

import cv2
import numpy as np
import pytest

import deepface_batch
from deepface_batch import pipeline, registry, samples
from tests.support.helpers import assert_identical, upstream

KWARGS = {"detector_backend": "opencv", "enforce_detection": False}


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    base = samples.video_frames()
    return [np.ascontiguousarray(np.roll(base[i % len(base)], 5 * i, axis=1)) for i in range(8)]


@pytest.fixture
def read_aheads(monkeypatch) -> list[int]:
    """How many batches were read ahead on a thread."""
    started: list[int] = []
    original = pipeline._Background.__init__

    def counting(self, load, batch):
        started.append(len(batch))
        original(self, load, batch)

    monkeypatch.setattr(pipeline._Background, "__init__", counting)
    return started


def test_frames_in_memory_are_not_read_ahead_on_a_thread(frames, read_aheads):
    got = deepface_batch.extract_faces(frames, batch_size=3, **KWARGS)
    assert read_aheads == []
    for result, frame in zip(got, frames):
        assert_identical(result, upstream(frame, **KWARGS))


def test_files_are_read_ahead_while_a_batch_is_detected(frames, read_aheads, tmp_path):
    paths = []
    for n, frame in enumerate(frames):
        path = tmp_path / f"frame{n}.png"
        cv2.imwrite(str(path), frame)
        paths.append(str(path))
    got = deepface_batch.extract_faces(paths, batch_size=3, **KWARGS)
    assert read_aheads == [3, 3, 2]
    for result, path in zip(got, paths):
        assert_identical(result, upstream(path, **KWARGS))


def test_a_mixed_batch_reads_ahead_only_the_chunks_with_files(frames, read_aheads, tmp_path):
    path = tmp_path / "one.png"
    cv2.imwrite(str(path), frames[0])
    items = [*frames[:3], str(path), *frames[3:5]]
    got = deepface_batch.extract_faces(items, batch_size=3, **KWARGS)
    assert read_aheads == [3]  # the second chunk holds the path
    assert len(got) == len(items)
    assert_identical(got[3], upstream(str(path), **KWARGS))


def test_a_pseudo_plugin_gets_one_image_per_call(frames, monkeypatch):
    plugin = registry.get_detector("opencv")
    sizes: list[int] = []
    original = plugin.detect_batch

    def spy(images):
        sizes.append(len(images))
        return original(images)

    monkeypatch.setattr(plugin, "detect_batch", spy)
    deepface_batch.extract_faces(frames, batch_size=32, **KWARGS)
    assert sizes == [1] * len(frames)
    assert plugin.images_per_call == 1
    assert registry.get_detector("centerface").images_per_call is None  # native: the whole batch


def test_a_batch_holds_the_bordered_copies_of_one_call_only(frames):
    """Upstream's loop holds one bordered copy at a time; so does the engine over a pseudo
    plugin, whatever the batch size (it held all 32 before)."""
    bordered = 4 * frames[0].nbytes  # half the size again on every side: 4x the pixels
    deepface_batch.extract_faces(frames[:2], **KWARGS)  # the detector loaded first
    tracemalloc.start()
    try:
        deepface_batch.extract_faces(frames, batch_size=32, **KWARGS)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * bordered, f"peak {peak / 2**20:.1f} MiB, a bordered copy is {bordered / 2**20:.1f} MiB"
