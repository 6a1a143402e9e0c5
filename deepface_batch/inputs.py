"""Every accepted input form, turned into ``(label, item)`` pairs and loaded images.

A single image is what upstream takes: a path (str or ``pathlib.Path``), a BGR numpy
array, a base64 data URI, a URL, or a binary file object. A batch is a list or tuple of
those, a 4-D array ``(N, H, W, 3)``, or any other iterable, which is consumed lazily.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterable, Iterator
from typing import Any, Optional

import numpy as np

from deepface_batch.errors import InvalidImageError, invalid_image_error

__all__ = [
    "Label",
    "check_image",
    "describe_item",
    "is_single",
    "iter_items",
    "known_length",
    "labelled",
    "labels",
    "load",
    "needs_reading",
    "redact",
]

#: how an error names its input: ``None`` for a single image (upstream's call, whose errors
#: name no position), else its index in the batch
Label = Optional[int]


def is_single(images: Any) -> bool:
    """Whether ``images`` is one image rather than a batch of them."""
    if isinstance(images, np.ndarray):
        return images.ndim != 4
    if isinstance(images, (str, bytes, os.PathLike)):
        return True
    if hasattr(images, "read") and callable(images.read):
        return True
    return not isinstance(images, Iterable)


def needs_reading(item: Any) -> bool:
    """Whether loading ``item`` is work a read-ahead thread can overlap: a path, URL,
    base64 string or file object is read and decoded; an array is used as it is."""
    return not isinstance(item, np.ndarray)


def known_length(images: Any) -> int | None:
    """The number of items in a batch, when it can be known without consuming it."""
    try:
        return len(images)
    except TypeError:
        return None


def iter_items(images: Any) -> Iterator[tuple[int, Any]]:
    """Enumerate a batch lazily; a 4-D array yields views of its frames."""
    if isinstance(images, np.ndarray):
        if images.ndim != 4:
            raise InvalidImageError(None, f"expected a batch array of shape (N, H, W, C), got shape {images.shape}")
        return enumerate(images[i] for i in range(images.shape[0]))
    if isinstance(images, dict):
        raise InvalidImageError(None, "expected an image or an iterable of images, got a dict")
    return enumerate(images)


def labels(single: bool) -> Iterator[Label]:
    """The labels of a call's inputs, in order: ``None`` once for a single image."""
    return iter([None]) if single else itertools.count()


def labelled(images: Any) -> Iterator[tuple[Label, Any]]:
    """``(label, item)`` for each input of a call: the one place a label is decided."""
    if is_single(images):
        return iter([(None, images)])
    return iter_items(images)


def check_image(index: int | None, img: Any) -> np.ndarray:
    """Reject what upstream's ``extract_faces`` cannot take, naming the index.

    The rule is upstream's, not a stricter one: it reads ``height, width, _ = img.shape``
    and nothing more, so any H x W x C array passes here (a 4-channel image, an empty
    one); what a detector then makes of it is that image's result or error, as upstream.
    """
    if not isinstance(img, np.ndarray):
        raise InvalidImageError(index, f"expected a numpy array image, got {type(img).__name__}")
    if img.ndim != 3:
        raise InvalidImageError(index, f"expected an H x W x 3 image, got shape {img.shape}")
    return img


def redact(text: str) -> str:
    """``text`` with the credentials of any URL in it replaced by ``***``."""
    return _CREDENTIALS.sub(r"\1***@", text)


_CREDENTIALS = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")


def describe_item(item: Any) -> str:
    """A short name for an input item in an error message (a URL's credentials left out)."""
    if isinstance(item, (str, os.PathLike)):
        text = os.fspath(item)
        if isinstance(text, bytes):
            text = text.decode(errors="replace")
        if text.startswith("data:image/"):
            return "base64 image"
        text = redact(text)
        return repr(text if len(text) <= 200 else text[:200] + "...")
    if isinstance(item, np.ndarray):
        return f"array of shape {item.shape}"
    return type(item).__name__


def load(index: int | None, item: Any, loader: Any) -> tuple[np.ndarray, str]:
    """Load one item with upstream's loader and check it.

    Args:
        index: the item's position in the batch (``None`` for a single image).
        item: the input item.
        loader: the compat layer's ``load_image``.

    Raises:
        InvalidImageError: naming the index and, for a path, the path; also an instance
            of the class upstream's loader raised (``ImgNotFound`` for a missing file).
    """
    try:
        img, img_name = loader(item)
    except InvalidImageError:
        raise
    except Exception as err:
        reason = f"cannot read image {describe_item(item)}: {redact(str(err))}"
        raise invalid_image_error(index, reason, type(err)) from err
    return check_image(index, img), img_name
