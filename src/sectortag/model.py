"""SectorTagger: the public face of the model. Paragraphs in, sector codes and scores out.

A thin wrapper around the fitted model (`linear.LinearSectorModel`) and its metadata: `fit` (through the
scikit-learn `estimator.SectorClassifier`), `predict`, `predict_proba`, `predict_frame`, `tag_article`,
`explain`, `save` and `load`. Loading and predicting import neither scikit-learn nor pandas until a
DataFrame is asked for, so a new process tags its first paragraph quickly.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import bundle
from .errors import ConfigError, DataError, ModelError
from .linear import LinearSectorModel
from .text import split_paragraphs, tokenize_many

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_MODEL_PATH = Path("models") / "champion.sectortag"
MAX_CHARS = 20_000  # longer rows are cut (and say so): a paragraph is never this long


def _parameter_names() -> list[str]:
    from .estimator import SectorClassifier

    return SectorClassifier.parameter_names()


class SectorTagger:
    """Tag Vietnamese paragraphs with zero or more of the four policy sectors.

    Parameters
    ----------
    **params
        Hyper-parameters of `estimator.SectorClassifier` (documented there, defaults there); unknown names
        are refused at once. `SectorTagger()` builds the same model as `make train` with the shipped config.

    Attributes (after `fit` or `load`)
    ----------------------------------
    labels_ : tuple of str
        Sector codes, in score-column order.
    thresholds_ : ndarray
        One threshold per sector.
    metadata_ : dict
        Training run, data hash, metrics (filled by `sectortag train`).
    """

    def __init__(self, **params: Any):
        unknown = sorted(set(params) - set(_parameter_names()))
        if unknown:
            raise ConfigError(f"unknown model parameter(s) {', '.join(unknown)}; known: {', '.join(_parameter_names())}")
        self._params = dict(params)

    # ---- parameters (scikit-learn conventions) ----------------------------------------------------
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Every hyper-parameter with its value (the estimator's defaults where not set)."""
        if hasattr(self, "_all_params"):
            return dict(self._all_params)
        from .estimator import SectorClassifier

        return SectorClassifier(**self._params).get_params()

    def set_params(self, **params: Any) -> "SectorTagger":
        unknown = sorted(set(params) - set(_parameter_names()))
        if unknown:
            raise ConfigError(f"unknown model parameter(s) {', '.join(unknown)}")
        self._params.update(params)
        return self

    def __repr__(self) -> str:
        return f"SectorTagger({', '.join(f'{k}={v!r}' for k, v in sorted(self._params.items()))})"

    # ---- training -------------------------------------------------------------------------------
    def fit(self, X: Iterable[str], y, X_dev: Iterable[str] | None = None, y_dev=None) -> "SectorTagger":
        """Fit on texts `X` with label lists `y`; tune per-sector thresholds on (`X_dev`, `y_dev`) when given.
        Parameters are checked before any text is read (one line naming the bad one)."""
        from sklearn.utils._param_validation import InvalidParameterError

        from .estimator import SectorClassifier

        estimator = SectorClassifier(**self._params)
        try:
            estimator.fit(X, y, X_dev, y_dev)
        except (InvalidParameterError, ValueError) as e:  # parameters are checked first, so nothing was fitted
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            if isinstance(e, InvalidParameterError) or first.startswith("The "):
                raise ConfigError(f"model parameter: {first}") from None
            raise DataError(f"cannot train on this data: {first}") from None
        self.estimator_ = estimator
        self.model_: LinearSectorModel = estimator.model_
        self._all_params = _jsonable(estimator.get_params())
        self.metadata_: dict[str, Any] = {}
        return self

    # ---- fitted state -----------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise ModelError("this SectorTagger is not fitted yet: call fit() or SectorTagger.load()")

    @property
    def labels_(self) -> tuple[str, ...]:
        self._check_fitted()
        return self.model_.labels

    @property
    def thresholds_(self) -> np.ndarray:
        self._check_fitted()
        return self.model_.thresholds

    @property
    def needs_segmentation(self) -> bool:
        """Whether texts go through underthesea word segmentation (word or combined features)."""
        return self.model_.segment if hasattr(self, "model_") else self.get_params()["features"] != "syllable"

    @property
    def min_chars(self) -> int:
        return int(self.get_params()["min_chars"])

    @property
    def n_jobs(self) -> int | None:
        return self.get_params()["n_jobs"]

    @n_jobs.setter
    def n_jobs(self, value: int | None) -> None:
        self._params["n_jobs"] = value
        if hasattr(self, "_all_params"):
            self._all_params["n_jobs"] = value

    # ---- prediction -----------------------------------------------------------------------------
    def _score_rows(self, values: Sequence[Any]) -> tuple[np.ndarray, list[str | None]]:
        """Scores for each row (NaN where the row cannot be tagged) and a reason per row (None when fine)."""
        scores, errors, _ = self._tokens_and_scores(values)
        return scores, errors

    def _tokens_and_scores(self, values: Sequence[Any]) -> tuple[np.ndarray, list[str | None], list[str]]:
        """`_score_rows`, plus each row's tokens ("" where the row cannot be tagged): one tokenization serves both."""
        self._check_fitted()
        errors: list[str | None] = [None] * len(values)
        ok: list[int] = []
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
        tokens = tokenize_many(texts, self.n_jobs, self.model_.segment)
        keep = [j for j, t in enumerate(tokens) if t.strip()]
        for j in set(range(len(tokens))) - set(keep):
            errors[ok[j]] = "no words to tag (empty, whitespace or symbols only)"
        scores = np.full((len(values), len(self.model_.labels)), np.nan)
        if keep:
            scores[[ok[j] for j in keep]] = self.model_.scores([tokens[j] for j in keep])
        row_tokens = [""] * len(values)
        for j, i in enumerate(ok):
            row_tokens[i] = tokens[j]
        return scores, errors, row_tokens

    def predict_scores(self, X: Iterable[Any]) -> np.ndarray:
        """Scores as an array (n_texts, n_sectors), NaN for rows that cannot be tagged; no pandas needed."""
        return self._score_rows(_as_batch(X))[0]

    def predict_proba(self, X: Iterable[Any]) -> "pd.DataFrame":
        """Scores in [0, 1], one column per sector code, one row per input (NaN for a row that cannot be tagged).
        A pandas Series keeps its index."""
        import pandas as pd

        batch = _as_batch(X)
        index = X.index if isinstance(X, pd.Series) else None
        return pd.DataFrame(self._score_rows(batch)[0], columns=list(self.labels_), index=index)

    def predict(self, X: Iterable[Any]) -> list[list[str]]:
        """Sector codes per input text: zero, one or several (a row that cannot be tagged gets none)."""
        self._check_fitted()
        return self.model_.labels_for(self.predict_scores(X))

    def predict_frame(self, df: "pd.DataFrame", text_column: str = "text") -> "pd.DataFrame":
        """A copy of `df` with `labels`, `score_<code>` columns and `error` (None when the row was tagged);
        rows stay aligned with the input, none dropped or reordered."""
        import pandas as pd

        if text_column not in df.columns:
            raise DataError(f"no column {text_column!r} in the input (columns: {', '.join(map(str, df.columns))})")
        scores, errors = self._score_rows(df[text_column].tolist())
        out = df.copy()
        out["labels"] = self.model_.labels_for(scores)
        for j, code in enumerate(self.model_.labels):
            out[f"score_{code}"] = scores[:, j]
        out["error"] = pd.Series(errors, index=out.index, dtype=object)
        return out

    def tag_article(self, article: str) -> "pd.DataFrame":
        """Split an article body into paragraphs and tag each: columns paragraph, labels, score_<code>."""
        import pandas as pd

        self._check_fitted()
        frame = pd.DataFrame({"paragraph": split_paragraphs(article, self.min_chars)})
        return self.predict_frame(frame, "paragraph").drop(columns="error")

    def explain(self, X: Iterable[str], top: int = 5) -> list[dict[str, dict[str, Any]]]:
        """Per text and sector: the score, and the `top` terms that pushed it up and down the most, as
        (term, contribution to the decision value) — TF-IDF value × coefficient, terms as a reader sees them."""
        scores, _, tokens = self._tokens_and_scores(_as_batch(X))
        out = []
        for row, t in enumerate(tokens):
            per = {}
            for j, terms in enumerate(self.model_.contributions(t)):
                readable = [(term.replace("_", " "), round(c, 4)) for term, c in terms]
                per[self.model_.labels[j]] = {
                    "score": float(scores[row, j]),
                    "up": [x for x in readable if x[1] > 0][:top],
                    "down": [x for x in readable if x[1] < 0][:top],
                }
            out.append(per)
        return out

    # ---- persistence ----------------------------------------------------------------------------
    def save(self, path: str | Path) -> str:
        """Write the model file atomically; return the SHA-256 of the whole file (see `bundle`)."""
        self._check_fitted()
        return bundle.save(path, self.model_, self.get_params(), getattr(self, "metadata_", {}))

    @classmethod
    def load(cls, source: str | Path | None = None, trusted_sha256: str | None = None) -> "SectorTagger":
        """Load a model: a file path, a `models:/name@alias`, `models:/name/version` or `runs:/` URI, or (None)
        the champion: `$SECTORTAG_MODEL`, else models/champion.sectortag, else the registry's champion.

        Model files are data (arrays and JSON) and never run code; a registry model is also checked against
        the SHA-256 recorded when it was registered.
        """
        if source is None:
            source = champion_source()
        if source is None or str(source).startswith(("models:/", "runs:/")):
            from .registry import fetch_model  # only a registry load needs MLflow

            path, trusted_sha256 = fetch_model(None if source is None else str(source))
        else:
            path = Path(source)
        model, doc = bundle.load(path, trusted_sha256)
        tagger = cls.__new__(cls)
        tagger._params = {}
        tagger._all_params = dict(doc.get("params", {}))
        tagger.model_ = model
        tagger.metadata_ = dict(doc.get("metadata", {}))
        tagger.versions_ = dict(doc.get("versions", {}))
        tagger.sha256_ = bundle.file_sha256(path)
        return tagger


def champion_source() -> str | Path | None:
    """Where `SectorTagger.load()` finds the champion without MLflow: `$SECTORTAG_MODEL`, else
    models/champion.sectortag when it exists; None means the registry's champion."""
    return os.environ.get("SECTORTAG_MODEL") or (DEFAULT_MODEL_PATH if DEFAULT_MODEL_PATH.is_file() else None)


def _as_batch(X: Iterable[Any]) -> list[Any]:
    """The inputs as a list; one bare string (or bytes) is refused, since iterating it gives its characters."""
    if isinstance(X, (str, bytes)):
        raise DataError("expected a list of texts, got one string: wrap it, e.g. predict([text])")
    return list(X)


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}
