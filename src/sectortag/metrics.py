"""Multi-label metrics: per sector precision/recall/F1/support, micro and macro F1, subset accuracy."""

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
    }


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
