"""The fastText peer: fastText supervised, one-vs-all (loss='ova'), trained on our train split with our tokens
(underthesea words, lower-cased, punctuation dropped: what our word TF-IDF sees), a small grid and per-sector
thresholds tuned on dev exactly as ours are; its test macro-F1 against ours, and its classify speed."""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ...estimator import tune_thresholds
from ...features import word_tokens
from ...metrics import bootstrap_difference, report, to_matrix
from ..baselines import fasttext_line, fasttext_scores, fasttext_words
from .measure import measure
from .workloads import SEED

GRID = [dict(epoch=e, lr=lr, wordNgrams=n) for e in (25, 50) for lr in (0.1, 0.25, 0.5, 1.0) for n in (1, 2)]


def bootstrap_gap(y_true: Sequence[Sequence[str]], ours: Sequence[Sequence[str]], peer: Sequence[Sequence[str]],
                  codes: Sequence[str], rounds: int = 2000) -> dict[str, Any]:
    """Our test macro-F1 minus the peer's, with a 95% paired bootstrap interval over test paragraphs (rounded)."""
    gap = bootstrap_difference(y_true, ours, peer, codes, rounds=rounds, seed=SEED)
    return {"difference": round(gap["difference"], 4), "ci95": [round(x, 4) for x in gap["ci95"]]}


def labels_of(S: np.ndarray, thresholds: Sequence[float], codes: Sequence[str]) -> list[list[str]]:
    return [[c for c, s, t in zip(codes, row, thresholds) if s >= t] for row in S]


def tuning_of(model_settings: dict[str, Any]) -> dict[str, float]:
    """The threshold tuning of our model as configured (dev F1 curve smoothed over ±window, false-tag budget)."""
    names = {"threshold_window": "window", "false_tag_budget": "false_tag_budget"}
    return {arg: model_settings[key] for key, arg in names.items() if key in model_settings}


def search(fasttext, train_file: Path, dev_words: list[str], dev_labels: list, codes: Sequence[str],
           tuning: dict[str, float]) -> tuple[tuple | None, list[dict]]:
    """Every grid point trained and scored on dev: the best (dev F1, params, model, thresholds), and all tried."""
    Y_dev = to_matrix(dev_labels, codes)
    best, tried = None, []
    for params in GRID:
        try:
            model = fasttext.train_supervised(str(train_file), loss="ova", dim=100, minCount=1, thread=1,
                                              seed=SEED, verbose=0, **params)
        except RuntimeError as e:  # a learning rate too high for this data diverges ("Encountered NaN")
            tried.append({**params, "dev_macro_f1": None, "error": str(e)})
            continue
        S_dev = fasttext_scores(model, dev_words, codes)
        thresholds = tune_thresholds(Y_dev, S_dev, **tuning)
        dev_f1 = report(dev_labels, labels_of(S_dev, thresholds, codes), codes)["macro_f1"]
        tried.append({**params, "dev_macro_f1": round(dev_f1, 4)})
        if best is None or dev_f1 > best[0]:
            best = (dev_f1, params, model, thresholds)
    return best, tried


def fasttext_peer(work: Path, data: pd.DataFrame, codes: Sequence[str], model_settings: dict[str, Any],
                  ours_test: dict, ours_pred: list[list[str]], tokens_workload: Sequence[str],
                  repeats: int) -> dict[str, Any]:
    """The peer trained on `data`'s train split, tuned on dev, scored on test against our predictions
    `ours_pred`; its classify speed on `tokens_workload` (our segmented tokens of the workload)."""
    try:
        import fasttext
    except ImportError:
        return {"status": "not installed", "hint": "pip install -e '.[bench]' (make bench does it)"}
    parts = {s: data[data["split"] == s] for s in ("train", "dev", "test")}
    words = {s: fasttext_words(list(p["text"])) for s, p in parts.items()}
    train_file = work / "fasttext_train.txt"
    train_file.write_text("\n".join(fasttext_line(t, l) for t, l in zip(words["train"], parts["train"]["labels"]))
                          + "\n", encoding="utf-8")
    tuning = tuning_of(model_settings)
    best, tried = search(fasttext, train_file, words["dev"], list(parts["dev"]["labels"]), codes, tuning)
    if best is None:
        return {"status": "failed: every training run diverged", "grid": tried}
    dev_f1, params, model, thresholds = best
    test_true = list(parts["test"]["labels"])
    test_pred = labels_of(fasttext_scores(model, words["test"], codes), thresholds, codes)
    test = report(test_true, test_pred, codes)
    peer_words = [" ".join(word_tokens(t)) for t in tokens_workload]
    speed = measure({"fasttext_classify": (len(peer_words), lambda: labels_of(
        fasttext_scores(model, peer_words, codes), thresholds, codes))}, repeats)["fasttext_classify"]
    model_path = work / "fasttext.bin"
    model.save_model(str(model_path))
    return {
        "status": "ok", "package": f"fasttext-numpy2 {version('fasttext-numpy2')}",
        "setup": "loss=ova, dim=100, minCount=1, thread=1; input: our underthesea word tokens, lower-cased, "
                 "punctuation dropped; epoch/lr/wordNgrams chosen on dev macro-F1; per-sector thresholds tuned "
                 f"on dev as ours ({tuning or 'no window'}); '__label__none' for paragraphs with no sector. "
                 "wordNgrams=1 diverges ('Encountered NaN') in fasttext-numpy2 0.10.4 at any learning rate, even "
                 "on toy data",
        "grid": tried, "chosen": params, "dev_macro_f1": round(dev_f1, 4),
        "test_macro_f1": round(test["macro_f1"], 4), "test_micro_f1": round(test["micro_f1"], 4),
        "test_per_label_f1": {c: round(v["f1"], 4) for c, v in test["per_label"].items()},
        "ours_test_macro_f1": round(ours_test["macro_f1"], 4), "ours_test_micro_f1": round(ours_test["micro_f1"], 4),
        "test_n": int(len(parts["test"])),
        "ours_minus_fasttext_macro_f1": bootstrap_gap(test_true, ours_pred, test_pred, codes),
        "classify_from_tokens": speed, "model_mb": round(model_path.stat().st_size / 1e6, 2),
    }
