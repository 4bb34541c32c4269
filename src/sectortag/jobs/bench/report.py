"""The benchmark's results as the issue's targets (measured, target, met) and as the README "Performance"
table (reports/bench.md); also the ratios and per-1,000-paragraph costs derived from the throughput runs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .workloads import REPEAT_SHARE

TARGETS = {
    "predict_vs_floor": 0.85,
    "speedup_n2_large": 1.6,
    "small_batch_not_slower": 0.95,  # n_jobs=2 / n_jobs=1 on a small batch; 5% is timing noise on a busy machine
    "rss_ratio": 1.5,
    "cold_start_s": 1.0,
    "bundle_mb": 25.0,
    "train_s": 180.0,
}
LARGE_BATCH = 5000  # batches of at least this many paragraphs must speed up with n_jobs=2
MODEL_LABELS = {"champion": "champion", "word": "word-feature model"}
PREFIX = {"champion": "", "word": "word_"}  # of each model's keys in the throughput table


def fmt(x: Any, digits: int = 0) -> str:
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return f"{x:,.{digits}f}"
    return str(x)


def model_label(r: dict, name: str) -> str:
    info = r.get("models", {}).get(name, {})
    seg = "word segmentation" if info.get("word_segmentation", True) else "no word segmentation"
    return f"{MODEL_LABELS.get(name, name)} ({info.get('features', '?')} features, {seg})"


def derive(t: dict[str, dict], models: Sequence[str], batches: Sequence[int], size: int) -> tuple[dict, dict]:
    """Per model, from the throughput table `t` (which gains `<p>batch_<size>_n1/_n2`, the whole workload as a
    batch): the ratios to the word_tokenize floor and the n_jobs speed-ups; and the costs per 1,000 paragraphs."""
    floor = t["floor_word_tokenize"]["paragraphs_per_s"]
    per_k = lambda rate: round(1000 / rate, 3)  # noqa: E731
    ratios, cost = {}, {"word_tokenize_floor": per_k(floor)}
    for name in models:
        p = PREFIX[name]
        t[f"{p}batch_{size}_n1"] = t[f"{p}predict_n1_distinct"]
        t[f"{p}batch_{size}_n2"] = t[f"{p}predict_n2_distinct"]
        n1 = t[f"{p}predict_n1_distinct"]["paragraphs_per_s"]
        ratios[name] = {
            "predict_n1_distinct_vs_floor": round(n1 / floor, 3),
            "predict_n1_repeats_vs_floor": round(t[f"{p}predict_n1_repeats"]["paragraphs_per_s"] / floor, 3),
            "speedup_n2": {f"batch_{b}": round(t[f"{p}batch_{b}_n2"]["paragraphs_per_s"]
                                               / t[f"{p}batch_{b}_n1"]["paragraphs_per_s"], 3)
                           for b in sorted(set([*batches, size]))},
            "speedup_nall": round(t[f"{p}predict_nall_distinct"]["paragraphs_per_s"] / n1, 3),
        }
        clf = t[f"{p}classify_from_tokens"]["paragraphs_per_s"]
        cost[name] = {"predict_n1": per_k(n1), "classify_from_tokens": per_k(clf),
                      "text_preparation": round(per_k(n1) - per_k(clf), 3)}
    cost["note"] = ("derived from the medians above: predict n_jobs=1 = text preparation (clean, normalise and, for "
                    "word features, word_tokenize) + classify")
    return ratios, cost


def targets(r: dict) -> list[dict[str, Any]]:
    """Each target of the issue: what was measured, the target, met or not ((2) and (3) for each model)."""
    out = []

    def add(key, name, measured, target, met, note=""):
        out.append({"id": key, "target": name, "measured": measured, "target_value": target, "met": bool(met),
                    "note": note})

    for name, ratios in r["ratios"].items():
        label, goal = model_label(r, name), TARGETS["predict_vs_floor"]
        add(f"2_no_repeats_{name}", f"(2) {label}: predict n_jobs=1 / word_tokenize floor, no repeats",
            ratios["predict_n1_distinct_vs_floor"], f">= {goal}", ratios["predict_n1_distinct_vs_floor"] >= goal)
        add(f"2_repeats_{name}", f"(2) {label}: predict n_jobs=1 / word_tokenize floor, {REPEAT_SHARE:.0%} repeats",
            ratios["predict_n1_repeats_vs_floor"], f">= {goal}", ratios["predict_n1_repeats_vs_floor"] >= goal)
        speed = ratios["speedup_n2"]
        large = {k: v for k, v in speed.items() if int(k.split("_")[1]) >= LARGE_BATCH}
        small = {k: v for k, v in speed.items() if int(k.split("_")[1]) < LARGE_BATCH}
        goal = TARGETS["speedup_n2_large"]
        add(f"3_large_{name}", f"(3) {label}: n_jobs=2 speed-up over n_jobs=1, batches of {LARGE_BATCH:,}+ (worst)",
            min(large.values()) if large else None, f">= {goal}", bool(large) and min(large.values()) >= goal,
            ", ".join(f"{k}: {v}" for k, v in large.items()) or f"no batch of {LARGE_BATCH:,}+ measured")
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
    add("5_bundle", "(5) model file size (MB)", r["bundle_mb"], f"<= {TARGETS['bundle_mb']}",
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


def _header(r: dict) -> list[str]:
    m, t = r["machine"], r["throughput"]
    busy = [v.get("machine_busy_cores") for k, v in t.items() if k.endswith("n1_distinct")]
    lines = [
        f"Measured by `make bench` on {m['cores']} cores ({m['cpu_model']}), Python {m['python']}, underthesea "
        f"{m['libraries']['underthesea']}, scikit-learn {m['libraries']['scikit-learn']}, on a shared machine (load "
        f"average {', '.join(map(str, m['load_average_at_start'] or []))} at the start; busy cores during the "
        f"one-process runs: {', '.join(map(str, busy))}): absolute numbers are noisy, ratios come from the same run. "
        f"Workload: {r['workload']['size']:,} paragraphs of {r['workload']['mean_chars']:.0f} characters on average; "
        f"throughput is the median of {r['repeats']} runs after a warm-up.",
    ]
    for name, info in r.get("models", {}).items():
        lines.append(f"- {model_label(r, name)}: {info.get('what', '')}; test macro-F1 {info.get('test_macro_f1')}.")
    return lines + ["", "| measure | value | relative | target | met |", "| --- | --- | --- | --- | --- |"]


def _model_rows(r: dict, name: str, ratios: dict, met: dict[str, str]) -> list[str]:
    """Rows (2) and (3) of one model."""
    t, p, label = r["throughput"], PREFIX.get(name, f"{name}_"), MODEL_LABELS.get(name, name)
    pps = lambda key: fmt(t[key]["paragraphs_per_s"])  # noqa: E731
    floor = f"≥ {TARGETS['predict_vs_floor']} × (1)"
    lines = [
        f"| (2) {label}: `predict`, n_jobs=1, no repeated paragraphs | {pps(f'{p}predict_n1_distinct')} par/s | "
        f"{ratios['predict_n1_distinct_vs_floor']:.2f} × (1) | {floor} | {met[f'2_no_repeats_{name}']} |",
        f"| (2) {label}: `predict`, n_jobs=1, {REPEAT_SHARE:.0%} repeated paragraphs | "
        f"{pps(f'{p}predict_n1_repeats')} par/s | {ratios['predict_n1_repeats_vs_floor']:.2f} × (1) | {floor} "
        f"| {met[f'2_repeats_{name}']} |",
    ]
    for key, v in sorted(ratios["speedup_n2"].items(), key=lambda kv: -int(kv[0].split("_")[1])):
        n = int(key.split("_")[1])
        goal, ok = ((f"≥ {TARGETS['speedup_n2_large']} ×", met[f"3_large_{name}"]) if n >= LARGE_BATCH
                    else ("not slower", met[f"3_small_{name}"]))
        lines.append(f"| (3) {label}: `predict`, n_jobs=2, batch of {n:,} | {pps(f'{p}{key}_n2')} par/s | "
                     f"{v:.2f} × n_jobs=1 | {goal} | {ok} |")
    lines.append(f"| (3) {label}: `predict`, n_jobs=-1 ({r['n_jobs_minus_1_workers']} workers), batch of "
                 f"{r['workload']['size']:,} | {pps(f'{p}predict_nall_distinct')} par/s | "
                 f"{ratios['speedup_nall']:.2f} × n_jobs=1 | | |")
    return lines


def _process_rows(r: dict, met: dict[str, str]) -> list[str]:
    """Rows (4) to (6): streaming, cold start, model file, training."""
    s, c = r["streaming"], r["cold_start"]
    return [
        f"| (4) `sectortag predict` (champion), {s['big']['paragraphs']:,}-paragraph JSONL, n_jobs=-1 | "
        f"{s['big']['seconds']:,.0f} s ({fmt(s['big']['paragraphs_per_s'])} par/s), peak RSS "
        f"{s['big']['peak_rss_mb']:,.0f} MB | {s['rss_ratio']:.2f} × the {s['small']['paragraphs']:,}-paragraph file "
        f"({s['small']['peak_rss_mb']:,.0f} MB) | ≤ {TARGETS['rss_ratio']} × | {met['4_rss']} |",
        f"| (4) output rows, in input order | {s['big']['output_check']['rows_out']:,} of "
        f"{s['big']['output_check']['rows_in']:,} | | all | {met['4_rows']} |",
        f"| (5) cold start: new process loads the champion, tags one paragraph | {c['api']['median_s']:.2f} s "
        f"| `sectortag predict`: {c['cli']['median_s']:.2f} s | ≤ {TARGETS['cold_start_s']:g} s | {met['5_cold']} |",
        f"| (5) model file on disk | {r['bundle_mb']:.1f} MB | | ≤ {TARGETS['bundle_mb']:g} MB | {met['5_bundle']} |",
        f"| (6) `make train`, full dataset ({r['train']['paragraphs']:,} paragraphs) | {r['train']['seconds']:.0f} s "
        f"| | ≤ {TARGETS['train_s']:g} s | {met['6_train']} |",
    ]


def _peer_rows(r: dict, met: dict[str, str]) -> list[str]:
    p, t = r["peer_fasttext"], r["throughput"]
    if p.get("status") != "ok":
        return [f"| (7) fastText peer | {p.get('status')} | | ours ≥ fastText | {met['7_f1']} |"]
    pps = lambda key: fmt(t[key]["paragraphs_per_s"])  # noqa: E731
    gap = p["ours_minus_fasttext_macro_f1"]
    word = "word_" if "word" in r["ratios"] else ""
    return [
        f"| (7) test macro-F1: champion vs fastText (one-vs-all, same split, underthesea word tokens) | "
        f"{p['ours_test_macro_f1']:.3f} vs {p['test_macro_f1']:.3f} ({p['test_n']} paragraphs) | difference "
        f"{gap['difference']:+.3f}, 95% CI [{gap['ci95'][0]:+.3f}, {gap['ci95'][1]:+.3f}] | ours ≥ fastText | "
        f"{met['7_f1']} |",
        f"| (7) classify from prepared text: champion vs fastText | {pps('classify_from_tokens')} vs "
        f"{fmt(p['classify_from_tokens']['paragraphs_per_s'])} par/s | end to end, n_jobs=1: champion "
        f"{pps('predict_n1_distinct')}, word-feature model {pps(f'{word}predict_n1_distinct')}, fastText on word "
        f"tokens ≈ {fmt(r['peer_end_to_end_n1_estimate'])} par/s | reported | |",
    ]


def markdown(r: dict) -> str:
    """The README "Performance" table."""
    met = {x["id"]: ("yes" if x["met"] else "**no**") for x in r["targets"]}
    t = r["throughput"]
    lines = _header(r) + [f"| (1) underthesea `word_tokenize` alone, 1 process | "
                          f"{fmt(t['floor_word_tokenize']['paragraphs_per_s'])} par/s | 1.00 | the floor | |"]
    for name, ratios in r["ratios"].items():
        lines += _model_rows(r, name, ratios, met)
    from .spark import rows_md

    spark = rows_md(r["spark"]) if "spark" in r else []
    return "\n".join(lines + _process_rows(r, met) + _peer_rows(r, met) + spark) + "\n"
