"""Ray Data: the same batched detection and embedding over a cluster, one row per face.

``pip install 'deepface-batch[ray]'``. Ray Data does the scheduling, the queues and the
workers; this module gives it callable classes for ``Dataset.map_batches``, which load
their plugin (and recognition model) once per actor and run the package's own batched
engine on each batch, and a helper that wires a folder, a list of paths or a Parquet of
paths to a Dataset of faces::

    import deepface_batch.ray as dfr
    faces = dfr.faces_dataset("photos/", detector_backend="centerface", model_name="Facenet",
                              concurrency=2)
    faces.write_parquet("faces/")

Rows are :mod:`deepface_batch.records` records (``source`` is the input's path): one per
face, or one with ``status`` ``"no_face"`` or ``"error"`` (and the error's message) for
an input without a face or one that failed. Nothing is dropped, and the rows equal the
local ``deepface_batch.extract_faces`` / ``represent`` results on the same inputs.

Input batches may carry an ``image`` column (arrays, RGB as ``ray.data.read_images``
gives them; ``channels="bgr"`` for arrays already BGR), a ``bytes`` column (encoded files,
as ``ray.data.read_binary_files(..., include_paths=True)`` gives them: decoded per row,
so a corrupt file is that row's error) or only a ``path`` column (loaded on the worker by
upstream's loader: paths every worker can read).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from deepface_batch import records

if TYPE_CHECKING:
    from deepface_batch.jobs import JobOptions

__all__ = ["EXTENSIONS", "DetectFaces", "EmbedFaces", "RaySummary", "faces_dataset", "paths_dataset", "run_job"]

#: image extensions read from a folder (as the command's folder walk)
EXTENSIONS = ["jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff"]


class _Undecodable:
    def __init__(self, error: Exception):
        self.error = error


def _decode(data: Any) -> Any:
    import cv2

    try:
        array = np.frombuffer(bytes(data), np.uint8)
        image = cv2.imdecode(array, cv2.IMREAD_COLOR) if array.size else None
    except Exception as err:
        return _Undecodable(err)
    if image is None:
        return _Undecodable(ValueError("the file could not be decoded as an image"))
    return image


class DetectFaces:
    """``Dataset.map_batches`` callable: faces found in each row's image.

    Args:
        detector_backend, enforce_detection, align, expand_percentage, max_faces,
            detect_without_border: as for
            :func:`deepface_batch.extract_faces`.
        batch_size: images per detector call inside the actor (default: the Ray batch).
        channels: ``"rgb"`` (``read_images``' arrays) or ``"bgr"`` for an ``image``
            column.
        min_confidence: faces below it are left out (an input left without any gives a
            ``no_face`` row).
        actions: ``analyze``'s actions: each face's attributes in its row too
            (:func:`deepface_batch.analyze`; with a model, represent's one pass).
    """

    model_name: str | None = None

    def __init__(
        self,
        detector_backend: str = "opencv",
        enforce_detection: bool = False,
        align: bool = True,
        expand_percentage: int = 0,
        max_faces: int | None = None,
        detect_without_border: bool = False,
        batch_size: int | None = None,
        channels: str = "rgb",
        min_confidence: float = 0.0,
        actions: Sequence[str] | None = None,
    ) -> None:
        from deepface_batch import analysis, registry

        if channels not in ("rgb", "bgr"):
            raise ValueError(f"channels must be 'rgb' or 'bgr', got {channels!r}")
        self.kwargs: dict[str, Any] = {
            "detector_backend": detector_backend,
            "enforce_detection": enforce_detection,
            "align": align,
            "expand_percentage": expand_percentage,
            "max_faces": max_faces,
            "detect_without_border": detect_without_border,
        }
        self.batch_size = batch_size
        self.channels = channels
        self.min_confidence = min_confidence
        plugin = registry.get_detector(detector_backend)  # once per actor
        plugin.prepare()
        self.actions = analysis.prepare_actions(actions) if actions else None  # the models too

    def _inputs(self, batch: dict[str, Any]) -> tuple[list[str], list[Any]]:
        if "image" in batch:
            images = [np.asarray(image) for image in batch["image"]]
            if self.channels == "rgb":
                images = [np.ascontiguousarray(image[:, :, ::-1]) if image.ndim == 3 else image for image in images]
            items: list[Any] = images
        elif "bytes" in batch:
            items = [_decode(data) for data in batch["bytes"]]
        elif "path" in batch:
            items = [str(path) for path in batch["path"]]
        else:
            raise KeyError(f"a batch needs an 'image', 'bytes' or 'path' column; it has {sorted(batch)}")
        count = len(items)
        paths = [str(p) for p in batch["path"]] if "path" in batch else [f"row {n}" for n in range(count)]
        return paths, items

    def _results(self, items: list[Any]) -> list[Any]:
        good = [n for n, item in enumerate(items) if not isinstance(item, _Undecodable)]
        out: list[Any] = [item.error if isinstance(item, _Undecodable) else None for item in items]
        if good:
            found = self._run([items[n] for n in good])
            for n, result in zip(good, found):
                out[n] = result
        return out

    def _run(self, images: list[Any]) -> list[Any]:
        import deepface_batch

        size = self.batch_size or max(1, len(images))
        if self.actions:
            return deepface_batch.analyze(images, actions=self.actions, batch_size=size, errors="return", **self.kwargs)
        return deepface_batch.extract_faces(images, batch_size=size, errors="return", **self.kwargs)

    def __call__(self, batch: dict[str, Any]) -> Any:
        import pyarrow as pa

        paths, items = self._inputs(batch)
        rows: list[dict[str, Any]] = []
        for path, result in zip(paths, self._results(items)):
            rows += records.from_result(result, path, min_confidence=self.min_confidence)
        schema = records.parquet_schema(self.embedding_size(), self.actions)
        return pa.Table.from_pylist([{k: r.get(k) for k in schema.names} for r in rows], schema=schema)

    def embedding_size(self) -> int | None:
        return None


class EmbedFaces(DetectFaces):
    """``Dataset.map_batches`` callable: faces and their embeddings (``represent``).

    Args:
        model_name, normalization, l2_normalize: as for :func:`deepface_batch.represent`;
            the others as for :class:`DetectFaces`.
    """

    def __init__(
        self,
        model_name: str = "VGG-Face",
        normalization: str = "base",
        l2_normalize: bool = False,
        **options: Any,
    ) -> None:
        from deepface_batch import embedding

        super().__init__(**options)
        self.model_name = model_name
        self.represent_kwargs: dict[str, Any] = {
            "model_name": model_name,
            "normalization": normalization,
            "l2_normalize": l2_normalize,
        }
        self.embedder = embedding.get_embedder(model_name)  # once per actor

    def embedding_size(self) -> int | None:
        return self.embedder.size

    def _run(self, images: list[Any]) -> list[Any]:
        import deepface_batch

        return deepface_batch.represent(
            images,
            batch_size=self.batch_size or max(1, len(images)),
            errors="return",
            actions=self.actions,
            **self.kwargs,
            **self.represent_kwargs,
        )


def paths_dataset(source: str | Path | Sequence[str]) -> Any:
    """A Dataset of input rows: a folder (its images, recursively, read as bytes with their
    paths), a Parquet file or folder with a ``path`` column, or a list of paths."""
    import ray.data

    if isinstance(source, (str, Path)):
        path = Path(source)
        if path.suffix == ".parquet" or (path.is_dir() and any(path.glob("*.parquet"))):
            return ray.data.read_parquet(str(path), columns=["path"])
        if path.is_dir():
            return ray.data.read_binary_files(str(path), include_paths=True, file_extensions=EXTENSIONS)
        source = [str(path)]
    return ray.data.from_items([{"path": str(p)} for p in source])


def faces_dataset(
    source: str | Path | Sequence[str] | Any,
    *,
    model_name: str | None = None,
    batch_size: int = 32,
    concurrency: int | tuple[int, int] = 1,
    num_gpus: float = 0,
    num_cpus: float | None = None,
    **options: Any,
) -> Any:
    """A Dataset of faces, one row per face (or per faceless or failed input).

    Args:
        source: a folder, a Parquet of paths, a list of paths, or a Ray Dataset with an
            ``image``, ``bytes`` or ``path`` column.
        model_name: a recognition model: embeddings too (``represent``); ``None``: detection.
        batch_size: rows per actor call.
        concurrency: actors (or ``(min, max)`` for autoscaling); one per GPU fills a
            multi-GPU machine with ``num_gpus=1``.
        num_gpus, num_cpus: per actor.
        options: :class:`DetectFaces` / :class:`EmbedFaces` arguments
            (``detector_backend``, ``align``, ...).
    """
    import ray.data

    dataset = source if isinstance(source, ray.data.Dataset) else paths_dataset(source)
    udf = EmbedFaces if model_name else DetectFaces
    constructor = dict(options, model_name=model_name) if model_name else dict(options)
    if isinstance(concurrency, tuple):
        compute = ray.data.ActorPoolStrategy(min_size=concurrency[0], max_size=concurrency[1])
    else:
        compute = ray.data.ActorPoolStrategy(size=concurrency)
    return dataset.map_batches(
        udf,
        fn_constructor_kwargs=constructor,
        batch_size=batch_size,
        batch_format="numpy",
        compute=compute,
        num_gpus=num_gpus,
        **({"num_cpus": num_cpus} if num_cpus is not None else {}),  # type: ignore[arg-type]
    )


@dataclass
class RaySummary:
    """What a :func:`run_job` did: inputs, rows written, rows that are errors, and time."""

    inputs: int
    rows: int
    failed: int
    output: str
    seconds: float

    def line(self) -> str:
        """One line for the end of a run."""
        return (
            f"{self.inputs} inputs on Ray Data, {self.rows} rows ({self.failed} failed) in {self.output}; "
            f"{self.seconds:.1f} s"
        )


def run_job(
    paths: Sequence[str],
    output: str | Path,
    options: JobOptions,
    address: str | None = None,
    actors: int = 1,
    gpus: float = 0,
    log_to_driver: bool = True,
) -> RaySummary:
    """``deepface-batch extract|represent --ray``: the inputs on Ray Data, the rows written
    to ``output`` as a folder of Parquet files.

    Args:
        paths: image files, folders and globs (expanded as the command expands them).
        output: the folder ``write_parquet`` fills.
        options: the job's options (``options.model`` for embeddings).
        address: a cluster's address; ``None`` starts a local one.
        actors, gpus: actors, and GPUs per actor.
        log_to_driver: the workers' logs on this process's stderr.
    """
    import ray

    from deepface_batch import jobs

    start = time.perf_counter()
    ray.init(address=address, ignore_reinit_error=True, include_dashboard=False, log_to_driver=log_to_driver)
    try:
        files = jobs.expand_paths(paths)
        faces = faces_dataset(
            files,
            model_name=options.model,
            batch_size=options.size,
            concurrency=actors,
            num_gpus=gpus,
            detector_backend=options.detector,
            enforce_detection=options.enforce_detection,
            align=options.align,
            expand_percentage=options.expand_percentage,
            max_faces=options.max_faces,
            detect_without_border=options.detect_without_border,
            min_confidence=options.min_confidence,
            channels="bgr",
            actions=options.actions,
        )
        faces.write_parquet(str(output))
    finally:
        ray.shutdown()
    rows = list(records.read_parquet_folder(output))
    failed = sum(r["status"] == records.ERROR for r in rows)
    return RaySummary(len(files), len(rows), failed, str(output), time.perf_counter() - start)
