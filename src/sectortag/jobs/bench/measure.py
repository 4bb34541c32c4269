"""Timing and memory: wall time and machine-wide busy cores of in-process runs (interleaved, median), wall
time and peak RSS of child processes (sampled from /proc), cold start of a new process, and the machine."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from .workloads import SEED, check_output, sample_file

LIBRARIES = ("sectortag", "scikit-learn", "underthesea", "underthesea_core", "numpy", "scipy", "joblib", "pandas",
             "pyarrow", "mlflow", "fasttext-numpy2")
COLD_TEXT = "Năm 2024, thu ngân sách nhà nước trên địa bàn tỉnh đạt 21.500 tỷ đồng, vượt 9% dự toán."
# what a new process does for the cold start: import sectortag, load the champion ($SECTORTAG_MODEL), tag one paragraph
COLD_PROBE = """import json, sys, time
t0 = time.perf_counter()
from sectortag import SectorTagger
t1 = time.perf_counter()
tagger = SectorTagger.load()
t2 = time.perf_counter()
labels = tagger.predict([sys.argv[1]])[0]
t3 = time.perf_counter()
print(json.dumps({'import_s': t1 - t0, 'load_s': t2 - t1, 'first_predict_s': t3 - t2, 'labels': labels}))
"""


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---- in-process timing --------------------------------------------------------------------------
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


def measure(cases: dict[str, tuple[int, Callable[[], Any]]], repeats: int,
            reset: Callable[[], Any] | None = None) -> dict[str, dict]:
    """Run each case `repeats` times, interleaved (case A, B, C, A, B, C, …) so that a change in the machine's
    load hits every case alike; report the runs, the median and paragraphs per second. `reset` (untimed) runs
    before each run: it drops whatever an earlier run left for the next to reuse."""
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
    for r in range(repeats):
        for name, (n, fn) in cases.items():
            if reset is not None:
                reset()
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


# ---- processes: wall time and RSS of a process tree -----------------------------------------------
def _kb_field(path: str | Path, field: str) -> int:
    """The number of a `field:  <n> kB` line of a /proc file (0 when absent or unreadable)."""
    try:
        for line in Path(path).read_text().splitlines():
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


def _cpu_ticks(pid: int) -> int:
    """User + system CPU clock ticks of one process so far (its own, not its children's), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, ValueError, IndexError):
        return 0


def run_tracked(cmd: list[str], cwd: Path, env: dict[str, str], log_path: Path) -> dict[str, Any]:
    """Run `cmd`, sampling memory every 0.1 s: wall time, exit code, the main process's peak RSS (its kernel
    high-water mark, VmHWM), the peak of the summed RSS of the process and its workers (shared pages count once
    per process, so the sum overstates). (The kernel's ru_maxrss is no use here: it keeps the forking parent's.)
    CPU seconds of the whole tree: the kernel's count for the process and every descendant reaped by its parent
    (wait4), and the sum of each process's last sampled CPU time (which also sees descendants left unreaped,
    such as a JVM's Python workers); `cpu_s` is the larger."""
    start = time.perf_counter()
    ticks: dict[int, int] = {}
    with log_path.open("w", encoding="utf-8") as err:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=err, stderr=subprocess.STDOUT)
        peak_main = peak_tree = 0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            peak_main = max(peak_main, _kb_field(f"/proc/{proc.pid}/status", "VmHWM"))
            tree = [proc.pid, *_descendants(proc.pid)]
            peak_tree = max(peak_tree, sum(_kb_field(f"/proc/{p}/status", "VmRSS") for p in tree))
            for p in tree:
                ticks[p] = max(ticks.get(p, 0), _cpu_ticks(p))
            time.sleep(0.1)
        proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    reaped = usage.ru_utime + usage.ru_stime
    sampled = sum(ticks.values()) / os.sysconf("SC_CLK_TCK")
    return {"seconds": round(seconds, 2), "exit_code": proc.returncode, "peak_rss_mb": round(peak_main / 1024, 1),
            "peak_rss_tree_mb": round(max(peak_tree, peak_main) / 1024, 1), "cpu_s": round(max(reaped, sampled), 2),
            "cpu_reaped_s": round(reaped, 2), "cpu_sampled_s": round(sampled, 2)}


def cold_start(work: Path, env: dict[str, str], cli: list[str], model: Path, runs: int = 3) -> dict[str, Any]:
    """A new Python process that imports sectortag, loads the champion (`SectorTagger.load()` of `model`, given
    as $SECTORTAG_MODEL) and tags one paragraph; and `sectortag predict` on a one-row file. One untimed run
    first warms the file cache; then the median of `runs`."""
    one = work / "one.jsonl"
    one.write_text(json.dumps({"id": "c1", "text": COLD_TEXT}, ensure_ascii=False) + "\n", encoding="utf-8")
    cold: dict[str, Any] = {"api": {"runs_s": [], "parts": []}, "cli": {"runs_s": []}}
    for i in range(runs + 1):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", COLD_PROBE, COLD_TEXT], cwd=work,
                              env={**env, "SECTORTAG_MODEL": str(model)}, capture_output=True, text=True, check=True)
        api_s = time.perf_counter() - start
        start = time.perf_counter()
        subprocess.run(cli + ["predict", "--input", str(one), "--output", str(work / "one_out.jsonl"),
                              "--model", str(model)], cwd=work, env=env, capture_output=True, check=True)
        cli_s = time.perf_counter() - start
        if i:
            parts = json.loads(done.stdout.strip().splitlines()[-1])
            cold["api"]["runs_s"].append(round(api_s, 3))
            cold["api"]["parts"].append({k: (round(v, 3) if isinstance(v, float) else v) for k, v in parts.items()})
            cold["cli"]["runs_s"].append(round(cli_s, 3))
    for k in ("api", "cli"):
        cold[k]["median_s"] = round(statistics.median(cold[k]["runs_s"]), 3)
    cold["api"]["what"] = "python -c: import sectortag, SectorTagger.load() (SECTORTAG_MODEL), predict 1 paragraph"
    cold["cli"]["what"] = "sectortag predict --input one.jsonl --output one_out.jsonl --model <model file>"
    return cold


def streaming(work: Path, env: dict, cli: list[str], model: Path, pool: list[str], small: int, big: int) -> dict:
    """(4) a `big`- and a `small`-paragraph file through `sectortag predict` (n_jobs=-1, one run each)."""
    log(f"(4) sectortag predict on {big:,} and {small:,} paragraph files (n_jobs=-1, one run each)")
    out_all: dict[str, Any] = {"n_jobs": -1, "chunk_size": "default (5000)",
                               "note": "each file run once (not repeated); RSS sampled every 0.1 s"}
    for key, n, seed in (("small", small, SEED + 1), ("big", big, SEED + 2)):
        inp, out = work / f"predict_{n}.jsonl", work / f"predict_{n}_out.jsonl"
        sample_file(inp, pool, n, seed)
        run = run_tracked(cli + ["predict", "--input", str(inp), "--output", str(out), "--model", str(model),
                                 "--n-jobs", "-1"], work, env, work / f"predict_{n}.log")
        if run["exit_code"] != 0:
            print((work / f"predict_{n}.log").read_text(encoding="utf-8")[-3000:], file=sys.stderr)
            raise SystemExit(f"bench: sectortag predict failed on {inp.name}")
        run.update(paragraphs=n, paragraphs_per_s=round(n / run["seconds"], 1),
                   input_mb=round(inp.stat().st_size / 1e6, 1), output_check=check_output(inp, out))
        out_all[key] = run
        inp.unlink()
        out.unlink()
        log(f"    {n:,}: {run['seconds']} s, peak RSS {run['peak_rss_mb']} MB (tree {run['peak_rss_tree_mb']} MB), "
            f"output ok: {run['output_check']['ok']}")
    out_all["rss_ratio"] = round(out_all["big"]["peak_rss_mb"] / out_all["small"]["peak_rss_mb"], 3)
    out_all["rss_ratio_tree"] = round(out_all["big"]["peak_rss_tree_mb"] / out_all["small"]["peak_rss_tree_mb"], 3)
    return out_all


# ---- the machine --------------------------------------------------------------------------------
def load_average() -> list[float] | None:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except (OSError, ValueError):
        return None


def machine() -> dict[str, Any]:
    """Cores, CPU model, memory, OS, Python, the versions of the libraries that matter, the load average."""
    from joblib import cpu_count

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = _kb_field("/proc/meminfo", "MemTotal")
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
        "load_average_at_start": load_average(),
    }
