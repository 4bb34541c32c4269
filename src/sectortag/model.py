"""SectorTagger: word-token TF-IDF → one-vs-rest linear classifier → per-sector thresholds → labels.

A scikit-learn style estimator (`fit`, `predict`, `predict_proba`, `get_params`), plus the article and
DataFrame entry points, and the one-file model bundle (`save` / `load`).
"""

from __future__ import annotations

import hashlib
import io
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from .errors import DataError, ModelError
from .features import build_vectorizer
from .files import replaced_atomically
from .labels import SECTOR_CODES, check_labels
from .metrics import to_matrix
from .text import DEFAULT_MIN_CHARS, Tokenized, split_paragraphs, tokenize_many

BUNDLE_FORMAT = "sectortag-bundle/1"
DEFAULT_MODEL_PATH = Path("models") / "champion.joblib"
DEFAULT_REGISTRY_URI = "models:/sectortag@champion"
MAX_CHARS = 20_000  # longer rows are cut (and say so): a paragraph is never this long
_THRESHOLD_GRID = np.round(np.arange(0.05, 0.951, 0.01), 2)


class SectorTagger(BaseEstimator):
    """Tag Vietnamese paragraphs with zero or more of the four policy sectors.

    Hyper-parameters mirror `[model]` in training/config.toml. Fitted state: `vectorizer_`, `classifier_`,
    `thresholds_` (one per sector), `labels_`, `metadata_`.
    """

    def __init__(
        self,
        labels: Sequence[str] = SECTOR_CODES,
        features: str = "word",
        word_ngram_range: tuple[int, int] = (1, 2),
        syllable_ngram_range: tuple[int, int] = (1, 2),
        min_df: int = 1,
        max_df: float = 1.0,
        max_features: int | None = None,
        sublinear_tf: bool = True,
        classifier: str = "logreg",
        C: float = 8.0,
        class_weight: str | None = "balanced",
        thresholds: str | float = "tuned",
        threshold_window: float = 0.05,
        n_jobs: int = 1,
        random_state: int = 0,
        min_chars: int = DEFAULT_MIN_CHARS,
    ):
        self.labels = labels
        self.features = features
        self.word_ngram_range = word_ngram_range
        self.syllable_ngram_range = syllable_ngram_range
        self.min_df = min_df
        self.max_df = max_df
        self.max_features = max_features
        self.sublinear_tf = sublinear_tf
        self.classifier = classifier
        self.C = C
        self.class_weight = class_weight
        self.thresholds = thresholds
        self.threshold_window = threshold_window
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.min_chars = min_chars

    # ---- training -------------------------------------------------------------------------------
    def fit(self, X: Iterable[str], y, X_dev: Iterable[str] | None = None, y_dev=None) -> "SectorTagger":
        """Fit on texts `X` with label lists `y`; tune per-sector thresholds on (`X_dev`, `y_dev`) when given,
        otherwise on out-of-fold scores of the training set."""
        codes = tuple(self.labels)
        X = _as_list(X)
        Y = self._indicator(y, codes, "training")
        if len(X) == 0:
            raise DataError("the training set is empty")
        if len(X) != len(Y):
            raise DataError(f"{len(X)} training texts but {len(Y)} label rows")
        missing = [c for c, n in zip(codes, Y.sum(axis=0)) if n == 0]
        if missing:
            raise DataError(f"no positive training example for sector(s) {', '.join(missing)}")
        tokens = tokenize_many(X, self.n_jobs, self.needs_segmentation)
        self.vectorizer_ = build_vectorizer(
            self.features, self.word_ngram_range, self.syllable_ngram_range,
            self.min_df, self.max_df, self.max_features, self.sublinear_tf,
        )
        F = self.vectorizer_.fit_transform(tokens)
        _drop_stop_words(self.vectorizer_)
        self.classifier_ = self._make_classifier().fit(F, Y)
        self.labels_ = codes
        if self.thresholds == "tuned":
            if X_dev is not None:
                Y_dev = self._indicator(y_dev, codes, "dev")
                S_dev = self._scores(tokenize_many(_as_list(X_dev), self.n_jobs, self.needs_segmentation))
            else:
                from sklearn.model_selection import KFold, cross_val_predict

                cv = KFold(n_splits=3, shuffle=True, random_state=self.random_state)
                S_dev = cross_val_predict(self._make_classifier(), F, Y, cv=cv, method="predict_proba")
                Y_dev = Y
            self.thresholds_ = tune_thresholds(Y_dev, S_dev, self.threshold_window)
        else:
            self.thresholds_ = np.full(len(codes), float(self.thresholds))
        self.metadata_: dict[str, Any] = {}
        return self

    @property
    def needs_segmentation(self) -> bool:
        """Whether the features need underthesea word segmentation (syllable features do not)."""
        return self.features != "syllable"

    def _make_classifier(self):
        # imported here: loading a fitted model for prediction does not need the training machinery
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.linear_model import LogisticRegression
        from sklearn.multiclass import OneVsRestClassifier
        from sklearn.svm import LinearSVC

        weight = None if self.class_weight in (None, "none") else self.class_weight
        if self.classifier == "logreg":
            base = LogisticRegression(C=self.C, class_weight=weight, solver="liblinear", max_iter=1000)
        elif self.classifier == "svm":
            base = CalibratedClassifierCV(
                LinearSVC(C=self.C, class_weight=weight, random_state=self.random_state), cv=3
            )
        else:
            raise ValueError(f"unknown classifier {self.classifier!r}; expected 'logreg' or 'svm'")
        return OneVsRestClassifier(base)

    @staticmethod
    def _indicator(y, codes: Sequence[str], what: str) -> np.ndarray:
        if y is None:
            raise DataError(f"{what} labels are missing")
        if isinstance(y, np.ndarray) and y.ndim == 2:
            return y.astype(np.int8)
        rows = [check_labels(labels, f"{what} row {i}: ", tuple(codes)) for i, labels in enumerate(y)]
        return to_matrix(rows, codes)

    # ---- prediction -----------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "classifier_"):
            raise ModelError("this SectorTagger is not fitted yet: call fit() or SectorTagger.load()")

    def _scores(self, tokens: Sequence[str]) -> np.ndarray:
        if len(tokens) == 0:
            return np.zeros((0, len(self.labels_)))
        return self.classifier_.predict_proba(self.vectorizer_.transform(tokens))

    def _score_rows(self, values: Sequence[Any]) -> tuple[np.ndarray, list[str | None]]:
        """Scores for each row (NaN where the row cannot be tagged) and a reason per row (None when fine)."""
        self._check_fitted()
        errors: list[str | None] = [None] * len(values)
        ok: list[int] = []  # rows that go to the tokenizer
        texts: list[str] = []
        for i, v in enumerate(values):
            if v is None or (isinstance(v, float) and math.isnan(v)):
                errors[i] = "missing text"
            elif not isinstance(v, str):
                errors[i] = f"not a text: {type(v).__name__}"
            else:
                if len(v) > MAX_CHARS:
                    v, errors[i] = v[:MAX_CHARS], f"text longer than {MAX_CHARS} characters: tagged on its start"
                ok.append(i)
                texts.append(v)
        tokens = Tokenized(texts) if isinstance(values, Tokenized) else tokenize_many(texts, self.n_jobs, self.needs_segmentation)
        scores = np.full((len(values), len(self.labels_)), np.nan)
        keep = []
        for j, t in enumerate(tokens):
            if t.strip():
                keep.append(j)
            else:
                errors[ok[j]] = "no words to tag (empty, whitespace or symbols only)"
        if keep:
            scores[[ok[j] for j in keep]] = self._scores(Tokenized(tokens[j] for j in keep))
        return scores, errors

    def _labels_from_scores(self, scores: np.ndarray) -> list[list[str]]:
        with np.errstate(invalid="ignore"):
            hits = scores >= self.thresholds_
        return [[c for c, h in zip(self.labels_, row) if h] for row in hits]

    def predict_proba(self, X: Iterable[Any]) -> pd.DataFrame:
        """Scores in [0, 1], one column per sector code, one row per input (NaN for a row that cannot be tagged)."""
        scores, _ = self._score_rows(_as_list(X))
        return pd.DataFrame(scores, columns=list(self.labels_))

    def predict(self, X: Iterable[Any]) -> list[list[str]]:
        """Sector codes per input text: zero, one or several (a row that cannot be tagged gets none)."""
        scores, _ = self._score_rows(_as_list(X))
        return self._labels_from_scores(scores)

    def predict_frame(self, df: pd.DataFrame, text_column: str = "text") -> pd.DataFrame:
        """A copy of `df` with `labels`, `score_<code>` columns and `error` (None when the row was tagged);
        rows stay aligned with the input, none dropped or reordered."""
        if text_column not in df.columns:
            raise DataError(f"no column {text_column!r} in the input (columns: {', '.join(map(str, df.columns))})")
        scores, errors = self._score_rows(df[text_column].tolist())
        out = df.copy()
        out["labels"] = self._labels_from_scores(scores)
        for j, code in enumerate(self.labels_):
            out[f"score_{code}"] = scores[:, j]
        out["error"] = pd.Series(errors, index=out.index, dtype=object)
        return out

    def tag_article(self, article: str) -> pd.DataFrame:
        """Split an article body into paragraphs and tag each: columns paragraph, labels, score_<code>."""
        self._check_fitted()
        frame = pd.DataFrame({"paragraph": split_paragraphs(article, self.min_chars)})
        return self.predict_frame(frame, "paragraph").drop(columns="error")

    # ---- persistence ----------------------------------------------------------------------------
    def save(self, path: str | Path) -> str:
        """Write the model as one joblib bundle, atomically (temporary name, then rename). Returns its SHA-256."""
        self._check_fitted()
        buf = io.BytesIO()
        joblib.dump(self, buf, compress=3)
        payload = buf.getvalue()
        digest = hashlib.sha256(payload).hexdigest()
        bundle = {
            "format": BUNDLE_FORMAT,
            "labels": list(self.labels_),
            "versions": library_versions(),
            "metadata": getattr(self, "metadata_", {}),
            "payload_sha256": digest,
            "payload": payload,
        }
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with replaced_atomically(path) as tmp:
            joblib.dump(bundle, tmp)
        return digest

    @classmethod
    def load(cls, source: str | Path | None = None) -> "SectorTagger":
        """Load a model: a bundle path, a `models:/name@alias` or `runs:/` URI, or (None) the champion:
        `$SECTORTAG_MODEL`, else models/champion.joblib, else the registry's `sectortag@champion`.

        Bundles are joblib (pickle) files, which run code when loaded: load only files you trust.
        """
        if source is None:
            source = os.environ.get("SECTORTAG_MODEL") or (
                DEFAULT_MODEL_PATH if DEFAULT_MODEL_PATH.is_file() else DEFAULT_REGISTRY_URI
            )
        source = str(source)
        if source.startswith(("models:/", "runs:/")):
            from .tracking import download_bundle  # only a registry load needs MLflow

            path, expected = download_bundle(source)
            return load_bundle(path, expected_sha256=expected)
        return load_bundle(source)


def _as_list(X: Iterable[Any]) -> list[Any]:
    """A list of the inputs; already tokenized input (`Tokenized`) keeps its type so it is not tokenized again."""
    return X if isinstance(X, Tokenized) else list(X)


def tune_thresholds(Y: np.ndarray, S: np.ndarray, window: float = 0.0) -> np.ndarray:
    """Per column, the threshold on scores `S` that maximises F1 against `Y` (ties: nearest 0.5).

    With `window` > 0 the F1 curve is first averaged over ±window: on a dev set of a few hundred paragraphs the
    raw curve is flat and jagged, and its single best point does not carry over to other text.
    A sector without positives keeps 0.5.
    """
    out = np.full(Y.shape[1], 0.5)
    half = int(round(window / 0.01))
    for j in range(Y.shape[1]):
        y, s = Y[:, j].astype(bool), S[:, j]
        if not y.any():
            continue
        pred = s[:, None] >= _THRESHOLD_GRID[None, :]
        tp = (pred & y[:, None]).sum(axis=0)
        f1 = 2 * tp / (pred.sum(axis=0) + y.sum())
        if half:
            f1 = np.convolve(np.pad(f1, half, mode="edge"), np.ones(2 * half + 1) / (2 * half + 1), mode="valid")
        best = np.flatnonzero(np.isclose(f1, f1.max()))
        out[j] = _THRESHOLD_GRID[best[np.argmin(np.abs(_THRESHOLD_GRID[best] - 0.5))]]
    return out


def library_versions() -> dict[str, str]:
    """Versions that decide whether a bundle can be loaded faithfully."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("sectortag", "scikit-learn", "underthesea", "numpy", "joblib"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "unknown"
    return out


def _drop_stop_words(vectorizer) -> None:
    """`stop_words_` only serves introspection and can be large: keep bundles small."""
    parts = getattr(vectorizer, "transformer_list", None)
    for v in [p for _, p in parts] if parts else [vectorizer]:
        if hasattr(v, "stop_words_"):
            del v.stop_words_


def load_bundle(path: str | Path, expected_sha256: str | None = None) -> SectorTagger:
    """Read a bundle written by `SectorTagger.save`, checking format, content hash and library versions."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: model file not found (train one with `make train`, or pass a path or models:/ URI)")
    try:
        bundle = joblib.load(path)
    except Exception as e:  # truncated, altered or not a joblib file at all
        raise ModelError(f"{path}: not a readable sectortag model bundle ({type(e).__name__}: {e})") from None
    if not isinstance(bundle, dict) or bundle.get("format") != BUNDLE_FORMAT:
        raise ModelError(f"{path}: not a sectortag model bundle (expected format {BUNDLE_FORMAT})")
    payload = bundle.get("payload", b"")
    digest = hashlib.sha256(payload).hexdigest()
    if digest != bundle.get("payload_sha256"):
        raise ModelError(f"{path}: model contents do not match their recorded SHA-256: the file is damaged or altered")
    if expected_sha256 and digest != expected_sha256:
        raise ModelError(f"{path}: SHA-256 {digest} differs from the one recorded in MLflow ({expected_sha256})")
    saved, here = bundle.get("versions", {}), library_versions()
    if saved.get("scikit-learn", "").split(".")[:2] != here["scikit-learn"].split(".")[:2]:
        raise ModelError(
            f"{path}: trained with scikit-learn {saved.get('scikit-learn')}, this environment has "
            f"{here['scikit-learn']}; retrain the model or install the matching version"
        )
    try:
        model = joblib.load(io.BytesIO(payload))
    except Exception as e:
        raise ModelError(f"{path}: the model inside the bundle cannot be loaded ({type(e).__name__}: {e})") from None
    if not isinstance(model, SectorTagger):
        raise ModelError(f"{path}: bundle holds a {type(model).__name__}, not a SectorTagger")
    model.bundle_sha256_ = digest
    return model
