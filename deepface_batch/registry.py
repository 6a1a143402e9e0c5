"""The detector registry: built-in plugins plus the ``deepface_batch.detectors`` entry points.

Built-ins are imported only when asked for, so the registry costs nothing for backends a
user never touches. Third parties register with :func:`register_detector` or through an
entry point in the ``deepface_batch.detectors`` group naming a plugin class (or instance).

An entry point never replaces a backend that is already there: a clash with a built-in
keeps the built-in, a clash between two distributions keeps the first by distribution name,
and either is logged with both distributions and the one line of code that makes the other
choice (``register_detector(..., clobber=True)``, which always replaces).
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import logging
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import metadata
from types import MappingProxyType
from typing import Union

from deepface_batch import compat
from deepface_batch.errors import (
    BatchModeError,
    DetectorNameTakenError,
    DetectorUnavailableError,
    PluginValidationError,
    UnknownDetectorError,
)
from deepface_batch.plugin import BatchMode, DetectorPlugin, Requirement, Tolerance

__all__ = [
    "BUILTINS",
    "ENTRY_POINT_GROUP",
    "YOLO_BACKENDS",
    "BackendInfo",
    "backends",
    "backends_report",
    "detectors",
    "get_detector",
    "load_entry_points",
    "names",
    "register_detector",
    "registered",
    "unregister_detector",
    "validate",
]

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "deepface_batch.detectors"

PluginSpec = Union[DetectorPlugin, type]

_YOLO = "deepface_batch.plugins.yolo:PLUGINS"

#: deepface's YOLO detector_backend names: one plugin class each, in plugins/yolo.py
YOLO_BACKENDS = (
    "yolov8n",
    "yolov8m",
    "yolov8l",
    "yolov11n",
    "yolov11s",
    "yolov11m",
    "yolov11l",
    "yolov12n",
    "yolov12s",
    "yolov12m",
    "yolov12l",
)

#: backend name -> "module:attribute" of its built-in plugin class.
BUILTINS: Mapping[str, str] = MappingProxyType(
    {
        "opencv": "deepface_batch.plugins.opencv:OpenCvPlugin",
        "ssd": "deepface_batch.plugins.ssd:SsdPlugin",
        "dlib": "deepface_batch.plugins.dlib:DlibPlugin",
        "mtcnn": "deepface_batch.plugins.mtcnn:MtCnnPlugin",
        "retinaface": "deepface_batch.plugins.retinaface:RetinaFacePlugin",
        "mediapipe": "deepface_batch.plugins.mediapipe:MediaPipePlugin",
        **{name: f"{_YOLO}[{name}]" for name in YOLO_BACKENDS},
        "yunet": "deepface_batch.plugins.yunet:YuNetPlugin",
        "fastmtcnn": "deepface_batch.plugins.fastmtcnn:FastMtCnnPlugin",
        "centerface": "deepface_batch.plugins.centerface:CenterFacePlugin",
        "skip": "deepface_batch.plugins.skip:SkipPlugin",
    }
)

_BUILTIN = "built-in"
_ENTRY_POINT = "entry point"
_CODE = "code"


@dataclass(frozen=True)
class _Origin:
    """Where a registered plugin came from, so a later clash can name it.

    Attributes:
        plugin: the registration this describes. Tests and fixtures put ``_plugins`` back
            wholesale, so an origin counts only while ``_plugins`` still holds this object.
        kind: ``_BUILTIN``, ``_ENTRY_POINT`` or ``_CODE`` (:func:`register_detector`).
        entry_point: the entry point, for ``_ENTRY_POINT``.
    """

    plugin: DetectorPlugin
    kind: str
    entry_point: metadata.EntryPoint | None = None


_lock = threading.RLock()
_plugins: dict[str, DetectorPlugin] = {}
_origins: dict[str, _Origin] = {}
_entry_points_loaded = False


def _import_builtin(target: str) -> type:
    module_name, _, attribute = target.partition(":")
    module = importlib.import_module(module_name)
    if attribute.endswith("]"):
        mapping_name, _, key = attribute[:-1].partition("[")
        return getattr(module, mapping_name)[key]
    return getattr(module, attribute)


def validate(plugin: PluginSpec) -> DetectorPlugin:
    """Check a plugin's declarations and return an instance of it.

    Raises:
        PluginValidationError: naming the plugin and what is wrong with it.
    """
    given = plugin  # what the error carries, as pluggy's does: the object the caller gave
    label = getattr(plugin, "__name__", None) or type(plugin).__name__
    if inspect.isclass(plugin):
        if not issubclass(plugin, DetectorPlugin):
            raise PluginValidationError(
                f"plugin {label}: must subclass deepface_batch.plugin.DetectorPlugin",
                plugin=given,
            )
        abstract = sorted(getattr(plugin, "__abstractmethods__", ()))
        if abstract:
            raise PluginValidationError(
                f"plugin {label}: does not implement {', '.join(abstract)}",
                plugin=given,
            )
        try:
            plugin = plugin()
        except Exception as err:
            raise PluginValidationError(
                f"plugin {label}: could not be instantiated without arguments: {err}",
                plugin=given,
            ) from err
    elif not isinstance(plugin, DetectorPlugin):
        raise PluginValidationError(
            f"plugin {label}: expected a DetectorPlugin subclass or instance, got {type(plugin).__name__}",
            plugin=given,
        )
    name = getattr(plugin, "name", None)
    if not isinstance(name, str) or not name or name != name.strip():
        raise PluginValidationError(
            f"plugin {label}: 'name' must be a non-empty string without surrounding spaces, got {name!r}",
            plugin=given,
        )
    label = f"{label} ('{name}')"
    if not isinstance(plugin.batch_mode, BatchMode):
        raise PluginValidationError(
            f"plugin {label}: 'batch_mode' must be BatchMode.NATIVE or BatchMode.PSEUDO, got {plugin.batch_mode!r}",
            plugin=given,
        )
    tolerance = plugin.tolerance
    if not isinstance(tolerance, Tolerance):
        raise PluginValidationError(
            f"plugin {label}: 'tolerance' must be a deepface_batch.plugin.Tolerance, got {tolerance!r}",
            plugin=given,
        )
    negative = [f"{k}={v}" for k, v in vars(tolerance).items() if not v >= 0]
    if negative:
        raise PluginValidationError(
            f"plugin {label}: tolerance values must be >= 0, got {', '.join(negative)}",
            plugin=given,
        )
    if not all(isinstance(r, Requirement) for r in plugin.requires):
        raise PluginValidationError(
            f"plugin {label}: 'requires' must be a tuple of deepface_batch.plugin.Requirement",
            plugin=given,
        )
    return plugin


def register_detector(plugin: PluginSpec, clobber: bool = False) -> DetectorPlugin:
    """Register a detector plugin (a class or an instance) under its ``name``.

    Args:
        plugin: a :class:`DetectorPlugin` subclass or instance.
        clobber: replace a plugin already registered under that name.

    Returns:
        The registered plugin instance.

    Raises:
        PluginValidationError: the plugin's declarations are wrong (``.plugin`` is
            ``plugin``).
        DetectorNameTakenError: the name is taken and ``clobber`` is false (``.name`` is
            the name; a ``ValueError`` too).
    """
    instance = validate(plugin)
    with _lock:
        taken = instance.name in _plugins or instance.name in BUILTINS
        if taken and not clobber:
            raise DetectorNameTakenError(instance.name)
        _set(instance, _Origin(instance, _CODE))
    return instance


def unregister_detector(name: str) -> None:
    """Remove a registered plugin; a built-in comes back as it was on next use."""
    with _lock:
        _plugins.pop(name, None)
        _origins.pop(name, None)


@contextlib.contextmanager
def registered(plugin: PluginSpec) -> Iterator[DetectorPlugin]:
    """Register ``plugin`` for the ``with`` block, replacing what has its name, and put
    back what was there afterwards (a built-in comes back as it was on next use).

    For tests and scripts that try a plugin without changing the process for good::

        with registry.registered(MyPlugin()) as plugin:
            deepface_batch.extract_faces(images, detector_backend=plugin.name)
    """
    instance = validate(plugin)
    load_entry_points()  # an entry point loaded inside the block must not take the name
    with _lock:
        previous, origin = _plugins.get(instance.name), _origins.get(instance.name)
        _set(instance, _Origin(instance, _CODE))
    try:
        yield instance
    finally:
        with _lock:
            if _plugins.get(instance.name) is instance:
                _plugins.pop(instance.name)
                _origins.pop(instance.name, None)
                if previous is not None:
                    _plugins[instance.name] = previous
                if origin is not None:
                    _origins[instance.name] = origin


def _set(instance: DetectorPlugin, origin: _Origin) -> None:
    _plugins[instance.name] = instance
    _origins[instance.name] = origin


def _origin_of(name: str) -> _Origin | None:
    """The origin of what is registered under ``name``, or None where that is not known."""
    origin = _origins.get(name)
    if origin is None or origin.plugin is not _plugins.get(name):
        return None
    return origin


def _distribution_name(entry_point: metadata.EntryPoint) -> str:
    dist = getattr(entry_point, "dist", None)
    return (getattr(dist, "name", None) or "") if dist is not None else ""


def _distribution(entry_point: metadata.EntryPoint) -> str:
    """``name version`` of the distribution that declares ``entry_point``."""
    dist = getattr(entry_point, "dist", None)
    if dist is None:
        # an EntryPoint built by hand (tests do) belongs to no distribution
        return "an unknown distribution"
    name = getattr(dist, "name", None) or "an unnamed distribution"
    version = getattr(dist, "version", None)
    return f"{name} {version}" if version else name


def _own_distribution() -> str:
    try:
        return f"deepface-batch {metadata.version('deepface-batch')}"
    except metadata.PackageNotFoundError:
        # run from a source tree that was never installed
        return "deepface-batch"


def _describe(entry_point: metadata.EntryPoint) -> str:
    return f"entry point '{entry_point.name}' ({entry_point.value}) of {_distribution(entry_point)}"


def _entry_point_order(entry_point: metadata.EntryPoint) -> tuple[str, str, str, str]:
    """Sort key that makes "the first" of two clashing entry points the same everywhere.

    ``metadata.entry_points`` yields them in sys.path order and, within one folder, in
    the file system's listing order, which differs between machines; the distribution's
    normalized name (PEP 503) does not.
    """
    dist = getattr(entry_point, "dist", None)
    return (
        re.sub(r"[-_.]+", "-", _distribution_name(entry_point)).lower(),
        str(getattr(dist, "version", None) or ""),
        entry_point.name,
        entry_point.value,
    )


def _same_entry_point(a: metadata.EntryPoint | None, b: metadata.EntryPoint) -> bool:
    """Whether ``a`` and ``b`` are one entry point read twice (its version may differ)."""
    if a is None:
        return False
    dist_a, _, name_a, value_a = _entry_point_order(a)
    dist_b, _, name_b, value_b = _entry_point_order(b)
    return (dist_a, name_a, value_a) == (dist_b, name_b, value_b)


def _remedy(entry_point: metadata.EntryPoint) -> str:
    """The code that registers ``entry_point``'s plugin over whatever holds its name."""
    module, attr = entry_point.module, entry_point.attr
    if not attr:
        return f"import {module}; deepface_batch.register_detector({module}, clobber=True)"
    return f"from {module} import {attr.split('.')[0]}; deepface_batch.register_detector({attr}, clobber=True)"


def _warn_clash(name: str, entry_point: metadata.EntryPoint, holder: str, kept: str) -> None:
    logger.warning(
        "deepface_batch: detector backend '%s' is offered twice: by %s, and %s; keeping %s. "
        "To use the plugin of %s instead, put this in your code: %s",
        name,
        _describe(entry_point),
        holder,
        kept,
        _distribution(entry_point),
        _remedy(entry_point),
    )


def load_entry_points(force: bool = False) -> None:
    """Register the plugins of the ``deepface_batch.detectors`` entry-point group.

    A plugin that fails to load or validate is logged and skipped: one broken
    distribution must not break every backend.

    An entry point never replaces what is registered: installing a package must not
    silently change what ``detector_backend="ssd"`` runs. Where a plugin's name is taken,
    the registry keeps

    - a plugin the user registered with :func:`register_detector` (the user asked for
      it; logged at debug level only);
    - a built-in, and logs a warning naming both distributions;
    - the plugin of another entry point: entry points are taken in order of distribution
      name, so the first by that order wins everywhere, and a warning names both.

    Each warning gives the code that registers the other plugin instead:
    ``deepface_batch.register_detector(ThePlugin, clobber=True)``.

    Args:
        force: read the entry points again even if they were read before (after
            installing a distribution at run time, say). A plugin already registered by
            the same entry point stays as it is.
    """
    global _entry_points_loaded
    with _lock:
        if _entry_points_loaded and not force:
            return
        _entry_points_loaded = True
        # backend name -> the entry point that took it in this pass
        taken_here: dict[str, metadata.EntryPoint] = {}
        entry_points = metadata.entry_points(group=ENTRY_POINT_GROUP)
        for entry_point in sorted(entry_points, key=_entry_point_order):
            try:
                instance = validate(entry_point.load())
            except Exception as err:
                logger.warning(
                    "deepface_batch: skipping detector plugin entry point '%s' (%s): %s",
                    entry_point.name,
                    entry_point.value,
                    err,
                )
                continue
            _register_entry_point(instance, entry_point, taken_here)


def _register_entry_point(
    instance: DetectorPlugin,
    entry_point: metadata.EntryPoint,
    taken_here: dict[str, metadata.EntryPoint],
) -> None:
    """Register ``instance`` from ``entry_point`` unless its name is taken (see above)."""
    name = instance.name
    origin = _origin_of(name)
    if origin is not None and origin.kind == _CODE:
        logger.debug(
            "deepface_batch: %s names detector backend '%s', which was registered with "
            "register_detector(); keeping that one",
            _describe(entry_point),
            name,
        )
    elif name in taken_here:
        first = taken_here[name]
        _warn_clash(
            name,
            entry_point,
            f"by {_describe(first)}",
            f"the first by distribution name, that of {_distribution(first)}",
        )
    elif origin is not None and _same_entry_point(origin.entry_point, entry_point):
        # read again (force=True): the plugin it registered before stays, prepared or not
        taken_here[name] = entry_point
    elif name in BUILTINS:
        _warn_clash(
            name,
            entry_point,
            f"built into {_own_distribution()}",
            "the built-in of deepface-batch",
        )
    elif name in _plugins:
        holder = (
            f"by {_describe(origin.entry_point)}"
            if origin is not None and origin.entry_point is not None
            else f"by {_plugins[name]!r}, registered before"
        )
        _warn_clash(name, entry_point, holder, "the one registered before")
    else:
        _set(instance, _Origin(instance, _ENTRY_POINT, entry_point))
        taken_here[name] = entry_point


def names() -> list[str]:
    """Every registered backend name: built-ins first, in upstream's order."""
    load_entry_points()
    with _lock:
        return list(BUILTINS) + [name for name in _plugins if name not in BUILTINS]


def _lookup(name: str) -> DetectorPlugin:
    load_entry_points()
    with _lock:
        plugin = _plugins.get(name)
        if plugin is None and name in BUILTINS:
            # the built-in plugins import deepface's modules: name the release first
            compat.check_version()
            plugin = validate(_import_builtin(BUILTINS[name]))
            _set(plugin, _Origin(plugin, _BUILTIN))
    if plugin is None:
        raise UnknownDetectorError(f"unknown detector backend {name!r}; available: {', '.join(names())}")
    return plugin


def get_detector(name: str, batch_mode: BatchMode | str | None = None) -> DetectorPlugin:
    """The plugin for ``name``, checked to be usable here.

    Args:
        name: a ``detector_backend`` string.
        batch_mode: ask for ``"native"`` (or ``"pseudo"``) batching explicitly; ``None``
            takes whatever the plugin offers.

    Raises:
        UnknownDetectorError: no plugin has that name.
        DetectorUnavailableError: a package it needs is missing (the message has the
            pip command).
        BatchModeError: the plugin does not batch the way ``batch_mode`` asks.
    """
    plugin = _lookup(name)
    if batch_mode is not None:
        try:
            wanted = BatchMode(batch_mode)
        except ValueError:
            raise BatchModeError(f"batch_mode must be 'native', 'pseudo' or None, got {batch_mode!r}") from None
        if plugin.batch_mode is not wanted:
            native = [n for n in names() if _batch_mode_of(n) is BatchMode.NATIVE]
            raise BatchModeError(
                f"detector backend {name!r} batches as {plugin.batch_mode.value}, not "
                f"{wanted.value}; backends that batch natively: "
                f"{', '.join(native) if native else 'none'}"
            )
    plugin.check_available()
    return plugin


def _batch_mode_of(name: str) -> BatchMode | None:
    try:
        return _lookup(name).batch_mode
    except Exception:
        return None


def detectors() -> Mapping[str, DetectorPlugin]:
    """A read-only view of every registered plugin, built-ins first, all loaded."""
    return MappingProxyType({name: _lookup(name) for name in names()})


@dataclass(frozen=True)
class BackendInfo:
    """One backend as ``deepface-batch backends`` lists it.

    Attributes:
        name: the ``detector_backend`` string.
        batching: ``native`` or ``pseudo``.
        tolerance: the declared tolerance, as one line (:meth:`Tolerance.describe`).
        here: ``available``, or why not (``missing: pip install ...``).
    """

    name: str
    batching: str
    tolerance: str
    here: str


def backends() -> list[BackendInfo]:
    """Every registered backend, its batching, tolerance, and whether it runs here."""
    rows = []
    for name, plugin in detectors().items():
        try:
            plugin.check_available()
            here = "available"
        except DetectorUnavailableError as err:
            needed = getattr(err, "requirement", None)
            here = f"missing: pip install {needed.install}" if needed is not None else f"unavailable: {err}"
        rows.append(BackendInfo(name, plugin.batch_mode.value, plugin.tolerance.describe(), here))
    return rows


def backends_report() -> str:
    """What ``deepface-batch backends`` prints: the deepface release, its compat module,
    the engine and the import hook's state, then :func:`backends` in aligned columns."""
    from deepface_batch import config
    from deepface_batch.patching import hook_active

    layer = compat.get()
    disabled = config.default("disable")
    lines = [
        f"deepface {layer.VERSION} (compat {compat.check_version().rsplit('.', 1)[-1]}), "
        f"engine {layer.backend_engine()}, import hook {'active' if hook_active() else 'not active'}"
        + (f" (turned off by {config.variable('disable')})" if disabled else "")
    ]
    header = BackendInfo("backend", "batching", "tolerance", "here")
    rows = backends()
    widths = [max(len(getattr(row, f)) for row in [header, *rows]) for f in ("name", "batching", "tolerance")]
    for row in [header, *rows]:
        lines.append(f"{row.name:<{widths[0]}}  {row.batching:<{widths[1]}}  {row.tolerance:<{widths[2]}}  {row.here}")
    return "\n".join(lines)
