"""The fitted tagger as plain arrays: normalised text → TF-IDF terms → linear scores → labels.

This is what a saved model holds and what prediction runs: vocabularies, IDF weights, one coefficient
column per sector, intercepts, a calibration (slope, offset) per sector and the per-sector thresholds.
It needs numpy only, so a new process loads and tags without importing scikit-learn or pandas, and a
model file is data, never code. `estimator.compile_pipeline` builds it from a fitted scikit-learn pipeline,
and a test checks that both give the same scores.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from .features import ANALYSERS, ngrams


@dataclass(frozen=True)
class FeatureBlock:
    """One TF-IDF vectoriser: its analyser ("word" or "syllable"), n-gram range, terms and IDF weights."""

    analyser: str
    ngram_range: tuple[int, int]
    terms: tuple[str, ...]
    idf: np.ndarray
    sublinear_tf: bool = True
    index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "index", {t: i for i, t in enumerate(self.terms)})

    def vector(self, tokens: str) -> tuple[np.ndarray, np.ndarray]:
        """Column indices and L2-normalised TF-IDF values of one tokenized text (scikit-learn's formula)."""
        counts = Counter(i for i in map(self.index.get, ngrams(ANALYSERS[self.analyser](tokens), self.ngram_range))
                         if i is not None)
        if not counts:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        idx = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        values = (np.log(tf) + 1 if self.sublinear_tf else tf) * self.idf[idx]
        return idx, values / np.sqrt(values @ values)


@dataclass(frozen=True)
class LinearSectorModel:
    """Scores in [0, 1] per sector: sigmoid(slope · (x·w + b) + offset); labels: scores at or above thresholds."""

    labels: tuple[str, ...]
    segment: bool  # whether texts go through underthesea word segmentation first
    blocks: tuple[FeatureBlock, ...]
    coef: np.ndarray  # (n_features, n_labels)
    intercept: np.ndarray  # (n_labels,)
    slope: np.ndarray  # (n_labels,): 1 for logistic regression, the Platt slope for a calibrated SVM
    offset: np.ndarray  # (n_labels,)
    thresholds: np.ndarray  # (n_labels,)

    @property
    def n_features(self) -> int:
        return sum(len(b.terms) for b in self.blocks)

    def with_thresholds(self, thresholds: Sequence[float]) -> "LinearSectorModel":
        return replace(self, thresholds=np.asarray(thresholds, dtype=np.float64))

    def vector(self, tokens: str) -> tuple[np.ndarray, np.ndarray]:
        """The whole feature vector of one tokenized text: column indices and values (each block L2-normalised)."""
        parts, start = [], 0
        for block in self.blocks:
            idx, values = block.vector(tokens)
            parts.append((idx + start, values))
            start += len(block.terms)
        if len(parts) == 1:
            return parts[0]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def scores(self, tokens: Sequence[str]) -> np.ndarray:
        """Scores (n_texts, n_labels) of tokenized texts."""
        decision = np.empty((len(tokens), len(self.labels)))
        for row, t in enumerate(tokens):
            idx, values = self.vector(t)
            decision[row] = values @ self.coef[idx] + self.intercept
        return 1.0 / (1.0 + np.exp(-(self.slope * decision + self.offset)))

    def labels_for(self, scores: np.ndarray) -> list[list[str]]:
        """Sector codes whose score is at or above its threshold (NaN rows get none)."""
        with np.errstate(invalid="ignore"):
            hits = scores >= self.thresholds
        return [[c for c, h in zip(self.labels, row) if h] for row in hits]

    def term(self, column: int) -> str:
        """The term behind a feature column ("dự toán", "thu ngân_sách")."""
        for block in self.blocks:
            if column < len(block.terms):
                return block.terms[column]
            column -= len(block.terms)
        raise IndexError(column)

    def contributions(self, tokens: str) -> list[list[tuple[str, float]]]:
        """Per sector, every present term with its contribution to the decision (TF-IDF value × coefficient),
        strongest first by absolute value."""
        idx, values = self.vector(tokens)
        out = []
        for j in range(len(self.labels)):
            c = values * self.coef[idx, j] * self.slope[j]
            order = np.argsort(-np.abs(c), kind="stable")
            out.append([(self.term(int(idx[k])), float(c[k])) for k in order])
        return out
