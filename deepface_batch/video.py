"""Video frames in, decoded on a background thread; annotated frames and contact sheets out.

``iter_frames`` reads anything OpenCV's ``VideoCapture`` opens (a file, a camera index, a
stream URL) and yields :class:`Frame` objects in order; decoding runs on its own daemon
thread, a bounded queue ahead of the caller, so the next frames are decoded while the
current batch is detected, and memory stays bounded::

    frames = list_of_frames = deepface_batch.video.iter_frames("clip.mp4", every=5)
    for frame, faces in zip(frames, deepface_batch.iter_extract_faces(f.image for f in frames)):
        ...

(:func:`deepface_batch.jobs.run_video` pairs them for you, with records, progress and
output files.)
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "AnnotatedVideo",
    "ContactSheet",
    "Frame",
    "annotate",
    "check_times",
    "iter_frames",
    "open_capture",
    "probe",
    "source_of",
]

_END = object()


@dataclass
class Frame:
    """One decoded frame: its index in the stream, its time in seconds, the BGR image."""

    index: int
    timestamp: float | None
    image: np.ndarray


def open_capture(source: Any) -> Any:
    """``cv2.VideoCapture`` on ``source``, or ``OSError`` naming it when it cannot open.

    ``source`` is a path, a URL or a camera index, or a ``cv2.VideoCapture`` already open
    (one opened with a backend or properties of your choice), taken as it is.
    """
    import cv2

    if isinstance(source, cv2.VideoCapture):
        if not source.isOpened():
            raise OSError("the VideoCapture given is not open")
        return source
    capture = cv2.VideoCapture(source)
    if not capture.isOpened():
        capture.release()
        raise OSError(f"cannot open video {source!r}: OpenCV's VideoCapture could not read it")
    return capture


def source_of(text: str) -> str | int:
    """A command-line source: a camera index (``"0"``) as an int, anything else as given."""
    return int(text) if text.isdigit() else text


def probe(source: Any) -> dict[str, Any]:
    """Frames per second, frame count (``None`` when the stream does not say) and size.

    A ``cv2.VideoCapture`` given is read, not released (its frames are still to come).
    """
    import cv2

    capture = open_capture(source)
    own = capture is not source
    try:
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        return {
            "fps": capture.get(cv2.CAP_PROP_FPS) or None,
            "frames": count if count > 0 else None,
            "width": int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            "height": int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        }
    finally:
        if own:
            capture.release()


def check_times(source: Any, info: dict[str, Any], start: float | None, end: float | None) -> None:
    """Refuse ``start`` or ``end`` (seconds) for a stream that reports no frame rate.

    Its frames have no timestamps, so a time range would select nothing or everything;
    saying so beats a range silently ignored. ``every`` still works on such a stream.

    Raises:
        ValueError: naming the source and what to do instead.
    """
    if (start is not None or end is not None) and not info.get("fps"):
        raise ValueError(
            f"--start/--end are seconds, and video {source!r} reports no frame rate, so its "
            "frames have no times: leave them out (--every N still picks every N-th frame)"
        )


def iter_frames(
    source: Any,
    every: int = 1,
    start: float | None = None,
    end: float | None = None,
    skip: set[int] | frozenset[int] = frozenset(),
    queue_size: int = 64,
) -> Iterator[Frame]:
    """Yield the frames of a video, decoded on a background thread.

    Args:
        source: a file path, a camera index, or a URL ``cv2.VideoCapture`` opens; or a
            ``cv2.VideoCapture`` already open, which is read to its end and released.
        every: keep every ``every``-th frame (by index: 0, every, 2 * every, ...).
        start, end: keep frames whose timestamp is in ``[start, end)`` seconds.
        skip: frame indices not to yield (``--resume``: frames already written).
        queue_size: decoded frames held ahead of the caller at the most.

    Raises:
        OSError: the source cannot be opened (raised at the call, not at the first frame).
        ValueError: ``every`` below 1, or ``start``/``end`` for a stream that reports no
            frame rate (:func:`check_times`).
    """
    if every < 1:
        raise ValueError(f"every must be 1 or more, got {every}")
    import cv2

    capture = open_capture(source)
    try:
        check_times(source, {"fps": capture.get(cv2.CAP_PROP_FPS) or None}, start, end)
    except ValueError:
        capture.release()
        raise
    frames: queue.Queue[Any] = queue.Queue(maxsize=max(1, queue_size))
    stop = threading.Event()
    thread = threading.Thread(
        target=_decode,
        args=(capture, frames, stop, every, start, end, skip),
        name="deepface-batch-decode",
        daemon=True,
    )
    thread.start()
    return _drain(frames, stop, thread)


def _put(frames: queue.Queue[Any], stop: threading.Event, item: Any) -> bool:
    while not stop.is_set():
        try:
            frames.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _decode(
    capture: Any,
    frames: queue.Queue[Any],
    stop: threading.Event,
    every: int,
    start: float | None,
    end: float | None,
    skip: set[int] | frozenset[int],
) -> None:
    import cv2

    try:
        fps = capture.get(cv2.CAP_PROP_FPS) or 0.0
        index = -1
        if start and fps:
            # seek close to the start instead of decoding everything before it
            first = int(start * fps)
            capture.set(cv2.CAP_PROP_POS_FRAMES, first)
            index = int(capture.get(cv2.CAP_PROP_POS_FRAMES)) - 1
        while not stop.is_set():
            ok = capture.grab()
            if not ok:
                break
            index += 1
            timestamp = index / fps if fps else None
            if timestamp is not None and end is not None and timestamp >= end:
                break
            if index % every or index in skip:
                continue
            if timestamp is not None and start is not None and timestamp < start:
                continue
            ok, image = capture.retrieve()
            if not ok or image is None:
                error = OSError(f"frame {index} could not be decoded")
                if not _put(frames, stop, (index, timestamp, error)):
                    break
                continue
            if not _put(frames, stop, Frame(index, timestamp, image)):
                break
    except BaseException as err:  # reported to the reader, in order
        _put(frames, stop, err)
    finally:
        capture.release()
        _put(frames, stop, _END)


def _drain(frames: queue.Queue[Any], stop: threading.Event, thread: threading.Thread) -> Iterator[Frame]:
    try:
        while True:
            try:  # short waits: a Ctrl-C handed to another thread is seen between them
                item = frames.get(timeout=0.05)
            except queue.Empty:
                continue
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            if isinstance(item, tuple):  # an undecodable frame: its index and the error
                index, timestamp, error = item
                yield Frame(index, timestamp, _Undecodable(error))  # type: ignore[arg-type]
                continue
            yield item
    finally:
        stop.set()  # a break or an error: the decoder stops at its next frame
        # and is given a moment to: a daemon thread still inside OpenCV when the
        # interpreter exits (Ctrl-C) can abort the process ("exception not rethrown")
        thread.join(timeout=1.0)


class _Undecodable:
    """Stands in for a frame that could not be decoded: loading it raises its error."""

    def __init__(self, error: Exception):
        self.error = error
        self.shape = None


# --- drawing -----------------------------------------------------------------------------

GREEN = (80, 220, 80)


def annotate(image: np.ndarray, faces: Sequence[dict[str, Any]], label: str | None = None) -> np.ndarray:
    """A copy of ``image`` with each record's box, eyes and confidence drawn, and its
    dominant emotion (and age, gender) where the record has them."""
    import cv2

    out = image.copy()
    scale = max(0.4, min(out.shape[:2]) / 800)
    thickness = max(2, round(3 * scale))
    for face in faces:
        if face.get("x") is None:
            continue
        x, y, w, h = (int(face[k]) for k in ("x", "y", "w", "h"))
        cv2.rectangle(out, (x, y), (x + w, y + h), GREEN, thickness)
        for eye in ("left_eye", "right_eye"):
            if face.get(eye):
                cv2.circle(out, tuple(int(v) for v in face[eye]), thickness + 1, (0, 200, 255), -1)
        if face.get("confidence") is not None:
            text = f"{float(face['confidence']):.2f}"
            cv2.putText(out, text, (x, max(12, y - 6)), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, GREEN, thickness)
        attributes = [str(face[k]) for k in ("emotion", "age", "gender") if face.get(k) is not None]
        if attributes:
            cv2.putText(
                out,
                " ".join(attributes),
                (x, y + h + int(22 * scale)),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.6 * scale,
                (0, 200, 255),
                thickness,
            )
    if label:
        cv2.putText(
            out, label, (8, out.shape[0] - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, (255, 255, 255), thickness
        )
    return out


def _letterbox(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """``image`` scaled to fit ``width`` x ``height``, centred on black."""
    import cv2

    scale = min(width / image.shape[1], height / image.shape[0])
    w, h = max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale))
    out = np.zeros((height, width, 3), np.uint8)
    top, left = (height - h) // 2, (width - w) // 2
    out[top : top + h, left : left + w] = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
    return out


class AnnotatedVideo:
    """An MP4 (``mp4v``) of annotated frames, opened at the first frame's size (frames of
    another size are scaled into it)."""

    def __init__(self, path: str | Path, fps: float | None):
        self.path = Path(path)
        self.fps = fps or 25.0
        self.frames = 0
        self._writer: Any = None
        self._size: tuple[int, int] = (0, 0)

    def write(self, image: np.ndarray) -> None:
        import cv2

        if self._writer is None:
            height, width = image.shape[:2]
            self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter.fourcc(*"mp4v"), self.fps, (width, height))
            if not self._writer.isOpened():
                raise OSError(f"cannot write video {str(self.path)!r} with OpenCV's mp4v codec")
            self._size = (width, height)
        if (image.shape[1], image.shape[0]) != self._size:
            # VideoWriter drops a frame of another size without a word (a second source)
            image = _letterbox(image, *self._size)
        self._writer.write(image)
        self.frames += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()


class ContactSheet:
    """A grid of annotated thumbnails, one kept every ``stride`` frames, at most ``cells``."""

    def __init__(self, path: str | Path, cells: int = 16, columns: int = 4, width: int = 320, stride: int = 1):
        self.path = Path(path)
        self.cells, self.columns, self.width, self.stride = cells, columns, width, max(1, stride)
        self.thumbnails: list[np.ndarray] = []
        self._seen = 0

    def offer(self, image: np.ndarray) -> None:
        """Keep ``image`` if it falls on the stride and the sheet has room."""
        import cv2

        keep = self._seen % self.stride == 0 and len(self.thumbnails) < self.cells
        self._seen += 1
        if keep:
            height = max(1, round(image.shape[0] * self.width / image.shape[1]))
            self.thumbnails.append(cv2.resize(image, (self.width, height), interpolation=cv2.INTER_AREA))

    def close(self) -> None:
        import cv2

        if not self.thumbnails:
            return
        height = max(t.shape[0] for t in self.thumbnails)
        rows = -(-len(self.thumbnails) // self.columns)
        sheet = np.zeros((rows * height, self.columns * self.width, 3), np.uint8)
        for n, thumb in enumerate(self.thumbnails):
            r, c = divmod(n, self.columns)
            sheet[r * height : r * height + thumb.shape[0], c * self.width : (c + 1) * self.width] = thumb
        if not cv2.imwrite(str(self.path), sheet):
            raise OSError(f"cannot write contact sheet {str(self.path)!r}")
