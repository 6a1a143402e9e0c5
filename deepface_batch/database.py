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
import uuid
from collections.abc import Callable
from typing import Any

import numpy as np

from deepface_batch import compat

__all__ = ["INSERT_EVERY", "register", "wrap_register"]

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
    from deepface_batch.representation import iter_represent  # imports deepface: late

    settings = patching.settings()
    errors = settings.pop("errors", "raise")
    sources = img if isinstance(img, list) else [img[i] for i in range(img.shape[0])]
    embedded = iter_represent(
        sources,
        model_name=model_name,
        enforce_detection=enforce_detection,
        detector_backend=detector_backend,
        align=align,
        expand_percentage=expand_percentage,
        normalization=normalization,
        anti_spoofing=anti_spoofing,
        l2_normalize=l2_normalize,
        return_face=True,
        errors=errors,
        **settings,
    )
    pending: list[dict[str, Any]] = []
    inserted = found = 0
    for index, (source, faces) in enumerate(zip(sources, embedded)):
        if isinstance(faces, Exception):  # errors="return": named, left out, the rest go in
            logger.warning("register: image %d not registered: %s", index, faces)
            continue
        # upstream's rule: faces of one image share its name
        name = img_name or (
            source if isinstance(source, str) and source.endswith((".jpg", ".jpeg", ".png")) else str(uuid.uuid4())
        )
        for face in faces:
            pending.append(
                {
                    "id": None,
                    "img_name": name,
                    "img_index": index,
                    "face": face["face"],
                    "model_name": model_name,
                    "detector_backend": detector_backend,
                    "embedding": face["embedding"],
                    "aligned": align,
                    "l2_normalized": l2_normalize,
                }
            )
        found += len(faces)
        if len(pending) >= INSERT_EVERY:
            inserted += db_client.insert_embeddings(pending, batch_size=INSERT_EVERY)
            pending = []
    if not found:
        raise ValueError("No embeddings were detected in the provided image(s).")  # upstream's
    if pending:
        inserted += db_client.insert_embeddings(pending, batch_size=INSERT_EVERY)
    return {"inserted": inserted}
