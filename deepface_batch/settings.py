"""The environment variables deepface-batch reads, in one place, with one parser.

Arguments come first: ``batch_size=`` on every call, ``deepface_batch.patch(batch_size=...,
errors=...)`` for the patched deepface functions, and plugin options on the plugin
(``register_detector(YoloPlugin(half=True), clobber=True)``). These variables are the
fallback for what a program does not set in code; a value that cannot be read is an error
naming the variable, never silently the default.

======================================  =========  =====================================
variable                                default    meaning
======================================  =========  =====================================
``DEEPFACE_BATCH_SIZE``                 32         images per batch when none is given
``DEEPFACE_BATCH_VERIFY_WEIGHTS``       on         check weight files against sha256
``DEEPFACE_BATCH_YOLO_HALF``            off        YOLO plugins in half precision
``DEEPFACE_BATCH_TORCH_THREADS``        0 (all)    torch threads for the YOLO plugins
``DEEPFACE_BATCH_DISABLE``              off        the import hook leaves deepface alone
======================================  =========  =====================================

``DEEPFACE_BATCH_DISABLE`` is read by the import hook (``src-hook/deepface_batch_hook.py``),
which runs at interpreter start and must not import this package; it parses the value the
same way (a test holds the two parsers to each other). Upstream's own variables
(``YOLO_MIN_DETECTION_CONFIDENCE``, ``CENTERFACE_THRESHOLD``) are read where upstream reads
them, as upstream reads them.
"""

from __future__ import annotations

import os

BATCH_SIZE = "DEEPFACE_BATCH_SIZE"
VERIFY_WEIGHTS = "DEEPFACE_BATCH_VERIFY_WEIGHTS"
YOLO_HALF = "DEEPFACE_BATCH_YOLO_HALF"
TORCH_THREADS = "DEEPFACE_BATCH_TORCH_THREADS"
DISABLE = "DEEPFACE_BATCH_DISABLE"

TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off"})


class SettingError(ValueError):
    """An environment variable holds a value that cannot be read; ``name`` is the variable."""

    def __init__(self, name: str, value: str, expected: str):
        self.name = name
        self.value = value
        super().__init__(f"{name} must be {expected}, got {value!r}; set it so, or unset it")

    def __reduce__(self) -> tuple:
        return _setting_error, (self.name, self.value, str(self))


def _setting_error(name: str, value: str, message: str) -> SettingError:
    err = SettingError.__new__(SettingError)
    err.name, err.value = name, value
    ValueError.__init__(err, message)
    return err


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
    raise SettingError(name, os.environ[name], "one of 1/true/yes/on or 0/false/no/off")


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
        raise SettingError(name, os.environ[name], expected)
    return number
