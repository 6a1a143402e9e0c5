"""Batched ``extract_faces``: the package's engine.

Each batch goes through the same steps as upstream's single-image path, with the detector
call in the middle made once per batch through the backend's plugin:

    load -> black border (align) -> plugin.detect_batch -> max_faces -> crop and align
    each face -> result dicts (color, normalisation, anti-spoofing)

Every step but the detector call is upstream's own code, reached through
:mod:`deepface_batch.compat`, so a pseudo plugin gives upstream's result bit for bit and a
native one differs only by what its detector does differently (its declared tolerance).
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import FrameType
from typing import Any, Literal, Union

import numpy as np

from deepface_batch import compat, config, inputs, pipeline, registry
from deepface_batch.errors import DeepfaceBatchError, InputSourceError
from deepface_batch.plugin import BatchMode, DetectorPlugin

__all__ = [
    "EYE_FINDER",
    "Entry",
    "Errors",
    "ExtractOptions",
    "FaceList",
    "backend_lock",
    "batch_size_or_default",
    "check_errors",
    "deliver",
    "detect_batched",
    "detect_singly",
    "extract_faces",
    "extract_one",
    "extract_options",
    "iter_extract_faces",
    "labelled_chunks",
    "load_chunk",
    "process",
    "reads_files",
    "released",
    "with_index",
]

#: one input's result: the face dicts upstream returns for it
FaceList = list[dict[str, Any]]
#: one input's entry in a batch's results: its faces, or (``errors="return"``) its error
Entry = Union[FaceList, Exception]
Errors = Literal["raise", "return"]


def batch_size_or_default(batch_size: Any) -> int:
    """``batch_size`` checked, or the default (:mod:`deepface_batch.config`) when ``None``."""
    return config.default("batch_size") if batch_size is None else pipeline.check_batch_size(batch_size)


def check_errors(errors: Any) -> None:
    """Refuse an ``errors`` value other than ``"raise"`` or ``"return"``."""
    if errors not in ("raise", "return"):
        raise ValueError(f"errors must be 'raise' or 'return', got {errors!r}")


#: the backend whose detector upstream's alignment borrows to find missing eyes
EYE_FINDER = "opencv"

_locks: dict[str, threading.RLock] = {}
_locks_guard = threading.Lock()


def backend_lock(name: str) -> threading.RLock:
    """The lock held around every use of ``name``'s model: a detector backend or a
    recognition model.

    Upstream's detectors are not thread-safe (ssd, yunet and dlib crash, opencv gives
    wrong boxes when one instance is shared by threads), and the plugins share upstream's
    cached instance with upstream's own single-image calls, so one lock per name covers
    both. Re-entrant: ``represent`` reaches ``extract_faces`` in the same thread. Where
    locks nest they are taken in one order (a backend, then :data:`EYE_FINDER`, then a
    model), so no two threads can wait on each other.
    """
    with _locks_guard:
        lock = _locks.get(name)
        if lock is None:
            lock = _locks[name] = threading.RLock()
        return lock


_GENERATOR_FLAGS = inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR


def _clear(frame: FrameType | None, engine_only: bool) -> FrameType | None:
    """Drop a finished frame's locals; return its caller (None to stop climbing)."""
    if frame is None or frame.f_code.co_flags & _GENERATOR_FLAGS:
        return None  # clearing a generator's frame would close the generator
    if engine_only and not frame.f_globals.get("__name__", "").startswith("deepface_batch"):
        return None
    try:
        frame.clear()
    except RuntimeError:  # still running: its locals are in use
        return None
    return frame.f_back


def released(err: Exception) -> Exception:
    """``err`` with the local variables of its finished frames dropped.

    A traceback keeps alive every frame it passes through and each one's callers, and
    with them every local: the batch's decoded and bordered images. Returned errors live
    as long as the caller's results, so each one lets go of them here: the frames of its
    traceback and of its cause, and the engine's finished frames above them. The
    traceback's lines stay.
    """
    seen: set[int] = set()
    pending: list[BaseException | None] = [err]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        tb = current.__traceback__
        if tb is not None:
            caller = tb.tb_frame.f_back
            while tb is not None:
                _clear(tb.tb_frame, engine_only=False)
                tb = tb.tb_next
            while caller is not None:
                caller = _clear(caller, engine_only=True)
        pending += [current.__cause__, current.__context__]
    return err


def with_index(err: Exception, index: int | None) -> Exception:
    """The same kind of exception, its message starting with ``item N:``.

    Upstream's loop raises without saying which image failed; in a run of thousands the
    index is what a user needs. The original exception stays as ``__cause__``.
    """
    if index is None or getattr(err, "index", None) is not None:
        return err
    message = f"item {index}: {err}"
    try:
        indexed = type(err)(message)
    except Exception:
        indexed = DeepfaceBatchError(f"item {index}: {type(err).__name__}: {err}")
    indexed.index = index  # type: ignore[attr-defined]
    indexed.__cause__ = err
    return indexed


@dataclass
class _Loaded:
    """One input, loaded: its image and name, or the error loading it raised."""

    label: inputs.Label
    img: np.ndarray | None = None
    img_name: str | None = None
    error: Exception | None = None


@dataclass(frozen=True)
class ExtractOptions:
    """Upstream's ``extract_faces`` arguments for one call, and ``detect_without_border``."""

    enforce_detection: bool
    align: bool
    expand_percentage: int
    grayscale: bool
    color_face: str
    normalize_face: bool
    anti_spoofing: bool
    max_faces: int | None
    detect_without_border: bool = False


def extract_options(plugin: DetectorPlugin, detect_without_border: bool = False, **kwargs: Any) -> ExtractOptions:
    """Upstream's arguments, with upstream's defaults for those not given."""
    layer = compat.get()
    given = {**layer.EXTRACT_FACES_DEFAULTS, **kwargs}
    expand = given["expand_percentage"]
    return ExtractOptions(
        enforce_detection=given["enforce_detection"],
        align=given["align"],
        expand_percentage=layer.clamp_expand_percentage(expand) if plugin.detects_faces else expand,
        grayscale=given["grayscale"],
        color_face=given["color_face"],
        normalize_face=given["normalize_face"],
        anti_spoofing=given["anti_spoofing"],
        max_faces=given["max_faces"],
        detect_without_border=bool(detect_without_border),
    )


def load_chunk(chunk: list[tuple[inputs.Label, Any]]) -> list[_Loaded]:
    """Load each ``(label, item)`` with upstream's loader; a failure is that item's error."""
    layer = compat.get()
    loaded = []
    for label, item in chunk:
        try:
            img, img_name = inputs.load(label, item, layer.load_image)
            loaded.append(_Loaded(label, img, img_name))
        except Exception as err:
            loaded.append(_Loaded(label, error=with_index(err, label)))
    return loaded


def reads_files(chunk: list[tuple[inputs.Label, Any]]) -> bool:
    """Whether loading ``chunk`` reads or decodes anything (the read-ahead is worth a
    thread only then: frames already in memory load in no time)."""
    return any(inputs.needs_reading(item) for _, item in chunk)


#: a detector call: bordered images and their labels in, regions (or an error) per image out
Detect = Callable[[DetectorPlugin, list[np.ndarray], list[inputs.Label]], list[Any]]


def detect_batched(
    plugin: DetectorPlugin, images: list[np.ndarray], labels: list[inputs.Label]
) -> list[list[Any] | Exception]:
    """The plugin on a whole batch; if the batch fails, find the image that made it fail."""
    try:
        regions = plugin.detect_batch(images)
        if len(regions) != len(images):
            raise DeepfaceBatchError(
                f"detector backend '{plugin.name}' returned {len(regions)} results for a batch of {len(images)} images"
            )
        return list(regions)
    except DeepfaceBatchError:
        raise
    except Exception as err:
        if len(images) == 1:
            return [with_index(err, labels[0])]
    # One image broke the batch: run them one by one so the others still get results
    # and the error names the image it belongs to.
    results: list[list[Any] | Exception] = []
    for image, label in zip(images, labels):
        try:
            results.append(list(plugin.detect_batch([image])[0]))
        except Exception as err:
            results.append(with_index(err, label))
    return results


def detect_singly(plugin: DetectorPlugin, images: list[np.ndarray], labels: list[inputs.Label]) -> list[list[Any]]:
    """The plugin image by image, through its ``detect_one``: the single-image path."""
    return [list(plugin.detect_one(image)) for image in images]


def process(
    plugin: DetectorPlugin,
    loaded: list[_Loaded],
    options: ExtractOptions,
    detect: Detect = detect_batched,
) -> list[Entry]:
    """Upstream's ``extract_faces`` for each loaded input, in order: the one composition of

        border -> ``detect`` -> faces from regions (crop and align) -> finish

    The detector call is the only part that varies: batched for the engine, one image at
    a time for the reference path (:func:`extract_one`). The batch goes to the detector in
    calls of :attr:`DetectorPlugin.images_per_call` images (one for a pseudo plugin, the
    whole batch for a native one unless it says otherwise).
    """
    entries: list[Entry | None] = [item.error for item in loaded]
    todo = [position for position, item in enumerate(loaded) if item.error is None]
    if not plugin.detects_faces:
        calls = [todo]
    else:
        # the detector's calls, as many images each as the plugin asks for: each call's
        # images are bordered just before it and finished (cropped, aligned, their border
        # let go of) just after it, so a loop over upstream's detector (a pseudo plugin)
        # holds one bordered image at a time, as upstream's own loop does, not a batch of
        # them: 4x-pixel copies that outgrow the caches and cost page faults
        size = plugin.images_per_call or max(1, len(todo))
        calls = [todo[start : start + size] for start in range(0, len(todo), size)]
    for call in calls:
        found: dict[int, tuple[list[Any], tuple[np.ndarray, int, int]]] = {}
        if call and plugin.detects_faces:
            found = _detect(plugin, loaded, call, options, detect, entries)
            call = [position for position in call if position in found]
        for position in call:
            item = loaded[position]
            try:
                entries[position] = _faces(plugin, item, found.get(position), options)
            except Exception as err:
                entries[position] = with_index(err, item.label)
    return entries  # type: ignore[return-value]  # every position is filled


def _detect(
    plugin: DetectorPlugin,
    loaded: list[_Loaded],
    todo: list[int],
    options: ExtractOptions,
    detect: Detect,
    entries: list[Entry | None],
) -> dict[int, tuple[list[Any], tuple[np.ndarray, int, int]]]:
    """The border, then one detector call over the inputs at ``todo``: for each input that
    got regions, its regions and its bordered image with the border's width and height.
    An input whose border or detection failed has its error in ``entries`` instead."""
    layer = compat.get()
    prepared: dict[int, tuple[np.ndarray, int, int]] = {}
    # the border is one image's step: an array copyMakeBorder refuses (bool, object) is
    # that image's error, not the whole batch's
    for position in todo:
        item = loaded[position]
        try:
            prepared[position] = layer.add_border(item.img, options.align)  # type: ignore[arg-type]
        except Exception as err:
            entries[position] = with_index(err, item.label)
    todo = [position for position in todo if position in prepared]
    if not todo:
        return {}
    # detect_without_border: the detector sees the image as given, and its regions move
    # into the bordered frame, where upstream's cropping and alignment run
    unbordered = options.detect_without_border and options.align
    with backend_lock(plugin.name):
        results = detect(
            plugin,
            [loaded[p].img if unbordered else prepared[p][0] for p in todo],  # type: ignore[misc]
            [loaded[p].label for p in todo],
        )
    found = {}
    for position, regions in zip(todo, results):
        if isinstance(regions, Exception):
            entries[position] = regions
            continue
        if unbordered:
            _, dx, dy = prepared[position]
            regions = layer.shift_regions(list(regions), dx, dy)
        found[position] = (list(regions), prepared[position])
    return found


def _faces(
    plugin: DetectorPlugin,
    item: _Loaded,
    found: tuple[list[Any], tuple[np.ndarray, int, int]] | None,
    options: ExtractOptions,
) -> FaceList:
    """One input's result dicts from its regions: crop, align and finish, as upstream."""
    layer = compat.get()
    assert item.img is not None  # only loaded inputs get here
    if found is None:  # a backend that finds no faces: the whole image is the face
        face_objs = layer.skip_faces(item.img)
    else:
        regions, (bordered, width_border, height_border) = found
        # upstream aligns a face without eyes with opencv's shared eye cascade
        with backend_lock(EYE_FINDER):
            face_objs = layer.faces_from_regions(
                plugin.name,
                bordered,
                regions,
                align=options.align,
                expand_percentage=options.expand_percentage,
                max_faces=options.max_faces,
                width_border=width_border,
                height_border=height_border,
            )
    return layer.finish(
        item.img,
        item.img_name,
        face_objs,
        enforce_detection=options.enforce_detection,
        grayscale=options.grayscale,
        color_face=options.color_face,
        normalize_face=options.normalize_face,
        anti_spoofing=options.anti_spoofing,
    )


def extract_one(plugin: DetectorPlugin, img: Any, **kwargs: Any) -> FaceList:
    """One image through the same chain, the detector called by ``plugin.detect_one``.

    This is the single-image path for a backend upstream does not know (upstream's own
    ``extract_faces`` is the reference for those it does); ``kwargs`` are upstream's
    ``extract_faces`` arguments.
    """
    with backend_lock(plugin.name):  # as the engine prepares a plugin before its first batch
        plugin.prepare()
    [entry] = process(plugin, load_chunk([(None, img)]), extract_options(plugin, **kwargs), detect_singly)
    if isinstance(entry, Exception):
        raise entry
    return entry


def iter_extract_faces(
    images: Any,
    detector_backend: str = config.DEFAULTS["detector_backend"].value,
    enforce_detection: bool = True,
    align: bool = True,
    expand_percentage: int = 0,
    grayscale: bool = False,
    color_face: str = "rgb",
    normalize_face: bool = True,
    anti_spoofing: bool = False,
    max_faces: int | None = None,
    *,
    batch_size: int | None = None,
    batch_mode: BatchMode | str | None = None,
    errors: Errors = "raise",
    progress: Any = False,
    prefetch: bool = True,
    detect_without_border: bool = False,
) -> Iterator[Entry]:
    """Yield upstream's ``extract_faces`` result for each input, in order, batch by batch.

    Memory stays bounded by ``batch_size`` whatever the number of inputs, so a stream of
    video frames runs in constant memory.

    Args:
        images: a batch (list, tuple, 4-D ``(N, H, W, 3)`` array, or any iterable, read
            lazily) of images in any form upstream takes; a single image counts as a batch
            of one.
        detector_backend: a registered backend name (see ``deepface_batch.registry``).
        enforce_detection, align, expand_percentage, grayscale, color_face,
            normalize_face, anti_spoofing, max_faces: upstream's arguments, same meaning.
        batch_size: images per detector batch (default 32, or ``DEEPFACE_BATCH_SIZE``).
        batch_mode: ``"native"`` to insist on one forward pass per batch (raises for a
            backend that only loops), ``"pseudo"``, or ``None`` for whatever it offers.
        errors: ``"raise"`` stops at the first bad image, naming its index;
            ``"return"`` yields the exception in that image's place and goes on.
        progress: ``True`` for a progress bar, or a callable taking ``(done, total)``.
        prefetch: read the next batch in a thread while the current one is detected,
            where reading is work (files, URLs, base64 strings; arrays need none).
        detect_without_border: with ``align=True``, run the detector on the image as
            given instead of on upstream's copy with a black border of half its size on
            every side (4x the pixels), then crop and align exactly as upstream does.
            Faster (up to 4x the detector's time) and it finds small faces some detectors
            miss on the bordered copy; the faces found can differ from upstream's default
            result (see the README's agreement table). Off by default: upstream's result.

    Yields:
        For each input, the list of face dicts upstream returns for it (or, with
        ``errors="return"``, the exception raised for it).
    """
    # everything that can be wrong with the call itself is said now, not at the first next()
    check_errors(errors)
    plugin = registry.get_detector(detector_backend, batch_mode)
    size = batch_size_or_default(batch_size)
    options = extract_options(
        plugin,
        enforce_detection=enforce_detection,
        align=align,
        expand_percentage=expand_percentage,
        grayscale=grayscale,
        color_face=color_face,
        normalize_face=normalize_face,
        anti_spoofing=anti_spoofing,
        max_faces=max_faces,
        detect_without_border=detect_without_border,
    )
    single = inputs.is_single(images)
    loaded = pipeline.prefetched(
        pipeline.chunks(inputs.labelled(images), size),
        load_chunk,
        prefetch,
        # skip too: its caller's work (embedding, writing) overlaps the reading, and a URL's
        # wait in a thread leaves the main thread free to take a Ctrl-C
        worth=reads_files,
    )
    total = 1 if single else inputs.known_length(images)
    bar = pipeline.Progress(progress, total, desc=f"extract_faces[{detector_backend}]")
    return deliver(_detected(plugin, loaded, options), errors, bar)


def _detected(
    plugin: DetectorPlugin, batches: Iterator[list[_Loaded]], options: ExtractOptions
) -> Iterator[list[Entry]]:
    """Each loaded batch's entries, the plugin prepared before the first.

    The errors made in :func:`process` keep this generator's frame (their frames' caller)
    for as long as they live, so it holds no batch across a ``yield`` and no input
    (a closure over the input iterator would keep its last item).
    """
    prepared = False
    try:
        for loaded in batches:
            if not prepared:
                with backend_lock(plugin.name):
                    plugin.prepare()
                prepared = True
            entries = process(plugin, loaded, options)
            loaded = []
            yield entries
    finally:
        # left early (an error raised, a break): the batch read ahead goes now
        _close(batches)
        batches = iter(())


def deliver(batches: Iterator[list[Entry]], errors: Errors, bar: pipeline.Progress) -> Iterator[Entry]:
    """Yield each batch's entries in order, as ``errors`` asks, and close ``bar`` at the end.

    Returned errors are :func:`released` first, so they do not keep their batch alive.
    When the input itself fails (:class:`pipeline.SourceError`), what was read before it
    has been given already; then, with ``errors="return"``, an :class:`InputSourceError`
    takes the slot of the item the input failed to give and the run ends, and with
    ``errors="raise"`` what the input raised is raised.
    """
    failure: BaseException | None = None
    try:
        for batch in batches:
            for entry in batch:  # all of them: raising the first leaves the others unseen
                if isinstance(entry, Exception):
                    released(entry)
            for entry in batch:
                if isinstance(entry, Exception):
                    if errors == "raise":
                        # what the input raised, not our wrapper, when the input failed
                        failure = entry.error if isinstance(entry, InputSourceError) else entry
                        break
                yield entry
            if failure is not None:
                break
            bar.update(len(batch))
            batch = []  # nothing of a finished batch stays referenced while we wait
    except pipeline.SourceError as source:
        released(source.error)
        if errors == "raise":
            failure = source.error
        else:
            yield released(InputSourceError(source.consumed, source.error))
    finally:
        bar.close()
    if failure is not None:
        # raised outside the loop and after closing the batches' generator, so the
        # traceback the caller keeps holds no batch
        batch = []
        _close(batches)
        batches = iter(())
        raise failure


def labelled_chunks(entries: Iterator[Entry], single: bool, size: int) -> Iterator[list[tuple[inputs.Label, Entry]]]:
    """Each input's entry with its label (``None`` for a single image, else its index), in
    chunks of ``size``: what a step after detection (represent's model, analyze's) runs
    on, batch by batch."""
    # entries first: zip then runs ``entries`` to its end before the labels stop it
    return pipeline.chunks(((label, entry) for entry, label in zip(entries, inputs.labels(single))), size)


def _close(iterator: Any) -> None:
    """Close a generator (its ``finally`` blocks run, its frame lets go of its locals)."""
    close = getattr(iterator, "close", None)
    if close is not None:
        close()


def extract_faces(
    images: Any,
    detector_backend: str = config.DEFAULTS["detector_backend"].value,
    enforce_detection: bool = True,
    align: bool = True,
    expand_percentage: int = 0,
    grayscale: bool = False,
    color_face: str = "rgb",
    normalize_face: bool = True,
    anti_spoofing: bool = False,
    max_faces: int | None = None,
    *,
    batch_size: int | None = None,
    batch_mode: BatchMode | str | None = None,
    errors: Errors = "raise",
    progress: Any = False,
    prefetch: bool = True,
    detect_without_border: bool = False,
) -> Any:  # FaceList for one image, list[Entry] for a batch
    """Batched ``DeepFace.extract_faces``.

    One image in gives exactly upstream's result (a list of face dicts). A batch in (list,
    tuple, 4-D array or any iterable) gives a list with one entry per input, in input
    order: the face dicts upstream would return for that image (for an image without a
    face, upstream raises, or with ``enforce_detection=False`` gives the whole image with
    confidence 0), or with ``errors="return"`` the exception that image raised.

    Arguments are those of :func:`iter_extract_faces`.
    """
    results = list(
        iter_extract_faces(
            images,
            detector_backend=detector_backend,
            enforce_detection=enforce_detection,
            align=align,
            expand_percentage=expand_percentage,
            grayscale=grayscale,
            color_face=color_face,
            normalize_face=normalize_face,
            anti_spoofing=anti_spoofing,
            max_faces=max_faces,
            batch_size=batch_size,
            batch_mode=batch_mode,
            errors=errors,
            progress=progress,
            prefetch=prefetch,
            detect_without_border=detect_without_border,
        )
    )
    return results[0] if inputs.is_single(images) else results
