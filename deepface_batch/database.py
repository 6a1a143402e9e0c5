"""``register``'s list streamed into upstream's database backends, inserted as it goes.

Upstream's ``register`` (``datastore.__register``) embeds the whole list first, holding
every face and its crop, and inserts nothing before the last image is done: its memory
grows with the list and a crash loses it all. With deepface patched, a list or 4-D array
given to ``register`` goes this way instead:

    the images, in order -> batched represent (the same plugins, models and tolerances,
    and what ``patch(...)`` set: ``batch_size``, ``detect_without_border``, ...) ->
    upstream's records (name, index, face, model, detector, embedding, flags) ->
    the backend's own ``insert_embeddings``, ``INSERT_EVERY`` records at a time

so at most ``batch_size`` images and ``INSERT_EVERY`` records are held, and what was
inserted before an error or a Ctrl-C stays in the database. The records, their names
(``img_name``, else a ``.jpg``/``.jpeg``/``.png`` path, else a UUID), the backend's
duplicate rules and upstream's errors are upstream's: an image without a face stops the
call with its exception (its index added), or, under ``patch(errors="return")``, is
logged by index and left out while the others go in. A single image, and the graph
databases (whose faces also get analyze's attributes), stay upstream's own code.
"""

from __future__ import annotations

import functools
import inspect
import logging
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any, TextIO

import numpy as np

from deepface_batch import compat, config

__all__ = ["INSERT_EVERY", "insert", "parse_database", "register", "register_files", "wrap_register"]

logger = logging.getLogger(__name__)

#: records per call to the backend's ``insert_embeddings`` (upstream's own batch size for it)
INSERT_EVERY = 100


def wrap_register(original: Callable[..., Any]) -> Callable[..., Any]:
    """Upstream's ``__register``, streaming a list or 4-D array (see :func:`register`)."""
    signature = inspect.signature(original)

    @functools.wraps(original)
    def register_(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        arguments = dict(bound.arguments)
        img = arguments["img"]
        # upstream's batches (its ``__split_images``): a list, or a 4-D array
        batch = isinstance(img, list) or (isinstance(img, np.ndarray) and img.ndim == 4)
        if not batch or compat.get().stores_attributes(arguments["database_type"]):
            return original(*args, **kwargs)
        return register(**arguments)

    return register_


def register(
    db_client: Any,
    img: Any,
    img_name: str | None,
    model_name: str,
    detector_backend: str,
    enforce_detection: bool,
    align: bool,
    l2_normalize: bool,
    expand_percentage: int,
    normalization: str,
    anti_spoofing: bool,
    database_type: str,
    **upstream: Any,
) -> dict[str, Any]:
    """Upstream's ``__register`` for a list or 4-D array, batched and inserted as it goes;
    returns upstream's ``{"inserted": n}``. ``upstream``: arguments a later release may add,
    at their defaults."""
    from deepface_batch import patching

    settings = patching.settings()
    errors = settings.pop("errors", "raise")
    sources = img if isinstance(img, list) else [img[i] for i in range(img.shape[0])]

    def name(index: int, source: Any) -> str:  # upstream's rule; faces of one image share it
        if img_name:
            return img_name
        return source if isinstance(source, str) and source.endswith((".jpg", ".jpeg", ".png")) else str(uuid.uuid4())

    def failed(index: int, error: Exception) -> None:  # errors="return": named, left out
        logger.warning("register: image %d not registered: %s", index, error)

    inserted, found = insert(
        db_client,
        sources,
        name,
        model_name=model_name,
        detector_backend=detector_backend,
        enforce_detection=enforce_detection,
        align=align,
        l2_normalize=l2_normalize,
        expand_percentage=expand_percentage,
        normalization=normalization,
        anti_spoofing=anti_spoofing,
        on_error=failed if errors == "return" else None,
        **settings,
    )
    if not found:
        raise ValueError("No embeddings were detected in the provided image(s).")  # upstream's
    return {"inserted": inserted}


def insert(
    db_client: Any,
    sources: Sequence[Any],
    name: Callable[[int, Any], str],
    model_name: str,
    detector_backend: str,
    align: bool = True,
    l2_normalize: bool = False,
    *,
    on_error: Callable[[int, Exception], None] | None = None,
    on_faces: Callable[[int, int], None] | None = None,
    **options: Any,
) -> tuple[int, int]:
    """Embed ``sources`` through the batched ``represent`` and insert upstream's records
    into ``db_client`` as they come, ``INSERT_EVERY`` at a time; returns (records inserted,
    faces found; they differ where the backend refuses a duplicate).

    ``name(index, source)`` names an image's faces. ``on_error(index, error)``: a failed
    image is reported and the rest go on (``None``: its error, with its index, stops the
    call, what was inserted staying). ``on_faces(index, count)``: after each image.
    ``options``: ``iter_represent``'s (``enforce_detection``, ``batch_size``, ``progress``, ...).
    """
    from deepface_batch.representation import iter_represent  # imports deepface: late

    embedded = iter_represent(
        sources,
        model_name=model_name,
        detector_backend=detector_backend,
        align=align,
        l2_normalize=l2_normalize,
        return_face=True,
        **{**options, "errors": "raise" if on_error is None else "return"},
    )
    pending: list[dict[str, Any]] = []
    inserted = found = 0

    def flush() -> None:
        nonlocal inserted, pending
        if pending:
            records, pending = pending, []
            inserted += db_client.insert_embeddings(records, batch_size=INSERT_EVERY)

    try:
        for index, (source, faces) in enumerate(zip(sources, embedded)):
            if isinstance(faces, Exception):
                assert on_error is not None
                on_error(index, faces)
                continue
            image_name = name(index, source)
            pending += [
                {
                    "id": None,
                    "img_name": image_name,
                    "img_index": index,
                    "face": face["face"],
                    "model_name": model_name,
                    "detector_backend": detector_backend,
                    "embedding": face["embedding"],
                    "aligned": align,
                    "l2_normalized": l2_normalize,
                }
                for face in faces
            ]
            found += len(faces)
            if on_faces is not None:
                on_faces(index, len(faces))
            if len(pending) >= INSERT_EVERY:
                flush()
    except BaseException:
        flush()  # an error or Ctrl-C: the images done so far are in the database
        raise
    flush()
    return inserted, found


# -- the command: deepface-batch register PATHS --database TYPE:DETAILS --------------------


def parse_database(spec: str) -> tuple[str, str]:
    """``TYPE:DETAILS`` (``sqlite:faces.db``, ``postgres:postgresql://...``) as upstream's
    ``database_type`` and ``connection_details``."""
    from deepface_batch.jobs import UsageError

    kind, sep, details = spec.partition(":")
    if not sep or not kind or not details:
        raise UsageError(f"--database takes TYPE:DETAILS (sqlite:PATH, postgres:URI, ...), got {spec!r}")
    return kind, details


def register_files(
    paths: Sequence[str],
    database: str,
    model_name: str = config.DEFAULTS["model_name"].value,
    detector_backend: str = config.DEFAULTS["detector_backend"].value,
    *,
    batch_size: int | None = None,
    align: bool = True,
    expand_percentage: int = 0,
    enforce_detection: bool = True,
    detect_without_border: bool = False,
    resume: bool = False,
    quiet: bool = False,
    err: TextIO | None = None,
) -> Any:  # jobs.Summary
    """``deepface-batch register``: image files, folders and globs into a database, through
    the batched engine, inserted as they go; returns the run's ``jobs.Summary``.

    Each image's faces are named by its path as given (found in a folder: the folder's
    path joined with the file's). An image without a face (``enforce_detection``, on by
    default as in upstream's ``register``) is counted, not inserted; any other failure is
    named on ``err`` (stderr) and counted, and the run goes on. ``resume``: images whose
    name the database already holds for this model, detector and alignment are skipped.
    """
    from tqdm.auto import tqdm

    from deepface_batch import jobs

    err = sys.stderr if err is None else err
    database_type, details = parse_database(database)
    layer = compat.get()
    if "deepface.modules.datastore:__register" in layer.ABSENT_TARGETS:
        raise jobs.UsageError(f"register through deepface-batch needs deepface 0.0.102 or later, not {layer.VERSION}")
    files = jobs.expand_paths(paths)
    summary = jobs.Summary()
    client = layer.connect_database(database_type, details)
    try:
        if resume:
            done = {row["img_name"] for row in client.fetch_all_embeddings(model_name, detector_backend, align, False)}
            summary.skipped = sum(f in done for f in files)
            files = [f for f in files if f not in done]
        bar = tqdm(total=len(files), unit="images", desc=f"register[{model_name}/{detector_backend}]", disable=quiet)

        def failed(index: int, error: Exception) -> None:
            summary.inputs += 1
            if layer.is_no_face(error):
                summary.no_face += 1
                return
            summary.failures += 1
            summary.failed.append(files[index])
            if not quiet:
                bar.write(f"deepface-batch: {files[index]}: {error}", file=err)

        def registered(index: int, faces: int) -> None:
            summary.inputs += 1
            summary.faces += faces

        start = time.perf_counter()
        try:
            insert(
                client,
                files,
                lambda index, source: source,
                model_name,
                detector_backend,
                align,
                on_error=failed,
                on_faces=registered,
                enforce_detection=enforce_detection,
                expand_percentage=expand_percentage,
                batch_size=batch_size,
                detect_without_border=detect_without_border,
                progress=lambda done, total: bar.update(done - bar.n),
            )
        except KeyboardInterrupt:
            summary.interrupted = True
            raise
        finally:
            summary.seconds = time.perf_counter() - start
            bar.close()
    finally:
        client.close()
    return summary
