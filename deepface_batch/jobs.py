"""Whole jobs: image files and folders, or videos, to records, with progress and a summary.

This is the ``deepface-batch`` command without its argument parsing, for programs that
want the same job::

    from deepface_batch import jobs
    summary = jobs.run("extract", ["photos/"], "faces.jsonl", jobs.JobOptions(detector="ssd"))
    print(summary.line())

(:func:`run` is the whole command: the output checked and opened, ``--resume``; the
lower-level :func:`run_images` and :func:`run_video` write into a writer of your own.)

Every input gives records (a face each, or one saying ``no_face`` or ``error``), failures
are also reported on stderr by name and index, records are written batch by batch, and
``resume`` skips inputs (and video frames) an earlier run already wrote. Ctrl-C stops the
run once the batch being detected is done (a second Ctrl-C at once), writes what is
finished and closes the file before the ``KeyboardInterrupt`` goes on.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from deepface_batch import config
from deepface_batch import records as rec
from deepface_batch.errors import DeepfaceBatchError

__all__ = [
    "COMMANDS",
    "IMAGE_EXTENSIONS",
    "JobOptions",
    "Summary",
    "UsageError",
    "check",
    "expand_paths",
    "run",
    "run_images",
    "run_video",
]

#: extensions a folder walk takes as images (a file named on its own is always tried)
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"})

#: the jobs :func:`run` runs: the command's subcommands of the same names
COMMANDS = ("extract", "represent", "analyze", "video")


class UsageError(DeepfaceBatchError, ValueError):
    """A job that cannot start as asked (a bad output name, a backend that cannot run
    here, an unopenable video); raised before the output file is touched."""


@dataclass(frozen=True)
class JobOptions:
    """What to run on every input: upstream's arguments, and ours.

    ``batch_size=None`` takes the default (:mod:`deepface_batch.config`:
    ``DEEPFACE_BATCH_SIZE``, else 32) when the options are made.
    """

    detector: str = config.DEFAULTS["detector_backend"].value
    batch_size: int | None = None  #: None: the default, resolved when the options are made
    align: bool = True
    expand_percentage: int = 0
    max_faces: int | None = None
    detect_without_border: bool = False  #: see deepface_batch.extract_faces
    enforce_detection: bool = False
    min_confidence: float = 0.0
    model: str | None = None  #: a recognition model: represent instead of extract
    actions: tuple[str, ...] | None = None  #: analyze's actions: the faces' attributes too
    normalization: str = "base"
    strict: bool = False  #: stop at the first failed input
    crops: Path | None = None  #: write each aligned face here as PNG
    quiet: bool = False  #: no progress bar and no per-input messages

    @property
    def size(self) -> int:
        """``batch_size`` resolved: never ``None`` once the options are made."""
        assert self.batch_size is not None
        return self.batch_size

    def __post_init__(self) -> None:
        from deepface_batch import api

        object.__setattr__(self, "batch_size", api.batch_size_or_default(self.batch_size))


@dataclass
class Summary:
    """Counts and time of a run."""

    inputs: int = 0
    faces: int = 0
    no_face: int = 0
    failures: int = 0
    skipped: int = 0  #: already in the output (resume)
    seconds: float = 0.0
    unit: str = "images"
    interrupted: bool = False
    failed: list[str] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.inputs / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        """One line for the end of a run."""
        text = f"{self.inputs} {self.unit}, {self.faces} faces, {self.no_face} without a face, {self.failures} failed"
        if self.skipped:
            text += f", {self.skipped} skipped (already written)"
        text += f"; {self.seconds:.1f} s, {self.per_second:.1f} {self.unit}/s"
        return text + (" (interrupted)" if self.interrupted else "")


# --- inputs ------------------------------------------------------------------------------


def expand_paths(arguments: Sequence[str]) -> list[str]:
    """Image files, folders (recursively, image extensions only, sorted) and globs.

    A named file is kept whatever its extension (a non-image file becomes a failed
    record, not a silent skip); an argument that names nothing is kept too, so that it
    is reported as a failed input.
    """
    out: list[str] = []
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            out += sorted(str(p) for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        elif path.exists():
            out.append(argument)
        elif glob.has_magic(argument):
            matches = sorted(glob.glob(argument, recursive=True))
            out += [m for m in matches if Path(m).is_file()] or [argument]
        else:
            out.append(argument)
    return out


class _MissingFile(OSError):
    pass


def _loadable(path: str) -> Any:
    """What the engine loads for a path: the path itself, or an empty file's error."""
    try:
        if os.path.getsize(path) == 0:
            return _Failed(OSError(f"{path!r} is an empty file"))
    except OSError:
        pass  # upstream's loader names a missing file itself
    return path


class _Failed:
    """An input known to have failed before it reaches the engine."""

    def __init__(self, error: BaseException):
        self.error = error


# --- the engine, as a job ----------------------------------------------------------------


def _engine(images: Iterable[Any], options: JobOptions) -> Iterator[Any]:
    from deepface_batch import analysis, api, representation

    if options.model:
        return representation.iter_represent(
            images,
            model_name=options.model,
            detector_backend=options.detector,
            enforce_detection=options.enforce_detection,
            align=options.align,
            expand_percentage=options.expand_percentage,
            normalization=options.normalization,
            max_faces=options.max_faces,
            detect_without_border=options.detect_without_border,
            return_face=options.crops is not None,
            actions=options.actions,
            batch_size=options.batch_size,
            errors="return",
        )
    if options.actions:
        return analysis.iter_analyze(
            images,
            actions=options.actions,
            detector_backend=options.detector,
            enforce_detection=options.enforce_detection,
            align=options.align,
            expand_percentage=options.expand_percentage,
            max_faces=options.max_faces,
            detect_without_border=options.detect_without_border,
            return_face=options.crops is not None,
            batch_size=options.batch_size,
            errors="return",
        )
    return api.iter_extract_faces(
        images,
        detector_backend=options.detector,
        enforce_detection=options.enforce_detection,
        align=options.align,
        expand_percentage=options.expand_percentage,
        max_faces=options.max_faces,
        detect_without_border=options.detect_without_border,
        batch_size=options.batch_size,
        errors="return",
    )


def check(options: JobOptions) -> None:
    """Refuse, before any input is read, a detector or model that cannot run here, and
    load it: the run's clock (its frames per second) then measures the run, not the load."""
    from deepface_batch import api, embedding, registry

    plugin = registry.get_detector(options.detector)
    with api.backend_lock(plugin.name):
        plugin.prepare()
    if options.model:
        embedding.get_embedder(options.model)
    if options.actions:
        from deepface_batch import analysis

        analysis.prepare_actions(options.actions)


@dataclass
class _Item:
    """One input on its way: its name, frame, what the engine gets, and (video) the image."""

    source: str
    frame: int | None = None
    timestamp: float | None = None
    payload: Any = None
    image: np.ndarray | None = None


def _results(items: Iterator[_Item], options: JobOptions) -> Iterator[tuple[_Item, Any]]:
    """Each item with its result, in order; items that failed before the engine keep
    their place without reaching it."""
    from deepface_batch.errors import InputSourceError

    pending: deque[_Item] = deque()
    last: list[str] = ["<input>"]

    def feed() -> Iterator[Any]:
        for item in items:
            pending.append(item)
            last[0] = item.source
            if not isinstance(item.payload, _Failed):
                yield item.payload

    def ready() -> Iterator[tuple[_Item, Any]]:
        while pending and isinstance(pending[0].payload, _Failed):
            item = pending.popleft()
            yield item, item.payload.error

    for result in _engine(feed(), options):
        yield from ready()
        if isinstance(result, InputSourceError):  # the input itself failed: the run ends
            yield _Item(last[0]), result.error
            continue
        item = pending.popleft()
        yield item, result
    yield from ready()


def _crop_name(item: _Item, number: int, face: int) -> str:
    stem = Path(item.source).stem or "input"
    frame = f"-f{item.frame:07d}" if item.frame is not None else ""
    return f"{number:06d}-{stem}{frame}-face{face}.png"


def _write_crops(folder: Path, item: _Item, number: int, result: Any, min_confidence: float = 0.0) -> None:
    import cv2

    if isinstance(result, BaseException):
        return
    kept = 0
    for face in result:
        confidence = face.get("confidence", face.get("face_confidence"))
        # the faces the records keep, numbered as the records number them
        if confidence is not None and (confidence <= 0 or confidence < min_confidence):
            continue
        image = np.asarray(face["face"])
        if image.dtype != np.uint8:
            image = np.clip(image * 255.0 if image.max() <= 1.0 else image, 0, 255).astype(np.uint8)
        if image.ndim == 3 and image.shape[2] == 3:
            image = image[:, :, ::-1]  # upstream's faces are RGB
        cv2.imwrite(str(folder / _crop_name(item, number, kept)), image)
        kept += 1


class _DeferredInterrupt:
    """Ctrl-C taken between two inputs, not in the middle of a detector.

    Upstream's detectors catch everything (opencv's ``detect_faces`` has a bare
    ``except: pass``): a ``KeyboardInterrupt`` raised inside one is taken for "no face",
    the record is wrong and the run goes on. So the first Ctrl-C is only noted, and
    :meth:`check` raises it before the next result is written; a second Ctrl-C raises at
    once. The stop comes when the batch being detected is done. Only in the main thread,
    and only over Python's own handler.
    """

    def __init__(self) -> None:
        self.pending = False
        self._previous: Any = None

    def __enter__(self) -> _DeferredInterrupt:
        if threading.current_thread() is threading.main_thread() and (
            signal.getsignal(signal.SIGINT) is signal.default_int_handler
        ):
            self._previous = signal.signal(signal.SIGINT, self._note)
        return self

    def _note(self, signum: int, frame: Any) -> None:
        self.pending = True
        signal.signal(signal.SIGINT, self._previous)  # a second Ctrl-C: at once

    def check(self) -> None:
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt

    def __exit__(self, *exc: Any) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


def _progress_bar(options: JobOptions, unit: str, total: int | None, err: TextIO) -> Any:
    """The run's tqdm bar on ``err``, or ``None`` with ``quiet``."""
    if options.quiet:
        return None
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        unit=unit[:-1] if unit.endswith("s") else unit,
        desc=options.model or options.detector,
        file=err,
        dynamic_ncols=True,
    )


def _count(
    summary: Summary, item: _Item, result: Any, found: list[dict[str, Any]], options: JobOptions, bar: Any, err: TextIO
) -> None:
    """Count one input's outcome in ``summary``; a failure is named on ``err`` too."""
    number = summary.inputs
    summary.inputs += 1
    if isinstance(result, BaseException):
        summary.failures += 1
        where = item.source if item.frame is None else f"{item.source} frame {item.frame}"
        summary.failed.append(where)
        if not options.quiet or options.strict:
            # the record's error: without the engine's "item N: ", which counts what
            # reached the engine, not the inputs
            message = f"deepface-batch: input {number} ({where}) failed: {found[0]['error']}"
            (bar.write(message, file=err) if bar is not None else print(message, file=err))
    elif found[0]["status"] == rec.NO_FACE:
        summary.no_face += 1
    else:
        summary.faces += len(found)


def _run(
    items: Iterator[_Item],
    writer: rec.Writer,
    options: JobOptions,
    summary: Summary,
    total: int | None,
    on_result: Callable[[_Item, list[dict[str, Any]]], None] | None = None,
    stderr: TextIO | None = None,
) -> Summary:
    """Drive the engine over ``items`` and write the records, batch by batch."""
    err = stderr or sys.stderr
    bar = _progress_bar(options, summary.unit, total, err)
    if options.crops is not None:
        options.crops.mkdir(parents=True, exist_ok=True)
    buffer: list[dict[str, Any]] = []
    start = time.perf_counter()
    try:
        with _DeferredInterrupt() as interrupt:
            for item, result in _results(items, options):
                # after Ctrl-C, stop before this result (after a second one, it may be a
                # result an interrupt swallowed by the detector spoiled)
                interrupt.check()
                number = summary.inputs
                found = rec.from_result(result, item.source, item.frame, item.timestamp, options.min_confidence)
                buffer += found
                _count(summary, item, result, found, options, bar, err)
                if options.crops is not None:
                    _write_crops(options.crops, item, number, result, options.min_confidence)
                if on_result is not None:
                    on_result(item, found)
                if bar is not None:
                    bar.update(1)
                stop = options.strict and summary.failures > 0
                if len(buffer) >= options.size or stop:
                    # taken out of the buffer first: an interrupt in the write must not
                    # have the ``finally`` below write the same records again
                    chunk, buffer = buffer, []
                    writer.write(chunk)
                if stop:
                    break
            interrupt.check()
    except KeyboardInterrupt:
        summary.interrupted = True
        raise
    finally:
        writer.write(buffer)  # what is finished is kept, also on Ctrl-C
        summary.seconds = time.perf_counter() - start
        if bar is not None:
            bar.close()
    return summary


def run_images(
    paths: Sequence[str],
    writer: rec.Writer,
    options: JobOptions,
    resume: set[tuple[str, int | None]] | None = None,
    stderr: TextIO | None = None,
) -> Summary:
    """Every image of ``paths`` (files, folders, globs) through the engine into ``writer``."""
    check(options)
    files = expand_paths(paths)
    done = resume or set()
    todo = [path for path in files if (path, None) not in done]
    summary = Summary(skipped=len(files) - len(todo))
    items = (_Item(path, payload=_loadable(path)) for path in todo)
    return _run(items, writer, options, summary, len(todo), stderr=stderr)


def run_video(
    sources: Sequence[str],
    writer: rec.Writer,
    options: JobOptions,
    every: int = 1,
    start: float | None = None,
    end: float | None = None,
    annotate: str | Path | None = None,
    sheet: str | Path | None = None,
    resume: set[tuple[str, int | None]] | None = None,
    stderr: TextIO | None = None,
) -> Summary:
    """Every frame (or every ``every``-th) of each video through the engine into ``writer``.

    ``annotate`` writes the frames with their boxes drawn as an MP4 (the frames this run
    detects; with several sources, one after the other); ``sheet`` writes a contact sheet
    of up to 16 sampled annotated frames.
    """
    from deepface_batch import video

    if every < 1:  # said now: the frame count below divides by it
        raise ValueError(f"every must be 1 or more, got {every}")
    check(options)
    done = resume or set()
    infos = {}
    for source in sources:
        infos[source] = video.probe(video.source_of(source))  # OSError names a bad one
    total: int | None = 0
    for info in infos.values():
        if info["frames"] is None:
            total = None
            break
        total = (total or 0) - (-info["frames"] // every)
    first_fps = next(iter(infos.values()))["fps"] if infos else None
    annotated = video.AnnotatedVideo(annotate, (first_fps or 25.0) / every) if annotate else None
    stride = max(1, (total or 16) // 16)
    contact = video.ContactSheet(sheet, stride=stride) if sheet else None

    def items() -> Iterator[_Item]:
        for source in sources:
            skip = {frame for name, frame in done if name == source and frame is not None}
            for frame in video.iter_frames(
                video.source_of(source),
                every=every,
                start=start,
                end=end,
                skip=skip,
                queue_size=2 * options.size,
            ):
                if isinstance(frame.image, np.ndarray):
                    yield _Item(source, frame.index, frame.timestamp, frame.image, frame.image)
                else:  # undecodable: its error is its result
                    yield _Item(source, frame.index, frame.timestamp, _Failed(frame.image.error))

    def draw(item: _Item, found: list[dict[str, Any]]) -> None:
        if item.image is None or (annotated is None and contact is None):
            return
        stamp = f"frame {item.frame}" + (f"  {item.timestamp:.2f} s" if item.timestamp is not None else "")
        image = video.annotate(item.image, found, stamp)
        if annotated is not None:
            annotated.write(image)
        if contact is not None:
            contact.offer(image)

    summary = Summary(unit="frames")
    try:
        return _run(items(), writer, options, summary, total, on_result=draw, stderr=stderr)
    finally:
        if annotated is not None:
            annotated.close()
        if contact is not None:
            contact.close()


def _settle(timeout: float = 5.0) -> None:
    """Wait (a little) for the read-ahead and decoding threads a run left behind.

    A run that stops early (``--strict``, Ctrl-C) leaves the next batch being read on a
    daemon thread; one still inside OpenCV when the interpreter exits aborts the process
    ("terminate called without an active exception", status 134) instead of exiting with
    the run's status. A thread stuck on a dead stream is left after ``timeout``.
    """
    deadline = time.monotonic() + timeout
    try:
        for thread in threading.enumerate():
            if thread.daemon and thread.name.startswith("deepface-batch-"):
                thread.join(max(0.0, deadline - time.monotonic()))
    except KeyboardInterrupt:
        pass  # a second Ctrl-C: leave now


def run(
    command: str,
    paths: Sequence[str],
    output: str | os.PathLike[str] | None = None,
    options: JobOptions | None = None,
    resume: bool = False,
    every: int = 1,
    start: float | None = None,
    end: float | None = None,
    annotate: str | Path | None = None,
    sheet: str | Path | None = None,
    stderr: TextIO | None = None,
) -> Summary:
    """The ``deepface-batch extract``, ``represent`` or ``video`` command, as a call.

    Everything that can be wrong with the job is found before the output is opened (a
    mistyped backend or output name must not empty an earlier file); then the records go
    to ``output`` by its extension (JSONL on stdout for ``None`` or ``"-"``), and with
    ``resume`` the inputs (and frames) already in it are skipped and the rest appended.

    Args:
        command: ``"extract"``, ``"represent"`` (``options.model`` is the model),
            ``"analyze"`` (``options.actions``, every one by default) or ``"video"``.
        paths: image files, folders and globs; for ``video``, sources ``VideoCapture``
            opens.
        output: the records file.
        options: what to run (default :class:`JobOptions`).
        resume: skip what ``output`` already holds, and append.
        every, start, end, annotate, sheet: ``video`` only, as :func:`run_video`.
        stderr: where the bar and the messages go (default ``sys.stderr``).

    Returns:
        The run's :class:`Summary`.

    Raises:
        UsageError: the job cannot start as asked; nothing was written.
        KeyboardInterrupt: Ctrl-C; what was finished is written and the file closed.
    """
    if command not in COMMANDS:
        raise UsageError(f"unknown job {command!r}; the jobs are {', '.join(COMMANDS)}")
    options = options or JobOptions()
    if command == "analyze" and not options.actions:
        options = dataclasses.replace(options, actions=rec.ACTIONS)
    target = None if output in (None, "-") else output
    try:
        rec.format_of(target)
    except ValueError as err:
        raise UsageError(str(err)) from err
    if resume and target is None:
        raise UsageError("--resume needs an output file (-o)")
    embedding_size = None
    try:
        # before the output is opened: a mistyped name must not empty an earlier file
        check(options)
        if options.model:
            from deepface_batch import embedding

            embedding_size = embedding.get_embedder(options.model).size
        if command == "video":
            from deepface_batch import video

            if every < 1:
                raise ValueError(f"--every must be 1 or more, got {every}")
            for source in paths:
                video.check_times(source, video.probe(video.source_of(source)), start, end)
    except UsageError:
        raise
    except (DeepfaceBatchError, ValueError, OSError, ImportError) as err:
        raise UsageError(str(err)) from err
    done = None
    if resume and Path(target).exists():  # type: ignore[arg-type]
        rec.repair(target)  # type: ignore[arg-type]
        done = rec.done_keys(target)  # type: ignore[arg-type]
    try:
        writer = rec.open_writer(target, append=bool(done), embedding_size=embedding_size, actions=options.actions)
    except (ImportError, OSError) as err:
        raise UsageError(str(err)) from err
    try:
        with writer:
            if command == "video":
                return run_video(
                    paths,
                    writer,
                    options,
                    every=every,
                    start=start,
                    end=end,
                    annotate=annotate,
                    sheet=sheet,
                    resume=done,
                    stderr=stderr,
                )
            return run_images(paths, writer, options, resume=done, stderr=stderr)
    finally:
        _settle()
