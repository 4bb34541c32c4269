"""`make evaluate`: our model, its baselines and the ablation grid on every evaluation set, never pooled.

Sets and parts (`corpus.evaluation_sets`):
  ours           datasets/: dev and test splits, and `articles` (the paragraphs of whole articles in the test split)
  seed           the seed article (test only)
  news           real news paragraphs, dev and test halves
  news_articles  whole real articles, every paragraph (dev only: used for choices, reported on its own)
  legal          statutory text, dev and test halves
Every table gives macro-F1 and the false-tag rate (share of paragraphs without a sector that get one).
Choices (the ablation grid) are made on the dev parts only; each variant's difference from the default
comes with a 95% paired bootstrap interval. Writes reports/evaluation.{json,md}, reports/errors_<set>.md,
reports/ablations.md, reports/model_card.md, and logs them to the MLflow experiment `<experiment>-evaluation`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..corpus import evaluation_sets
from ..labels import SECTOR_CODES
from ..metrics import bootstrap_difference, report
from ..model import SectorTagger
from ..settings import Settings, load_settings, model_params

# where each set's figures come from: the test part where there is one, else its dev part
REPORT_PARTS = {"ours": "test", "ours_articles": "articles", "seed": "test", "news": "test",
                "news_articles": "dev", "legal": "test"}
SELECTION_WEIGHTS = {"ours": 0.2, "news": 0.3, "news_articles": 0.3, "legal": 0.2}
# the ablation grid: each entry is a set of parameter values tried against the default (dev parts only)
GRID = [
    {"features": ["syllable", "both"]},
    {"features": ["syllable", "both"], "false_tag_budget": [1.0]},
    {"word_ngram_range": [(1, 1), (1, 3)]},
    {"C": [4.0, 16.0]},
    {"class_weight": ["balanced"]},
    {"classifier": ["svm"], "C": [0.5]},
    {"thresholds": [0.5]},
    {"threshold_window": [0.0, 0.1]},
    {"false_tag_budget": [0.04, 0.05, 0.08, 1.0]},
    {"min_df": [2]},
]


def table_sets(sets: dict) -> dict[str, pd.DataFrame]:
    """The frames a results table has one column for: name → frame."""
    out = {}
    for column, part in REPORT_PARTS.items():
        name = "ours" if column.startswith("ours") else column
        if name in sets and part in sets[name]:
            out[column] = sets[name][part]
    return out


def dev_sets(sets: dict) -> dict[str, pd.DataFrame]:
    return {name: parts["dev"] for name, parts in sets.items() if "dev" in parts}


def fit_ours(settings: Settings, sets: dict, **params) -> SectorTagger:
    """The configured model (with `params` changed), fitted on our train split and tuned on our dev split."""
    train, dev = sets["ours"]["train"], sets["ours"]["dev"]
    tagger = SectorTagger(**{**model_params(settings), "n_jobs": -1, **params})
    return tagger.fit(list(train.text), list(train.labels), list(dev.text), list(dev.labels))


def score(model, frames: dict[str, pd.DataFrame]) -> tuple[dict[str, dict], dict[str, list]]:
    """Report and predictions of `model` on each frame."""
    reports, predictions = {}, {}
    for name, frame in frames.items():
        predictions[name] = model.predict(list(frame.text))
        reports[name] = report(list(frame.labels), predictions[name], SECTOR_CODES)
    return reports, predictions


def selection(dev: dict[str, dict]) -> float:
    """Weighted dev macro-F1 over the sets present (weights renormalised)."""
    present = {k: w for k, w in SELECTION_WEIGHTS.items() if k in dev}
    return sum(dev[k]["macro_f1"] * w for k, w in present.items()) / sum(present.values())


def worst_errors(frame: pd.DataFrame, predicted: list[list[str]], scores: np.ndarray, n: int = 20) -> list[dict]:
    """The `n` most confident mistakes: false positives with the highest scores, false negatives with the lowest."""
    errors = []
    for i, (true, pred) in enumerate(zip(frame["labels"], predicted)):
        for j, code in enumerate(SECTOR_CODES):
            if (code in pred) != (code in true):
                s = float(scores[i, j])
                kind = "false_positive" if code in pred else "false_negative"
                errors.append({"kind": kind, "sector": code, "score": round(s, 3), "true": list(true),
                               "predicted": list(pred), "text": frame["text"].iloc[i][:400],
                               "rank": s if kind == "false_positive" else 1 - s})
    errors.sort(key=lambda e: -e["rank"] if not np.isnan(e["rank"]) else 0)
    return [{k: v for k, v in e.items() if k != "rank"} for e in errors[:n]]


def markdown_table(rows: dict[str, dict[str, dict]], columns: list[str], metric: str = "macro_f1") -> str:
    head = "| model | " + " | ".join(columns) + " |\n|---|" + "---|" * len(columns) + "\n"
    body = ""
    for name, by_set in rows.items():
        cells = [f"{by_set[c][metric]:.3f}" if c in by_set and not np.isnan(by_set[c][metric]) else "–" for c in columns]
        body += f"| {name} | " + " | ".join(cells) + " |\n"
    return head + body


def run_ablations(settings: Settings, sets: dict, default_dev: tuple[dict, dict], say) -> dict[str, dict]:
    """Each grid variant on the dev parts, with its difference from the default (95% bootstrap interval)."""
    from sklearn.model_selection import ParameterGrid

    devs = dev_sets(sets)
    base_reports, base_pred = default_dev
    out = {"default": {**base_reports, "selection": selection(base_reports), "params": {}}}
    for grid in GRID:
        for params in ParameterGrid(grid):
            name = ", ".join(f"{k}={v}" for k, v in params.items())
            reports, pred = score(fit_ours(settings, sets, **params), devs)
            diffs = {s: bootstrap_difference(list(devs[s].labels), pred[s], base_pred[s], SECTOR_CODES)
                     for s in devs}
            out[name] = {**reports, "selection": selection(reports), "params": params, "vs_default": diffs}
            say(f"  ablation {name}: selection {out[name]['selection']:.3f}")
    return out


def ablation_markdown(ablations: dict[str, dict], devs: list[str]) -> str:
    lines = ["| variant | " + " | ".join(f"{d} dev macro-F1 (Δ, 95% CI)" for d in devs)
             + " | news_articles false-tag | selection |", "|---|" + "---|" * (len(devs) + 2)]
    for name, r in ablations.items():
        cells = []
        for d in devs:
            cell = f"{r[d]['macro_f1']:.3f}"
            if "vs_default" in r:
                v = r["vs_default"][d]
                cell += f" ({v['difference']:+.3f}, {v['ci95'][0]:+.3f}…{v['ci95'][1]:+.3f})"
            cells.append(cell)
        ftr = f"{r['news_articles']['false_tag_rate']:.3f}" if "news_articles" in r else "–"
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {ftr} | {r['selection']:.3f} |")
    return "\n".join(lines) + "\n"


def write_reports(reports: Path, settings: Settings, sets: dict, results: dict, details: dict,
                  ablations: dict, seconds: float) -> None:
    columns = [c for c in REPORT_PARTS if c in results["sectortag"]]
    out = {"results": results, "ablations": ablations, "details": details, "selection_weights": SELECTION_WEIGHTS,
           "seconds": seconds, "model": settings.model,
           "sizes": {name: {p: len(f) for p, f in parts.items()} for name, parts in sets.items()}}
    (reports / "evaluation.json").write_text(json.dumps(out, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    md = ["# Evaluation\n", "Macro-F1 (test parts; `news_articles` is dev-only, `ours_articles` is the article "
          "paragraphs of our test split):\n", markdown_table(results, columns),
          "\nFalse-tag rate (share of paragraphs without a sector that get one; lower is better):\n",
          markdown_table(results, columns, "false_tag_rate"), "\nMicro-F1:\n", markdown_table(results, columns, "micro_f1"),
          "\nPer sector (sectortag):\n", "| set | n | sector | precision | recall | F1 | support |", "|---|---|---|---|---|---|---|"]
    for c in columns:
        s = results["sectortag"][c]
        md += [f"| {c} | {s['n']} | {code} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {m['support']} |"
               for code, m in s["per_label"].items()]
    (reports / "evaluation.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    for c, d in details.items():
        rows = [f"# 20 worst errors on {c}\n", "| kind | sector | score | true | predicted | text |", "|---|---|---|---|---|---|"]
        rows += [f"| {e['kind']} | {e['sector']} | {e['score']:.3f} | {', '.join(e['true']) or '–'} | "
                 f"{', '.join(e['predicted']) or '–'} | {e['text'][:200].replace('|', '/')} |" for e in d]
        (reports / f"errors_{c}.md").write_text("\n".join(rows) + "\n", encoding="utf-8")
    if ablations:
        devs = [d for d in SELECTION_WEIGHTS if d in ablations["default"]]
        (reports / "ablations.md").write_text(
            f"# Ablations (dev parts only; selection = weighted dev macro-F1 {SELECTION_WEIGHTS})\n\n"
            + ablation_markdown(ablations, devs), encoding="utf-8")
    write_model_card(reports, settings, sets, results, details, columns)


def write_model_card(reports: Path, settings: Settings, sets: dict, results: dict, details: dict, columns: list[str]) -> None:
    m = settings.model
    fp = Counter(e["sector"] for d in details.values() for e in d if e["kind"] == "false_positive")
    fn = Counter(e["sector"] for d in details.values() for e in d if e["kind"] == "false_negative")
    examples = "\n".join(f"- {c}: {e['kind'].replace('_', ' ')} {e['sector']} (score {e['score']:.2f}): \"{e['text'][:160]}…\""
                         for c, d in details.items() for e in d[:3])
    tokens = "underthesea word segmentation" if m["features"] != "syllable" else "no segmentation"
    card = f"""# Model card: sectortag

## Intended use
Tag paragraphs of Vietnamese provincial news, meeting reports and government communiqués with zero or more of
four policy sectors ({', '.join(SECTOR_CODES)}), for routing, search and statistics over large archives.
Not for legal decisions, and not for text outside Vietnamese public-administration news.

## Model
Text → normaliser (cleaning, NFC, underthesea tone-mark normalisation; {tokens}) → TF-IDF
(features={m['features']}, syllable n-grams {m['syllable_ngram_range']}, word n-grams {m['word_ngram_range']},
sublinear tf, max_df={m['max_df']}) → one {m['classifier']} per sector (C={m['C']}, class_weight={m['class_weight']})
→ a threshold per sector tuned on our dev split (F1 curve smoothed ±{m['threshold_window']}, false-tag budget
{m['false_tag_budget']}) → labels. The saved model is arrays and JSON only (no pickle).

## Training data
`datasets/`: {len(sets['ours']['train'])} paragraphs written and labelled by the project team (train split), tuned on
{len(sets['ours']['dev'])} (dev); see datasets/README.md. No text from ../shared is used for training.

## Metrics (macro-F1; false-tag rate = share of paragraphs without a sector that get one)
{markdown_table(results, columns)}
False-tag rate:
{markdown_table(results, columns, 'false_tag_rate')}
## Known failure modes (from the 20 worst errors per set)
- False positives by sector: {dict(fp)}; false negatives by sector: {dict(fn)}.
{examples}
- Statutory text (legal set) is a different register: long clauses, no news framing; scores there are lower.

## Limits
- Register: news and reports. Sectors: the four of the pre-2025 departments, labelled by matter after the 2025
  restructuring. Real evaluation text is from 2017 and 2020–21; our own text spans 2017–2026.
- The real news sets are small (193–492 paragraphs per part): differences under about 0.03 are within noise.
"""
    (reports / "model_card.md").write_text(card, encoding="utf-8")


def log_to_mlflow(reports: Path, settings: Settings, results: dict) -> None:
    import mlflow

    from .. import registry
    from ..metrics import flat_metrics

    registry.start()
    registry.open_experiment(settings.tracking.experiment + "-evaluation")
    with mlflow.start_run(run_name="evaluate"):
        mlflow.log_params({f"model.{k}": v for k, v in settings.model.items()})
        for model, by_set in results.items():
            key = "".join(ch if ch.isalnum() else "_" for ch in model)
            for name, s in by_set.items():
                mlflow.log_metric(f"{key}.{name}_macro_f1", s["macro_f1"])
                if not np.isnan(s["false_tag_rate"]):
                    mlflow.log_metric(f"{key}.{name}_false_tag_rate", s["false_tag_rate"])
        for name, s in results["sectortag"].items():
            mlflow.log_metrics({k: v for k, v in flat_metrics(s, f"eval_{name}").items()})
        for f in ("evaluation.json", "evaluation.md", "ablations.md", "model_card.md"):
            if (reports / f).is_file():
                mlflow.log_artifact(str(reports / f))
        for f in reports.glob("errors_*"):
            mlflow.log_artifact(str(f), "errors")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sectortag.jobs.evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="training/config.toml")
    parser.add_argument("--reports", default=None, help="output folder (default: [paths] reports_dir)")
    parser.add_argument("--skip-ablations", action="store_true")
    parser.add_argument("--no-mlflow", action="store_true")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    settings = load_settings(args.config)
    reports = Path(args.reports or settings.paths.reports_dir)
    reports.mkdir(parents=True, exist_ok=True)
    say = lambda s: print(s, flush=True)  # noqa: E731
    sets = evaluation_sets(settings)
    say("evaluation sets: " + ", ".join(f"{n} ({', '.join(f'{p} {len(f)}' for p, f in parts.items())})"
                                       for n, parts in sets.items()))
    frames = table_sets(sets)

    ours = fit_ours(settings, sets)
    results: dict[str, dict] = {}
    results["sectortag"], predicted = score(ours, frames)
    details = {}
    for c, frame in frames.items():
        details[c] = worst_errors(frame, predicted[c], ours.predict_scores(list(frame.text)))

    from .baselines import AllNone, FastTextPeer, Keywords, UndertheseaRecipe

    train, dev = sets["ours"]["train"], sets["ours"]["dev"]
    baselines: dict[str, Any] = {"all none": AllNone(), "keywords (lexicon)": Keywords(),
                                 "underthesea recipe (syllable SVM)": UndertheseaRecipe()}
    try:
        baselines["fastText (ova, word tokens)"] = FastTextPeer()
    except ImportError:
        say("fastText peer skipped: install the bench extra (pip install -e '.[bench]')")
    for name, model in baselines.items():
        model.fit(list(train.text), list(train.labels), list(dev.text), list(dev.labels))
        results[name] = score(model, frames)[0]
        say(f"  baseline {name}: done")

    ablations = {}
    if not args.skip_ablations:
        ablations = run_ablations(settings, sets, score(ours, dev_sets(sets)), say)
    write_reports(reports, settings, sets, results, details, ablations, time.perf_counter() - start)
    columns = [c for c in REPORT_PARTS if c in results["sectortag"]]
    say("\nmacro-F1\n" + markdown_table(results, columns) + "\nfalse-tag rate\n"
        + markdown_table(results, columns, "false_tag_rate"))
    if ablations:
        say((reports / "ablations.md").read_text(encoding="utf-8"))
    if not args.no_mlflow:
        log_to_mlflow(reports, settings, results)
    say(f"reports written to {reports} in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
