"""The Spark section of the benchmark: the same distinct paragraphs through one process (`sectortag predict`,
n_jobs=1) and through Spark local[2] (`sectortag.spark.predict_files`): job time, start-up (a one-row file),
CPU seconds of every process per 1,000 rows (the JVM and its Python workers included), peak memory, and
whether the labels are the same. Runs on its own too, on a model file:

    python -m sectortag.jobs.bench.spark --model models/champion.sectortag --rows 20000
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from .measure import load_average, log, run_tracked
from .workloads import SEED, distinct_paragraphs, records_file

SPARK_JOB = (
    "import json, sys\n"
    "from sectortag.spark import predict_files\n"
    "print(json.dumps(predict_files(sys.argv[1], sys.argv[2], model=sys.argv[3], master=sys.argv[4])))\n"
)


def missing() -> str | None:
    """Why the section cannot run here, or None."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark not installed (the `spark` extra)"
    if not shutil.which("java"):
        return "Java not found on PATH"
    return None


def _run(cmd: list[str], work: Path, env: dict, name: str) -> dict[str, Any]:
    run = run_tracked(cmd, work, env, work / f"{name}.log")
    text = (work / f"{name}.log").read_text(encoding="utf-8")
    if run["exit_code"] != 0:
        print(text[-3000:], file=sys.stderr)
        raise SystemExit(f"bench: the {name} run failed")
    last = text.strip().splitlines()[-1] if text.strip() else ""
    if last.startswith("{"):
        run["job"] = json.loads(last)
    return run


def _labels(path: Path) -> tuple[list[list[str]], list[str]]:
    import pandas as pd

    frame = pd.read_parquet(path, columns=["id", "labels"])
    return [list(x) for x in frame["labels"]], list(frame["id"])


def spark_section(work: Path, env: dict, cli: list[str], model: Path, pool: list[str], rows: int,
                  master: str = "local[2]") -> dict[str, Any]:
    """Both engines on `rows` distinct paragraphs and on a one-row file; see the module docstring."""
    reason = missing()
    if reason:
        log(f"Spark section skipped: {reason}")
        return {"status": f"skipped: {reason}"}
    log(f"Spark section: {rows:,} distinct paragraphs, one process (n_jobs=1) vs Spark {master}; "
        f"load average {load_average()}")
    texts = distinct_paragraphs(pool, rows, SEED + 3)
    big, one = work / f"spark_in_{rows}.jsonl", work / "spark_in_one.jsonl"
    records_file(big, texts)
    records_file(one, texts[:1])
    result: dict[str, Any] = {"status": "ok", "rows": rows, "master": master, "load_average_at_start": load_average(),
                              "distinct_texts": len(set(texts)), "repeated_rounds_note":
                              "the pool's distinct paragraphs, then numbered rounds of them (\"Mục 2. …\") if short"}
    commands = {
        "single": lambda inp, out: cli + ["predict", "--input", str(inp), "--output", str(out) + ".parquet",
                                          "--model", str(model), "--n-jobs", "1"],
        "spark": lambda inp, out: [sys.executable, "-c", SPARK_JOB, str(inp), str(out), str(model), master],
    }
    for engine, command in commands.items():
        log(f"  {engine}: one-row file (start-up), then {rows:,} rows")
        start = _run(command(one, work / f"{engine}_one"), work, env, f"{engine}_one")
        run = _run(command(big, work / f"{engine}_big"), work, env, f"{engine}_big")
        run.update(startup_s=start["seconds"], startup_cpu_s=start["cpu_s"], rows_per_s=round(rows / run["seconds"], 1),
                   cpu_s_per_1000=round(1000 * run["cpu_s"] / rows, 3),
                   marginal_cpu_s_per_1000=round(1000 * (run["cpu_s"] - start["cpu_s"]) / rows, 3))
        result[engine] = run
        log(f"    {run['seconds']} s ({run['rows_per_s']:,.0f} rows/s), start-up {start['seconds']} s, CPU "
            f"{run['cpu_s']} s = {run['cpu_s_per_1000']} s per 1,000 rows, peak RSS (tree) {run['peak_rss_tree_mb']} MB; "
            f"load {load_average()}")
    single_labels, single_ids = _labels(work / "single_big.parquet")
    spark_labels, spark_ids = _labels(work / "spark_big")
    result["rows_out"] = {"single": len(single_ids), "spark": len(spark_ids)}
    result["same_order"] = single_ids == spark_ids
    result["labels_identical"] = sum(a == b for a, b in zip(single_labels, spark_labels))
    s, p = result["single"], result["spark"]
    result["spark_vs_single"] = {"job_time": round(p["seconds"] / s["seconds"], 3),
                                 "speed_up": round(s["seconds"] / p["seconds"], 3),
                                 "cpu": round(p["cpu_s"] / s["cpu_s"], 3),
                                 "marginal_cpu": round(p["marginal_cpu_s_per_1000"] / s["marginal_cpu_s_per_1000"], 3)}
    result["load_average_at_end"] = load_average()
    log(f"    labels identical on {result['labels_identical']:,} of {rows:,} rows; Spark / one process: "
        f"{json.dumps(result['spark_vs_single'])}")
    for path in (big, one, work / "single_big.parquet", work / "single_one.parquet"):
        path.unlink(missing_ok=True)
    for path in (work / "spark_big", work / "spark_one"):
        shutil.rmtree(path, ignore_errors=True)
    return result


def rows_md(r: dict[str, Any]) -> list[str]:
    """The section's rows of the README "Performance" table."""
    if r.get("status") != "ok":
        return [f"| (8) Spark local[2] vs one process | {r.get('status', 'not run')} | | reported | |"]
    s, p, v = r["single"], r["spark"], r["spark_vs_single"]
    load = ", ".join(map(str, r["load_average_at_start"] or []))

    def cells(x: dict) -> str:
        return (f"{x['seconds']:,.0f} s ({x['rows_per_s']:,.0f} rows/s); start-up {x['startup_s']:.1f} s; CPU "
                f"{x['cpu_s_per_1000']:.2f} s per 1,000 rows ({x['marginal_cpu_s_per_1000']:.2f} without start-up); "
                f"peak RSS {x['peak_rss_tree_mb']:,.0f} MB")

    return [
        f"| (8) {r['rows']:,} distinct paragraphs, one process (`sectortag predict --n-jobs 1`, Parquet out) | "
        f"{cells(s)} | load average {load} at the start | reported | |",
        f"| (8) the same on Spark {r['master']} (`sectortag predict --engine spark`), JVM and Python workers "
        f"included | {cells(p)} | job {v['job_time']:.2f} × one process, CPU {v['cpu']:.2f} ×; labels identical on "
        f"{r['labels_identical']:,} of {r['rows']:,} rows | reported | |",
    ]


def main(argv: list[str] | None = None) -> int:
    """Run the section alone: a model file, a number of rows, the project's datasets and ../shared as the pool."""
    import os
    import tempfile

    from ...corpus import load_splits
    from ...settings import load_settings
    from .workloads import project_workloads

    parser = argparse.ArgumentParser(prog="python -m sectortag.jobs.bench.spark", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="a sectortag model file")
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--config", default="training/config.toml")
    parser.add_argument("--shared", default="../shared")
    parser.add_argument("--out", help="write the result as JSON here")
    args = parser.parse_args(argv)
    data = load_splits(load_settings(args.config), Path("."))
    w, _ = project_workloads(list(data["text"]), Path(args.shared), 10)
    exe = Path(sys.executable).with_name("sectortag")
    cli = [str(exe)] if exe.is_file() else [sys.executable, "-m", "sectortag.cli"]
    with tempfile.TemporaryDirectory(prefix="sectortag-bench-spark-") as tmp:
        result = spark_section(Path(tmp), {**os.environ, "PYTHONUNBUFFERED": "1"}, cli, Path(args.model).resolve(),
                               w["pool"], args.rows, args.master)
    text = json.dumps(result, ensure_ascii=False, indent=2)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    print(text)
    print("\n".join(rows_md(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
