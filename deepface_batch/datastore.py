"""``find``'s representations datastore, built through the batched engine and saved as it goes.

Upstream's ``find`` embeds every new or changed file of ``db_path`` one at a time
(``recognition.__find_bulk_embeddings``: ``extract_faces``, then ``represent``, per file)
and writes its datastore file only at the end, so a crash after 9,000 of 10,000 photos
loses them all. With deepface patched, upstream's ``find`` runs as it is (its listing,
hashes, ``refresh_database``, formats, search) and only its build is replaced:

    the files to embed, in name order -> batched represent (the same plugins, models and
    tolerances, and what ``patch(...)`` set: ``batch_size``, ``detect_without_border``, ...)
    -> upstream's rows (identity, hash, embedding, target box), in order

Every ``save_seconds`` (:mod:`deepface_batch.config`, 60 by default) and when the build is
interrupted (Ctrl-C, an exception), the datastore file is written with the rows done so
far beside the ones ``find`` keeps, so the next call goes on from there: upstream's own
rule does it, files whose rows are in the datastore are not embedded again. The file is
written by upstream's own writer, to a temporary file beside it that then replaces it
(for a local folder), so a reader never sees a half-written one, upstream's final save
included.

A file upstream's build stores without a face (its ``ValueError``: no face with
``enforce_detection``, an unreadable image) gets the same row here, and the same error
line naming it in deepface's log; any other error for a file is logged naming it, the
file gets no row (the next call tries it again), and the build goes on.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from deepface_batch import compat, config

__all__ = ["build", "wrap_find_bulk_embeddings", "wrap_load_representations", "wrap_save_representations", "write"]

#: an input that stands for a file that could not be read (its own error is reported)
_UNREAD = np.zeros((1, 1, 3), np.uint8)


@dataclass(frozen=True)
class _Datastore:
    store: Any
    path: str
    format: str


#: the datastore of the ``find`` call running in this context (set when it loads it)
_current: contextvars.ContextVar[_Datastore | None] = contextvars.ContextVar("deepface_batch_datastore", default=None)


def write(store: Any, path: str, datastore_format: str, rows: list[dict[str, Any]]) -> None:
    """Write ``rows`` as ``find``'s datastore file, by upstream's writer; a local file is
    replaced whole (a temporary file beside it, then ``os.replace``)."""
    layer = compat.get()
    content = layer.serialize_datastore(rows, datastore_format)
    if not layer.is_local_store(store):
        store.write_bytes(path, content)
        return
    partial = f"{path}.{os.getpid()}-{threading.get_ident()}.partial"
    try:
        with open(partial, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)


def _arguments(original: Callable[..., Any], args: Any, kwargs: Any) -> dict[str, Any]:
    bound = inspect.signature(original).bind(*args, **kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)


def wrap_load_representations(original: Callable[..., Any]) -> Callable[..., Any]:
    """Upstream's reader, noting which datastore this ``find`` call uses."""

    @functools.wraps(original)
    def load_representations(*args: Any, **kwargs: Any) -> Any:
        layer = compat.get()
        if layer.FIND_BUILD:
            store, path, datastore_format = layer.datastore_store(_arguments(original, args, kwargs))
            _current.set(_Datastore(store, path, datastore_format))
        return original(*args, **kwargs)

    return load_representations


def wrap_save_representations(original: Callable[..., Any]) -> Callable[..., Any]:
    """Upstream's save, written whole or not at all (see :func:`write`)."""

    @functools.wraps(original)
    def save_representations(*args: Any, **kwargs: Any) -> Any:
        layer = compat.get()
        if not layer.FIND_BUILD:
            return original(*args, **kwargs)
        arguments = _arguments(original, args, kwargs)
        store, path, datastore_format = layer.datastore_store(arguments)
        write(store, path, datastore_format, arguments.get("representations") or [])
        return None

    return save_representations


def wrap_find_bulk_embeddings(original: Callable[..., Any]) -> Callable[..., Any]:
    """Upstream's build of the datastore's new rows, batched (see :func:`build`)."""

    @functools.wraps(original)
    def find_bulk_embeddings(*args: Any, **kwargs: Any) -> Any:
        layer = compat.get()
        datastore = _current.get()
        arguments = _arguments(original, args, kwargs)
        if not layer.FIND_BUILD or datastore is None or datastore.store is not arguments["store"]:
            return original(*args, **kwargs)
        return build(datastore, **arguments)

    return find_bulk_embeddings


def build(
    datastore: _Datastore,
    store: Any,
    employees: Any,
    model_name: str,
    detector_backend: str,
    enforce_detection: bool,
    align: bool,
    expand_percentage: int,
    normalization: str,
    silent: bool,
    **upstream: Any,
) -> list[dict[str, Any]]:
    """The datastore rows of ``employees`` (upstream's ``__find_bulk_embeddings``), batched,
    with the datastore saved as it goes. ``upstream``: arguments a later release may add,
    at their defaults (their names are checked against upstream's signature on patching)."""
    from deepface_batch import patching
    from deepface_batch.representation import iter_represent  # imports deepface: late

    layer = compat.get()
    # what patch(...) set for batches: batch_size, batch_mode, prefetch, detect_without_border
    settings = {k: v for k, v in patching.settings().items() if k not in ("errors", "progress")}
    ordered = sorted(employees)
    todo = set(ordered)
    listed = set(store.list_images())
    # what find keeps of the datastore as it was: files still there and not embedded again
    kept = [
        row
        for row in layer.read_datastore(datastore.store, datastore.path, datastore.format)
        if row["identity"] in listed and row["identity"] not in todo
    ]
    hashes: dict[str, str] = {}
    unread: dict[str, Exception] = {}

    def images() -> Iterator[Any]:
        for employee in ordered:
            try:
                hashes[employee] = store.find_hash(employee)
                yield store.load_image(employee)
            except Exception as err:  # reported by name below, the build goes on
                unread[employee] = err
                yield _UNREAD

    from tqdm.auto import tqdm

    bar = tqdm(total=len(ordered), desc="Finding representations", disable=silent)
    embedded = iter_represent(
        images(),
        model_name=model_name,
        enforce_detection=enforce_detection,
        detector_backend=detector_backend,
        align=align,
        expand_percentage=expand_percentage,
        normalization=normalization,
        errors="return",
        progress=lambda done, total: bar.update(done - bar.n),
        **settings,
    )
    rows: list[dict[str, Any]] = []
    every = config.default("save_seconds")
    saved = time.monotonic()
    done = 0
    try:
        for employee, entry in zip(ordered, embedded):
            rows += _rows(layer, employee, hashes.get(employee), unread.pop(employee, None) or entry)
            done += 1
            if time.monotonic() - saved >= every and done < len(ordered):
                write(datastore.store, datastore.path, datastore.format, kept + rows)
                saved = time.monotonic()
    except BaseException:
        # Ctrl-C or a crash: what is done stays, and the next call goes on from there
        write(datastore.store, datastore.path, datastore.format, kept + rows)
        raise
    finally:
        bar.close()
    return rows


def _rows(layer: Any, employee: str, file_hash: str | None, entry: Any) -> list[dict[str, Any]]:
    """Upstream's rows for one file: one per face, or one without a face."""
    if isinstance(entry, Exception):
        err = entry.__cause__ if getattr(entry, "index", None) is not None and entry.__cause__ else entry
        layer.log_error(f"Exception while extracting faces from {employee}: {err}")
        if not isinstance(err, ValueError) or file_hash is None:
            return []  # not upstream's "no face": no row, so the next call tries it again
        return [_row(employee, file_hash, None, {"x": 0, "y": 0, "w": 0, "h": 0})]
    return [_row(employee, file_hash, face["embedding"], face["facial_area"]) for face in entry]


def _row(employee: str, file_hash: Any, embedding: Any, area: dict[str, Any]) -> dict[str, Any]:
    return {
        "identity": employee,
        "hash": file_hash,
        "embedding": embedding,
        "target_x": area["x"],
        "target_y": area["y"],
        "target_w": area["w"],
        "target_h": area["h"],
    }
