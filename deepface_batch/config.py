"""Every default deepface-batch uses, in one table, and the environment variables that
override them, read here and nowhere else (as ultralytics keeps one ``DEFAULT_CFG_DICT``).

Arguments come first: ``batch_size=`` on every call, ``deepface_batch.patch(batch_size=...,
errors=...)`` for the patched deepface functions, ``--batch-size`` on the command, and
plugin options on the plugin (``register_detector(YoloPlugin(half=True), clobber=True)``).
What a program or a command line does not set comes from :func:`default`: the variable when it
is set, else the table's value. A value that cannot be read is an error naming the
variable, never silently the default.

=====================  ====================================  ========  ==================================
name                   variable                              default   meaning
=====================  ====================================  ========  ==================================
``batch_size``         ``DEEPFACE_BATCH_SIZE``               32        images per batch when none is given
``detector_backend``   (none: upstream's default)            opencv    the command's detector
``model_name``         (none: upstream's default)            VGG-Face  the command's recognition model
``verify_weights``     ``DEEPFACE_BATCH_VERIFY_WEIGHTS``     on        check weight files against sha256
``yolo_half``          ``DEEPFACE_BATCH_YOLO_HALF``          off       YOLO plugins in half precision
``torch_threads``      ``DEEPFACE_BATCH_TORCH_THREADS``      0 (all)   torch threads for the YOLO plugins
``save_seconds``       ``DEEPFACE_BATCH_SAVE_SECONDS``       60        seconds between find's datastore saves
``disable``            ``DEEPFACE_BATCH_DISABLE``            off       the import hook leaves deepface alone
=====================  ====================================  ========  ==================================

``DEEPFACE_BATCH_DISABLE`` is read by the import hook (``src-hook/deepface_batch_hook.py``),
which runs at interpreter start and must not import this package; it parses the value the
same way (a test holds the two parsers to each other). Upstream's own variables
(``YOLO_MIN_DETECTION_CONFIDENCE``, ``CENTERFACE_THRESHOLD``) are read where upstream reads
them, as upstream reads them. Yes/no values are 1/true/yes/on or 0/false/no/off, in any
case; an unset or empty variable is the default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

__all__ = ["DEFAULTS", "FALSE", "TRUE", "ConfigError", "Default", "default", "flag", "integer", "variable"]

TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off"})


@dataclass(frozen=True)
class Default:
    """One default: its value, the environment variable that overrides it, what it means.

    Attributes:
        value: the default itself; its type says how the variable is read (a bool as
            yes/no, an int as a whole number of at least ``minimum``).
        variable: the environment variable that overrides it; ``None`` for none.
        meaning: one line for the documentation.
        minimum: the smallest whole number the variable may hold.
    """

    value: Any
    variable: str | None = None
    meaning: str = ""
    minimum: int = 0


#: name -> its default: the one table (read-only)
DEFAULTS: Mapping[str, Default] = MappingProxyType(
    {
        "batch_size": Default(32, "DEEPFACE_BATCH_SIZE", "images per batch when none is given", minimum=1),
        # upstream's own defaults (tests/test_config.py holds them to the installed deepface)
        "detector_backend": Default("opencv", None, "the detector backend when none is given"),
        "model_name": Default("VGG-Face", None, "the recognition model when none is given"),
        "verify_weights": Default(True, "DEEPFACE_BATCH_VERIFY_WEIGHTS", "check weight files against their sha256"),
        "yolo_half": Default(False, "DEEPFACE_BATCH_YOLO_HALF", "YOLO plugins in half precision"),
        "torch_threads": Default(0, "DEEPFACE_BATCH_TORCH_THREADS", "torch threads for the YOLO plugins (0: all)"),
        "save_seconds": Default(
            60, "DEEPFACE_BATCH_SAVE_SECONDS", "seconds between find's datastore saves (0: each file)"
        ),
        "disable": Default(False, "DEEPFACE_BATCH_DISABLE", "the import hook leaves deepface alone"),
    }
)


class ConfigError(ValueError):
    """An environment variable holds a value that cannot be read; ``name`` is the variable."""

    def __init__(self, name: str, value: str, expected: str):
        self.name = name
        self.value = value
        super().__init__(f"{name} must be {expected}, got {value!r}; set it so, or unset it")

    def __reduce__(self) -> tuple[Any, ...]:
        return _config_error, (self.name, self.value, str(self))


def _config_error(name: str, value: str, message: str) -> ConfigError:
    err = ConfigError.__new__(ConfigError)
    err.name, err.value = name, value
    ValueError.__init__(err, message)
    return err


def variable(name: str) -> str:
    """The environment variable that overrides the default ``name``.

    Raises:
        KeyError: ``name`` is not in :data:`DEFAULTS` or no variable overrides it.
    """
    found = DEFAULTS[name].variable
    if found is None:
        raise KeyError(f"no environment variable overrides the default {name!r}")
    return found


def default(name: str) -> Any:
    """The default ``name``: its environment variable, read now, when set; else the table's.

    Raises:
        ConfigError: the variable is set to a value that cannot be read.
        KeyError: ``name`` is not in :data:`DEFAULTS`.
    """
    entry = DEFAULTS[name]
    if entry.variable is None:
        return entry.value
    if isinstance(entry.value, bool):
        return flag(entry.variable, entry.value)
    if isinstance(entry.value, int):
        return integer(entry.variable, entry.value, minimum=entry.minimum)
    value = os.environ.get(entry.variable, "").strip()
    return value or entry.value


def flag(name: str, default: bool) -> bool:
    """A yes/no variable: 1/true/yes/on or 0/false/no/off (any case); unset or empty is
    ``default``."""
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise ConfigError(name, os.environ[name], "one of 1/true/yes/on or 0/false/no/off")


def integer(name: str, default: int, minimum: int = 0) -> int:
    """A whole-number variable of at least ``minimum``; unset or empty is ``default``."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        number = minimum - 1
    if number < minimum:
        expected = "a positive integer" if minimum == 1 else f"an integer of at least {minimum}"
        raise ConfigError(name, os.environ[name], expected)
    return number
