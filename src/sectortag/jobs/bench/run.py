"""The benchmark, start to end (`main`): train in a temporary copy of the project, then cold start, throughput,
batch sizes, classify-only speed, the fastText peer and streaming; write reports/bench.{json,md}."""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from ...corpus import load_splits
from ...metrics import report
from ...model import SectorTagger
from ...settings import Settings, load_settings, model_params
from ...text import PARALLEL_MIN_TEXTS, effective_jobs, forget, tokenize_many
from .measure import cold_start, load_average, log, machine, measure, run_tracked, streaming, timed
from .peer import fasttext_peer
from .report import PREFIX, derive, markdown, targets
from .spark import spark_section
from .workloads import SEED, project_workloads


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sectortag.jobs.bench", description=sys.modules[__package__].__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=".", help="the project folder (its training/ and datasets/ are copied)")
    parser.add_argument("--size", type=int, default=20_000, help="paragraphs in the throughput workload")
    parser.add_argument("--repeats", type=int, default=3, help="runs per throughput measurement (median)")
    parser.add_argument("--big", type=int, default=200_000, help="paragraphs in the large predict file")
    parser.add_argument("--small-file", type=int, default=10_000, help="paragraphs in the small predict file")
    parser.add_argument("--batches", default="500,2000,5000", help="batch sizes for n_jobs=1 vs 2")
    parser.add_argument("--shared", default="../shared", help="../shared (extra text when present)")
    parser.add_argument("--out", default="reports", help="where bench.json and bench.md are written")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run, not a measurement")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--spark-rows", type=int, default=200_000, help="distinct paragraphs in the Spark section")
    parser.add_argument("--no-spark", action="store_true", help="skip the Spark section (one process vs local[2])")
    args = parser.parse_args(argv)
    if args.quick:
        args.size, args.repeats, args.big, args.small_file, args.batches = 3000, 1, 20_000, 2_000, "500,2000"
        args.spark_rows = min(args.spark_rows, 20_000)
    return args


def train_champion(work: Path, settings: Settings, data: pd.DataFrame, env: dict, cli: list[str]) -> dict[str, Any]:
    """(6) `sectortag train` in `work` (its own MLflow store), which also gives the champion everything else uses."""
    log("(6) sectortag train on the full dataset, in a temporary folder with its own MLflow store")
    train = run_tracked(cli + ["train", "--config", settings.path], work, env, work / "train.log")
    if train["exit_code"] != 0:
        print((work / "train.log").read_text(encoding="utf-8")[-3000:], file=sys.stderr)
        raise SystemExit("bench: training failed; see the log above")
    train["paragraphs"] = int(len(data))
    train["split"] = {s: int((data["split"] == s).sum()) for s in ("train", "dev", "test")}
    train["note"] = "one run (not repeated): `make train` runs exactly this command"
    return train


def word_model(settings: Settings, data: pd.DataFrame) -> tuple[SectorTagger, dict]:
    """The configured model with features=word (whose predict runs underthesea word segmentation), fitted here."""
    log("a word-feature model (same configuration, features=word) for the word-segmentation path")
    parts = {s: data[data["split"] == s] for s in ("train", "dev", "test")}
    word = SectorTagger(**{**model_params(settings), "features": "word", "n_jobs": -1})
    word.fit(list(parts["train"]["text"]), list(parts["train"]["labels"]),
             list(parts["dev"]["text"]), list(parts["dev"]["labels"]))
    test = report(list(parts["test"]["labels"]), word.predict(list(parts["test"]["text"])), word.labels_)
    return word, {"features": "word", "word_segmentation": True, "test_macro_f1": round(test["macro_f1"], 4),
                  "what": "training/config.toml with model.features=word, fitted in the bench"}


def word_tokenize_all(texts: list[str]) -> list[str]:
    """(1) the floor: underthesea's `word_tokenize` alone, one process."""
    from underthesea import word_tokenize

    return [word_tokenize(t, format="text") for t in texts]


def predict_with(model: SectorTagger, n_jobs: int, texts: list[str], loops: int = 1) -> Callable[[], Any]:
    def run():
        model.n_jobs = n_jobs
        return [model.predict(texts) for _ in range(loops)]
    return run


def warm_up(models: dict[str, SectorTagger], w: dict[str, list[str]]) -> None:
    """The tokenizer model in this process and the worker pool, on text outside the workload."""
    log("warm-up")
    spare = w["spare"] if len(w["spare"]) >= PARALLEL_MIN_TEXTS else w["pool"]
    warm = spare[: PARALLEL_MIN_TEXTS + 200]
    word_tokenize_all(warm[:200])
    for model in models.values():
        for n_jobs, texts in ((1, warm[:200]), (2, warm), (-1, warm)):
            model.n_jobs = n_jobs
            model.predict(texts)


def throughput(models: dict[str, SectorTagger], distinct: list[str], repeats: list[str], batches: list[int],
               runs: int) -> dict[str, dict]:
    """(1)-(3): the floor and each model's predict with n_jobs=1, 2 and -1 on the workload, then batch sizes."""
    n, all_workers = len(distinct), effective_jobs(-1)
    log(f"(1)-(3) throughput on {n:,} paragraphs, {runs} runs each, interleaved")
    cases = {"floor_word_tokenize": (n, lambda: word_tokenize_all(distinct))}
    for name, model in models.items():
        p = PREFIX[name]
        cases[f"{p}predict_n1_distinct"] = (n, predict_with(model, 1, distinct))
        cases[f"{p}predict_n1_repeats"] = (len(repeats), predict_with(model, 1, repeats))
        cases[f"{p}predict_n2_distinct"] = (n, predict_with(model, 2, distinct))
        if all_workers != 2:
            cases[f"{p}predict_nall_distinct"] = (n, predict_with(model, -1, distinct))
    t = measure(cases, runs, reset=forget)
    if all_workers == 2:  # the same configuration as n_jobs=2 here: one run is enough to show it
        for name, model in models.items():
            key = f"{PREFIX[name]}predict_nall_distinct"
            t.update(measure({key: (n, predict_with(model, -1, distinct))}, 1, reset=forget))
            t[key]["note"] = "n_jobs=-1 is 2 workers on this machine, as n_jobs=2: run once"
    log(f"(3) batch sizes {batches}: n_jobs=1 vs 2")
    batch_cases = {}
    for name, model in models.items():
        for b in batches:  # a small batch is predicted several times per run, so that a run lasts a few seconds
            loops = max(1, math.ceil(2000 / b))
            for n_jobs in (1, 2):
                batch_cases[f"{PREFIX[name]}batch_{b}_n{n_jobs}"] = (
                    b * loops, predict_with(model, n_jobs, distinct[:b], loops))
    t.update(measure(batch_cases, runs, reset=forget))
    return t


def classify_only(models: dict[str, SectorTagger], distinct: list[str], t: dict, runs: int) -> dict[bool, list[str]]:
    """Each model's classify step alone, on the workload already prepared as its input; returns the prepared
    inputs (by whether they are word-segmented; the segmented ones also feed the peer)."""
    log("the workload as each model's input (for classify-only throughput), and as word tokens for the peer")
    inputs: dict[bool, list[str]] = {}
    for model in models.values():
        seg = model.needs_segmentation
        if seg in inputs:
            continue
        forget()
        tok_s, _ = timed(lambda: inputs.__setitem__(seg, tokenize_many(distinct, -1, segment=seg)))
        t[f"tokenize_many_nall_{'words' if seg else 'no_segmentation'}_once"] = {
            "paragraphs": len(distinct), "repeats": 1, "median_s": round(tok_s, 3),
            "paragraphs_per_s": round(len(distinct) / tok_s, 1)}
    if True not in inputs:
        inputs[True] = tokenize_many(distinct, -1, segment=True)
    for name, model in models.items():
        tokens, linear = inputs[model.needs_segmentation], model.model_
        t.update(measure({f"{PREFIX[name]}classify_from_tokens": (
            len(tokens), lambda linear=linear, tokens=tokens: linear.labels_for(linear.scores(tokens)))}, runs))
    return inputs


def peer_step(result: dict, work: Path, data: pd.DataFrame, settings: Settings, ours: tuple[dict, list],
              word_tokens: list[str], runs: int) -> None:
    """(7) the fastText peer, and its end-to-end speed estimated with our word segmentation."""
    log("(7) fastText peer")
    peer = fasttext_peer(work, data, settings.labels.codes, settings.model, *ours, word_tokens, runs)
    result["peer_fasttext"] = peer
    if peer.get("status") == "ok":
        t, ft = result["throughput"], peer["classify_from_tokens"]["paragraphs_per_s"]
        p = PREFIX["word" if "word" in result["models"] else "champion"]
        n1, clf = t[f"{p}predict_n1_distinct"]["paragraphs_per_s"], t[f"{p}classify_from_tokens"]["paragraphs_per_s"]
        result["peer_end_to_end_n1_estimate"] = round(1 / (1 / n1 - 1 / clf + 1 / ft), 1)
        peer["end_to_end_n1_estimate_note"] = (
            "word segmentation as our word-feature model's (its measured predict n_jobs=1 minus its classify "
            "time) plus fastText's measured classify time")
    log(f"    {json.dumps({k: v for k, v in peer.items() if 'macro' in k or k == 'status'})}")


def bench(args: argparse.Namespace, work: Path, result: dict) -> None:
    """Every measurement, in a copy of the project's training/ and datasets/ in `work`, into `result`."""
    for name in ("training", "datasets"):
        shutil.copytree(Path(args.root) / name, work / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    settings = load_settings(work / "training" / "config.toml")
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}", "PYTHONUNBUFFERED": "1"}
    for name in ("MLFLOW_REGISTRY_URI", "SECTORTAG_MODEL"):
        env.pop(name, None)
    exe = Path(sys.executable).with_name("sectortag")
    cli = [str(exe)] if exe.is_file() else [sys.executable, "-m", "sectortag.cli"]

    data = load_splits(settings, work)
    result["train"] = train_champion(work, settings, data, env, cli)
    champion = work / settings.paths.models_dir / "champion.sectortag"
    result["bundle_mb"] = round(champion.stat().st_size / 1e6, 2)
    tagger = SectorTagger.load(champion)
    test = data[data["split"] == "test"]
    ours_pred = tagger.predict(list(test["text"]))
    ours_test = report(list(test["labels"]), ours_pred, tagger.labels_)
    log(f"    {result['train']['seconds']} s; model file {result['bundle_mb']} MB; "
        f"test macro-F1 {ours_test['macro_f1']:.4f}")

    log("(5) cold start")
    result["cold_start"] = cold_start(work, env, cli, champion)
    log(f"    api {result['cold_start']['api']['median_s']} s, cli {result['cold_start']['cli']['median_s']} s")

    w, result["workload"] = project_workloads(list(data["text"]), Path(args.shared), args.size)
    info = result["workload"]
    log(f"workload: {info['size']:,} paragraphs, {info['mean_chars']} chars on average, repeated share "
        f"{info['distinct_workload_repeated_share']} / {info['repeats_workload_repeated_share']}")

    # the champion as configured and, when its features skip word segmentation, the word-feature variant
    models = {"champion": tagger}
    result["models"] = {"champion": {"features": tagger.get_params().get("features", "?"),
                                     "word_segmentation": tagger.needs_segmentation,
                                     "test_macro_f1": round(ours_test["macro_f1"], 4),
                                     "what": "the model `make train` ships (training/config.toml)"}}
    if not tagger.needs_segmentation:
        models["word"], result["models"]["word"] = word_model(settings, data)
    warm_up(models, w)
    result["n_jobs_minus_1_workers"] = effective_jobs(-1)
    batches = [int(b) for b in args.batches.split(",") if b.strip()]
    result["throughput"] = t = throughput(models, w["distinct"], w["repeats"], batches, args.repeats)
    inputs = classify_only(models, w["distinct"], t, args.repeats)
    result["ratios"], result["cost_per_1000_paragraphs_s"] = derive(t, list(models), batches, len(w["distinct"]))
    peer_step(result, work, data, settings, (ours_test, ours_pred), inputs[True], args.repeats)
    result["streaming"] = streaming(work, env, cli, champion, w["pool"], args.small_file, args.big)
    result["spark"] = ({"status": "skipped: --no-spark"} if args.no_spark
                       else spark_section(work, env, cli, champion, w["pool"], args.spark_rows))


def write_reports(result: dict, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "bench.json").write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    md = markdown(result)
    (out_dir / "bench.md").write_text(md, encoding="utf-8")
    print(md)
    print("targets:")
    for x in result["targets"]:
        print(f"  {'MET    ' if x['met'] else 'NOT MET'} {x['target']}: {x['measured']} (target {x['target_value']})"
              + (f" [{x['note']}]" if x["note"] else ""))
    print(f"\nwrote {out_dir / 'bench.json'} and {out_dir / 'bench.md'} in {result['runtime_s']:.0f} s")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    began = time.perf_counter()
    result: dict[str, Any] = {"machine": machine(), "repeats": args.repeats, "quick": args.quick, "seed": SEED}
    log(f"machine: {result['machine']['cores']} cores, {result['machine']['cpu_model']}, "
        f"load {result['machine']['load_average_at_start']}")
    work = Path(tempfile.mkdtemp(prefix="sectortag-bench-"))
    try:
        bench(args, work, result)
    finally:
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    result["machine"]["load_average_at_end"] = load_average()
    result["runtime_s"] = round(time.perf_counter() - began, 1)
    result["targets"] = targets(result)
    write_reports(result, Path(args.out))
    return 0
