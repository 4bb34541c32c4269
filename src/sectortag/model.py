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
from .errors import ConfigError, DataError, ModelError, ModelMismatchWarning, SectorTagError
from .linear import LinearSectorModel
from .article import split_article
from .text import tokenize_many

if TYPE_CHECKING:
    import pandas as pd

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

    def tag_article(self, article: str, captions: str = "skip") -> "pd.DataFrame":
        """Split one article body into its body paragraphs and tag each: columns paragraph_no, paragraph,
        labels, score_<code> (see `tag_articles`)."""
        return self.tag_articles([("article", article)], captions=captions).drop(columns=["article_id", "error"])

    def tag_articles(self, articles: "Iterable[tuple[str, str]] | pd.DataFrame", id_column: str = "article_id",
                     text_column: str = "text", captions: str = "skip") -> "pd.DataFrame":
        """Tag whole articles: one row per body paragraph, articles and paragraphs in their order.

        `articles` is an iterable of (article id, text) pairs or a DataFrame with `id_column` and `text_column`.
        Columns: article_id, paragraph_no (1, 2, … among the article's body paragraphs), paragraph, labels,
        score_<code>, error. An article with no body paragraph keeps one row: paragraph_no 0, the reason in error. What is body text is decided by `article.split_article` (lines under `min_chars`,
        site furniture, repeats and, with `captions="skip"`, photo captions are left out); the lines left out
        per article are in `frame.attrs["dropped"]`.
        """
        import pandas as pd

        self._check_fitted()
        if isinstance(articles, pd.DataFrame):
            missing = [c for c in (id_column, text_column) if c not in articles.columns]
            if missing:
                raise DataError(f"no column {missing[0]!r} in the articles (columns: "
                                f"{', '.join(map(str, articles.columns))})")
            articles = zip(articles[id_column], articles[text_column])
        ids, numbers, paragraphs, dropped = [], [], [], {}
        for position, item in enumerate(articles):
            if not (isinstance(item, tuple) and len(item) == 2):
                raise DataError(f"article {position + 1}: expected an (id, text) pair, got {type(item).__name__}")
            article_id, text = item
            if not isinstance(text, str):
                raise DataError(f"article {article_id!r}: the text is {type(text).__name__}, not a string")
            parts = split_article(text, self.min_chars, captions)
            dropped[str(article_id)] = parts.dropped
            body = parts.paragraphs or [None]  # an article without body text keeps one row, paragraph_no 0
            ids += [str(article_id)] * len(body)
            numbers += range(1, len(body) + 1) if parts.paragraphs else [0]
            paragraphs += body
        frame = pd.DataFrame({"article_id": pd.Series(ids, dtype=object), "paragraph_no": numbers,
                              "paragraph": pd.Series(paragraphs, dtype=object)})
        out = self.predict_frame(frame, "paragraph")
        empty = out["paragraph_no"] == 0
        out.loc[empty, "error"] = [_no_body(dropped[a]) for a in out.loc[empty, "article_id"]]
        out.attrs["dropped"] = dropped
        return out

    def summarize(self, tagged: "pd.DataFrame", main_share: float = 0.2, main_min: int = 2) -> "pd.DataFrame":
        """Per article of a `tag_articles` frame: body paragraphs, paragraphs and share per sector, the main
        sectors and the paragraph numbers carrying each sector.

        A sector is **main** when it tags at least `main_share` of the article's body paragraphs and at least
        `main_min` of them (1 for articles of fewer than 5 body paragraphs); main sectors are listed by count.
        """
        from .summary import summarize

        self._check_fitted()
        return summarize(tagged, self.labels_, main_share, main_min).assign(**self.provenance())

    def provenance(self) -> dict[str, str]:
        """What produced an output: the registered version (\"\" when the file is not a registered version) and
        the SHA-256 of the model file; every output records both."""
        return {"model_version": str(getattr(self, "version_", "") or ""), "model_sha256": getattr(self, "sha256_", "")}

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
        the champion: `$SECTORTAG_MODEL`, else the project's models/champion.sectortag — checked against the
        registry's champion alias: when they differ, a warning says so and the registry's champion is used
        (and the file refreshed) — else the registry's champion.

        Model files are data (arrays and JSON) and never run code; a registry model is also checked against
        the SHA-256 recorded when it was registered.
        """
        version = ""
        source = source if source is not None else os.environ.get("SECTORTAG_MODEL")
        if source is None:
            path, trusted_sha256, version = _champion()
        elif str(source).startswith(("models:/", "runs:/")):
            from .registry import fetch_model  # only a registry load needs MLflow

            path, trusted_sha256, version = fetch_model(str(source), with_version=True)
        else:
            path = Path(source)
        model, doc, sha256 = bundle.load(path, trusted_sha256)
        tagger = cls.__new__(cls)
        tagger._params = {}
        tagger._all_params = dict(doc.get("params", {}))
        tagger.model_ = model
        tagger.metadata_ = dict(doc.get("metadata", {}))
        tagger.versions_ = dict(doc.get("versions", {}))
        tagger.sha256_ = sha256
        if not version:
            from .registry import read_sidecar

            note = read_sidecar(path)
            version = note.get("version", "") if note.get("sha256") == tagger.sha256_ else ""
        tagger.version_ = version
        return tagger


def _champion() -> tuple[Path, str | None, str]:
    """The champion's file, its trusted SHA-256 (None: the file's own header hash) and version, making sure the
    project's champion file and the registry's alias agree."""
    import warnings

    from . import registry
    from .home import champion_file, project_home

    path = champion_file()
    home = project_home()
    has_registry = bool(os.environ.get("MLFLOW_TRACKING_URI")) or bool(home and (home / "mlflow.db").is_file())
    if path is not None and path.is_file():
        if not has_registry:
            return path, None, ""
        note = registry.read_sidecar(path)
        try:
            ref = registry.champion_ref()
        except SectorTagError as e:
            warnings.warn(f"could not check the registry's champion ({e}); using {path}", ModelMismatchWarning, 2)
            return path, None, ""
        if ref is None or ref[1] == bundle.file_sha256(path):
            return path, None, ref[0] if ref else ""
        mine = f"version {note['version']}" if note.get("version") else "an unregistered model"
        warnings.warn(f"{path} holds {mine}, but the registry's champion is version {ref[0]}: using version "
                      f"{ref[0]} and refreshing {path.name}", ModelMismatchWarning, 2)
        registry.start()
        registry.sync_champion_file(registry.DEFAULT_NAME, path)
        return path, ref[1], ref[0]
    if has_registry:
        return registry.fetch_model(None, with_version=True)
    raise ModelError("no trained model: run `make train` (or pass --model FILE or set SECTORTAG_MODEL)")


def _no_body(dropped: dict[str, int]) -> str:
    left = ", ".join(f"{n} {why}" for why, n in dropped.items() if n)
    return f"no body paragraphs ({left or 'no text'} lines left out)"


def champion_source() -> str | Path | None:
    """Where `SectorTagger.load()` finds the champion as a file: `$SECTORTAG_MODEL`, else the project's
    models/champion.sectortag (first brought in line with the registry's alias); None: only the registry has it."""
    from .home import champion_file

    env = os.environ.get("SECTORTAG_MODEL")
    if env:
        return env
    path = champion_file()
    return _champion()[0] if path is not None and path.is_file() else None


def _as_batch(X: Iterable[Any]) -> list[Any]:
    """The inputs as a list; one bare string (or bytes) is refused, since iterating it gives its characters."""
    if isinstance(X, (str, bytes)):
        raise DataError("expected a list of texts, got one string: wrap it, e.g. predict([text])")
    return list(X)


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}
