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

import os
from dataclasses import dataclass
from typing import Any, Iterator, Literal, Union

import numpy as np

from deepface_batch import compat, inputs, pipeline, registry
from deepface_batch.errors import DeepfaceBatchError
from deepface_batch.plugin import BatchMode, DetectorPlugin

FaceList = list[dict[str, Any]]
Entry = Union[FaceList, Exception]
Errors = Literal["raise", "return"]

#: batch size when none is given; DEEPFACE_BATCH_SIZE overrides it (the patched path too).
DEFAULT_BATCH_SIZE = 32


def default_batch_size() -> int:
    """``DEEPFACE_BATCH_SIZE`` when set, else :data:`DEFAULT_BATCH_SIZE`."""
    value = os.environ.get("DEEPFACE_BATCH_SIZE", "").strip()
    return int(value) if value else DEFAULT_BATCH_SIZE


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
    except Exception:  # pylint: disable=broad-except
        indexed = DeepfaceBatchError(f"item {index}: {type(err).__name__}: {err}")
    indexed.index = index  # type: ignore[attr-defined]
    indexed.__cause__ = err
    return indexed


@dataclass
class _Loaded:
    index: int
    img: np.ndarray | None = None
    img_name: str | None = None
    error: Exception | None = None


@dataclass(frozen=True)
class _Options:
    enforce_detection: bool
    align: bool
    expand_percentage: int
    grayscale: bool
    color_face: str
    normalize_face: bool
    anti_spoofing: bool
    max_faces: int | None


def _load_chunk(chunk: list[tuple[int, Any]], single: bool) -> list[_Loaded]:
    layer = compat.get()
    loaded = []
    for index, item in chunk:
        label = None if single else index
        try:
            img, img_name = inputs.load(label, item, layer.load_image)
            loaded.append(_Loaded(index, img, img_name))
        except Exception as err:  # pylint: disable=broad-except
            loaded.append(_Loaded(index, error=with_index(err, label)))
    return loaded


def _detect(
    plugin: DetectorPlugin, images: list[np.ndarray], labels: list[int | None]
) -> list[list[Any] | Exception]:
    """Run the plugin on a batch; if the batch fails, find the image that made it fail."""
    try:
        regions = plugin.detect_batch(images)
        if len(regions) != len(images):
            raise DeepfaceBatchError(
                f"detector backend '{plugin.name}' returned {len(regions)} results for a "
                f"batch of {len(images)} images"
            )
        return list(regions)
    except DeepfaceBatchError:
        raise
    except Exception as err:  # pylint: disable=broad-except
        if len(images) == 1:
            return [with_index(err, labels[0])]
    # One image broke the batch: run them one by one so the others still get results
    # and the error names the image it belongs to.
    results: list[list[Any] | Exception] = []
    for image, label in zip(images, labels):
        try:
            results.append(list(plugin.detect_batch([image])[0]))
        except Exception as err:  # pylint: disable=broad-except
            results.append(with_index(err, label))
    return results


def _process(
    plugin: DetectorPlugin, loaded: list[_Loaded], options: _Options, single: bool
) -> list[Entry]:
    layer = compat.get()
    ok = [item for item in loaded if item.error is None]
    labels: list[int | None] = [None if single else item.index for item in ok]
    prepared: list[tuple[np.ndarray, int, int]] = []
    detected: list[list[Any] | Exception] = []
    if ok and plugin.detects_faces:
        prepared = [layer.add_border(item.img, options.align) for item in ok]
        detected = _detect(plugin, [p[0] for p in prepared], labels)

    entries: dict[int, Entry] = {item.index: item.error for item in loaded if item.error}
    for position, item in enumerate(ok):
        label = labels[position]
        try:
            if plugin.detects_faces:
                regions = detected[position]
                if isinstance(regions, Exception):
                    raise regions
                bordered, width_border, height_border = prepared[position]
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
            else:
                face_objs = layer.skip_faces(item.img)
            entries[item.index] = layer.finish(
                item.img,
                item.img_name,
                face_objs,
                enforce_detection=options.enforce_detection,
                grayscale=options.grayscale,
                color_face=options.color_face,
                normalize_face=options.normalize_face,
                anti_spoofing=options.anti_spoofing,
            )
        except Exception as err:  # pylint: disable=broad-except
            entries[item.index] = with_index(err, label)
    return [entries[item.index] for item in loaded]


def iter_extract_faces(
    images: Any,
    detector_backend: str = "opencv",
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
        prefetch: load the next batch in a thread while the current one is detected.

    Yields:
        For each input, the list of face dicts upstream returns for it (or, with
        ``errors="return"``, the exception raised for it).
    """
    if errors not in ("raise", "return"):
        raise ValueError(f"errors must be 'raise' or 'return', got {errors!r}")
    layer = compat.get()
    plugin = registry.get_detector(detector_backend, batch_mode)
    size = default_batch_size() if batch_size is None else batch_size
    single = inputs.is_single(images)
    items = iter([(0, images)]) if single else inputs.iter_items(images)
    batches = pipeline.chunks(items, size)
    total = 1 if single else inputs.known_length(images)

    options = _Options(
        enforce_detection=enforce_detection,
        align=align,
        expand_percentage=(
            layer.clamp_expand_percentage(expand_percentage)
            if plugin.detects_faces
            else expand_percentage
        ),
        grayscale=grayscale,
        color_face=color_face,
        normalize_face=normalize_face,
        anti_spoofing=anti_spoofing,
        max_faces=max_faces,
    )
    bar = pipeline.Progress(progress, total, desc=f"extract_faces[{detector_backend}]")
    prepared = False
    try:
        for loaded in pipeline.prefetched(
            batches, lambda chunk: _load_chunk(chunk, single), enabled=prefetch
        ):
            if not prepared:
                plugin.prepare()
                prepared = True
            for entry in _process(plugin, loaded, options, single):
                if isinstance(entry, Exception) and errors == "raise":
                    raise entry
                yield entry
            bar.update(len(loaded))
    finally:
        bar.close()


def extract_faces(
    images: Any,
    detector_backend: str = "opencv",
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
) -> Union[FaceList, list[Entry], Exception]:
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
        )
    )
    return results[0] if inputs.is_single(images) else results
