"""Post-import hook that batches deepface without an explicit import of deepface_batch.

``deepface_batch.pth`` imports this module at interpreter start. It must cost nothing
measurable there: it imports only ``os`` and ``sys``, never deepface or deepface_batch,
and does its work only when a deepface module that deepface_batch patches finishes
loading. Set ``DEEPFACE_BATCH_DISABLE=1`` to turn it off.
"""

from __future__ import annotations

import os
import sys

# Modules whose attributes deepface_batch wraps, as deepface's own callers look them up.
TARGETS = frozenset(
    {
        "deepface.modules.detection",
        "deepface.modules.representation",
        "deepface.modules.demography",
        "deepface.modules.recognition",
        "deepface.modules.datastore",
    }
)
DISABLE_ENV = "DEEPFACE_BATCH_DISABLE"


def disabled() -> bool:
    """Whether the user opted out with DEEPFACE_BATCH_DISABLE."""
    return os.environ.get(DISABLE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


class _PatchingLoader:
    """Wraps a target module's loader: run the module, then patch what it defines."""

    def __init__(self, loader):
        self._loader = loader

    def __getattr__(self, name):
        return getattr(self._loader, name)

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        if disabled():
            return
        try:
            from importlib import import_module

            # the submodule, not the patch() function deepface_batch exports
            import_module("deepface_batch.patching").patch_module(module.__name__)
        except Exception as err:  # never break the user's import of deepface
            import warnings

            warnings.warn(f"deepface_batch could not patch {module.__name__}: {err}", stacklevel=2)


class _Finder:
    """A meta-path finder that only looks at deepface_batch's target modules."""

    _busy = False

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in TARGETS or self._busy:
            return None
        self._busy = True
        try:
            from importlib.util import find_spec

            spec = find_spec(fullname)
        finally:
            self._busy = False
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _PatchingLoader(spec.loader)
        return spec


def install() -> None:
    """Register the hook once; a no-op when disabled or already installed."""
    if disabled() or any(isinstance(f, _Finder) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _Finder())
