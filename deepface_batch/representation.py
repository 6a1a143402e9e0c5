"""Batched ``represent``: batched detection, upstream's alignment and preprocessing, and
embeddings computed ``batch_size`` faces at a time.

Upstream's ``represent`` detects faces one image at a time, then pushes every face of every
input through the model in one array, so a long list runs out of memory. Here the inputs
stream through in chunks of ``batch_size``:

    chunk of inputs -> batched extract_faces (the detector plugins) -> max_faces and the
    spoof check -> each face resized and normalised as upstream does -> the model on stacks
    of at most batch_size faces -> upstream's result dicts, one list per input

Every step but the two batched calls is upstream's own code, reached through
:mod:`deepface_batch.compat`; the recognition call is :mod:`deepface_batch.embedding`'s.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from deepface_batch import api, compat, config, embedding, inputs, pipeline
from deepface_batch.api import Entry, Errors, FaceList, with_index
from deepface_batch.plugin import BatchMode

__all__ = ["EmbedOptions", "iter_represent", "represent"]


@dataclass(frozen=True)
class EmbedOptions:
    """Upstream's ``represent`` arguments that act after detection, for one call."""

    model_name: str
    normalization: str
    anti_spoofing: bool
    max_faces: int | None
    l2_normalize: bool
    minmax_normalize: bool
    return_face: bool
    actions: list[str] | None = None  #: analyze's, checked: the one pass's attributes


def _skip_faces(images: Any, size: int, prefetch: bool) -> Iterator[FaceList | Exception]:
    """Upstream's ``represent`` with ``skip``: each whole image, loaded as upstream loads it."""
    layer = compat.get()

    def load(chunk: list[tuple[inputs.Label, Any]]) -> list[FaceList | Exception]:
        out: list[FaceList | Exception] = []
        for item in api.load_chunk(chunk):
            if item.error is not None:
                out.append(item.error)
                continue
            try:
                out.append(layer.represent_skip_faces(item.img))  # type: ignore[arg-type]
            except Exception as err:
                out.append(with_index(err, item.label))
        return out

    # errors="return": every error, the input's own failure included, is an entry here
    return api.deliver(
        pipeline.prefetched(
            pipeline.chunks(inputs.labelled(images), size), load, enabled=prefetch, worth=api.reads_files
        ),
        "return",
        pipeline.Progress(False, None, ""),
    )


def _embed_chunk(
    embedder: embedding.Embedder,
    chunk: list[tuple[inputs.Label, FaceList | Exception]],
    options: EmbedOptions,
    size: int,
) -> list[Entry]:
    """Upstream's ``represent`` result for each ``(label, faces)`` of the chunk."""
    layer = compat.get()
    # one image in (labelled None): upstream's own call on its faces, so the result is upstream's
    single = [label for label, _ in chunk] == [None]
    prepared: dict[int, list[tuple[dict[str, Any], np.ndarray]] | Exception] = {}
    for index, (label, img_objs) in enumerate(chunk):
        if isinstance(img_objs, Exception):
            prepared[index] = img_objs
            continue
        try:
            selected = layer.represent_select(img_objs, options.max_faces, options.anti_spoofing)
            prepared[index] = [
                (
                    img_obj,
                    layer.represent_input(img_obj, embedder.input_shape, options.normalization),
                )
                for img_obj in selected
            ]
        except Exception as err:
            prepared[index] = with_index(err, label)

    faces = [face for entry in prepared.values() if isinstance(entry, list) for face in entry]
    # upstream runs the faces of one image in one forward call: each face carries the key
    # of its image's stack, so a whole-stack test (Dlib's) answers as it does upstream
    keys = [
        key
        for entry in prepared.values()
        if isinstance(entry, list) and entry
        for key in [embedder.stack_key(np.concatenate([f for _, f in entry]))] * len(entry)
    ]
    embeddings: list[list[float]] = []
    for start in range(0, len(faces), size):
        stack = np.concatenate([face_input for _, face_input in faces[start : start + size]])
        # recognition clients are shared with upstream's own calls, from any thread
        with api.backend_lock(f"model:{embedder.model_name}"):
            embeddings.extend(
                embedder.embed_exact(stack) if single else embedder.embed(stack, keys[start : start + size])
            )

    attributes = _attributes(prepared, chunk, options, size, single)
    results: list[Entry] = []
    position = 0
    for index in range(len(chunk)):
        entry = prepared[index]
        if isinstance(entry, Exception):
            results.append(entry)
            continue
        face_list = []
        for number, (img_obj, face_input) in enumerate(entry):
            face = layer.represent_entry(
                embeddings[position],
                img_obj,
                face_input,
                model_name=options.model_name,
                minmax_normalize=options.minmax_normalize,
                l2_normalize=options.l2_normalize,
                return_face=options.return_face,
            )
            extra = attributes[index][number] if index in attributes else None
            if extra is not None:
                # the face's region and confidence are represent's own keys already
                face.update({k: v for k, v in extra.items() if k not in ("region", "face_confidence")})
            face_list.append(face)
            position += 1
        results.append(face_list)
    return results


def _attributes(
    prepared: dict[int, list[tuple[dict[str, Any], np.ndarray]] | Exception],
    chunk: list[tuple[inputs.Label, FaceList | Exception]],
    options: EmbedOptions,
    size: int,
    single: bool,
) -> dict[int, list[dict[str, Any] | None]]:
    """The one pass's attributes (``actions``) of each input's selected faces, from the
    same detection and alignment as their embeddings: by input, a dict per face (``None``
    for an empty face, which upstream's ``analyze`` leaves out)."""
    if not options.actions:
        return {}
    from deepface_batch import analysis

    positions = [index for index, entry in prepared.items() if isinstance(entry, list)]
    found = analysis.attributes_of(
        [[img_obj for img_obj, _ in prepared[index]] for index in positions],  # type: ignore[union-attr]
        [chunk[index][0] for index in positions],
        options.actions,
        size,
        anti_spoofing=False,  # represent_select has checked every face already
        exact=single,
        keep_empty=True,
    )
    return {index: entry for index, entry in zip(positions, found) if not isinstance(entry, Exception)}


def iter_represent(
    images: Any,
    model_name: str = config.DEFAULTS["model_name"].value,
    enforce_detection: bool = True,
    detector_backend: str = config.DEFAULTS["detector_backend"].value,
    align: bool = True,
    expand_percentage: int = 0,
    normalization: str = "base",
    anti_spoofing: bool = False,
    max_faces: int | None = None,
    l2_normalize: bool = False,
    minmax_normalize: bool = False,
    return_face: bool = False,
    *,
    actions: Any = None,
    batch_size: int | None = None,
    batch_mode: BatchMode | str | None = None,
    errors: Errors = "raise",
    progress: Any = False,
    prefetch: bool = True,
    detect_without_border: bool = False,
) -> Iterator[Entry]:
    """Yield upstream's ``represent`` result for each input, in order, batch by batch.

    Memory stays bounded by ``batch_size``: ``batch_size`` inputs are detected at once and
    their faces embedded at most ``batch_size`` at a time, whatever the number of inputs.

    Args:
        images: a batch (list, tuple, 4-D ``(N, H, W, 3)`` array, or any iterable, read
            lazily) of images in any form upstream takes; a single image counts as a batch
            of one.
        model_name, enforce_detection, detector_backend, align, expand_percentage,
            normalization, anti_spoofing, max_faces, l2_normalize, minmax_normalize,
            return_face: upstream's arguments, same meaning.
        batch_size: inputs per detector batch and faces per model call (default 32, or
            ``DEEPFACE_BATCH_SIZE``).
        actions: ``analyze``'s actions (``("emotion",)``, ...): one pass for everything a
            face gives. Each face's dict then also holds what upstream's ``analyze`` gives
            for it (the scores, ``dominant_*``, ``age``), from the same detection and
            alignment as its embedding, the attribute models run on the same stacks of
            faces; ``None`` (the default): ``represent``'s result alone.
        batch_mode, errors, progress, prefetch, detect_without_border: as for
            :func:`deepface_batch.iter_extract_faces`.

    Yields:
        For each input, the list of dicts upstream's ``represent`` returns for it
        (``embedding``, ``facial_area``, ``face_confidence``, and ``face`` with
        ``return_face``; with ``actions``, the attributes too), or with ``errors="return"``
        the exception raised for it.
    """
    api.check_errors(errors)
    size = api.batch_size_or_default(batch_size)
    embedder = embedding.get_embedder(model_name)
    checked = None
    if actions is not None:
        from deepface_batch import analysis

        checked = analysis.prepare_actions(actions)
    single = inputs.is_single(images)
    total = 1 if single else inputs.known_length(images)

    if detector_backend == "skip":
        faces: Iterator[FaceList | Exception] = _skip_faces(images, size, prefetch)
    else:
        faces = api.iter_extract_faces(
            images,
            detector_backend=detector_backend,
            enforce_detection=enforce_detection,
            align=align,
            expand_percentage=expand_percentage,
            grayscale=False,
            anti_spoofing=anti_spoofing,
            max_faces=max_faces,
            batch_size=size,
            batch_mode=batch_mode,
            errors="return",
            prefetch=prefetch,
            detect_without_border=detect_without_border,
        )
    options = EmbedOptions(
        model_name=model_name,
        normalization=normalization,
        anti_spoofing=anti_spoofing,
        max_faces=max_faces,
        l2_normalize=l2_normalize,
        minmax_normalize=minmax_normalize,
        return_face=return_face,
        actions=checked,
    )
    bar = pipeline.Progress(progress, total, desc=f"represent[{model_name}/{detector_backend}]")
    return api.deliver(
        (_embed_chunk(embedder, chunk, options, size) for chunk in api.labelled_chunks(faces, single, size)),
        errors,
        bar,
    )


def represent(
    images: Any,
    model_name: str = config.DEFAULTS["model_name"].value,
    enforce_detection: bool = True,
    detector_backend: str = config.DEFAULTS["detector_backend"].value,
    align: bool = True,
    expand_percentage: int = 0,
    normalization: str = "base",
    anti_spoofing: bool = False,
    max_faces: int | None = None,
    l2_normalize: bool = False,
    minmax_normalize: bool = False,
    return_face: bool = False,
    *,
    actions: Any = None,
    batch_size: int | None = None,
    batch_mode: BatchMode | str | None = None,
    errors: Errors = "raise",
    progress: Any = False,
    prefetch: bool = True,
    detect_without_border: bool = False,
) -> Any:  # FaceList for one image, list[Entry] for a batch
    """Batched ``DeepFace.represent``.

    One image in gives upstream's result for it (a list of dicts, one per face). A batch
    in (list, tuple, 4-D array or any iterable) gives a list with one entry per input, in
    input order: the list upstream's single-image ``represent`` returns for that image, or
    with ``errors="return"`` the exception that image raised.

    Arguments are those of :func:`iter_represent`.
    """
    results = list(
        iter_represent(
            images,
            model_name=model_name,
            enforce_detection=enforce_detection,
            detector_backend=detector_backend,
            align=align,
            expand_percentage=expand_percentage,
            normalization=normalization,
            anti_spoofing=anti_spoofing,
            max_faces=max_faces,
            l2_normalize=l2_normalize,
            minmax_normalize=minmax_normalize,
            return_face=return_face,
            actions=actions,
            batch_size=batch_size,
            batch_mode=batch_mode,
            errors=errors,
            progress=progress,
            prefetch=prefetch,
            detect_without_border=detect_without_border,
        )
    )
    return results[0] if inputs.is_single(images) else results
