"""Files ⇄ one DataFrame schema (`text`, optional `labels` as a list of codes, other fields kept).

Formats: JSONL, CSV (labels as codes separated by ";"), Parquet, and a plain .txt article (split into
paragraphs). Every problem is raised as DataError naming the file, the line or row, and the field.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from .errors import DataError
from .labels import check_labels
from .article import split_paragraphs, unwrap
from .text import DEFAULT_MIN_CHARS

FORMATS = {".jsonl": "jsonl", ".json": "jsonl", ".csv": "csv", ".parquet": "parquet", ".txt": "txt"}


def file_format(path: str | Path) -> str:
    """The format of a file, from its extension."""
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise DataError(f"{path}: unknown file type {Path(path).suffix!r}; use .jsonl, .csv, .parquet or .txt")
    return fmt


def _parse_labels(value, where: str) -> list[str]:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    if isinstance(value, str):
        value = [v.strip() for v in value.split(";") if v.strip()]
    elif hasattr(value, "tolist"):
        value = value.tolist()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DataError(f"{where}field 'labels' must be a list of sector codes, got {value!r}")
    return check_labels(value, where)


STDIN = "-"


def iter_chunks(path: str | Path, chunk_size: int = 5000, min_chars: int = DEFAULT_MIN_CHARS,
                labelled: bool = False, text_column: str = "text") -> Iterator[pd.DataFrame]:
    """Read a file (or `-`: JSONL on standard input) as DataFrames of at most `chunk_size` rows, in file order,
    without loading it whole.

    Each frame has a `text_column` column (and `labels` when the file has them or `labelled` is set).
    """
    if str(path) == STDIN:
        import sys

        fmt, frames = "jsonl", _jsonl_records(sys.stdin.buffer, "<stdin>", chunk_size, text_column)
    else:
        path = Path(path)
        fmt = file_format(path)
        if not path.is_file():
            raise DataError(f"{path}: file not found")
        if path.stat().st_size == 0:
            raise DataError(f"{path}: file is empty")
        reader = {"jsonl": _jsonl_chunks, "csv": _csv_chunks, "parquet": _parquet_chunks, "txt": _txt_chunks}[fmt]
        frames = reader(path, chunk_size, min_chars, text_column)
    seen_rows = 0
    for frame in frames:
        if text_column not in frame.columns:
            raise DataError(f"{path}: no {text_column!r} field (found: {', '.join(map(str, frame.columns))})")
        if "labels" in frame.columns:
            first_line = 2 if fmt == "csv" else 1
            frame["labels"] = [
                _parse_labels(v, f"{path}:{'line' if fmt != 'parquet' else 'row'} {seen_rows + i + first_line}: ")
                for i, v in enumerate(frame["labels"])
            ]
        elif labelled:
            raise DataError(f"{path}: no 'labels' field; a labelled file needs one per record")
        seen_rows += len(frame)
        yield frame.reset_index(drop=True)
    if seen_rows == 0:
        raise DataError(f"{path}: no records")


def read_file(path: str | Path, labelled: bool = False, min_chars: int = DEFAULT_MIN_CHARS) -> pd.DataFrame:
    """Read a whole file into one DataFrame (see `iter_chunks`)."""
    frames = list(iter_chunks(path, 100_000, min_chars, labelled))
    return pd.concat(frames, ignore_index=True)


def _jsonl_chunks(path: Path, chunk_size: int, _min_chars: int, text_column: str) -> Iterator[pd.DataFrame]:
    with path.open("rb") as f:
        yield from _jsonl_records(f, path, chunk_size, text_column)


def _jsonl_records(f, path, chunk_size: int, text_column: str) -> Iterator[pd.DataFrame]:
    """JSON objects, one a line, from a binary file object, in frames of `chunk_size`."""
    rows: list[dict] = []
    for number, raw in enumerate(f, 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise DataError(f"{path}:line {number}: not UTF-8 ({e.reason} at byte {e.start})") from None
        if number == 1:
            line = line.removeprefix("\ufeff")  # a byte-order mark, as some Windows editors write
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{path}:line {number}: broken JSON ({e.msg} at column {e.colno})") from None
        except RecursionError:
            raise DataError(f"{path}:line {number}: JSON nested too deeply to be a record") from None
        if not isinstance(record, dict):
            raise DataError(f"{path}:line {number}: expected a JSON object, got {type(record).__name__}")
        if text_column not in record:
            raise DataError(f"{path}:line {number}: missing field {text_column!r}")
        rows.append(record)
        if len(rows) >= chunk_size:
            yield pd.DataFrame(rows)
            rows = []
    if rows:
        yield pd.DataFrame(rows)


def _csv_chunks(path: Path, chunk_size: int, _min_chars: int, text_column: str) -> Iterator[pd.DataFrame]:
    try:
        with path.open(encoding="utf-8", newline="") as f:
            for frame in pd.read_csv(f, chunksize=chunk_size, dtype=str, keep_default_na=False):
                yield frame.replace({"": None}) if text_column in frame.columns else frame
    except UnicodeDecodeError as e:
        raise DataError(f"{path}:line {_first_bad_line(path)}: not UTF-8 ({e.reason})") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise DataError(f"{path}: not a readable CSV file ({str(e).strip()})") from None


def _first_bad_line(path: Path) -> int:
    """The line of the first byte that is not UTF-8 (the decoder's own offset counts from its buffer)."""
    line = 1
    with path.open("rb") as f:
        for line, raw in enumerate(f, 1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return line
    return line


def _parquet_chunks(path: Path, chunk_size: int, _min_chars: int, text_column: str) -> Iterator[pd.DataFrame]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as e:
        raise DataError(f"{path}: not a readable Parquet file ({e})") from None
    schema = parquet.schema_arrow
    if text_column in schema.names and not (pa.types.is_string(schema.field(text_column).type)
                                            or pa.types.is_large_string(schema.field(text_column).type)):
        raise DataError(f"{path}: column {text_column!r} has type {schema.field(text_column).type}, expected string")
    for batch in parquet.iter_batches(batch_size=chunk_size):
        yield batch.to_pandas()


def _txt_chunks(path: Path, chunk_size: int, min_chars: int, text_column: str) -> Iterator[pd.DataFrame]:
    try:
        article = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 ({e.reason} at byte {e.start})") from None
    paragraphs = split_paragraphs(unwrap(article), min_chars)
    for i in range(0, len(paragraphs), chunk_size):
        yield pd.DataFrame({text_column: paragraphs[i : i + chunk_size]})


def data_hash(frame: pd.DataFrame) -> str:
    """SHA-256 over ids, texts and labels: identifies the training data of a model."""
    h = hashlib.sha256()
    for i, t, l in zip(frame["id"], frame["text"], frame["labels"]):
        h.update(json.dumps([i, t, l], ensure_ascii=False).encode())
    return h.hexdigest()
