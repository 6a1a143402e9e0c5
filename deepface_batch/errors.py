"""Exceptions raised by deepface_batch. Each message names the thing, what was found and
what to do."""

from __future__ import annotations


class DeepfaceBatchError(Exception):
    """Base class of deepface_batch's own errors."""


class UnsupportedDeepfaceVersion(DeepfaceBatchError, RuntimeError):
    """The installed deepface is not one deepface_batch has a compat layer for."""


class UnknownDetectorError(DeepfaceBatchError, ValueError):
    """No plugin is registered under the requested detector backend name."""


class DetectorUnavailableError(DeepfaceBatchError, RuntimeError):
    """A registered detector cannot run here: a package or weight file is missing."""


class BatchModeError(DeepfaceBatchError, ValueError):
    """The requested batch mode is not one the detector offers."""


class PluginValidationError(DeepfaceBatchError, TypeError):
    """A plugin failed validation when it was registered."""


class InvalidImageError(DeepfaceBatchError, ValueError):
    """One input item could not be used as an image; ``index`` says which."""

    def __init__(self, index: int | None, reason: str):
        self.index = index
        self.reason = reason
        prefix = f"item {index}: " if index is not None else ""
        super().__init__(prefix + reason)
