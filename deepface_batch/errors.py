"""Exceptions raised by deepface_batch. Each message names the thing, what was found and
what to do."""

from __future__ import annotations

__all__ = [
    "BatchModeError",
    "DeepfaceBatchError",
    "DetectorNameTakenError",
    "DetectorUnavailableError",
    "InputSourceError",
    "InvalidImageError",
    "PluginValidationError",
    "UnknownDetectorError",
    "UnsupportedDeepfaceVersion",
    "WeightFileError",
    "invalid_image_error",
]


class DeepfaceBatchError(Exception):
    """Base class of deepface_batch's own errors."""


class UnsupportedDeepfaceVersion(DeepfaceBatchError, RuntimeError):
    """The installed deepface is not one deepface_batch has a compat layer for."""


class UnknownDetectorError(DeepfaceBatchError, ValueError):
    """No plugin is registered under the requested detector backend name."""


class DetectorUnavailableError(DeepfaceBatchError, RuntimeError):
    """A registered detector cannot run here: a package or weight file is missing.

    Attributes:
        requirement: the missing package (a :class:`deepface_batch.plugin.Requirement`,
            whose ``install`` is the pip command's arguments), or ``None`` where something
            else is missing.
    """

    def __init__(self, message: str, requirement: object = None):
        self.requirement = requirement
        super().__init__(message)

    def __reduce__(self):  # keep ``requirement`` across pickling (process pools)
        return (type(self), (str(self), self.requirement))


class BatchModeError(DeepfaceBatchError, ValueError):
    """The requested batch mode is not one the detector offers."""


class PluginValidationError(DeepfaceBatchError, TypeError):
    """A plugin failed validation when it was registered.

    Attributes:
        plugin: the offending object, as it was given (a class, an instance, anything);
            ``None`` where the error was raised without one.
    """

    def __init__(self, message: str, plugin: object = None):
        # keyword-compatible with the old one-argument form; pluggy's error carries
        # ``.plugin`` the same way, so callers can report or unregister the culprit
        self.plugin = plugin
        super().__init__(message)


class InvalidImageError(DeepfaceBatchError, ValueError):
    """One input item could not be used as an image; ``index`` says which.

    Where upstream's loader raised for the item, the error is also an instance of that
    exception's class (see :func:`invalid_image_error`), so ``except ImgNotFound`` still
    catches a missing file.
    """

    def __init__(self, index: int | None, reason: str):
        self.index = index
        self.reason = reason
        prefix = f"item {index}: " if index is not None else ""
        super().__init__(prefix + reason)

    def __reduce__(self) -> tuple:
        # the default rebuilds from ``args`` (the message alone), which __init__ refuses;
        # a combined class is rebuilt from upstream's class, which pickles by name
        upstream = next((c for c in type(self).__mro__ if c in _UPSTREAM_OF.values()), None)
        return (_rebuild_invalid_image, (upstream, self.index, self.reason))


#: combined class -> the upstream exception class it also is
_UPSTREAM_OF: dict[type, type] = {}
_COMBINED: dict[type, type] = {}


def invalid_image_error(
    index: int | None, reason: str, upstream: type[BaseException] | None = None
) -> InvalidImageError:
    """An :class:`InvalidImageError` that is also an instance of ``upstream`` where the two
    classes can be combined (any ``ValueError`` can; an ``OSError`` cannot)."""
    cls: type = InvalidImageError
    if upstream is not None and not issubclass(InvalidImageError, upstream):
        cls = _COMBINED.get(upstream) or InvalidImageError
        if upstream not in _COMBINED:
            try:
                cls = type(upstream.__name__, (InvalidImageError, upstream), {})
                cls.__module__ = __name__
                cls.__qualname__ = f"InvalidImageError[{upstream.__qualname__}]"
            except TypeError:  # incompatible instance layouts
                cls = InvalidImageError
            _COMBINED[upstream] = cls
            _UPSTREAM_OF[cls] = upstream
    return cls(index, reason)


def _rebuild_invalid_image(upstream: type[BaseException] | None, index: int | None, reason: str) -> InvalidImageError:
    return invalid_image_error(index, reason, upstream)


class InputSourceError(DeepfaceBatchError):
    """The input iterable itself raised; every item read before it was processed.

    With ``errors="return"`` it takes the slot of the item the iterable failed to give
    (``index``), after the results of the items before it, and the run ends there.
    ``error`` (also ``__cause__``) is what the iterable raised.
    """

    def __init__(self, index: int, error: BaseException):
        self.index = index
        self.error = error
        super().__init__(
            f"item {index}: the input raised {type(error).__name__} before giving this "
            f"item: {error}; the {index} items before it were processed"
        )
        self.__cause__ = error

    def __reduce__(self) -> tuple:
        return (type(self), (self.index, self.error))


class DetectorNameTakenError(DeepfaceBatchError, ValueError):
    """A plugin was registered under a backend name that is taken, without ``clobber``.

    A ``ValueError`` as well, as the registry raised before this class existed.

    Attributes:
        name: the backend name that is taken.
    """

    def __init__(self, name: str, message: str | None = None):
        self.name = name
        super().__init__(message or f"detector backend '{name}' is already registered; pass clobber=True to replace it")

    def __reduce__(self) -> tuple:
        # the default would call cls(message), putting the message in ``name``
        return type(self), (self.name, str(self))


class WeightFileError(DetectorUnavailableError):
    """A weight file cannot be used: damaged, cut short, or another model's file.

    Raised once, when the plugin loads the file, not for every image. ``path`` is the
    file (the first one named, where the message names several).
    """

    def __init__(self, message: str, path: str | None = None):
        self.path = path
        super().__init__(message)

    def __reduce__(self) -> tuple:
        # the default would rebuild from the message alone and lose ``path``
        return type(self), (str(self), self.path)
