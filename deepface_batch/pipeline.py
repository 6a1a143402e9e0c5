"""Chunking by ``batch_size``, prefetching, progress.

Memory is bounded by ``batch_size``: at most the batch being detected and the next one
being loaded are held, whatever the length of the input.

Two promises a long run depends on:

* **What was read is finished.** When the input iterable raises part-way, the items read
  before it still go through; :class:`SourceError` comes after them, carrying what the
  iterable raised.
* **Leaving is prompt.** The read-ahead runs on a daemon thread that nobody waits for: a
  ``break``, an exception or Ctrl-C returns control at once, even while the thread is
  stuck on a URL that never answers (it finishes, or not, on its own; the interpreter
  does not wait for it at exit).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any, Generic, TypeVar

import numpy as np

__all__ = ["Progress", "SourceError", "check_batch_size", "chunks", "prefetched"]

T = TypeVar("T")
R = TypeVar("R")


class SourceError(Exception):
    """The input iterable raised while it was being read.

    Attributes:
        error: what the iterable raised.
        consumed: how many items it had given before it raised.
    """

    def __init__(self, error: Exception, consumed: int) -> None:
        super().__init__(f"the input raised {type(error).__name__} after {consumed} items: {error}")
        self.error = error
        self.consumed = consumed


def check_batch_size(size: Any) -> int:
    """``size`` if it is a positive integer, else a ValueError naming what was given."""
    if not isinstance(size, (int, np.integer)) or isinstance(size, (bool, np.bool_)) or size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {size!r}")
    return int(size)


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of at most ``size`` items, consuming ``items`` lazily.

    Raises:
        SourceError: after the items read before it, when ``items`` itself raises.
    """
    size = check_batch_size(size)
    iterator = iter(items)
    consumed = 0
    while True:
        chunk: list[T] = []
        try:
            chunk.extend(islice(iterator, size))
        except Exception as err:
            # islice adds to ``chunk`` item by item: what it gave before raising is kept
            consumed += len(chunk)
            if chunk:
                yield chunk
            raise SourceError(err, consumed) from err
        if not chunk:
            return
        consumed += len(chunk)
        yield chunk


class _Background(Generic[R]):
    """``load(batch)`` on a daemon thread; ``result()`` waits for it, interruptibly."""

    def __init__(self, load: Callable[[Any], R], batch: Any) -> None:
        self._done = threading.Event()
        self._value: Any = None
        self._error: BaseException | None = None
        threading.Thread(target=self._run, args=(load, batch), name="deepface-batch-load", daemon=True).start()

    def _run(self, load: Callable[[Any], R], batch: Any) -> None:
        try:
            self._value = load(batch)
        except BaseException as err:
            self._error = err
        finally:
            batch = None  # errors made below keep this frame: not its batch
            self._done.set()

    def result(self) -> R:
        # Event.wait lets Ctrl-C through while it waits, and nothing joins the thread
        # afterwards (an executor's shutdown would wait for a load stuck on a dead server)
        # in short waits: a Ctrl-C that the kernel hands to another thread (OpenMP's,
        # the loader's) only sets a flag, which the main thread reads between waits
        while not self._done.wait(0.05):
            pass
        if self._error is not None:
            raise self._error
        value, self._value = self._value, None
        return value


def prefetched(
    batches: Iterator[list[T]],
    load: Callable[[list[T]], R],
    enabled: bool = True,
    worth: Callable[[list[T]], bool] | None = None,
) -> Iterator[R]:
    """``load`` each batch, loading the next one in a thread while the caller works.

    Image decoding (cv2.imread, base64) releases the GIL, so reading batch k+1 overlaps
    detecting batch k. Only one batch is read ahead, which keeps memory bounded: after a
    ``break``, the input has been read at most two batches past the last result given.

    Args:
        batches: the batches to load, in order.
        load: what loading a batch is.
        enabled: read ahead at all (``prefetch=``).
        worth: whether loading a batch is work a thread can overlap (reading files,
            fetching URLs); a batch it says is not (arrays already in memory) is loaded
            in the caller's thread when its turn comes, with no thread started: a thread
            would only contend with a detector that keeps every core busy.

    Raises:
        SourceError: when the input raises, after every batch read before it is given.
    """
    iterator = iter(batches)
    pending: _Background[R] | None = None
    while True:
        try:
            batch = next(iterator)
        except StopIteration:
            break
        except SourceError:
            if pending is not None:
                yield pending.result()  # finish what was read, then report the source
            raise
        if not enabled or (worth is not None and not worth(batch)):
            if pending is not None:
                yield pending.result()
                pending = None
            yield load(batch)
            continue
        following = _Background(load, batch)
        if pending is not None:
            yield pending.result()
        pending = following
    if pending is not None:
        yield pending.result()


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
