"""`make bench`: how fast sectortag tags, measured side by side in one run on this machine.

Measures (see the benchmark issue): underthesea `word_tokenize` alone (the floor), `SectorTagger.predict`
end to end with n_jobs=1, 2 and -1, batch sizes small and large, `sectortag predict` on a 200,000-paragraph
file (wall time, peak RSS) against a 10,000-paragraph one, cold start, bundle size, `sectortag train` on the
full dataset, and a fastText peer (optional `bench` extra) trained on the same split with the same tokens.

Everything runs in a temporary folder with its own MLflow store (sqlite) and its own models/: the project's
mlflow.db, mlruns/ and models/ are not touched. Writes reports/bench.json and reports/bench.md.

    python training/bench.py                 # the full benchmark (about 15 minutes on 2 cores)
    python training/bench.py --quick         # a small smoke run (a few minutes), same report format
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "training"))

from baselines import fasttext_line, fasttext_scores  # noqa: E402
SEED = 4
REPEAT_SHARE = 0.20  # share of repeated paragraphs in the "realistic" workload (boilerplate, republished news)
MIN_CHARS = 40  # a line of ../shared text shorter than this is not a paragraph (as [data] min_chars)
COLD_TEXT = "Năm 2024, thu ngân sách nhà nước trên địa bàn tỉnh đạt 21.500 tỷ đồng, vượt 9% dự toán."
LIBRARIES = ("sectortag", "scikit-learn", "underthesea", "underthesea_core", "numpy", "scipy", "joblib", "pandas",
             "pyarrow", "mlflow", "fasttext-numpy2")
TARGETS = {
    "predict_vs_floor": 0.85,
    "speedup_n2_large": 1.6,
    "small_batch_not_slower": 0.95,  # n_jobs=2 / n_jobs=1 on a small batch; 5% is timing noise on a busy machine
    "rss_ratio": 1.5,
    "cold_start_s": 2.0,
    "bundle_mb": 25.0,
    "train_s": 180.0,
}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---- workload -------------------------------------------------------------------------------------
def jsonl_texts(path: Path) -> list[str]:
    """The `text` field of every record of a JSONL file (other fields are not read)."""
    out = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                text = json.loads(line).get("text")
                if isinstance(text, str):
                    out.append(text)
    return out


def lines_as_paragraphs(texts: Sequence[str], min_chars: int = MIN_CHARS) -> list[str]:
    """Each line of each text that is at least `min_chars` long (clauses of a legal article are paragraphs)."""
    return [line.strip() for t in texts for line in t.split("\n") if len(line.strip()) >= min_chars]


def build_workloads(own: Sequence[str], extra: Sequence[str], size: int, repeat_share: float = REPEAT_SHARE,
                    seed: int = SEED) -> dict[str, list[str]]:
    """Fixed workloads of `size` paragraphs from the project's paragraphs `own` plus `extra` text.

    distinct: every paragraph once (all of `own`, topped up from `extra`), when enough text exists; otherwise
      the distinct texts repeated as needed. repeats: `repeat_share` of the rows repeat earlier ones (the first
      `size * (1 - repeat_share)` distinct paragraphs plus repeats of them). spare: distinct text left over for
      warm-ups; pool: all distinct text.
    """
    rng = random.Random(seed)
    own = list(dict.fromkeys(own))
    seen = set(own)
    extra = [t for t in dict.fromkeys(extra) if t not in seen]
    rng.shuffle(extra)
    if len(own) >= size:
        distinct, spare = rng.sample(own, size), extra
    else:
        take = size - len(own)
        distinct, spare = own + extra[:take], extra[take:]
    if len(distinct) < size:  # not enough text: repeat it
        distinct = (distinct * math.ceil(size / max(1, len(distinct))))[:size]
    rng.shuffle(distinct)
    n_base = max(1, round(size * (1 - repeat_share)))
    base = distinct[:n_base]
    repeats = base + [rng.choice(base) for _ in range(size - n_base)]
    rng.shuffle(repeats)
    return {"distinct": distinct, "repeats": repeats, "spare": spare, "pool": own + extra}


def sample_file(path: Path, pool: Sequence[str], n: int, seed: int) -> None:
    """A JSONL file of `n` records {"id": "b<i>", "text": …} drawn from `pool` with a fixed seed."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            f.write(json.dumps({"id": f"b{i}", "text": rng.choice(pool)}, ensure_ascii=False) + "\n")


def share_repeated(texts: Sequence[str]) -> float:
    return round(1 - len(set(texts)) / max(1, len(texts)), 4)


# ---- timing ---------------------------------------------------------------------------------------
def _cpu_jiffies() -> tuple[int, int]:
    """(busy, total) CPU jiffies of the whole machine, from /proc/stat."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


def timed(fn: Callable[[], Any]) -> tuple[float, float]:
    """Wall seconds of `fn()` and how many cores the whole machine kept busy meanwhile (ours and others')."""
    b0, t0 = _cpu_jiffies()
    start = time.perf_counter()
    fn()
    seconds = time.perf_counter() - start
    b1, t1 = _cpu_jiffies()
    cores = (os.cpu_count() or 1) * (b1 - b0) / (t1 - t0) if t1 > t0 else float("nan")
    return seconds, cores


def measure(cases: dict[str, tuple[int, Callable[[], Any]]], repeats: int) -> dict[str, dict]:
    """Run each case `repeats` times, interleaved (case A, B, C, A, B, C, …) so that a change in the machine's
    load hits every case alike; report the runs, the median and paragraphs per second."""
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
    for r in range(repeats):
        for name, (n, fn) in cases.items():
            runs[name].append(timed(fn))
            log(f"  {name} run {r + 1}/{repeats}: {n / runs[name][-1][0]:,.0f} paragraphs/s")
    out = {}
    for name, (n, _) in cases.items():
        seconds = [s for s, _ in runs[name]]
        median = statistics.median(seconds)
        out[name] = {
            "paragraphs": n, "repeats": len(seconds), "runs_s": [round(s, 3) for s in seconds],
            "median_s": round(median, 3), "paragraphs_per_s": round(n / median, 1),
            "machine_busy_cores": round(statistics.median(c for _, c in runs[name]), 2),
        }
    return out


# ---- processes: RSS of a process tree ------------------------------------------------------------
def _status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _descendants(pid: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        out += children
        todo += children
    return out


def run_tracked(cmd: list[str], cwd: Path, env: dict[str, str], log_path: Path) -> dict[str, Any]:
    """Run `cmd`, sampling memory every 0.1 s: wall time, exit code, the main process's peak RSS (its kernel
    high-water mark, VmHWM), the peak of the summed RSS of the process and its workers (shared pages count once
    per process, so the sum overstates). (The kernel's ru_maxrss is no use here: it keeps the forking parent's.)"""
    start = time.perf_counter()
    with log_path.open("w", encoding="utf-8") as err:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=err, stderr=subprocess.STDOUT)
        peak_main = peak_tree = 0
        while True:
            pid, status, _ = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            peak_main = max(peak_main, _status_kb(proc.pid, "VmHWM"))
            tree = _status_kb(proc.pid, "VmRSS") + sum(_status_kb(c, "VmRSS") for c in _descendants(proc.pid))
            peak_tree = max(peak_tree, tree)
            time.sleep(0.1)
        proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    return {"seconds": round(seconds, 2), "exit_code": proc.returncode, "peak_rss_mb": round(peak_main / 1024, 1),
            "peak_rss_tree_mb": round(max(peak_tree, peak_main) / 1024, 1)}


def check_output(inp: Path, out: Path) -> dict[str, Any]:
    """Every input row in the output, in input order (by id), none lost, none added."""
    rows_in = rows_out = in_order = errors = 0
    with inp.open(encoding="utf-8") as fi, out.open(encoding="utf-8") as fo:
        while True:
            a, b = fi.readline(), fo.readline()
            if not a and not b:
                break
            rows_in, rows_out = rows_in + bool(a), rows_out + bool(b)
            if a and b:
                rb = json.loads(b)
                in_order += json.loads(a)["id"] == rb["id"]
                errors += rb.get("error") is not None
    return {"rows_in": rows_in, "rows_out": rows_out, "rows_in_input_order": in_order, "error_rows": errors,
            "ok": rows_in == rows_out == in_order}


# ---- machine ----------------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    from joblib import cpu_count

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = _status_kb_file("/proc/meminfo", "MemTotal")
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return {
        "cores": os.cpu_count(), "usable_cores": cpu_count(), "cpu_model": cpu,
        "memory_gb": round(mem / 1024 / 1024, 1) if mem else None,
        "os": platform.platform(), "python": platform.python_version(), "libraries": versions,
        "load_average_at_start": _loadavg(),
    }


def _status_kb_file(path: str, field: str) -> int:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _loadavg() -> list[float] | None:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except (OSError, ValueError):
        return None


# ---- the fastText peer ------------------------------------------------------------------------------
def fasttext_peer(work: Path, config_path: Path, ours_test: dict, ours_pred: list[list[str]],
                  tokens_workload: Sequence[str], repeats: int) -> dict[str, Any]:
    """fastText supervised, one-vs-all (loss='ova'), on our train split and our tokens (lower-cased words,
    punctuation dropped: what our TF-IDF sees); a small grid and per-sector thresholds tuned on dev."""
    try:
        import fasttext
    except ImportError:
        return {"status": "not installed", "hint": "pip install -e '.[bench]' (make bench does it)"}
    import numpy as np

    from sectortag.config import load_config
    from sectortag.features import word_tokens
    from sectortag.metrics import report
    from sectortag.model import tune_thresholds
    from sectortag.text import tokenize_many
    from sectortag.train import load_splits

    config = load_config(config_path)
    codes = tuple(config["labels"]["codes"])
    data = load_splits(config, root=work)
    parts = {s: data[data["split"] == s] for s in ("train", "dev", "test")}
    words = {s: [" ".join(word_tokens(t)) for t in tokenize_many(list(p["text"]), -1, segment=True)]
             for s, p in parts.items()}
    train_file = work / "fasttext_train.txt"
    train_file.write_text("\n".join(fasttext_line(t, l) for t, l in zip(words["train"], parts["train"]["labels"]))
                          + "\n", encoding="utf-8")

    def labels_of(S, thresholds):
        return [[c for c, s, t in zip(codes, row, thresholds) if s >= t] for row in S]

    # thresholds tuned exactly as ours are (the dev F1 curve smoothed over +-window when configured)
    window = {"window": config["model"]["threshold_window"]} if "threshold_window" in config["model"] else {}
    Y_dev = np.array([[c in l for c in codes] for l in parts["dev"]["labels"]], dtype=np.int8)
    grid = [dict(epoch=e, lr=lr, wordNgrams=n) for e in (25, 50) for lr in (0.1, 0.25, 0.5, 1.0) for n in (1, 2)]
    best, tried = None, []
    for params in grid:
        try:
            model = fasttext.train_supervised(str(train_file), loss="ova", dim=100, minCount=1, thread=1,
                                              seed=SEED, verbose=0, **params)
        except RuntimeError as e:  # a learning rate too high for this data diverges ("Encountered NaN")
            tried.append({**params, "dev_macro_f1": None, "error": str(e)})
            continue
        S_dev = fasttext_scores(model, words["dev"], codes)
        thresholds = tune_thresholds(Y_dev, S_dev, **window)
        dev_f1 = report(list(parts["dev"]["labels"]), labels_of(S_dev, thresholds), codes)["macro_f1"]
        tried.append({**params, "dev_macro_f1": round(dev_f1, 4)})
        if best is None or dev_f1 > best[0]:
            best = (dev_f1, params, model, thresholds)
    if best is None:
        return {"status": "failed: every training run diverged", "grid": tried}
    dev_f1, params, model, thresholds = best
    test_pred = labels_of(fasttext_scores(model, words["test"], codes), thresholds)
    test = report(list(parts["test"]["labels"]), test_pred, codes)
    gap = bootstrap_gap(list(parts["test"]["labels"]), ours_pred, test_pred, codes)
    peer_words = [" ".join(word_tokens(t)) for t in tokens_workload]
    speed = measure({"fasttext_classify": (len(peer_words), lambda: labels_of(
        fasttext_scores(model, peer_words, codes), thresholds))}, repeats)["fasttext_classify"]
    model_path = work / "fasttext.bin"
    model.save_model(str(model_path))
    return {
        "status": "ok", "package": f"fasttext-numpy2 {version('fasttext-numpy2')}",
        "setup": "loss=ova, dim=100, minCount=1, thread=1; input: our underthesea word tokens, lower-cased, "
                 "punctuation dropped; epoch/lr/wordNgrams chosen on dev macro-F1; per-sector thresholds tuned "
                 f"on dev as ours ({window or 'no window'}); '__label__none' for paragraphs with no sector. wordNgrams=1 "
                 "diverges ('Encountered NaN') in fasttext-numpy2 0.10.4 at any learning rate, even on toy data",
        "grid": tried, "chosen": params, "dev_macro_f1": round(dev_f1, 4),
        "test_macro_f1": round(test["macro_f1"], 4), "test_micro_f1": round(test["micro_f1"], 4),
        "test_per_label_f1": {c: round(v["f1"], 4) for c, v in test["per_label"].items()},
        "ours_test_macro_f1": round(ours_test["macro_f1"], 4), "ours_test_micro_f1": round(ours_test["micro_f1"], 4),
        "test_n": int(len(parts["test"])), "ours_minus_fasttext_macro_f1": gap,
        "classify_from_tokens": speed, "model_mb": round(model_path.stat().st_size / 1e6, 2),
    }


def bootstrap_gap(y_true: Sequence[Sequence[str]], ours: Sequence[Sequence[str]], peer: Sequence[Sequence[str]],
                  codes: Sequence[str], rounds: int = 2000) -> dict[str, float]:
    """Our test macro-F1 minus the peer's, with a 95% paired bootstrap interval over test paragraphs."""
    import numpy as np

    from sectortag.metrics import to_matrix

    T, A, B = (to_matrix(list(x), codes).astype(bool) for x in (y_true, ours, peer))

    def macro(T, P):  # per-sector F1 (0 when undefined), averaged; T, P: (rounds, n, k)
        tp = (T & P).sum(axis=-2)
        denom = T.sum(axis=-2) + P.sum(axis=-2)
        return np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0).mean(axis=-1)

    rng = np.random.default_rng(SEED)
    idx = rng.integers(0, len(T), size=(rounds, len(T)))
    diffs = macro(T[idx], A[idx]) - macro(T[idx], B[idx])
    return {"difference": round(float(macro(T, A) - macro(T, B)), 4),
            "ci95": [round(float(np.percentile(diffs, 2.5)), 4), round(float(np.percentile(diffs, 97.5)), 4)]}


# ---- report ---------------------------------------------------------------------------------------
def fmt(x: Any, digits: int = 0) -> str:
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return f"{x:,.{digits}f}"
    return str(x)


MODEL_LABELS = {"champion": "champion", "word": "word-feature model"}


def _model_label(r: dict, name: str) -> str:
    info = r.get("models", {}).get(name, {})
    seg = "word segmentation" if info.get("word_segmentation", True) else "no word segmentation"
    return f"{MODEL_LABELS.get(name, name)} ({info.get('features', '?')} features, {seg})"


def targets(r: dict) -> list[dict[str, Any]]:
    """Each target of the issue: what was measured, the target, met or not ((2) and (3) for each model)."""
    out = []

    def add(key, name, measured, target, met, note=""):
        out.append({"id": key, "target": name, "measured": measured, "target_value": target, "met": bool(met),
                    "note": note})

    for name, ratios in r["ratios"].items():
        label, goal = _model_label(r, name), TARGETS["predict_vs_floor"]
        add(f"2_no_repeats_{name}", f"(2) {label}: predict n_jobs=1 / word_tokenize floor, no repeats",
            ratios["predict_n1_distinct_vs_floor"], f">= {goal}", ratios["predict_n1_distinct_vs_floor"] >= goal)
        add(f"2_repeats_{name}", f"(2) {label}: predict n_jobs=1 / word_tokenize floor, {REPEAT_SHARE:.0%} repeats",
            ratios["predict_n1_repeats_vs_floor"], f">= {goal}", ratios["predict_n1_repeats_vs_floor"] >= goal)
        speed = ratios["speedup_n2"]
        large = {k: v for k, v in speed.items() if int(k.split("_")[1]) >= 5000}
        small = {k: v for k, v in speed.items() if int(k.split("_")[1]) < 5000}
        goal = TARGETS["speedup_n2_large"]
        add(f"3_large_{name}", f"(3) {label}: n_jobs=2 speed-up over n_jobs=1, batches of 5,000+ (worst)",
            min(large.values()) if large else None, f">= {goal}", bool(large) and min(large.values()) >= goal,
            ", ".join(f"{k}: {v}" for k, v in large.items()) or "no batch of 5,000+ measured")
        goal = TARGETS["small_batch_not_slower"]
        add(f"3_small_{name}", f"(3) {label}: small batches not slower with n_jobs=2 (worst ratio)",
            min(small.values()) if small else None, f">= {goal} (5% timing noise)",
            bool(small) and min(small.values()) >= goal, ", ".join(f"{k}: {v}" for k, v in small.items()))
    s = r["streaming"]
    add("4_rss", "(4) peak RSS, 200k / 10k paragraphs (main process)", s["rss_ratio"], f"<= {TARGETS['rss_ratio']}",
        s["rss_ratio"] <= TARGETS["rss_ratio"], f"with the tokenizer workers: {s['rss_ratio_tree']}")
    rows_ok = s["big"]["output_check"]["ok"] and s["small"]["output_check"]["ok"]
    add("4_rows", "(4) output rows in input order, none lost",
        f"{s['big']['output_check']['rows_out']} of {s['big']['output_check']['rows_in']}", "all, in order", rows_ok)
    c = r["cold_start"]
    add("5_cold", "(5) cold start: new process, load champion, tag one paragraph (s)", c["api"]["median_s"],
        f"<= {TARGETS['cold_start_s']}", c["api"]["median_s"] <= TARGETS["cold_start_s"],
        f"`sectortag predict` on a 1-row file: {c['cli']['median_s']} s")
    add("5_bundle", "(5) model bundle size (MB)", r["bundle_mb"], f"<= {TARGETS['bundle_mb']}",
        r["bundle_mb"] <= TARGETS["bundle_mb"])
    add("6_train", "(6) `make train` (sectortag train) on the full dataset (s)", r["train"]["seconds"],
        f"<= {TARGETS['train_s']}", r["train"]["exit_code"] == 0 and r["train"]["seconds"] <= TARGETS["train_s"])
    p = r["peer_fasttext"]
    if p.get("status") == "ok":
        add("7_f1", "(7) our test macro-F1 >= fastText's", f"{p['ours_test_macro_f1']} vs {p['test_macro_f1']}",
            ">= fastText", p["ours_test_macro_f1"] >= p["test_macro_f1"])
    else:
        add("7_f1", "(7) our test macro-F1 >= fastText's", p.get("status"), ">= fastText", False, "fastText not measured")
    return out


def markdown(r: dict) -> str:
    """The README "Performance" table."""
    m, t = r["machine"], r["throughput"]
    met = {x["id"]: ("yes" if x["met"] else "**no**") for x in r["targets"]}
    pps = lambda key: fmt(t[key]["paragraphs_per_s"])  # noqa: E731
    size = r["workload"]["size"]
    busy = [v.get("machine_busy_cores") for k, v in t.items() if k.endswith("n1_distinct")]
    lines = [
        f"Measured by `make bench` on {m['cores']} cores ({m['cpu_model']}), Python {m['python']}, underthesea "
        f"{m['libraries']['underthesea']}, scikit-learn {m['libraries']['scikit-learn']}, on a shared machine (load "
        f"average {', '.join(map(str, m['load_average_at_start'] or []))} at the start; busy cores during the "
        f"one-process runs: {', '.join(map(str, busy))}): absolute numbers are noisy, ratios come from the same run. "
        f"Workload: {size:,} paragraphs of {r['workload']['mean_chars']:.0f} characters on average; throughput is "
        f"the median of {r['repeats']} runs after a warm-up.",
    ]
    for name, info in r.get("models", {}).items():
        lines.append(f"- {_model_label(r, name)}: {info.get('what', '')}; test macro-F1 {info.get('test_macro_f1')}.")
    lines += [
        "",
        "| measure | value | relative | target | met |",
        "| --- | --- | --- | --- | --- |",
        f"| (1) underthesea `word_tokenize` alone, 1 process | {pps('floor_word_tokenize')} par/s | 1.00 | the floor | |",
    ]
    for name, ratios in r["ratios"].items():
        p, label = ("" if name == "champion" else f"{name}_"), MODEL_LABELS.get(name, name)
        lines += [
            f"| (2) {label}: `predict`, n_jobs=1, no repeated paragraphs | {pps(f'{p}predict_n1_distinct')} par/s | "
            f"{ratios['predict_n1_distinct_vs_floor']:.2f} × (1) | ≥ 0.85 × (1) | {met[f'2_no_repeats_{name}']} |",
            f"| (2) {label}: `predict`, n_jobs=1, {REPEAT_SHARE:.0%} repeated paragraphs | "
            f"{pps(f'{p}predict_n1_repeats')} par/s | {ratios['predict_n1_repeats_vs_floor']:.2f} × (1) | ≥ 0.85 × (1) "
            f"| {met[f'2_repeats_{name}']} |",
        ]
        for key, v in sorted(ratios["speedup_n2"].items(), key=lambda kv: -int(kv[0].split("_")[1])):
            n = int(key.split("_")[1])
            goal, ok = ("≥ 1.6 ×", met[f"3_large_{name}"]) if n >= 5000 else ("not slower", met[f"3_small_{name}"])
            lines.append(f"| (3) {label}: `predict`, n_jobs=2, batch of {n:,} | {pps(f'{p}{key}_n2')} par/s | "
                         f"{v:.2f} × n_jobs=1 | {goal} | {ok} |")
        lines.append(f"| (3) {label}: `predict`, n_jobs=-1 ({r['n_jobs_minus_1_workers']} workers), batch of {size:,} "
                     f"| {pps(f'{p}predict_nall_distinct')} par/s | {ratios['speedup_nall']:.2f} × n_jobs=1 | | |")
    s = r["streaming"]
    lines += [
        f"| (4) `sectortag predict` (champion), {s['big']['paragraphs']:,}-paragraph JSONL, n_jobs=-1 | "
        f"{s['big']['seconds']:,.0f} s ({fmt(s['big']['paragraphs_per_s'])} par/s), peak RSS "
        f"{s['big']['peak_rss_mb']:,.0f} MB | {s['rss_ratio']:.2f} × the {s['small']['paragraphs']:,}-paragraph file "
        f"({s['small']['peak_rss_mb']:,.0f} MB) | ≤ 1.5 × | {met['4_rss']} |",
        f"| (4) output rows, in input order | {s['big']['output_check']['rows_out']:,} of "
        f"{s['big']['output_check']['rows_in']:,} | | all | {met['4_rows']} |",
        f"| (5) cold start: new process loads the champion, tags one paragraph | {r['cold_start']['api']['median_s']:.2f} s "
        f"| `sectortag predict`: {r['cold_start']['cli']['median_s']:.2f} s | ≤ 2 s | {met['5_cold']} |",
        f"| (5) model bundle on disk | {r['bundle_mb']:.1f} MB | | ≤ 25 MB | {met['5_bundle']} |",
        f"| (6) `make train`, full dataset ({r['train']['paragraphs']:,} paragraphs) | {r['train']['seconds']:.0f} s | | "
        f"≤ 180 s | {met['6_train']} |",
    ]
    p = r["peer_fasttext"]
    if p.get("status") == "ok":
        gap = p["ours_minus_fasttext_macro_f1"]
        word = "word_" if "word" in r["ratios"] else ""
        lines += [
            f"| (7) test macro-F1: champion vs fastText (one-vs-all, same split, underthesea word tokens) | "
            f"{p['ours_test_macro_f1']:.3f} vs {p['test_macro_f1']:.3f} ({p['test_n']} paragraphs) | difference "
            f"{gap['difference']:+.3f}, 95% CI [{gap['ci95'][0]:+.3f}, {gap['ci95'][1]:+.3f}] | ours ≥ fastText | "
            f"{met['7_f1']} |",
            f"| (7) classify from prepared text: champion vs fastText | {pps('classify_from_tokens')} vs "
            f"{fmt(p['classify_from_tokens']['paragraphs_per_s'])} par/s | end to end, n_jobs=1: champion "
            f"{pps('predict_n1_distinct')}, word-feature model {pps(f'{word}predict_n1_distinct')}, fastText on word "
            f"tokens ≈ {fmt(r['peer_end_to_end_n1_estimate'])} par/s | reported | |",
        ]
    else:
        lines.append(f"| (7) fastText peer | {p.get('status')} | | ours ≥ fastText | {met['7_f1']} |")
    return "\n".join(lines) + "\n"


# ---- main -----------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=20_000, help="paragraphs in the throughput workload")
    parser.add_argument("--repeats", type=int, default=3, help="runs per throughput measurement (median)")
    parser.add_argument("--big", type=int, default=200_000, help="paragraphs in the large predict file")
    parser.add_argument("--small-file", type=int, default=10_000, help="paragraphs in the small predict file")
    parser.add_argument("--batches", default="500,2000,5000", help="batch sizes for n_jobs=1 vs 2")
    parser.add_argument("--shared", default=str(ROOT.parent / "shared"), help="../shared (extra text when present)")
    parser.add_argument("--out", default=str(ROOT / "reports"))
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run, not a measurement")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    if args.quick:
        args.size, args.repeats, args.big, args.small_file, args.batches = 3000, 1, 20_000, 2_000, "500,2000"

    began = time.perf_counter()
    sys.path.insert(0, str(ROOT / "src"))
    from sectortag.config import load_config
    from sectortag.metrics import report
    from sectortag.model import SectorTagger
    from sectortag.text import PARALLEL_MIN_TEXTS, _effective_jobs, _tokenizer, tokenize_many
    from sectortag.train import load_splits, tagger_from_config

    result: dict[str, Any] = {"machine": machine(), "repeats": args.repeats, "quick": args.quick, "seed": SEED}
    log(f"machine: {result['machine']['cores']} cores, {result['machine']['cpu_model']}, "
        f"load {result['machine']['load_average_at_start']}")
    work = Path(tempfile.mkdtemp(prefix="sectortag-bench-"))
    try:
        for name in ("training", "datasets"):
            shutil.copytree(ROOT / name, work / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        config_path = work / "training" / "config.toml"
        config = load_config(config_path)
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}", "PYTHONUNBUFFERED": "1"}
        env.pop("MLFLOW_REGISTRY_URI", None)
        exe = Path(sys.executable).with_name("sectortag")
        cli = [str(exe)] if exe.is_file() else [sys.executable, "-m", "sectortag.cli"]

        # (6) training, which also gives the champion every other measurement uses
        log("(6) sectortag train on the full dataset, in a temporary folder with its own MLflow store")
        data = load_splits(config, root=work)
        train = run_tracked(cli + ["train", "--config", str(config_path)], work, env, work / "train.log")
        train["paragraphs"] = int(len(data))
        train["split"] = {s: int((data["split"] == s).sum()) for s in ("train", "dev", "test")}
        train["note"] = "one run (not repeated): `make train` runs exactly this command"
        if train["exit_code"] != 0:
            print((work / "train.log").read_text(encoding="utf-8")[-3000:], file=sys.stderr)
            raise SystemExit("bench: training failed; see the log above")
        result["train"] = train
        bundle = work / config["paths"]["models_dir"] / "champion.joblib"
        result["bundle_mb"] = round(bundle.stat().st_size / 1e6, 2)
        tagger = SectorTagger.load(bundle)
        test = data[data["split"] == "test"]
        ours_pred = tagger.predict(list(test["text"]))
        ours_test = report(list(test["labels"]), ours_pred, tagger.labels_)
        log(f"    {train['seconds']} s; bundle {result['bundle_mb']} MB; test macro-F1 {ours_test['macro_f1']:.4f}")

        # (5) cold start
        log("(5) cold start")
        cold_env = {**env, "SECTORTAG_MODEL": str(bundle)}
        probe = ("import json, sys, time\nt0 = time.perf_counter()\nfrom sectortag import SectorTagger\n"
                 "t1 = time.perf_counter()\ntagger = SectorTagger.load()\nt2 = time.perf_counter()\n"
                 "labels = tagger.predict([sys.argv[1]])[0]\nt3 = time.perf_counter()\n"
                 "print(json.dumps({'import_s': t1 - t0, 'load_s': t2 - t1, 'first_predict_s': t3 - t2, "
                 "'labels': labels}))")
        one = work / "one.jsonl"
        one.write_text(json.dumps({"id": "c1", "text": COLD_TEXT}, ensure_ascii=False) + "\n", encoding="utf-8")
        cold: dict[str, Any] = {"api": {"runs_s": [], "parts": []}, "cli": {"runs_s": []}}
        for i in range(4):  # the first run warms the file cache and is not counted
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-c", probe, COLD_TEXT], cwd=work, env=cold_env,
                                  capture_output=True, text=True, check=True)
            api_s = time.perf_counter() - start
            start = time.perf_counter()
            subprocess.run(cli + ["predict", "--input", str(one), "--output", str(work / "one_out.jsonl"),
                                  "--model", str(bundle)], cwd=work, env=env, capture_output=True, check=True)
            cli_s = time.perf_counter() - start
            if i:
                cold["api"]["runs_s"].append(round(api_s, 3))
                cold["api"]["parts"].append({k: (round(v, 3) if isinstance(v, float) else v)
                                             for k, v in json.loads(done.stdout.strip().splitlines()[-1]).items()})
                cold["cli"]["runs_s"].append(round(cli_s, 3))
        for k in ("api", "cli"):
            cold[k]["median_s"] = round(statistics.median(cold[k]["runs_s"]), 3)
        cold["api"]["what"] = "python -c: import sectortag, SectorTagger.load() (SECTORTAG_MODEL), predict 1 paragraph"
        cold["cli"]["what"] = "sectortag predict --input one.jsonl --output one_out.jsonl --model <bundle>"
        result["cold_start"] = cold
        log(f"    api {cold['api']['median_s']} s, cli {cold['cli']['median_s']} s")

        # the workload
        own = list(data["text"])
        shared = Path(args.shared)
        shared_files = sorted((shared / "corpora").glob("*.jsonl")) if (shared / "corpora").is_dir() else []
        extra = lines_as_paragraphs([t for f in shared_files for t in jsonl_texts(f)])
        w = build_workloads(own, extra, args.size)
        distinct, repeats = w["distinct"], w["repeats"]
        result["workload"] = {
            "size": len(distinct), "seed": SEED, "mean_chars": round(statistics.mean(map(len, distinct)), 1),
            "sources": {"datasets": len(set(own)), "shared_lines": len(set(extra)),
                        "shared_files": [str(f.relative_to(shared)) for f in shared_files] or "absent"},
            "distinct_workload_repeated_share": share_repeated(distinct),
            "repeats_workload_repeated_share": share_repeated(repeats),
            "note": "paragraphs: datasets/ texts, plus each line of at least 40 characters of ../shared corpora "
                    "texts (the `text` field only); shuffled with a fixed seed",
        }
        log(f"workload: {len(distinct):,} paragraphs, {result['workload']['mean_chars']} chars on average, "
            f"repeated share {share_repeated(distinct)} / {share_repeated(repeats)}")

        # the models: the champion as configured and, when its features skip word segmentation, the same
        # configuration with word features, whose predict runs underthesea word segmentation
        models = {"champion": tagger}
        result["models"] = {"champion": {"features": getattr(tagger, "features", "?"),
                                         "word_segmentation": tagger.needs_segmentation,
                                         "test_macro_f1": round(ours_test["macro_f1"], 4),
                                         "what": "the model `make train` ships (training/config.toml)"}}
        if not tagger.needs_segmentation:
            log("a word-feature model (same configuration, features=word) for the word-segmentation path")
            word = tagger_from_config({**config, "model": {**config["model"], "features": "word"}})
            word.n_jobs = -1
            parts = {s: data[data["split"] == s] for s in ("train", "dev", "test")}
            word.fit(list(parts["train"]["text"]), list(parts["train"]["labels"]),
                     list(parts["dev"]["text"]), list(parts["dev"]["labels"]))
            word_test = report(list(parts["test"]["labels"]), word.predict(list(parts["test"]["text"])), word.labels_)
            models["word"] = word
            result["models"]["word"] = {"features": "word", "word_segmentation": True,
                                        "test_macro_f1": round(word_test["macro_f1"], 4),
                                        "what": "training/config.toml with model.features=word, fitted in the bench"}

        # warm-up: the tokenizer model in this process and the worker pool, on text outside the workload
        spare = w["spare"] if len(w["spare"]) >= PARALLEL_MIN_TEXTS else w["pool"]
        warm = spare[: PARALLEL_MIN_TEXTS + 200]
        ut = _tokenizer()
        log("warm-up")
        for t in warm[:200]:
            ut.word_tokenize(t, format="text")
        for model in models.values():
            for n_jobs, texts in ((1, warm[:200]), (2, warm), (-1, warm)):
                model.n_jobs = n_jobs
                model.predict(texts)

        def predict_with(model, n_jobs: int, texts: list[str]) -> Callable[[], Any]:
            def run():
                model.n_jobs = n_jobs
                return model.predict(texts)
            return run

        def floor_run():
            return [ut.word_tokenize(t, format="text") for t in distinct]

        all_workers = _effective_jobs(-1)
        result["n_jobs_minus_1_workers"] = all_workers
        prefix = {"champion": "", "word": "word_"}
        log(f"(1)-(3) throughput on {len(distinct):,} paragraphs, {args.repeats} runs each, interleaved")
        cases = {"floor_word_tokenize": (len(distinct), floor_run)}
        for name, model in models.items():
            p = prefix[name]
            cases[f"{p}predict_n1_distinct"] = (len(distinct), predict_with(model, 1, distinct))
            cases[f"{p}predict_n1_repeats"] = (len(repeats), predict_with(model, 1, repeats))
            cases[f"{p}predict_n2_distinct"] = (len(distinct), predict_with(model, 2, distinct))
            if all_workers != 2:
                cases[f"{p}predict_nall_distinct"] = (len(distinct), predict_with(model, -1, distinct))
        t = measure(cases, args.repeats)
        if all_workers == 2:  # the same configuration as n_jobs=2 here: one run is enough to show it
            for name, model in models.items():
                key = f"{prefix[name]}predict_nall_distinct"
                t.update(measure({key: (len(distinct), predict_with(model, -1, distinct))}, 1))
                t[key]["note"] = "n_jobs=-1 is 2 workers on this machine, as n_jobs=2: run once"
        batches = [int(b) for b in args.batches.split(",") if b.strip()]
        log(f"(3) batch sizes {batches}: n_jobs=1 vs 2")
        batch_cases = {}
        for name, model in models.items():
            for b in batches:  # a small batch is predicted several times per run, so that a run lasts a few seconds
                texts, loops = distinct[:b], max(1, math.ceil(2000 / b))
                for n_jobs in (1, 2):
                    run = predict_with(model, n_jobs, texts)
                    batch_cases[f"{prefix[name]}batch_{b}_n{n_jobs}"] = (
                        b * loops, (lambda run=run, loops=loops: [run() for _ in range(loops)]))
        t.update(measure(batch_cases, args.repeats))

        log("the workload as each model's input (for classify-only throughput), and as word tokens for the peer")
        inputs = {}
        for name, model in models.items():
            seg = model.needs_segmentation
            if seg in inputs:
                continue
            tok_s, _ = timed(lambda: inputs.__setitem__(seg, tokenize_many(distinct, -1, segment=seg)))
            t[f"tokenize_many_nall_{'words' if seg else 'no_segmentation'}_once"] = {
                "paragraphs": len(distinct), "repeats": 1, "median_s": round(tok_s, 3),
                "paragraphs_per_s": round(len(distinct) / tok_s, 1)}
        if True not in inputs:
            inputs[True] = tokenize_many(distinct, -1, segment=True)
        for name, model in models.items():
            tokens = inputs[model.needs_segmentation]
            t.update(measure({f"{prefix[name]}classify_from_tokens": (len(tokens), lambda model=model, tokens=tokens:
                              model._labels_from_scores(model._scores(tokens)))}, args.repeats))
        result["throughput"] = t

        floor = t["floor_word_tokenize"]["paragraphs_per_s"]
        per_k = lambda rate: round(1000 / rate, 3)  # noqa: E731
        result["ratios"], result["cost_per_1000_paragraphs_s"] = {}, {"word_tokenize_floor": per_k(floor)}
        for name in models:
            p = prefix[name]
            t[f"{p}batch_{len(distinct)}_n1"] = t[f"{p}predict_n1_distinct"]
            t[f"{p}batch_{len(distinct)}_n2"] = t[f"{p}predict_n2_distinct"]
            n1 = t[f"{p}predict_n1_distinct"]["paragraphs_per_s"]
            result["ratios"][name] = {
                "predict_n1_distinct_vs_floor": round(n1 / floor, 3),
                "predict_n1_repeats_vs_floor": round(t[f"{p}predict_n1_repeats"]["paragraphs_per_s"] / floor, 3),
                "speedup_n2": {f"batch_{b}": round(t[f"{p}batch_{b}_n2"]["paragraphs_per_s"]
                                                   / t[f"{p}batch_{b}_n1"]["paragraphs_per_s"], 3)
                               for b in sorted(set(batches + [len(distinct)]))},
                "speedup_nall": round(t[f"{p}predict_nall_distinct"]["paragraphs_per_s"] / n1, 3),
            }
            clf = t[f"{p}classify_from_tokens"]["paragraphs_per_s"]
            result["cost_per_1000_paragraphs_s"][name] = {
                "predict_n1": per_k(n1), "classify_from_tokens": per_k(clf),
                "text_preparation": round(per_k(n1) - per_k(clf), 3)}
        result["cost_per_1000_paragraphs_s"]["note"] = (
            "derived from the medians above: predict n_jobs=1 = text preparation (clean, normalise and, for word "
            "features, word_tokenize) + classify")

        # (7) the peer
        log("(7) fastText peer")
        result["peer_fasttext"] = fasttext_peer(work, config_path, ours_test, ours_pred, inputs[True], args.repeats)
        if result["peer_fasttext"].get("status") == "ok":
            ft = result["peer_fasttext"]["classify_from_tokens"]["paragraphs_per_s"]
            p = prefix["word" if "word" in models else "champion"]
            n1, clf = t[f"{p}predict_n1_distinct"]["paragraphs_per_s"], t[f"{p}classify_from_tokens"]["paragraphs_per_s"]
            result["peer_end_to_end_n1_estimate"] = round(1 / (1 / n1 - 1 / clf + 1 / ft), 1)
            result["peer_fasttext"]["end_to_end_n1_estimate_note"] = (
                "word segmentation as our word-feature model's (its measured predict n_jobs=1 minus its classify "
                "time) plus fastText's measured classify time")
        log(f"    {json.dumps({k: v for k, v in result['peer_fasttext'].items() if 'macro' in k or k == 'status'})}")

        # (4) streaming: a 200,000- and a 10,000-paragraph file through `sectortag predict`
        log(f"(4) sectortag predict on {args.big:,} and {args.small_file:,} paragraph files (n_jobs=-1, one run each)")
        streaming: dict[str, Any] = {"n_jobs": -1, "chunk_size": "default (5000)",
                                     "note": "each file run once (not repeated); RSS sampled every 0.1 s"}
        for key, n, seed in (("small", args.small_file, SEED + 1), ("big", args.big, SEED + 2)):
            inp, out = work / f"predict_{n}.jsonl", work / f"predict_{n}_out.jsonl"
            sample_file(inp, w["pool"], n, seed)
            run = run_tracked(cli + ["predict", "--input", str(inp), "--output", str(out), "--model", str(bundle),
                                     "--n-jobs", "-1"], work, env, work / f"predict_{n}.log")
            if run["exit_code"] != 0:
                print((work / f"predict_{n}.log").read_text(encoding="utf-8")[-3000:], file=sys.stderr)
                raise SystemExit(f"bench: sectortag predict failed on {inp.name}")
            run["paragraphs"] = n
            run["paragraphs_per_s"] = round(n / run["seconds"], 1)
            run["input_mb"] = round(inp.stat().st_size / 1e6, 1)
            run["output_check"] = check_output(inp, out)
            streaming[key] = run
            inp.unlink()
            out.unlink()
            log(f"    {n:,}: {run['seconds']} s, peak RSS {run['peak_rss_mb']} MB (tree {run['peak_rss_tree_mb']} MB), "
                f"output ok: {run['output_check']['ok']}")
        streaming["rss_ratio"] = round(streaming["big"]["peak_rss_mb"] / streaming["small"]["peak_rss_mb"], 3)
        streaming["rss_ratio_tree"] = round(streaming["big"]["peak_rss_tree_mb"] / streaming["small"]["peak_rss_tree_mb"], 3)
        result["streaming"] = streaming

        result["machine"]["load_average_at_end"] = _loadavg()
        result["runtime_s"] = round(time.perf_counter() - began, 1)
        result["targets"] = targets(result)
        out_dir = Path(args.out)
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
        return 0
    finally:
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
