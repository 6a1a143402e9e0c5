"""Batched ``verify``: many pairs, each distinct image embedded once, in batches.

Upstream's ``verify`` takes one pair per call and embeds both of its images, so checking
500 pairs over 100 photos embeds 1,000 images one at a time. Here the pairs' distinct
images stream through the batched ``represent`` (the same plugins, models and tolerances),
each once, in the order they first appear; a pair's result is given as soon as both of
its images are embedded, and an image's faces are let go of after its last pair:

    pairs -> distinct images, in first-appearance order -> batched represent ->
    per pair: upstream's distance over every face pair, the closest kept -> upstream's
    own ``verify`` on that closest pair of embeddings -> its result dict

The result dict is upstream's own: its ``verify`` is called with the closest pair's two
embeddings (which it takes as pre-calculated input), so the threshold, ``verified`` and
``confidence`` follow each release's rules; ``facial_areas`` are the faces' and ``time``
is the seconds this call had taken when the pair's result was made.

``DeepFace.verify`` itself is not patched for lists: upstream takes a list as
``img1_path`` to mean a pre-calculated embedding, so a list of pairs in its place would be
ambiguous. Many pairs go through :func:`verify` here.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any, cast

import numpy as np

from deepface_batch import api, compat, config, embedding, pipeline
from deepface_batch.api import Errors, with_index
from deepface_batch.errors import InvalidImageError
from deepface_batch.plugin import BatchMode
from deepface_batch.representation import iter_represent

__all__ = ["iter_verify", "verify"]

#: a pair's side: the key of its image among the distinct ones, or None for an embedding
_Key = tuple[str, Any] | None


def _is_embedding(item: Any) -> bool:
    """Upstream's test: a list given as an image is a pre-calculated embedding."""
    return isinstance(item, list)


def _key(item: Any) -> _Key:
    """The same image twice gets the same key: equal strings (paths, URLs, base64) or the
    same object (an array, a file object)."""
    if _is_embedding(item):
        return None
    if isinstance(item, (str, bytes)):
        return ("value", item)
    return ("object", id(item))


def _pairs(pairs: Iterable[Any]) -> list[tuple[Any, Any]]:
    if isinstance(pairs, (str, bytes, np.ndarray)):
        raise InvalidImageError(None, f"expected a list of (img1, img2) pairs, got {type(pairs).__name__}")
    checked = []
    for n, pair in enumerate(pairs):
        if isinstance(pair, (str, bytes, np.ndarray)) or not hasattr(pair, "__len__") or len(pair) != 2:
            raise InvalidImageError(n, f"expected an (img1, img2) pair, got {type(pair).__name__}")
        checked.append((pair[0], pair[1]))
    return checked


def _as_upstream(err: Exception, side: int) -> Exception:
    """What upstream's ``verify`` raises when loading, detecting or embedding its
    ``img{side}_path`` raised ``err``: a ``ValueError`` naming the side, from a
    ``ValueError``; anything else as it is."""
    original = err.__cause__ if getattr(err, "index", None) is not None and err.__cause__ is not None else err
    if isinstance(original, ValueError):
        wrapped = ValueError(f"Exception while processing img{side}_path")
        wrapped.__cause__ = original
        return wrapped
    return original  # type: ignore[return-value]


def iter_verify(
    pairs: Iterable[Any],
    model_name: str = config.DEFAULTS["model_name"].value,
    detector_backend: str = config.DEFAULTS["detector_backend"].value,
    distance_metric: Any = "cosine",
    enforce_detection: bool = True,
    align: bool = True,
    expand_percentage: int = 0,
    normalization: str = "base",
    silent: bool = False,
    threshold: float | None = None,
    anti_spoofing: bool = False,
    *,
    batch_size: int | None = None,
    batch_mode: BatchMode | str | None = None,
    errors: Errors = "raise",
    progress: Any = False,
    prefetch: bool = True,
    detect_without_border: bool = False,
) -> Iterator[dict[str, Any] | Exception]:
    """Yield upstream's ``verify`` result for each pair, in order.

    Args:
        pairs: ``(img1, img2)`` pairs, each side an image in any form upstream's
            ``verify`` takes (a path, URL, base64 string, file object, array, or a list:
            a pre-calculated embedding). The list of pairs is held (references, not
            images); each distinct image is read, detected and embedded once.
        model_name, detector_backend, distance_metric, enforce_detection, align,
            expand_percentage, normalization, silent, threshold, anti_spoofing:
            upstream's arguments, same meaning.
        batch_size, batch_mode, errors, progress, prefetch, detect_without_border: as
            for :func:`deepface_batch.iter_represent`; ``progress`` counts pairs.

    Yields:
        For each pair, the dict upstream's ``verify`` returns for it, or with
        ``errors="return"`` the exception it raised (upstream's: a ``ValueError``
        "Exception while processing img1_path" from the image's own error), its message
        starting with the pair's index.
    """
    api.check_errors(errors)
    if not isinstance(distance_metric, str) and threshold is None:
        raise ValueError("Threshold must be specified when using custom distance metrics")
    checked = _pairs(pairs)
    layer = compat.get()
    dims = embedding.get_embedder(model_name).size
    keys = [(_key(a), _key(b)) for a, b in checked]
    uses: dict[Any, int] = {}
    distinct: list[Any] = []
    for (a, b), pair_keys in zip(checked, keys):
        for item, key in zip((a, b), pair_keys):
            if key is None:
                continue
            if key not in uses:
                uses[key] = 0
                distinct.append((key, item))
            uses[key] += 1
    embedded = iter_represent(
        iter([item for _, item in distinct]),
        model_name=model_name,
        enforce_detection=enforce_detection,
        detector_backend=detector_backend,
        align=align,
        expand_percentage=expand_percentage,
        normalization=normalization,
        anti_spoofing=anti_spoofing,
        batch_size=batch_size,
        batch_mode=batch_mode,
        errors="return",
        prefetch=prefetch,
        detect_without_border=detect_without_border,
    )
    start = time.time()
    kwargs = {
        "model_name": model_name,
        "detector_backend": detector_backend,
        "distance_metric": distance_metric,
        "silent": True,
        "threshold": threshold,
    }

    def result(index: int) -> dict[str, Any] | Exception:
        sides: list[Any] = []
        for side, (item, key) in enumerate(zip(checked[index], keys[index]), start=1):
            try:
                if key is None:
                    layer.check_verify_embedding(item, side, model_name, dims, silent)
                    sides.append(None)
                    continue
            except Exception as err:
                return with_index(err, index)
            faces = found[key]
            if isinstance(faces, Exception):
                return with_index(_as_upstream(faces, side), index)
            sides.append(faces)
        return _closest(index, sides)

    def _closest(index: int, sides: list[Any]) -> dict[str, Any] | Exception:
        a, b = checked[index]
        first = [a] if sides[0] is None else [face["embedding"] for face in sides[0]]
        second = [b] if sides[1] is None else [face["embedding"] for face in sides[1]]
        best, best_i, best_j = float("inf"), 0, 0
        try:
            for i, e1 in enumerate(first):  # upstream's loop: the first of equal distances
                for j, e2 in enumerate(second):
                    distance = layer.embedding_distance(e1, e2, distance_metric)
                    if distance < best:
                        best, best_i, best_j = distance, i, j
            got = layer.reference_verify(_listed(first[best_i]), _listed(second[best_j]), **kwargs)
        except Exception as err:
            return with_index(err, index)
        areas = dict(got["facial_areas"])
        for name, faces, n in (("img1", sides[0], best_i), ("img2", sides[1], best_j)):
            if faces is not None:
                areas[name] = faces[n]["facial_area"]
        got["facial_areas"] = areas
        got["time"] = round(time.time() - start, 2)
        return got

    found: dict[Any, Any] = {}
    done = 0

    def ready() -> list[dict[str, Any] | Exception]:
        """The results of the pairs whose images are all embedded, in order."""
        nonlocal done
        out = []
        while done < len(checked) and all(k is None or k in found for k in keys[done]):
            out.append(result(done))
            for key in keys[done]:
                if key is not None:
                    uses[key] -= 1
                    if uses[key] == 0:
                        del found[key]  # its last pair is done: its faces go
            done += 1
        return out

    def batches() -> Iterator[list[dict[str, Any] | Exception]]:
        first = ready()  # pairs of embeddings alone, before any image
        if first:
            yield first
        for (key, _), faces in zip(distinct, embedded):
            found[key] = faces
            batch = ready()
            if batch:
                yield batch

    bar = pipeline.Progress(progress, len(checked), desc=f"verify[{model_name}/{detector_backend}]")
    # deliver is typed for face lists; a pair's entry is a dict: the same handling
    return cast(Iterator[dict[str, Any] | Exception], api.deliver(cast(Any, batches()), errors, bar))


def _listed(embedding_: Any) -> list[float]:
    """An embedding as the list upstream's ``verify`` takes as pre-calculated input."""
    return embedding_ if isinstance(embedding_, list) else np.asarray(embedding_).tolist()


def verify(
    pairs: Iterable[Any],
    model_name: str = config.DEFAULTS["model_name"].value,
    detector_backend: str = config.DEFAULTS["detector_backend"].value,
    distance_metric: Any = "cosine",
    enforce_detection: bool = True,
    align: bool = True,
    expand_percentage: int = 0,
    normalization: str = "base",
    silent: bool = False,
    threshold: float | None = None,
    anti_spoofing: bool = False,
    *,
    batch_size: int | None = None,
    batch_mode: BatchMode | str | None = None,
    errors: Errors = "raise",
    progress: Any = False,
    prefetch: bool = True,
    detect_without_border: bool = False,
) -> list[dict[str, Any] | Exception]:
    """Batched ``DeepFace.verify`` over many pairs: a list with upstream's result for each
    pair, in order (with ``errors="return"``, the exception a pair raised in its place).

    Arguments are those of :func:`iter_verify`.
    """
    return list(
        iter_verify(
            pairs,
            model_name,
            detector_backend,
            distance_metric,
            enforce_detection,
            align,
            expand_percentage,
            normalization,
            silent,
            threshold,
            anti_spoofing,
            batch_size=batch_size,
            batch_mode=batch_mode,
            errors=errors,
            progress=progress,
            prefetch=prefetch,
            detect_without_border=detect_without_border,
        )
    )
