"""Write tagged rows to JSONL, CSV or Parquet, chunk by chunk, into a temporary file renamed at the end:
an interrupted run never leaves a half-written output under the final name.

The columns are fixed by the first chunk (input fields in first-seen order, then the tagger's columns) and
every later chunk is aligned to them, so a value never lands under another header: a field missing from a
later chunk is left blank, and a field that first appears after the first chunk is kept in JSONL output
and refused, with one line naming it, in CSV and Parquet output (whose header is already written).

Scores are written rounded to 4 decimals. `-` writes JSONL to standard output; `excel=True` starts a CSV with
a UTF-8 byte-order mark, so spreadsheet programs open Vietnamese text correctly."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from .errors import DataError
from .files import temporary_beside

OUTPUT_FORMATS = (".jsonl", ".csv", ".parquet")


SCORE_DECIMALS = 4
STDOUT = "-"


class ChunkWriter:
    def __init__(self, path: str | Path, excel: bool = False):
        self.stdout = str(path) == STDOUT
        self.path = Path(path)
        self.suffix = ".jsonl" if self.stdout else self.path.suffix.lower()
        self.excel = excel
        if excel and self.suffix != ".csv":
            raise DataError(f"{path}: --excel writes CSV; name the output .csv")
        if self.stdout:
            self.tmp, self._file, self._parquet, self._header, self.columns, self.rows = None, None, None, True, None, 0
            return
        if self.suffix not in OUTPUT_FORMATS:
            raise DataError(f"{path}: unknown output type {self.suffix!r}; use {', '.join(OUTPUT_FORMATS)}")
        if not self.path.parent.exists():
            raise DataError(f"{path}: folder {self.path.parent} does not exist")
        self.tmp = temporary_beside(self.path)
        self._file = None
        self._parquet = None
        self._header = True
        self.columns: list | None = None
        self.rows = 0

    def __enter__(self) -> "ChunkWriter":
        if self.stdout:
            import sys

            self._file = sys.stdout
        elif self.suffix != ".parquet":
            self._file = self.tmp.open("w", encoding="utf-8-sig" if self.excel else "utf-8", newline="")
        return self

    def _align(self, frame: pd.DataFrame) -> pd.DataFrame:
        if self.columns is None:
            self.columns = list(frame.columns)
            return frame
        new = [c for c in frame.columns if c not in self.columns]
        if new and self.suffix != ".jsonl":
            raise DataError(f"field {new[0]!r} first appears after row {self.rows} of the input; {self.suffix[1:]} "
                            f"output has a fixed header: write .jsonl output, or give the field in the first records")
        return frame.reindex(columns=self.columns + new)

    def write(self, frame: pd.DataFrame) -> None:
        frame = self._align(frame)
        scores = [c for c in frame.columns if str(c).startswith("score_")]
        if scores:
            frame = frame.assign(**{c: frame[c].round(SCORE_DECIMALS) for c in scores})
        self.rows += len(frame)
        if self.suffix == ".jsonl":
            clean = frame.astype(object).where(frame.notna(), None)
            for record in clean.to_dict(orient="records"):
                self._file.write(json.dumps(record, ensure_ascii=False, default=_plain) + "\n")
        elif self.suffix == ".csv":
            flat = frame.copy()
            for col in ("labels", "labels_true"):
                if col in flat:
                    flat[col] = [";".join(v) if isinstance(v, list) else v for v in flat[col]]
            flat.to_csv(self._file, header=self._header, index=False)
            self._header = False
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            try:
                table = pa.Table.from_pandas(frame, preserve_index=False)
                if self._parquet is None:
                    self._parquet = pq.ParquetWriter(self.tmp, table.schema)
                self._parquet.write_table(table.cast(self._parquet.schema))
            except (pa.ArrowException, ValueError) as e:
                raise DataError(f"{self.path}: rows {self.rows - len(frame) + 1}-{self.rows} do not fit the Parquet "
                                f"schema of the first rows ({str(e).splitlines()[0][:200]}); write .jsonl or .csv output") from None

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.stdout:
            self._file.flush()
            return
        if self._file:
            self._file.close()
        if self._parquet:
            self._parquet.close()
        if exc_type is None and self.tmp.exists():
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)


def _plain(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, float):
        return None
    return str(value)
