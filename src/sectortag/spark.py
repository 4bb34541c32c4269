"""Scoring on Apache Spark (the optional `spark` extra): the same model and the same `predict_frame` as the
single-process path, run by Spark's Python workers over Arrow batches, so labels are identical.

- `session(master)`: a SparkSession (local[*] unless `master` or spark-submit says otherwise) with quiet logs,
  the project's Python for the workers, and a loopback address on a single machine.
- `score(df, model, text_column)`: the DataFrame with `labels`, `score_<code>` and `error` added.
- `predict_files(input, output_dir, ...)`: Parquet/JSONL/CSV (a file or a folder) in, partitioned Parquet out,
  written beside the target and renamed when complete; `sectortag predict --engine spark` runs it.

The model is resolved once on the driver to a source the workers can load and the SHA-256 of its file; every
worker process loads it once (cached in this module) and refuses a file with another hash. pandas is imported
at module level: pandas UDF type hints are resolved against this module's globals.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from .errors import DataError, ModelError, SectorTagError
from .files import temporary_beside
from .output import SCORE_DECIMALS
from .model import SectorTagger, champion_source

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

READERS = {".parquet": "parquet", ".jsonl": "json", ".json": "json", ".csv": "csv"}
RESULT = "_sectortag_result"  # the UDF's struct column, expanded and dropped at once
_TAGGERS: dict[tuple[str, str], SectorTagger] = {}  # per Python worker process: (source, sha256) -> tagger


# ---- the session --------------------------------------------------------------------------------
def _quiet() -> None:
    """Silence per-call noise on the driver: pyspark's notice about pandas 3 (this route is tested with it) and
    pandas 3's deprecation of an argument pyspark passes on every conversion."""
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
    warnings.filterwarnings("ignore", message="The copy keyword is deprecated", module=r"pyspark\.")


def _under_spark_submit() -> bool:
    return "PYSPARK_GATEWAY_PORT" in os.environ  # spark-submit started the JVM and then this Python


def session(master: str | None = None) -> "SparkSession":
    """The active SparkSession, or a new one on `master` (default: spark-submit's master when running under
    spark-submit, else local[*]). Workers run this Python (`PYSPARK_PYTHON`, when unset) and, in local mode,
    Spark binds to 127.0.0.1 (`SPARK_LOCAL_IP`, when unset); the JVM logs errors only."""
    _quiet()
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SectorTagError("Spark scoring needs pyspark: pip install 'sectortag[spark]' (and Java 17+)") from None
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName("sectortag")
    if not _under_spark_submit():
        master = master or "local[*]"
        builder = builder.master(master).config("spark.ui.showConsoleProgress", "false")
        log_config = Path(__file__).with_name("spark_log4j2.properties")
        builder = builder.config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={log_config.as_uri()}")
        if master.startswith("local"):
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
            builder = builder.config("spark.ui.enabled", "false")
    elif master:
        builder = builder.master(master)
    if not shutil.which("java") and not os.environ.get("JAVA_HOME"):
        raise SectorTagError("Spark scoring needs Java 17 or later: no `java` on PATH and JAVA_HOME is not set")
    try:
        spark = builder.getOrCreate()
    except Exception as e:  # the JVM did not start: one line, not a gateway traceback
        raise SectorTagError(f"cannot start Spark on {master or 'the spark-submit master'}: {_first_line(e)}") from None
    spark.sparkContext.setLogLevel("ERROR")
    return spark


# ---- the model, on the driver and in each worker --------------------------------------------------
def resolve_model(model: str | Path | None, local: bool = True) -> tuple[SectorTagger, str, str, str | None]:
    """On the driver: (the tagger, the source workers load, the SHA-256 of its file, the MLflow tracking URI
    workers need or None). A path becomes absolute; None is the champion (`$SECTORTAG_MODEL`,
    models/champion.sectortag, else the registry's), which in local mode is its verified local file."""
    if model is None:
        model = champion_source()
    if model is not None and not str(model).startswith(("models:/", "runs:/")):
        tagger = SectorTagger.load(model)
        return tagger, str(Path(model).resolve()), tagger.sha256_, None
    from .registry import DEFAULT_NAME, fetch_model

    uri = str(model) if model is not None else f"models:/{DEFAULT_NAME}@champion"
    path, sha256, version = fetch_model(uri, with_version=True)
    tagger = SectorTagger.load(path, trusted_sha256=sha256)
    tagger.version_ = version
    if local:  # the driver's verified copy is readable by local workers: no MLflow call per worker
        return tagger, str(path.resolve()), sha256, None
    return tagger, uri, sha256, _tracking_uri()


def _tracking_uri() -> str:
    """The driver's MLflow tracking URI, with a relative SQLite path made absolute (workers run elsewhere)."""
    import mlflow

    uri = mlflow.get_tracking_uri()
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        uri = f"sqlite:///{Path(uri[len('sqlite:///'):]).resolve()}"
    return uri


def worker_tagger(source: str, sha256: str, tracking_uri: str | None = None) -> SectorTagger:
    """In a worker: the tagger for `source`, loaded once per process and checked against `sha256`."""
    key = (source, sha256)
    if key not in _TAGGERS:
        if source.startswith(("models:/", "runs:/")):
            if tracking_uri:
                os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
            tagger = SectorTagger.load(source)
            if tagger.sha256_ != sha256:
                raise ModelError(f"{source} now points to another model ({tagger.sha256_[:12]}…) than when the job "
                                 f"started ({sha256[:12]}…); run the job again")
        else:
            tagger = SectorTagger.load(source, trusted_sha256=sha256)
        tagger.n_jobs = 1  # Spark already runs one worker per core
        _TAGGERS[key] = tagger
    return _TAGGERS[key]


def _result_type(codes: tuple[str, ...]):
    from pyspark.sql.types import ArrayType, DoubleType, StringType, StructField, StructType

    return StructType([StructField("labels", ArrayType(StringType())),
                       *[StructField(f"score_{c}", DoubleType()) for c in codes],
                       StructField("error", StringType())])


def _tag_batches(source: str, sha256: str, tracking_uri: str | None, columns: list[str]):
    """The function each worker runs over its Arrow batches of the text column."""

    def tag(batches: Iterator[pd.Series]) -> Iterator[pd.DataFrame]:
        tagger = worker_tagger(source, sha256, tracking_uri)
        for texts in batches:
            if isinstance(texts, pd.DataFrame):  # a struct column arrives as a frame: each row is then a dict
                texts = pd.Series(texts.to_dict(orient="records"), dtype=object)
            frame = pd.DataFrame({"text": texts.reset_index(drop=True)})
            yield tagger.predict_frame(frame, "text")[columns]

    return tag


# ---- scoring a DataFrame --------------------------------------------------------------------------
def score(df: "DataFrame", model: str | Path | None = None, text_column: str = "text") -> "DataFrame":
    """`df` with `labels` (array<string>), `score_<code>` (double, null where the row could not be tagged) and
    `error` (string, null when fine), `model_version` and `model_sha256` added; every row and input column kept,
    in place. As in `sectortag
    predict`, an input `labels` column (true labels) is kept as `labels_true`, and earlier `score_*`/`error`
    columns are replaced. `model`: a model file every worker can read, a `models:/` URI, or None (the champion).
    Lazy, like any DataFrame: the tagging runs when the result is written or collected."""
    from pyspark.sql.functions import col, lit, pandas_udf

    _quiet()
    if text_column not in df.columns:
        raise DataError(f"no column {text_column!r} in the input (columns: {', '.join(df.columns)})")
    local = df.sparkSession.sparkContext.master.startswith("local")
    tagger, source, sha256, tracking_uri = resolve_model(model, local)
    codes = tagger.labels_
    result_type = _result_type(codes)
    columns = result_type.fieldNames()
    if "labels" in df.columns and text_column != "labels":
        df = df.drop("labels") if "labels_true" in df.columns else df.withColumnRenamed("labels", "labels_true")
    provenance = tagger.provenance()
    stale = [c for c in df.columns if c != text_column and (c in columns or c.startswith("score_") or c == RESULT
                                                            or c in provenance)]
    df = df.drop(*stale)
    udf = pandas_udf(_tag_batches(source, sha256, tracking_uri, columns), result_type)
    scored = df.withColumn(RESULT, udf(col(text_column))).select("*", f"{RESULT}.*").drop(RESULT)
    return scored.withColumns({k: lit(v) for k, v in provenance.items()})  # which model tagged each row


# ---- files in, partitioned Parquet out ------------------------------------------------------------
def input_format(path: Path) -> str:
    """Spark's reader for a file, or for a folder by the files in it (one format only)."""
    if not path.exists():
        raise DataError(f"{path}: not found")
    if path.is_file():
        if path.suffix.lower() not in READERS:
            raise DataError(f"{path}: Spark scoring reads {', '.join(READERS)} files, not {path.suffix or 'this file'!r}")
        return READERS[path.suffix.lower()]
    found = {READERS.get(f.suffix.lower(), f.suffix or f.name) for f in path.rglob("*")
             if f.is_file() and not any(p.startswith(("_", ".")) for p in f.relative_to(path).parts)}
    if not found:
        raise DataError(f"{path}: the folder holds no data files")
    if len(found) > 1 or not found <= set(READERS.values()):
        raise DataError(f"{path}: the folder mixes or holds other files ({', '.join(sorted(found))}); "
                        f"give a folder of {', '.join(READERS)} files of one type")
    return found.pop()


def _read(spark: "SparkSession", path: Path, fmt: str) -> "DataFrame":
    options = {"json": {"mode": "FAILFAST"},
               "csv": {"header": True, "multiLine": True, "escape": '"', "mode": "FAILFAST"}}.get(fmt, {})
    try:
        return spark.read.format(fmt).options(**options).load(str(path))
    except Exception as e:
        raise DataError(f"{path}: cannot read it as {fmt} ({_first_line(e)})") from None


def _spread(df: "DataFrame", parallelism: int) -> "DataFrame":
    """At least 4 partitions per core, keeping the input order (a range partitioning on each row's position,
    sorted within each partition): one JSONL file is otherwise one partition, tagged by one core."""
    from pyspark.sql.functions import monotonically_increasing_id

    if df.rdd.getNumPartitions() >= 4 * parallelism:
        return df
    position = "_sectortag_position"
    return (df.withColumn(position, monotonically_increasing_id()).repartitionByRange(4 * parallelism, position)
            .sortWithinPartitions(position).drop(position))


def predict_files(input: str | Path, output_dir: str | Path, model: str | Path | None = None,
                  master: str | None = None, text_column: str = "text") -> dict[str, Any]:
    """Tag a Parquet, JSONL or CSV file (or a folder of them) into a folder of Parquet parts that, read in
    name order, hold the rows in input order with every input column. The folder appears only when complete
    (written beside it, then renamed); an earlier Spark output there is replaced. Returns rows in and out,
    rows with an error, the parts, and the seconds spent starting Spark and running the job."""
    inp, out = Path(input), Path(output_dir)
    fmt = input_format(inp)
    if out.exists() and out.resolve() == inp.resolve():
        raise DataError(f"{out}: the output would overwrite the input; choose another output folder")
    if out.exists() and not out.is_dir():
        raise DataError(f"{out}: exists and is a file; give a folder name for the Parquet output")
    if out.is_dir() and any(out.iterdir()) and not (out / "_SUCCESS").exists():
        raise DataError(f"{out}: the folder exists and is not an earlier Spark output; choose a new folder")
    if not out.parent.exists():
        raise DataError(f"{out}: folder {out.parent} does not exist")
    from pyspark.sql.functions import round as spark_round

    started = time.perf_counter()
    spark = session(master)
    startup = time.perf_counter() - started
    df = _read(spark, inp, fmt)
    if text_column not in df.columns:
        raise DataError(f"{inp}: no column {text_column!r} (columns: {', '.join(df.columns)})")
    # spread before tagging, so that the tagging runs on every core (the model is loaded here, before any work)
    scored = score(_spread(df, spark.sparkContext.defaultParallelism), model, text_column)
    scored = scored.withColumns({c: spark_round(c, SCORE_DECIMALS) for c in scored.columns if c.startswith("score_")
                                 and c not in df.columns})  # as in every output file: 4 decimals
    rows_in = df.count()
    if rows_in == 0:
        raise DataError(f"{inp}: no records")
    tmp = temporary_beside(out)
    try:
        scored.write.parquet(str(tmp))
        written = spark.read.parquet(str(tmp))
        rows_out, errors = (int(x) for x in written.selectExpr("count(*)", "count(error)").first())
        parts = sum(1 for _ in tmp.glob("part-*"))
        _replace_folder(tmp, out)
    except Exception as e:
        raise _job_error(e) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"input": str(inp), "output": str(out), "rows_in": rows_in, "rows_out": rows_out, "error_rows": errors,
            "parts": parts, "master": spark.sparkContext.master, "startup_s": round(startup, 2),
            "job_s": round(time.perf_counter() - started - startup, 2)}


def _replace_folder(tmp: Path, out: Path) -> None:
    """Move the finished folder into place; an earlier output there is moved aside first, then removed."""
    old = out.with_name(f".{out.name}.{os.getpid()}.old")
    if out.exists():
        os.replace(out, old)
    os.replace(tmp, out)
    shutil.rmtree(old, ignore_errors=True)


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:300] if text else type(e).__name__


def _job_error(e: Exception) -> SectorTagError:
    """A failed Spark job as one line: a sectortag error raised in a worker keeps its class and message."""
    if isinstance(e, SectorTagError):
        return e
    found = re.search(r"sectortag\.errors\.(\w+): (.+)", str(e))
    if found:
        kinds = {"DataError": DataError, "ModelError": ModelError}
        return kinds.get(found.group(1), SectorTagError)(found.group(2).strip())
    return SectorTagError(f"the Spark job failed: {_first_line(e)}")
