"""Multi-label metrics: per sector precision/recall/F1/support, micro and macro F1, subset accuracy, the
false-tag rate (the share of paragraphs with no sector that get one), and paired bootstrap intervals."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support


def to_matrix(label_lists: Sequence[Sequence[str]], codes: Sequence[str]) -> np.ndarray:
    """Label lists → binary indicator matrix, one column per code."""
    index = {c: i for i, c in enumerate(codes)}
    Y = np.zeros((len(label_lists), len(codes)), dtype=np.int8)
    for row, labels in enumerate(label_lists):
        for label in labels:
            Y[row, index[label]] = 1
    return Y


def report(y_true: Sequence[Sequence[str]], y_pred: Sequence[Sequence[str]], codes: Sequence[str]) -> dict:
    """The evaluation summary used by `evaluate --json`, training metrics and reports."""
    T, P = to_matrix(y_true, codes), to_matrix(y_pred, codes)
    p, r, f, s = precision_recall_fscore_support(T, P, average=None, zero_division=0)
    return {
        "n": int(len(T)),
        "micro_f1": float(f1_score(T, P, average="micro", zero_division=0)),
        "macro_f1": float(f1_score(T, P, average="macro", zero_division=0)),
        "subset_accuracy": float(accuracy_score(T, P)) if len(T) else 0.0,
        "per_label": {
            c: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, c in enumerate(codes)
        },
        "none_share_true": float((T.sum(axis=1) == 0).mean()) if len(T) else 0.0,
        "none_share_pred": float((P.sum(axis=1) == 0).mean()) if len(P) else 0.0,
        "false_tag_rate": false_tag_rate(T, P),
        "n_none": int((T.sum(axis=1) == 0).sum()),
    }


def false_tag_rate(T: np.ndarray, P: np.ndarray) -> float:
    """Share of the rows without any true sector that get at least one predicted sector (NaN without such rows)."""
    none = T.sum(axis=1) == 0
    return float((P[none].sum(axis=1) > 0).mean()) if none.any() else float("nan")


def _macro(T: np.ndarray, P: np.ndarray) -> np.ndarray:
    """Macro-F1 over the last axis (sectors), F1 = 0 where undefined; T, P: (..., n, k) booleans."""
    tp = (T & P).sum(axis=-2)
    denom = T.sum(axis=-2) + P.sum(axis=-2)
    return np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0).mean(axis=-1)


def bootstrap_difference(y_true: Sequence[Sequence[str]], a: Sequence[Sequence[str]], b: Sequence[Sequence[str]],
                         codes: Sequence[str], rounds: int = 1000, seed: int = 0) -> dict[str, float]:
    """Macro-F1 of predictions `a` minus that of `b` on the same rows, with a 95% paired bootstrap interval
    (rows resampled with replacement)."""
    T, A, B = (to_matrix(list(x), codes).astype(bool) for x in (y_true, a, b))
    idx = np.random.default_rng(seed).integers(0, len(T), size=(rounds, len(T)))
    diffs = _macro(T[idx], A[idx]) - _macro(T[idx], B[idx])
    return {"difference": float(_macro(T, A) - _macro(T, B)),
            "ci95": [float(np.percentile(diffs, 2.5)), float(np.percentile(diffs, 97.5))]}


def flat_metrics(summary: dict, prefix: str) -> dict[str, float]:
    """A report as flat MLflow metric names: `<prefix>_macro_f1`, `<prefix>_<code>_f1`, …"""
    out = {f"{prefix}_{k}": summary[k] for k in ("micro_f1", "macro_f1", "subset_accuracy")}
    for code, m in summary["per_label"].items():
        for k in ("precision", "recall", "f1"):
            out[f"{prefix}_{code}_{k}"] = m[k]
    return out


def format_table(summaries: dict[str, dict]) -> str:
    """A plain-text table: one row per evaluation set, micro/macro F1 and per-sector F1."""
    if not summaries:
        return ""
    codes = list(next(iter(summaries.values()))["per_label"])
    head = f"{'set':<14}{'n':>6}{'micro':>8}{'macro':>8}" + "".join(f"{c[:12]:>14}" for c in codes)
    lines = [head, "-" * len(head)]
    for name, s in summaries.items():
        lines.append(
            f"{name:<14}{s['n']:>6}{s['micro_f1']:>8.3f}{s['macro_f1']:>8.3f}"
            + "".join(f"{s['per_label'][c]['f1']:>14.3f}" for c in codes)
        )
    return "\n".join(lines)
