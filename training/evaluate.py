"""`make evaluate`: our model, baselines and ablations on every evaluation set, reported separately.

Evaluation sets (never pooled):
  ours         datasets/ dev and test splits (our own writing)
  seed         ../shared/seeds/seed_article_paragraphs.jsonl (test only: 28 paragraphs)
  news         ../shared/corpora/news_dev.jsonl, split by a hash of `id` into a dev half and a test half
  legal        ../shared/corpora/legal_sectors.jsonl, split by a hash of `group` into a dev half and a test half
Selection (ablations) uses the dev parts only, weighted ours 0.25, news 0.5, legal 0.25.
Writes reports/evaluation.{json,md}, reports/errors_<set>.{json,md}, reports/ablations.md,
reports/model_card.md, and logs them to an MLflow run in experiment `sectortag-evaluation`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import joblib
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "training"))

from baselines import AllNone, FastTextPeer, Keywords, UndertheseaRecipe  # noqa: E402
from sectortag.config import load_config  # noqa: E402
from sectortag.data import read_file  # noqa: E402
from sectortag.labels import SECTOR_CODES  # noqa: E402
from sectortag.metrics import report  # noqa: E402
from sectortag.text import Tokenized, tokenize_many  # noqa: E402
from sectortag.train import load_splits, tagger_from_config  # noqa: E402

SHARED = ROOT.parent / "shared"
SELECTION_WEIGHTS = {"ours": 0.25, "news": 0.5, "legal": 0.25}
HALF_SALT = "sectortag-eval-half-v1"


def _half(key: str) -> str:
    return "dev" if int(hashlib.sha256(f"{HALF_SALT}:{key}".encode()).hexdigest()[:8], 16) % 2 == 0 else "test"


def evaluation_sets(config: dict, shared: Path = SHARED) -> dict[str, dict[str, pd.DataFrame]]:
    """{set: {"dev": frame, "test": frame}}; the ../shared sets only when present."""
    data = load_splits(config, ROOT)
    sets = {"ours": {"dev": data[data.split == "dev"], "test": data[data.split == "test"],
                     "train": data[data.split == "train"]}}
    seed = shared / "seeds" / "seed_article_paragraphs.jsonl"
    if seed.is_file():
        sets["seed"] = {"test": read_file(seed, labelled=True)}
    news = shared / "corpora" / "news_dev.jsonl"
    if news.is_file():
        frame = read_file(news, labelled=True)[["id", "text", "labels"]]
        half = frame["id"].map(_half)
        sets["news"] = {"dev": frame[half == "dev"], "test": frame[half == "test"]}
    legal = shared / "corpora" / "legal_sectors.jsonl"
    if legal.is_file():
        frame = read_file(legal, labelled=True)[["group", "text", "labels"]]  # only `text` reaches a model
        half = frame["group"].map(_half)
        sets["legal"] = {"dev": frame[half == "dev"], "test": frame[half == "test"]}
    return {name: {part: f.reset_index(drop=True) for part, f in parts.items()} for name, parts in sets.items()}


class TokenCache:
    """Tokens of every text, computed once (in parallel) and kept in reports/cache/: underthesea word tokens
    (segment=True) or the normalised text for syllable features (segment=False)."""

    def __init__(self, path: Path):
        self.path = path
        stored = joblib.load(path) if path.is_file() else {}
        self.tokens: dict[bool, dict[str, str]] = {True: stored.get(True, {}), False: stored.get(False, {})}

    def get(self, texts: list[str], segment: bool = True) -> Tokenized:
        known = self.tokens[segment]
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        if missing:
            known.update(zip(missing, tokenize_many(missing, n_jobs=-1, segment=segment)))
            self.path.parent.mkdir(parents=True, exist_ok=True)
            joblib.dump(self.tokens, self.path)
        return Tokenized(known[t] for t in texts)


def worst_errors(frame: pd.DataFrame, predicted: list[list[str]], scores: pd.DataFrame | None, n: int = 20) -> list[dict]:
    """The `n` most confident mistakes: false positives with the highest scores, false negatives with the lowest."""
    errors = []
    for i, (true, pred) in enumerate(zip(frame["labels"], predicted)):
        for code in SECTOR_CODES:
            if (code in pred) == (code in true):
                continue
            s = float(scores.iloc[i][code]) if scores is not None else float("nan")
            kind = "false_positive" if code in pred else "false_negative"
            errors.append({"kind": kind, "sector": code, "score": round(s, 3), "true": list(true),
                           "predicted": list(pred), "text": frame["text"].iloc[i][:400],
                           "_rank": s if kind == "false_positive" else 1 - s})
    errors.sort(key=lambda e: -e["_rank"] if not np.isnan(e["_rank"]) else 0)
    for e in errors:
        e.pop("_rank")
    return errors[:n]


def score_model(model, sets: dict, cache: TokenCache, part: str, tokenized: bool) -> dict[str, dict]:
    out = {}
    for name, parts in sets.items():
        if part not in parts:
            continue
        frame = parts[part]
        texts = cache.get(list(frame.text), model.needs_segmentation) if tokenized else list(frame.text)
        out[name] = report(list(frame.labels), model.predict(texts), SECTOR_CODES)
    return out


def selection_score(dev: dict[str, dict]) -> float:
    """Weighted dev macro-F1 over the sets present (weights renormalised)."""
    present = {k: w for k, w in SELECTION_WEIGHTS.items() if k in dev}
    return sum(dev[k]["macro_f1"] * w for k, w in present.items()) / sum(present.values())


ABLATIONS = {
    "default (config.toml)": {},
    "features=word (underthesea words)": {"features": "word"},
    "features=word, n-grams (1,1)": {"features": "word", "word_ngram_range": (1, 1)},
    "features=both (FeatureUnion)": {"features": "both"},
    "syllable n-grams (1,1)": {"syllable_ngram_range": (1, 1)},
    "syllable n-grams (1,3)": {"syllable_ngram_range": (1, 3)},
    "classifier=svm (calibrated)": {"classifier": "svm", "C": 0.5},
    "C=2": {"C": 2.0},
    "C=4": {"C": 4.0},
    "C=16": {"C": 16.0},
    "class_weight=none": {"class_weight": None},
    "thresholds fixed 0.5": {"thresholds": 0.5},
    "thresholds tuned on the raw dev F1 curve": {"threshold_window": 0.0},
    "min_df=2": {"min_df": 2},
}


def fit_ours(config: dict, sets: dict, cache: TokenCache, extra: pd.DataFrame | None = None, **params):
    tagger = tagger_from_config(config).set_params(**params)
    train, dev = sets["ours"]["train"], sets["ours"]["dev"]
    texts, labels = list(train.text), list(train.labels)
    if extra is not None:
        texts, labels = texts + list(extra.text), labels + list(extra.labels)
    seg = tagger.needs_segmentation
    return tagger.fit(cache.get(texts, seg), labels, cache.get(list(dev.text), seg), list(dev.labels))


def markdown_table(rows: dict[str, dict[str, dict]], sets: list[str], metric: str = "macro_f1") -> str:
    head = "| model | " + " | ".join(sets) + " |\n|---|" + "---|" * len(sets) + "\n"
    body = ""
    for name, by_set in rows.items():
        body += f"| {name} | " + " | ".join(f"{by_set[s][metric]:.3f}" if s in by_set else "–" for s in sets) + " |\n"
    return head + body


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(ROOT / "training" / "config.toml"))
    parser.add_argument("--reports", default=str(ROOT / "reports"))
    parser.add_argument("--skip-ablations", action="store_true")
    parser.add_argument("--extra", default=str(SHARED / "corpora" / "legal_sectors_extra.jsonl"),
                        help="extra labelled training file whose effect is reported")
    args = parser.parse_args()
    start = time.perf_counter()
    config = load_config(args.config)
    reports = Path(args.reports)
    reports.mkdir(parents=True, exist_ok=True)
    cache = TokenCache(reports / "cache" / "tokens.joblib")
    sets = evaluation_sets(config)
    test_sets = [n for n in sets if "test" in sets[n]]
    dev_sets = [n for n in sets if "dev" in sets[n]]
    print(f"evaluation sets: " + ", ".join(f"{n} ({', '.join(f'{p} {len(f)}' for p, f in parts.items())})"
                                         for n, parts in sets.items()), flush=True)

    # our model, as configured
    ours = fit_ours(config, sets, cache)
    results = {"sectortag": score_model(ours, sets, cache, "test", tokenized=True)}
    ours_dev = score_model(ours, sets, cache, "dev", tokenized=True)
    details = {}
    for name in test_sets:
        frame = sets[name]["test"]
        tokens = cache.get(list(frame.text), ours.needs_segmentation)
        scores, predicted = ours.predict_proba(tokens), ours.predict(tokens)
        errs = worst_errors(frame, predicted, scores)
        summary = results["sectortag"][name]
        details[name] = {"report": summary, "worst_errors": errs}
        (reports / f"errors_{name}.json").write_text(json.dumps(errs, ensure_ascii=False, indent=1), encoding="utf-8")
        md = [f"# 20 worst errors on {name} (test part)\n", "| kind | sector | score | true | predicted | text |",
              "|---|---|---|---|---|---|"]
        md += [f"| {e['kind']} | {e['sector']} | {e['score']:.3f} | {', '.join(e['true']) or '–'} | "
               f"{', '.join(e['predicted']) or '–'} | {e['text'][:200].replace('|', '/')} |" for e in errs]
        (reports / f"errors_{name}.md").write_text("\n".join(md) + "\n", encoding="utf-8")

    # baselines and peers: trained on our train split, thresholds (where any) on our dev split
    train, dev = sets["ours"]["train"], sets["ours"]["dev"]
    baselines = {"all none": AllNone(), "keywords (lexicon)": Keywords(), "underthesea recipe (syllable SVM)": UndertheseaRecipe()}
    try:
        baselines["fastText (ova)"] = FastTextPeer(cache.tokens[True])
        cache.get(list(train.text) + list(dev.text))
    except ImportError:
        print("fastText peer skipped: install the bench extra (pip install -e '.[bench]')", flush=True)
    for name, model in baselines.items():
        model.fit(list(train.text), list(train.labels), list(dev.text), list(dev.labels))
        if isinstance(model, FastTextPeer):
            for parts in sets.values():
                for f in parts.values():
                    cache.get(list(f.text))
        results[name] = score_model(model, sets, cache, "test", tokenized=False)
        print(f"  baseline {name}: done", flush=True)

    # ablations, chosen on dev parts only
    ablations = {}
    if not args.skip_ablations:
        for name, params in ABLATIONS.items():
            model = ours if not params else fit_ours(config, sets, cache, **params)
            dev_scores = ours_dev if not params else score_model(model, sets, cache, "dev", tokenized=True)
            ablations[name] = {**dev_scores, "selection": {"macro_f1": selection_score(dev_scores)}}
            print(f"  ablation {name}: selection {ablations[name]['selection']['macro_f1']:.3f}", flush=True)

    # real text as extra training data
    extra_effect = {}
    if Path(args.extra).is_file():
        extra = read_file(args.extra, labelled=True)
        with_extra = fit_ours(config, sets, cache, extra=extra)
        extra_effect = {"default": {**ours_dev, **{f"{k} (test)": v for k, v in results["sectortag"].items()}},
                        "with extra": {**score_model(with_extra, sets, cache, "dev", tokenized=True),
                                       **{f"{k} (test)": v for k, v in score_model(with_extra, sets, cache, "test", tokenized=True).items()}}}

    table = markdown_table(results, test_sets)
    micro = markdown_table(results, test_sets, "micro_f1")
    out = {"test": results, "dev_ours_model": ours_dev, "ablations": ablations, "extra_training": extra_effect,
           "details": details, "selection_weights": SELECTION_WEIGHTS, "seconds": time.perf_counter() - start,
           "config": config["model"]}
    (reports / "evaluation.json").write_text(json.dumps(out, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    md = ["# Evaluation\n", "Macro-F1 on the test part of each set (never pooled):\n", table,
          "\nMicro-F1:\n", micro, "\nPer sector (sectortag, test parts):\n",
          "| set | n | sector | precision | recall | F1 | support |", "|---|---|---|---|---|---|---|"]
    for name in test_sets:
        s = results["sectortag"][name]
        for code, m in s["per_label"].items():
            md.append(f"| {name} | {s['n']} | {code} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {m['support']} |")
    md.append("\n| set | subset accuracy | predicted none share | true none share |\n|---|---|---|---|")
    for name in test_sets:
        s = results["sectortag"][name]
        md.append(f"| {name} | {s['subset_accuracy']:.3f} | {s['none_share_pred']:.3f} | {s['none_share_true']:.3f} |")
    (reports / "evaluation.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    if ablations:
        abl = ["# Ablations (dev parts only; selection = weighted dev macro-F1: ours 0.25, news 0.5, legal 0.25)\n",
               markdown_table(ablations, dev_sets + ["selection"])]
        if extra_effect:
            abl += ["\n# Extra training data: legal_sectors_extra.jsonl added to the training split\n",
                    markdown_table(extra_effect, [*dev_sets, *[f"{n} (test)" for n in test_sets]])]
        (reports / "ablations.md").write_text("\n".join(abl), encoding="utf-8")
    write_model_card(reports, config, sets, results, details, ablations)
    print("\n" + table)
    if ablations:
        print((reports / "ablations.md").read_text(encoding="utf-8"))
    log_to_mlflow(reports, config, results)
    print(f"reports written to {reports} in {time.perf_counter() - start:.0f} s")
    return 0


def write_model_card(reports: Path, config: dict, sets: dict, results: dict, details: dict, ablations: dict) -> None:
    test_sets = [n for n in sets if "test" in sets[n]]
    fp = [e for d in details.values() for e in d["worst_errors"] if e["kind"] == "false_positive"]
    fn = [e for d in details.values() for e in d["worst_errors"] if e["kind"] == "false_negative"]
    from collections import Counter

    examples = "\n".join(
        f"- {name}: {e['kind'].replace('_', ' ')} {e['sector']} (score {e['score']:.2f}): \"{e['text'][:160]}…\""
        for name, d in details.items() for e in d["worst_errors"][:3])
    card = f"""# Model card: sectortag

## Intended use
Tag paragraphs of Vietnamese provincial news, meeting reports and government communiqués with zero or more of
four policy sectors ({', '.join(SECTOR_CODES)}), for routing, search and statistics over large archives.
Not for legal decisions, and not for text outside Vietnamese public-administration news.

## Model
underthesea word segmentation → TF-IDF (features={config['model']['features']}, word n-grams
{config['model']['word_ngram_range']}, sublinear tf) → one logistic regression per sector (C={config['model']['C']},
class_weight={config['model']['class_weight']}) → a threshold per sector tuned on our dev split.

## Training data
`datasets/`: {len(sets['ours']['train'])} paragraphs written and labelled by the project team (train split), tuned on
{len(sets['ours']['dev'])} (dev); see datasets/README.md. No text from ../shared is used for training by default.

## Metrics (test parts; macro-F1)
{markdown_table(results, test_sets)}
Micro-F1:
{markdown_table(results, test_sets, 'micro_f1')}
## Known failure modes (from the 20 worst errors per set)
- False positives by sector: {dict(Counter(e['sector'] for e in fp))}; false negatives by sector: {dict(Counter(e['sector'] for e in fn))}.
{examples}
- Statutory text (legal set) is a different register: long clauses, no news framing; scores there are lower.
- Paragraphs that mention a sector's vocabulary in passing (a list of attending departments, a bank's "tài chính")
  and sector matters told without the usual words are the typical errors; see reports/errors_<set>.md.

## Limits
- Register: news and reports; statutory text is out of register. Sectors: the four before the 2025 reorganisation of
  ministries. Dates: our data describes 2015–2025; real evaluation text is from 2017 and 2020–21.
- The news set has one annotator (no agreement figure); treat its scores as ±3 points.
"""
    (reports / "model_card.md").write_text(card, encoding="utf-8")


def log_to_mlflow(reports: Path, config: dict, results: dict) -> None:
    import mlflow

    from sectortag.metrics import flat_metrics

    mlflow.set_experiment(config["tracking"]["experiment"] + "-evaluation")
    with mlflow.start_run(run_name="evaluate"):
        mlflow.log_params({f"model.{k}": v for k, v in config["model"].items()})
        for model, by_set in results.items():
            key = "".join(ch if ch.isalnum() else "_" for ch in model)
            for name, s in by_set.items():
                mlflow.log_metric(f"{key}.{name}_macro_f1", s["macro_f1"])
        for name, s in results["sectortag"].items():
            mlflow.log_metrics(flat_metrics(s, f"test_{name}"))
        for f in ("evaluation.json", "evaluation.md", "ablations.md", "model_card.md"):
            if (reports / f).is_file():
                mlflow.log_artifact(str(reports / f))
        for f in reports.glob("errors_*"):
            mlflow.log_artifact(str(f), "errors")


if __name__ == "__main__":
    sys.exit(main())
