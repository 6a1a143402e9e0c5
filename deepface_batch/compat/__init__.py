"""One module per deepface layout deepface_batch supports.

Each module offers the same functions, built on that deepface version's own helpers, so
that the engine never reaches into deepface directly. ``get()`` returns the module for
the installed deepface, or raises :class:`UnsupportedDeepfaceVersion` naming what to do.
"""

from __future__ import annotations

import importlib
from importlib import metadata
from types import ModuleType

from deepface_batch.errors import UnsupportedDeepfaceVersion

# deepface version -> compat module. 0.0.103 is the current release.
SUPPORTED: dict[str, str] = {
    "0.0.103": "deepface_batch.compat.v0_0_103",
}

_cached: ModuleType | None = None


def installed_version() -> str | None:
    """The installed deepface version, read without importing deepface."""
    try:
        return metadata.version("deepface")
    except metadata.PackageNotFoundError:
        return None


def check_version(version: str | None = None) -> str:
    """Return the compat module path for ``version`` or raise with what to do."""
    version = installed_version() if version is None else version
    if version is None:
        raise UnsupportedDeepfaceVersion(
            "deepface is not installed; install a supported version with: "
            f"pip install deepface=={max(SUPPORTED)}"
        )
    if version not in SUPPORTED:
        raise UnsupportedDeepfaceVersion(
            f"deepface {version} is not supported by deepface_batch; supported: "
            f"{', '.join(sorted(SUPPORTED))}. Install one with: "
            f"pip install deepface=={max(SUPPORTED)}"
        )
    return SUPPORTED[version]


def get() -> ModuleType:
    """The compat module for the installed deepface (imported once)."""
    global _cached  # pylint: disable=global-statement
    if _cached is None:
        _cached = importlib.import_module(check_version())
    return _cached
