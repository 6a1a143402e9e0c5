"""The detector registry: built-in plugins plus the ``deepface_batch.detectors`` entry points.

Built-ins are imported only when asked for, so the registry costs nothing for backends a
user never touches. Third parties register with :func:`register_detector` or through an
entry point in the ``deepface_batch.detectors`` group naming a plugin class (or instance).
"""

from __future__ import annotations

import importlib
import inspect
import logging
import threading
from importlib import metadata
from types import MappingProxyType
from typing import Mapping, Union

from deepface_batch.errors import (
    BatchModeError,
    PluginValidationError,
    UnknownDetectorError,
)
from deepface_batch.plugin import BatchMode, DetectorPlugin, Requirement, Tolerance

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "deepface_batch.detectors"

PluginSpec = Union[DetectorPlugin, type]

_YOLO = "deepface_batch.plugins.yolo:PLUGINS"

#: backend name -> "module:attribute" of its built-in plugin class.
BUILTINS: Mapping[str, str] = MappingProxyType(
    {
        "opencv": "deepface_batch.plugins.opencv:OpenCvPlugin",
        "ssd": "deepface_batch.plugins.ssd:SsdPlugin",
        "dlib": "deepface_batch.plugins.dlib:DlibPlugin",
        "mtcnn": "deepface_batch.plugins.mtcnn:MtCnnPlugin",
        "retinaface": "deepface_batch.plugins.retinaface:RetinaFacePlugin",
        "mediapipe": "deepface_batch.plugins.mediapipe:MediaPipePlugin",
        **{
            name: f"{_YOLO}[{name}]"
            for name in (
                "yolov8n", "yolov8m", "yolov8l",
                "yolov11n", "yolov11s", "yolov11m", "yolov11l",
                "yolov12n", "yolov12s", "yolov12m", "yolov12l",
            )
        },
        "yunet": "deepface_batch.plugins.yunet:YuNetPlugin",
        "fastmtcnn": "deepface_batch.plugins.fastmtcnn:FastMtCnnPlugin",
        "centerface": "deepface_batch.plugins.centerface:CenterFacePlugin",
        "skip": "deepface_batch.plugins.skip:SkipPlugin",
    }
)

_lock = threading.RLock()
_plugins: dict[str, DetectorPlugin] = {}
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
    label = getattr(plugin, "__name__", None) or type(plugin).__name__
    if inspect.isclass(plugin):
        if not issubclass(plugin, DetectorPlugin):
            raise PluginValidationError(
                f"plugin {label}: must subclass deepface_batch.plugin.DetectorPlugin"
            )
        abstract = sorted(getattr(plugin, "__abstractmethods__", ()))
        if abstract:
            raise PluginValidationError(
                f"plugin {label}: does not implement {', '.join(abstract)}"
            )
        try:
            plugin = plugin()
        except Exception as err:
            raise PluginValidationError(
                f"plugin {label}: could not be instantiated without arguments: {err}"
            ) from err
    elif not isinstance(plugin, DetectorPlugin):
        raise PluginValidationError(
            f"plugin {label}: expected a DetectorPlugin subclass or instance, "
            f"got {type(plugin).__name__}"
        )
    name = getattr(plugin, "name", None)
    if not isinstance(name, str) or not name or name != name.strip():
        raise PluginValidationError(
            f"plugin {label}: 'name' must be a non-empty string without surrounding "
            f"spaces, got {name!r}"
        )
    label = f"{label} ('{name}')"
    if not isinstance(plugin.batch_mode, BatchMode):
        raise PluginValidationError(
            f"plugin {label}: 'batch_mode' must be BatchMode.NATIVE or BatchMode.PSEUDO, "
            f"got {plugin.batch_mode!r}"
        )
    tolerance = plugin.tolerance
    if not isinstance(tolerance, Tolerance):
        raise PluginValidationError(
            f"plugin {label}: 'tolerance' must be a deepface_batch.plugin.Tolerance, "
            f"got {tolerance!r}"
        )
    negative = [f"{k}={v}" for k, v in vars(tolerance).items() if not v >= 0]
    if negative:
        raise PluginValidationError(
            f"plugin {label}: tolerance values must be >= 0, got {', '.join(negative)}"
        )
    if not all(isinstance(r, Requirement) for r in plugin.requires):
        raise PluginValidationError(
            f"plugin {label}: 'requires' must be a tuple of deepface_batch.plugin.Requirement"
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
        PluginValidationError: the plugin's declarations are wrong.
        ValueError: the name is taken and ``clobber`` is false.
    """
    instance = validate(plugin)
    with _lock:
        taken = instance.name in _plugins or instance.name in BUILTINS
        if taken and not clobber:
            raise ValueError(
                f"detector backend '{instance.name}' is already registered; pass "
                "clobber=True to replace it"
            )
        _plugins[instance.name] = instance
    return instance


def unregister_detector(name: str) -> None:
    """Remove a registered plugin; a built-in comes back as it was on next use."""
    with _lock:
        _plugins.pop(name, None)


def load_entry_points(force: bool = False) -> None:
    """Register the plugins of the ``deepface_batch.detectors`` entry-point group.

    A plugin that fails to load or validate is logged and skipped: one broken
    distribution must not break every backend.
    """
    global _entry_points_loaded  # pylint: disable=global-statement
    with _lock:
        if _entry_points_loaded and not force:
            return
        _entry_points_loaded = True
        for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
            try:
                register_detector(entry_point.load(), clobber=True)
            except Exception as err:  # pylint: disable=broad-except
                logger.warning(
                    "deepface_batch: skipping detector plugin entry point '%s' (%s): %s",
                    entry_point.name,
                    entry_point.value,
                    err,
                )


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
            plugin = _plugins[name] = validate(_import_builtin(BUILTINS[name]))
    if plugin is None:
        raise UnknownDetectorError(
            f"unknown detector backend {name!r}; available: {', '.join(names())}"
        )
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
            raise BatchModeError(
                f"batch_mode must be 'native', 'pseudo' or None, got {batch_mode!r}"
            ) from None
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
    except Exception:  # pylint: disable=broad-except
        return None


def detectors() -> Mapping[str, DetectorPlugin]:
    """A read-only view of every registered plugin, built-ins first, all loaded."""
    return MappingProxyType({name: _lookup(name) for name in names()})
