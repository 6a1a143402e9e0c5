"""One flat record per face, and the files they go to: JSONL, CSV and Parquet.

The records are what the ``deepface-batch`` command writes and what a user's own loop can
write with the same code::

    from deepface_batch import records
    with records.open_writer("faces.jsonl") as out:
        for path, faces in zip(paths, deepface_batch.iter_extract_faces(paths, errors="return")):
            out.write(records.from_result(faces, source=path))

An input without a face, or one that failed, is one record saying so (``status``
``"no_face"`` or ``"error"``, with the error's message): nothing is dropped. Every writer
flushes what it was given at each :meth:`Writer.write`, so a run stopped by Ctrl-C or a
crash leaves a file that holds every batch written before it (:func:`done_keys` reads it
back for ``--resume``).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

from deepface_batch.comparison import LANDMARKS

__all__ = [
    "ERROR",
    "FACE",
    "ACTIONS",
    "FIELDS",
    "NO_FACE",
    "CsvWriter",
    "JsonlWriter",
    "ParquetWriter",
    "Writer",
    "attribute_fields",
    "done_keys",
    "format_of",
    "from_result",
    "key",
    "open_writer",
    "parquet_schema",
    "read",
    "read_parquet_folder",
    "repair",
]

#: every record's fields, in the order files hold them (``embedding`` only for represent)
FIELDS = (
    "source",
    "frame",
    "timestamp",
    "face",
    "status",
    "x",
    "y",
    "w",
    "h",
    *LANDMARKS,
    "confidence",
    "error",
)

FACE, NO_FACE, ERROR = "face", "no_face", "error"

#: ``analyze``'s actions, and the fields each adds to a record: the dominant value and, but
#: for ``age`` (one number), the scores by label (percentages, as upstream gives them)
ACTIONS = ("emotion", "age", "gender", "race")


def attribute_fields(actions: Sequence[str] | None) -> list[str]:
    """The record fields ``actions`` add, in :data:`ACTIONS`' order, each action once."""
    wanted = set(actions or ())
    fields: list[str] = []
    for action in ACTIONS:
        if action in wanted:
            fields += [action] if action == "age" else [action, f"{action}_scores"]
    return fields


_ITEM = re.compile(r"^item \d+: ")


def _point(value: Any) -> list[int] | None:
    return None if value is None else [int(v) for v in value]


def _base(source: str, frame: int | None, timestamp: float | None) -> dict[str, Any]:
    record: dict[str, Any] = dict.fromkeys(FIELDS)
    record.update(source=source, frame=frame, timestamp=timestamp)
    return record


def from_result(
    result: list[dict[str, Any]] | BaseException,
    source: str,
    frame: int | None = None,
    timestamp: float | None = None,
    min_confidence: float = 0.0,
) -> list[dict[str, Any]]:
    """The records of one input's ``extract_faces`` or ``represent`` result.

    Args:
        result: the list of face dicts (either function's) or the exception it gave.
        source: the input's name (a path, a video's path).
        frame, timestamp: the frame's index and time in seconds, for a video frame.
        min_confidence: faces below it are left out; an input left without any is one
            ``no_face`` record.

    Returns:
        One record per face, or one record with ``status`` ``"no_face"`` or ``"error"``.
    """
    if isinstance(result, BaseException):
        record = _base(source, frame, timestamp)
        # the engine's "item N: " counts what it was given; here the source names the input
        message = _ITEM.sub("", str(result), count=1)
        record.update(status=ERROR, error=f"{type(result).__name__}: {message}")
        return [record]
    out: list[dict[str, Any]] = []
    for face in result:
        # extract_faces and represent give ``facial_area``; analyze gives ``region``
        area = face.get("facial_area") or face.get("region") or {}
        confidence = face.get("confidence", face.get("face_confidence"))
        # upstream's whole-image stand-in for an image without a face: confidence 0
        if confidence is not None and (confidence <= 0 or confidence < min_confidence):
            continue
        record = _base(source, frame, timestamp)
        record.update(
            face=len(out),
            status=FACE,
            x=int(area["x"]),
            y=int(area["y"]),
            w=int(area["w"]),
            h=int(area["h"]),
            confidence=None if confidence is None else float(confidence),
            **{key: _point(area.get(key)) for key in LANDMARKS},
        )
        if "embedding" in face:
            record["embedding"] = [float(v) for v in face["embedding"]]
        record.update(_attributes(face))
        out.append(record)
    if not out:
        record = _base(source, frame, timestamp)
        record["status"] = NO_FACE
        out.append(record)
    return out


def _attributes(face: dict[str, Any]) -> dict[str, Any]:
    """An analyzed face's attribute fields: each dominant value, and its scores as floats."""
    fields: dict[str, Any] = {}
    if "age" in face:
        fields["age"] = int(face["age"])
    for action in ("emotion", "gender", "race"):
        if f"dominant_{action}" in face:
            fields[action] = str(face[f"dominant_{action}"])
            fields[f"{action}_scores"] = {str(k): float(v) for k, v in face[action].items()}
    return fields


def key(record: dict[str, Any]) -> tuple[str, int | None]:
    """What ``--resume`` counts as done: the source, and the frame for a video."""
    frame = record.get("frame")
    if frame is not None and not (isinstance(frame, float) and math.isnan(frame)):
        frame = int(frame)
    else:
        frame = None
    return str(record["source"]), frame


# --- writers -----------------------------------------------------------------------------


class Writer:
    """Records to a file, flushed at every :meth:`write`; a context manager."""

    def __init__(self, path: str | os.PathLike[str] | None, append: bool = False):
        self.path = None if path is None else Path(path)
        self.append = append
        self.count = 0

    def write(self, records: Iterable[dict[str, Any]]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Finish the file."""

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


class JsonlWriter(Writer):
    """One JSON object per line; to stdout when ``path`` is ``None``."""

    def __init__(self, path: str | os.PathLike[str] | None, append: bool = False, stream: IO[str] | None = None):
        super().__init__(path, append)
        if self.path is None:
            import sys

            self._file: IO[str] = stream or sys.stdout
            self._own = False
        else:
            self._file = open(self.path, "a" if append else "w", encoding="utf-8")
            self._own = True

    def write(self, records: Iterable[dict[str, Any]]) -> None:
        lines = [json.dumps(record, default=_json_default) + "\n" for record in records]
        self._file.write("".join(lines))  # one call: Ctrl-C cannot leave part of a batch
        self.count += len(lines)
        self._file.flush()

    def close(self) -> None:
        if self._own and not self._file.closed:
            self._file.close()


class CsvWriter(Writer):
    """Comma-separated values: landmarks and embeddings as JSON lists in their cells.

    With an ``embedding_size`` the header has the ``embedding`` column from the first
    line, also when no face is found; with ``append`` the existing header is kept.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        append: bool = False,
        embedding_size: int | None = None,
        actions: Sequence[str] | None = None,
    ) -> None:
        super().__init__(path, append)
        assert self.path is not None
        self.fields = [*FIELDS, *attribute_fields(actions)] + (["embedding"] if embedding_size is not None else [])
        new = not (append and self.path.exists() and self.path.stat().st_size > 0)
        self._file = open(self.path, "a" if append else "w", encoding="utf-8", newline="")
        self._csv = csv.DictWriter(self._file, fieldnames=self.fields, extrasaction="ignore")
        if new:
            self._csv.writeheader()

    def write(self, records: Iterable[dict[str, Any]]) -> None:
        for record in records:
            row = {
                k: json.dumps(v) if isinstance(v, (list, dict)) else ("" if v is None else v) for k, v in record.items()
            }
            self._csv.writerow(row)
            self.count += 1
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


def parquet_schema(embedding_size: int | None = None, actions: Sequence[str] | None = None) -> Any:
    """The Parquet schema of the records: the fields, ``actions``' attribute fields (the
    dominant value a string, ``age`` an int, the scores a struct of float32 by label, in
    upstream's label order) and the embedding, a fixed-size float32 list."""
    import pyarrow as pa

    from deepface_batch import compat

    point = pa.list_(pa.int32(), 2)
    fields = [
        pa.field("source", pa.string(), nullable=False),
        pa.field("frame", pa.int64()),
        pa.field("timestamp", pa.float64()),
        pa.field("face", pa.int32()),
        pa.field("status", pa.string(), nullable=False),
        pa.field("x", pa.int32()),
        pa.field("y", pa.int32()),
        pa.field("w", pa.int32()),
        pa.field("h", pa.int32()),
        *(pa.field(name, point) for name in LANDMARKS),
        pa.field("confidence", pa.float64()),
        pa.field("error", pa.string()),
    ]
    labels = compat.get().ATTRIBUTE_LABELS if actions else {}
    for name in attribute_fields(actions):
        if name == "age":
            fields.append(pa.field("age", pa.int32()))
        elif name.endswith("_scores"):
            action = name.removesuffix("_scores")
            fields.append(pa.field(name, pa.struct([pa.field(label, pa.float32()) for label in labels[action]])))
        else:
            fields.append(pa.field(name, pa.string()))
    if embedding_size is not None:
        fields.append(pa.field("embedding", pa.list_(pa.float32(), embedding_size)))
    return pa.schema(fields)


class ParquetWriter(Writer):
    """Parquet (``pip install 'deepface-batch[parquet]'``): one row group per write.

    The schema is :func:`parquet_schema` of ``embedding_size`` from the start, so a run
    that finds no face still writes the ``embedding`` column, and every run of a
    ``--resume`` writes the same schema. A Parquet file is readable only once its footer
    is written, so the file is written as ``PATH.partial`` and renamed when it is closed
    (Ctrl-C closes it too); with ``append``, the rows of the existing file are copied into
    the new one first (a column the schema has and the file lacks, such as the embedding
    of a file written without one, is filled with nulls).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        append: bool = False,
        embedding_size: int | None = None,
        actions: Sequence[str] | None = None,
    ) -> None:
        super().__init__(path, append)
        assert self.path is not None
        try:
            import pyarrow.parquet as pq
        except ImportError as err:
            raise ImportError("writing Parquet needs pyarrow: pip install 'deepface-batch[parquet]'") from err
        self.schema = parquet_schema(embedding_size, actions)
        self._partial = self.path.with_name(self.path.name + ".partial")
        previous = None
        if append and self.path.exists():
            previous = _conform(pq.read_table(self.path), self.schema, self.path)
        self._writer = pq.ParquetWriter(self._partial, self.schema)
        if previous is not None:
            self._writer.write_table(previous)

    def write(self, records: Iterable[dict[str, Any]]) -> None:
        import pyarrow as pa

        rows = list(records)
        self.count += len(rows)
        if rows:
            columns = {name: [r.get(name) for r in rows] for name in self.schema.names}
            self._writer.write_table(pa.table(columns, schema=self.schema))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
            os.replace(self._partial, self.path)  # type: ignore[arg-type]


def _conform(table: Any, schema: Any, path: Path) -> Any:
    """``table`` (an earlier run's) in ``schema``: the columns it lacks added as nulls.

    Raises:
        ValueError: its columns are not the schema's (another embedding size, or not a
            records file), naming the file and both column sets.
    """
    import pyarrow as pa

    columns = []
    for field in schema:
        if field.name in table.column_names:
            column = table.column(field.name)
            if not column.type.equals(field.type):
                raise ValueError(
                    f"cannot append to {path}: its column {field.name!r} is {column.type}, this run writes "
                    f"{field.type} (another model's embeddings?); write to another file"
                )
            columns.append(column)
        else:
            columns.append(pa.nulls(table.num_rows, field.type))
    extra = sorted(set(table.column_names) - set(schema.names))
    if extra:
        raise ValueError(f"cannot append to {path}: it has columns this run does not write: {', '.join(extra)}")
    return pa.table(columns, schema=schema)


def format_of(path: str | os.PathLike[str] | None) -> str:
    """``"jsonl"``, ``"csv"`` or ``"parquet"``, from the file's extension (stdout: jsonl)."""
    if path is None or str(path) == "-":
        return "jsonl"
    suffix = Path(path).suffix.lower()
    formats = {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet"}
    if suffix not in formats:
        raise ValueError(f"cannot tell the output format from {str(path)!r}: name it .jsonl, .csv or .parquet")
    return formats[suffix]


def open_writer(
    path: str | os.PathLike[str] | None,
    append: bool = False,
    embedding_size: int | None = None,
    actions: Sequence[str] | None = None,
) -> Writer:
    """A writer for ``path``'s format; ``None`` or ``"-"``: JSONL to stdout.

    Args:
        path: the file; its extension says the format (:func:`format_of`).
        append: add to an existing file (``--resume``).
        embedding_size: the model's embedding size, for records with embeddings: CSV and
            Parquet then have the ``embedding`` column from the start, whatever is found.
        actions: ``analyze``'s actions, for records with attributes: their columns are
            there from the start too (:func:`attribute_fields`).
    """
    kind = format_of(path)
    if kind == "jsonl":
        return JsonlWriter(None if path is None or str(path) == "-" else path, append)
    if kind == "csv":
        return CsvWriter(path, append, embedding_size, actions)  # type: ignore[arg-type]
    return ParquetWriter(path, append, embedding_size, actions)  # type: ignore[arg-type]


# --- reading back, for --resume ----------------------------------------------------------


def read(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """The records in a file this module wrote (a cut-off last JSONL line is skipped)."""
    kind = format_of(path)
    if kind == "jsonl":
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    continue  # the line a crash cut short; the input is read again
    elif kind == "csv":
        with open(path, encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                yield {k: (None if v == "" else v) for k, v in row.items()}
    else:
        import pyarrow.parquet as pq

        yield from pq.read_table(path).to_pylist()


def read_parquet_folder(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """The records of a folder of Parquet files (what Ray Data's ``write_parquet`` makes)."""
    import pyarrow.parquet as pq

    for part in sorted(Path(path).glob("*.parquet")):
        yield from pq.read_table(part).to_pylist()


def done_keys(path: str | os.PathLike[str]) -> set[tuple[str, int | None]]:
    """The inputs (and video frames) a file already holds records for."""
    if not Path(path).exists():
        return set()
    return {key(record) for record in read(path)}


def _without_last_input(records: list[Any], key_of: Any) -> list[Any]:
    """``records`` less the trailing ones of the last input (its key)."""
    last = key_of(records[-1])
    end = len(records)
    while end and key_of(records[end - 1]) == last:
        end -= 1
    return records[:end]


def _line_key(line: bytes) -> tuple[str, int | None] | None:
    try:
        return key(json.loads(line))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None  # not a record (read() skips it too)


def repair(path: str | os.PathLike[str]) -> None:
    """Cut a JSONL or CSV file back to its last complete input.

    A crash can leave half a line. Records are written input after input, a face a line,
    so the complete lines before the cut may be only some of one input's faces: that
    input's lines go too, and ``--resume`` runs it again.
    """
    kind = format_of(path)
    if kind == "parquet" or not Path(path).exists():
        return
    with open(path, "rb") as source:
        data = source.read()
    # a CSV row ends with "\r\n"; a "\n" alone can be inside a quoted error message
    newline = b"\r\n" if kind == "csv" else b"\n"
    cut = data.rfind(newline)
    end = 0 if cut < 0 else cut + len(newline)
    if end == len(data):
        return
    if kind == "jsonl":
        lines = data[:end].splitlines(keepends=True)
        kept = b"".join(_without_last_input(lines, _line_key) if lines else [])
    else:
        rows = list(csv.reader(io.StringIO(data[:end].decode("utf-8"), newline="")))
        if len(rows) > 1:
            header = rows[0]

            def key_of(row: list[str]) -> tuple[str, int | None]:
                return key({k: (None if v == "" else v) for k, v in zip(header, row)})

            rows = rows[:1] + _without_last_input(rows[1:], key_of)
        text = io.StringIO(newline="")
        csv.writer(text).writerows(rows)
        kept = text.getvalue().encode("utf-8")
    with open(path, "wb") as handle:
        handle.write(kept)
