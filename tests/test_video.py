"""Video sources: a stream that reports no frame rate has no times, and says so."""

from __future__ import annotations

import struct

import cv2
import numpy as np
import pytest

from deepface_batch import video


@pytest.fixture(scope="module")
def rateless(tmp_path_factory):
    """An MJPEG AVI whose headers give no frame rate, opened with OpenCV's own MJPEG reader
    (which reports 0 frames per second for it; FFmpeg would guess 25)."""
    path = tmp_path_factory.mktemp("video") / "rateless.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, (64, 48))
    assert writer.isOpened()
    for n in range(6):
        writer.write(np.full((48, 64, 3), 30 * n, np.uint8))
    writer.release()
    data = bytearray(path.read_bytes())
    avih = data.find(b"avih")
    data[avih + 8 : avih + 12] = struct.pack("<I", 0)  # dwMicroSecPerFrame
    strh = data.find(b"strh")
    rate = strh + 8 + 4 + 4 + 4 + 2 + 2 + 4 + 4  # fccType, handler, flags, priority, language, initial, scale
    data[rate : rate + 4] = struct.pack("<I", 0)  # dwRate
    path.write_bytes(bytes(data))

    def capture():
        opened = cv2.VideoCapture(str(path), cv2.CAP_OPENCV_MJPEG)
        assert opened.isOpened() and opened.get(cv2.CAP_PROP_FPS) == 0
        return opened

    return capture


def test_a_time_range_on_a_stream_without_a_frame_rate_is_refused(rateless):
    """--start/--end were silently ignored there: every frame came back."""
    for start, end in ((1.0, None), (None, 2.0), (0.0, 2.0)):
        with pytest.raises(ValueError, match="reports no frame rate, so its frames have no times"):
            video.iter_frames(rateless(), start=start, end=end)
        with pytest.raises(ValueError, match="reports no frame rate"):
            video.check_times("camera", video.probe(rateless()), start, end)


def test_such_a_stream_still_gives_every_frame_without_times(rateless):
    frames = list(video.iter_frames(rateless(), every=2))
    assert [f.index for f in frames] == [0, 2, 4]
    assert all(f.timestamp is None for f in frames)
    assert [round(f.image.mean() / 30) for f in frames] == [0, 2, 4]


def test_a_file_with_a_frame_rate_keeps_its_time_range(tmp_path):
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, (64, 48))
    for n in range(20):
        writer.write(np.full((48, 64, 3), 10 * n, np.uint8))
    writer.release()
    frames = list(video.iter_frames(str(path), start=0.5, end=1.0))
    assert [f.index for f in frames] == [5, 6, 7, 8, 9]
