"""patch() / unpatch() / patched(): make deepface's own functions batch, reversibly.

Modelled on opentelemetry's BaseInstrumentor: the deepface version is checked before
anything changes, a second ``patch()`` does nothing, and ``unpatch()`` restores an
attribute only while it is still our wrapper. The wrapped attributes are the module
attributes deepface's callers look up at call time: ``DeepFace.extract_faces``,
``verify``, ``find``, ``analyze`` and ``represent`` all reach
``deepface.modules.detection.extract_faces`` through the module.

A single image goes to the original function untouched, so its result is bit-identical
to unpatched deepface. A batch (list, tuple, 4-D array, any iterable) goes to the engine
and comes back in upstream's output structure.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import inspect
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from deepface_batch import compat, database, datastore, inputs
from deepface_batch.errors import UnsupportedDeepfaceVersion

__all__ = [
    "MARKER",
    "TARGETS",
    "hook_active",
    "is_patched",
    "is_wrapper",
    "patch",
    "patch_module",
    "patched",
    "settings",
    "unpatch",
    "unpatched",
]

logger = logging.getLogger(__name__)

MARKER = "__deepface_batch_wrapper__"

_lock = threading.RLock()

#: what ``patch(**settings)`` set for batches through the patched functions
_settings: dict[str, Any] = {}
_SETTINGS = ("batch_size", "batch_mode", "errors", "progress", "prefetch", "detect_without_border")


def settings() -> dict[str, Any]:
    """The engine options the patched functions use for a batch (see :func:`patch`)."""
    with _lock:
        return dict(_settings)


def _configure(options: dict[str, Any]) -> None:
    """Check and keep the options given to :func:`patch`; unknown names are refused."""
    unknown = sorted(set(options) - set(_SETTINGS))
    if unknown:
        raise TypeError(f"patch() got unknown settings {', '.join(unknown)}; it takes {', '.join(_SETTINGS)}")
    from deepface_batch import api  # the engine imports deepface: import it late

    if "errors" in options:
        api.check_errors(options["errors"])
    if options.get("batch_size") is not None:
        api.batch_size_or_default(options["batch_size"])
    with _lock:
        _settings.clear()
        _settings.update({k: v for k, v in options.items() if v is not None})


def _wrap_extract_faces(original: Callable[..., Any]) -> Callable[..., Any]:
    signature = inspect.signature(original)

    @functools.wraps(original)
    def extract_faces(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)
        options = dict(bound.arguments)
        images = options.pop("img_path")
        backend = options.get("detector_backend", "opencv")
        from deepface_batch import api  # the engine imports deepface: import it late

        upstreams = not settings().get("detect_without_border")
        if upstreams and inputs.is_single(images) and backend in compat.get().DETECTORS:
            # upstream's detector instance is shared with the plugins: one thread at a time
            with api.backend_lock(backend), api.backend_lock(api.EYE_FINDER):
                return original(*args, **kwargs)
        return api.extract_faces(images, **options, **settings())

    setattr(extract_faces, MARKER, True)
    return extract_faces


def _wrap_represent(original: Callable[..., Any]) -> Callable[..., Any]:
    signature = inspect.signature(original)

    @functools.wraps(original)
    def represent(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)
        options = dict(bound.arguments)
        images = options.pop("img_path")
        layer = compat.get()
        backend = options.get("detector_backend", "opencv")
        model_name = options.get("model_name", "VGG-Face")
        if model_name not in layer.RECOGNITION_MODELS:
            return original(*args, **kwargs)  # upstream's own error for an unknown model
        # e.g. 0.0.100's cryptosystem: upstream's own code, unbatched
        upstream_only = [
            name for name, default in layer.REPRESENT_UPSTREAM_ONLY.items() if options.pop(name, default) is not default
        ]
        from deepface_batch import api, representation  # they import deepface: import late

        upstreams = not settings().get("detect_without_border")
        if upstream_only or (upstreams and inputs.is_single(images) and backend in layer.DETECTORS):
            # the same order as the engine's (detector, then model): no deadlock
            with api.backend_lock(backend), api.backend_lock(api.EYE_FINDER), api.backend_lock(f"model:{model_name}"):
                return original(*args, **kwargs)

        results = representation.represent(images, **options, **settings())
        # upstream's quirk, kept: a batch of one gives that image's list, not a list of it
        if not inputs.is_single(images) and inputs.known_length(images) == 1:
            return results[0]
        return results

    setattr(represent, MARKER, True)
    return represent


def _wrap_analyze(original: Callable[..., Any]) -> Callable[..., Any]:
    signature = inspect.signature(original)

    @functools.wraps(original)
    def analyze(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)
        options = dict(bound.arguments)
        images = options.pop("img_path")
        layer = compat.get()
        backend = options.get("detector_backend", layer.ANALYZE_DEFAULTS["detector_backend"])
        from deepface_batch import analysis, api  # they import deepface: import late

        if isinstance(images, list) and not images:
            return []  # upstream's answer to an empty list, before it reads the actions
        upstreams = not settings().get("detect_without_border")
        if upstreams and inputs.is_single(images) and backend in layer.DETECTORS:
            try:
                models = analysis.model_lock_names(
                    layer.check_actions(options.get("actions", layer.ANALYZE_DEFAULTS["actions"]))
                )
            except Exception:
                models = []  # upstream raises its own error about the actions
            # the engine's order (detector, eye finder, models): no deadlock
            with contextlib.ExitStack() as locks:
                for name in (backend, api.EYE_FINDER, *models):
                    locks.enter_context(api.backend_lock(name))
                return original(*args, **kwargs)
        return analysis.analyze(images, **options, **settings())

    setattr(analyze, MARKER, True)
    return analyze


#: module -> {attribute: wrapper factory}
TARGETS: dict[str, dict[str, Callable[[Callable[..., Any]], Callable[..., Any]]]] = {
    "deepface.modules.detection": {"extract_faces": _wrap_extract_faces},
    "deepface.modules.representation": {"represent": _wrap_represent},
    "deepface.modules.demography": {"analyze": _wrap_analyze},
    # find's datastore build (deepface_batch.datastore): batched, saved as it goes
    "deepface.modules.recognition": {
        "__load_representations": datastore.wrap_load_representations,
        "__save_representations": datastore.wrap_save_representations,
        "__find_bulk_embeddings": datastore.wrap_find_bulk_embeddings,
    },
    # register's list streamed into the database (deepface_batch.database), inserted as it
    # goes; search's (and register's) represent, which the module took by name on import
    "deepface.modules.datastore": {"__register": database.wrap_register, "represent": _wrap_represent},
}


def _present(module_name: str, module: Any) -> list[str]:
    """The attributes of ``TARGETS[module_name]`` that ``module`` has: a release without
    one (its compat layer's ``ABSENT_TARGETS``, which a test holds to this) keeps
    upstream's own code there."""
    return [attribute for attribute in TARGETS.get(module_name, {}) if hasattr(module, attribute)]


def hook_active() -> bool:
    """Whether the import hook (``deepface_batch.pth``) is installed in this interpreter
    and not turned off."""
    return any(type(finder).__module__ == "deepface_batch_hook" for finder in sys.meta_path)


def is_wrapper(obj: Any) -> bool:
    """Whether ``obj`` is one of deepface_batch's wrappers."""
    return bool(getattr(obj, MARKER, False))


def patch_module(module_name: str) -> bool:
    """Wrap the targets of one (already imported) module; True if anything changed.

    The import hook calls this as soon as a target module has run, so deepface is patched
    even when a user never imports deepface_batch.
    """
    try:
        compat.check_version()
    except UnsupportedDeepfaceVersion as err:
        compat.refuse(err)
        return False
    module = sys.modules.get(module_name) or importlib.import_module(module_name)
    changed = False
    with _lock:
        for attribute in _present(module_name, module):
            factory = TARGETS[module_name][attribute]
            current = getattr(module, attribute)
            if is_wrapper(current):
                continue
            wrapper = factory(current)
            setattr(wrapper, MARKER, True)
            setattr(module, attribute, wrapper)
            changed = True
    return changed


def patch(**options: Any) -> bool:
    """Make deepface's ``extract_faces`` and ``represent`` batch lists and 4-D arrays.

    Settings, as an instrumentor's ``instrument(**kwargs)`` takes them, apply to batches
    through the patched functions (a single image always runs upstream's own code):

    * ``batch_size``: images per batch (default: ``DEEPFACE_BATCH_SIZE``, else 32);
    * ``errors``: ``"raise"`` (upstream's behaviour) or ``"return"`` (a failed image's
      exception in its place, the others' results kept);
    * ``batch_mode``, ``progress``, ``prefetch``, ``detect_without_border``: as for
      :func:`deepface_batch.extract_faces` (``detect_without_border`` applies to single
      images too: they then go through the engine, not upstream's own code).

    Each call replaces the settings of the one before (``patch()`` alone goes back to the
    defaults); deepface itself is patched once.

    Returns:
        True if this call patched anything; False when deepface was patched already.

    When the installed deepface is not one deepface_batch supports, nothing changes:
    deepface stays upstream's, with one :class:`compat.UnsupportedDeepfaceWarning` per
    process naming the installed and the supported releases, and this returns False.

    Raises:
        TypeError, ValueError: a setting that does not exist, or a value it cannot take.
    """
    try:
        compat.check_version()
    except UnsupportedDeepfaceVersion as err:
        compat.refuse(err)
        return False
    _configure(options)
    changed = False
    for module_name in TARGETS:
        changed |= patch_module(module_name)
    if not changed:
        logger.debug("deepface_batch.patch(): deepface is already patched; nothing to do")
    return changed


def unpatch() -> bool:
    """Restore deepface's original functions; True if anything was restored.

    An attribute someone else has replaced since (a wrapper of theirs around ours) is
    left alone, with a warning, rather than torn out from under them.
    """
    changed = False
    with _lock:
        for module_name in TARGETS:
            module = sys.modules.get(module_name)
            if module is None:
                continue
            for attribute in _present(module_name, module):
                current = getattr(module, attribute)
                if is_wrapper(current):
                    setattr(module, attribute, current.__wrapped__)
                    changed = True
                elif is_wrapper(getattr(current, "__wrapped__", None)):
                    logger.warning(
                        "deepface_batch.unpatch(): %s.%s was wrapped again by %r; leaving it in place",
                        module_name,
                        attribute,
                        current,
                    )
    return changed


def is_patched() -> bool:
    """Whether every target deepface attribute is currently wrapped."""
    for module_name in TARGETS:
        module = sys.modules.get(module_name)
        if module is None or not all(is_wrapper(getattr(module, a)) for a in _present(module_name, module)):
            return False
    return True


@contextmanager
def patched(**options: Any) -> Iterator[None]:
    """Patch, with ``options`` as :func:`patch` takes them, for the duration of a ``with``
    block; then restore the state and the settings from before it."""
    was_patched = is_patched()
    before = settings()
    patch(**options)
    try:
        yield
    finally:
        _configure(before)
        if not was_patched:
            unpatch()


@contextmanager
def unpatched() -> Iterator[None]:
    """Run upstream's own functions for the duration of a ``with`` block."""
    was_patched = is_patched()
    unpatch()
    try:
        yield
    finally:
        if was_patched:
            patch()
