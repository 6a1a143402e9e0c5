"""Chunking by ``batch_size``, grouping by shape, prefetching, results back in order.

Memory is bounded by ``batch_size``: at most the batch being detected and the next one
being loaded are held, whatever the length of the input.
"""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import islice
from typing import Any, Callable, Iterable, Iterator, Sequence, TypeVar

import numpy as np

T = TypeVar("T")
R = TypeVar("R")


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of at most ``size`` items, consuming ``items`` lazily."""
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {size!r}")
    iterator = iter(items)
    while True:
        chunk = list(islice(iterator, size))
        if not chunk:
            return
        yield chunk


def prefetched(
    batches: Iterator[list[T]], load: Callable[[list[T]], R], enabled: bool = True
) -> Iterator[R]:
    """``load`` each batch, loading the next one in a thread while the caller works.

    Image decoding (cv2.imread, base64) releases the GIL, so reading batch k+1 overlaps
    detecting batch k. Only one batch is read ahead, which keeps memory bounded.
    """
    if not enabled:
        for batch in batches:
            yield load(batch)
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="deepface-batch-load") as pool:
        pending: Future[R] | None = None
        for batch in batches:
            following = pool.submit(load, batch)
            if pending is not None:
                yield pending.result()
            pending = following
        if pending is not None:
            yield pending.result()


def group_by_shape(images: Sequence[np.ndarray]) -> dict[tuple[int, ...], list[int]]:
    """Positions of the images that share a shape, for plugins that batch equal shapes.

    Padding every image to the largest one changes what a detector sees (the mtcnn
    package does that, and runs 3.5 times slower on a mixed set), so equal shapes go
    together and nothing is padded.
    """
    groups: dict[tuple[int, ...], list[int]] = defaultdict(list)
    for position, image in enumerate(images):
        groups[tuple(image.shape)].append(position)
    return dict(groups)


#: pixels one forward pass may take: a detector's activations grow with them, and
#: ``align=True`` doubles both sides of every image before detection
MAX_PIXELS_PER_PASS = 16 * 1280 * 960


def run_grouped(
    images: Sequence[np.ndarray],
    forward: Callable[[list[np.ndarray]], list[Any]],
    max_pixels: int = MAX_PIXELS_PER_PASS,
    max_images: int | None = None,
) -> list[Any]:
    """Call ``forward`` once per same-shape group and put the results back in order.

    A group larger than ``max_pixels`` (or than ``max_images`` images) is split, so that
    memory stays bounded for large images whatever the ``batch_size``.
    """
    results: list[Any] = [None] * len(images)
    for shape, positions in group_by_shape(images).items():
        per_pass = max(1, max_pixels // max(1, shape[0] * shape[1]))
        if max_images:
            per_pass = min(per_pass, max_images)
        for part in chunks(positions, per_pass):
            outputs = forward([images[p] for p in part])
            if len(outputs) != len(part):
                raise RuntimeError(
                    f"a batched forward pass returned {len(outputs)} results for "
                    f"{len(part)} images"
                )
            for position, output in zip(part, outputs):
                results[position] = output
    return results


class Progress:
    """Progress on long runs: a tqdm bar, a callable, or nothing.

    Args:
        progress: ``True`` for a tqdm bar, a callable taking ``(done, total)``, or a
            false value for none.
        total: the number of inputs when known.
        desc: the bar's label.
    """

    def __init__(self, progress: Any, total: int | None, desc: str):
        self._callback: Callable[[int, int | None], Any] | None = None
        self._bar: Any = None
        self.total = total
        self.done = 0
        if callable(progress):
            self._callback = progress
        elif progress:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=desc, unit="img")

    def update(self, count: int) -> None:
        """Record ``count`` more inputs done."""
        self.done += count
        if self._bar is not None:
            self._bar.update(count)
        if self._callback is not None:
            self._callback(self.done, self.total)

    def close(self) -> None:
        """Close the bar, if any."""
        if self._bar is not None:
            self._bar.close()
