"""The model, start to end, as scikit-learn sees it:

    text ─ TextNormalizer ─ TF-IDF (syllables, words or both) ─ one-vs-rest classifier ─ per-sector thresholds ─ labels
           (underthesea)     (features.build_vectorizer)          (logistic regression     (tune_thresholds, on a dev set)
                                                                   or calibrated SVM)

`SectorClassifier` is the estimator: every hyper-parameter lives in its `__init__` (the one place for
defaults) and is checked against `_parameter_constraints` before any work. Fitting builds a `Pipeline` of
the first three steps, then tunes the thresholds, then compiles the result into `linear.LinearSectorModel`,
the plain-array form that is saved and that predicts. Prediction never needs this module.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, MultiOutputMixin, TransformerMixin, _fit_context
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import Interval, StrOptions

from .errors import DataError
from .features import FEATURE_KINDS, build_vectorizer
from .labels import SECTOR_CODES
from .linear import FeatureBlock, LinearSectorModel
from .metrics import to_matrix
from .text import DEFAULT_MIN_CHARS, tokenize_many

THRESHOLD_GRID = np.round(np.arange(0.05, 0.951, 0.01), 2)


class TextNormalizer(TransformerMixin, BaseEstimator):
    """Vietnamese text → the token string the features read: cleaned, NFC, one tone-mark placement, and with
    `segment=True` underthesea word segmentation ("giải_phóng mặt_bằng"). Stateless; results are remembered
    for the life of the process, so refitting on the same texts does not segment them again."""

    _parameter_constraints: dict = {"segment": ["boolean"], "n_jobs": [Integral, None]}

    def __init__(self, segment: bool = False, n_jobs: int | None = 1):
        self.segment = segment
        self.n_jobs = n_jobs

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None) -> "TextNormalizer":
        return self

    def transform(self, X) -> list[str]:
        return tokenize_many(list(X), self.n_jobs, self.segment, remember=True)


class SectorClassifier(MultiOutputMixin, BaseEstimator):
    """Multi-label sector classifier for Vietnamese paragraphs.

    Parameters
    ----------
    labels : tuple of str
        The sector codes, in output order.
    features : {"word", "syllable", "both"}
        N-grams of underthesea word tokens ("dự_toán" and "dự_án" are different words), syllable n-grams of the
        normalised text (no segmentation, much faster), or both.
    word_ngram_range, syllable_ngram_range : (int, int)
        N-gram ranges of the word and syllable features.
    min_df : int or float
        Terms in fewer documents (a count, or a share when a float) are dropped.
    max_df : float
        Terms in more than this share of documents are dropped.
    max_features : int
        Keep only the most frequent terms; 0 keeps all.
    sublinear_tf : bool
        Use 1 + log(tf).
    classifier : {"logreg", "svm"}
        Logistic regression, or a linear SVM with Platt-scaled scores.
    C : float
        Inverse regularisation strength.
    class_weight : {"balanced", "none"}
        Weight positives and negatives of each sector equally, or not at all.
    thresholds : "tuned" or float
        Per-sector thresholds tuned on the dev set, or one fixed threshold for all.
    threshold_window : float
        The dev F1 curve is averaged over ±window before its best point is taken (0: the raw curve).
    false_tag_budget : float
        Largest share of dev paragraphs without a sector that may get one; thresholds rise until it holds
        (1.0: no bound).
    n_jobs : int
        Processes for word segmentation of batches of 2,000 distinct texts or more (-1: all cores).
    random_state : int
        Seed for the SVM and the cross-validation used when no dev set is given.
    min_chars : int
        When an article is split, lines shorter than this are not body text (captions, bylines).
    """

    _parameter_constraints: dict = {
        "labels": [tuple, list],
        "features": [StrOptions(set(FEATURE_KINDS))],
        "word_ngram_range": [tuple, list],
        "syllable_ngram_range": [tuple, list],
        "min_df": [Interval(Integral, 1, None, closed="left"), Interval(Real, 0, 1, closed="both")],
        "max_df": [Interval(Real, 0, 1, closed="right")],
        "max_features": [Interval(Integral, 0, None, closed="left")],
        "sublinear_tf": ["boolean"],
        "classifier": [StrOptions({"logreg", "svm"})],
        "C": [Interval(Real, 0, 1e6, closed="neither")],
        "class_weight": [StrOptions({"balanced", "none"})],
        "thresholds": [StrOptions({"tuned"}), Interval(Real, 0, 1, closed="neither")],
        "threshold_window": [Interval(Real, 0, 0.3, closed="both")],
        "false_tag_budget": [Interval(Real, 0, 1, closed="both")],
        "n_jobs": [Integral, None],
        "random_state": [Interval(Integral, 0, None, closed="left")],
        "min_chars": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(
        self,
        labels: tuple[str, ...] = SECTOR_CODES,
        features: str = "word",
        word_ngram_range: tuple[int, int] = (1, 2),
        syllable_ngram_range: tuple[int, int] = (1, 2),
        min_df: int | float = 1,
        max_df: float = 0.9,
        max_features: int = 0,
        sublinear_tf: bool = True,
        classifier: str = "logreg",
        C: float = 8.0,
        class_weight: str = "none",
        thresholds: str | float = "tuned",
        threshold_window: float = 0.05,
        false_tag_budget: float = 0.06,
        n_jobs: int | None = -1,
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
        self.false_tag_budget = false_tag_budget
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.min_chars = min_chars

    @classmethod
    def parameter_names(cls) -> list[str]:
        """The names of the hyper-parameters (the arguments of `__init__`)."""
        return sorted(cls().get_params())

    def check_parameters(self) -> "SectorClassifier":
        """Check every parameter (the constraints, then the values inside tuples) without fitting; raises
        InvalidParameterError or ValueError naming the first bad one."""
        self._validate_params()
        self._check_values()
        return self

    def _check_values(self) -> None:
        """What `_parameter_constraints` cannot say: ranges inside tuples, values inside lists."""
        for name in ("word_ngram_range", "syllable_ngram_range"):
            r = getattr(self, name)
            if not (len(r) == 2 and all(isinstance(v, Integral) and not isinstance(v, bool) for v in r)
                    and 1 <= r[0] <= r[1] <= 5):
                raise ValueError(f"The {name!r} parameter must be two integers 1 <= low <= high <= 5. Got {r!r} instead.")
        if not self.labels or len(set(self.labels)) != len(self.labels) or not all(isinstance(c, str) for c in self.labels):
            raise ValueError(f"The 'labels' parameter must be distinct sector codes. Got {self.labels!r} instead.")

    @property
    def segment(self) -> bool:
        """Whether the features need underthesea word segmentation (syllable features do not)."""
        return self.features != "syllable"

    def build_pipeline(self) -> Pipeline:
        """The unfitted normaliser → TF-IDF → one-vs-rest classifier pipeline for these parameters."""
        return Pipeline([
            ("normalize", TextNormalizer(segment=self.segment, n_jobs=self.n_jobs)),
            ("tfidf", build_vectorizer(self.features, self.word_ngram_range, self.syllable_ngram_range,
                                       self.min_df, self.max_df, self.max_features, self.sublinear_tf)),
            ("classify", self._classifier()),
        ])

    def _classifier(self):
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.linear_model import LogisticRegression
        from sklearn.multiclass import OneVsRestClassifier
        from sklearn.svm import LinearSVC

        weight = None if self.class_weight == "none" else self.class_weight
        if self.classifier == "logreg":
            base = LogisticRegression(C=self.C, class_weight=weight, solver="liblinear", max_iter=1000)
        else:
            base = CalibratedClassifierCV(LinearSVC(C=self.C, class_weight=weight, random_state=self.random_state),
                                          method="sigmoid", cv=3, ensemble=False)
        return OneVsRestClassifier(base)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, X_dev=None, y_dev=None) -> "SectorClassifier":
        """Fit on texts `X` with label lists (or an indicator matrix) `y`; tune the thresholds on
        (`X_dev`, `y_dev`) when given, else on 3-fold out-of-fold scores of the training set."""
        self._check_values()
        codes = tuple(self.labels)
        X, Y = list(X), indicator(y, codes, "training")
        if not X:
            raise DataError("the training set is empty")
        if len(X) != len(Y):
            raise DataError(f"{len(X)} training texts but {len(Y)} label rows")
        missing = [c for c, n in zip(codes, Y.sum(axis=0)) if n == 0]
        if missing:
            raise DataError(f"no positive training example for sector(s) {', '.join(missing)}")
        if X_dev is not None:
            X_dev, Y_dev = list(X_dev), indicator(y_dev, codes, "dev")
        self.pipeline_ = self.build_pipeline().fit(X, Y)
        for _, vectorizer in _vectorizers(self.pipeline_.named_steps["tfidf"]):
            vectorizer.stop_words_ = None  # only introspection uses it, and it can be large
        model = compile_pipeline(self.pipeline_, codes)
        if self.thresholds == "tuned":
            if X_dev is not None:
                S_dev = model.scores(self.pipeline_.named_steps["normalize"].transform(X_dev))
            else:
                from sklearn.model_selection import KFold, cross_val_predict

                tokens = self.pipeline_.named_steps["normalize"].transform(X)
                cv = KFold(n_splits=3, shuffle=True, random_state=self.random_state)
                S_dev = cross_val_predict(self.build_pipeline()[1:], tokens, Y, cv=cv, method="predict_proba")
                Y_dev = Y
            self.thresholds_ = tune_thresholds(Y_dev, S_dev, self.threshold_window, self.false_tag_budget)
        else:
            self.thresholds_ = np.full(len(codes), float(self.thresholds))
        self.model_ = model.with_thresholds(self.thresholds_)
        self.labels_ = codes
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Scores (n_texts, n_labels) in [0, 1]."""
        return self.model_.scores(self.pipeline_.named_steps["normalize"].transform(X))

    def predict(self, X) -> np.ndarray:
        """Indicator matrix (n_texts, n_labels): scores at or above each sector's threshold."""
        return (self.predict_proba(X) >= self.thresholds_).astype(np.int8)


def indicator(y, codes: tuple[str, ...], what: str) -> np.ndarray:
    """Label lists (or an indicator matrix) → indicator matrix, refusing unknown codes with the row number."""
    from .labels import check_labels

    if y is None:
        raise DataError(f"{what} labels are missing")
    if isinstance(y, np.ndarray) and y.ndim == 2:
        return y.astype(np.int8)
    return to_matrix([check_labels(labels, f"{what} row {i}: ", codes) for i, labels in enumerate(y)], codes)


def _vectorizers(tfidf) -> list[tuple[str, object]]:
    parts = getattr(tfidf, "transformer_list", None)
    return list(parts) if parts else [("word" if tfidf.tokenizer.__name__ == "word_tokens" else "syllable", tfidf)]


def compile_pipeline(pipeline: Pipeline, labels: tuple[str, ...]) -> LinearSectorModel:
    """The fitted pipeline as plain arrays (thresholds 0.5 until tuned)."""
    blocks = []
    for name, v in _vectorizers(pipeline.named_steps["tfidf"]):
        terms = [""] * len(v.vocabulary_)
        for term, i in v.vocabulary_.items():
            terms[i] = term
        blocks.append(FeatureBlock(name, tuple(v.ngram_range), tuple(terms), np.asarray(v.idf_, dtype=np.float64),
                                   bool(v.sublinear_tf)))
    coef, intercept, slope, offset = [], [], [], []
    for est in pipeline.named_steps["classify"].estimators_:
        if hasattr(est, "calibrated_classifiers_"):  # Platt-scaled SVM: P = expit(-(a·d + b))
            cal = est.calibrated_classifiers_[0]
            linear, (a, b) = cal.estimator, (cal.calibrators[0].a_, cal.calibrators[0].b_)
            slope.append(-float(a)), offset.append(-float(b))
        else:
            linear = est
            slope.append(1.0), offset.append(0.0)
        if not hasattr(linear, "coef_"):
            raise DataError("a sector's classifier saw a single class in training: add examples with and without it")
        coef.append(np.asarray(linear.coef_, dtype=np.float64).ravel())
        intercept.append(float(np.ravel(linear.intercept_)[0]))
    return LinearSectorModel(
        labels=tuple(labels), segment=pipeline.named_steps["normalize"].segment, blocks=tuple(blocks),
        coef=np.ascontiguousarray(np.column_stack(coef)), intercept=np.array(intercept), slope=np.array(slope),
        offset=np.array(offset), thresholds=np.full(len(labels), 0.5),
    )


def tune_thresholds(Y: np.ndarray, S: np.ndarray, window: float = 0.0, false_tag_budget: float = 1.0) -> np.ndarray:
    """Per sector, the threshold on scores `S` that maximises F1 against `Y` (ties: nearest 0.5); then, while more
    than `false_tag_budget` of the rows without any sector get one, the threshold whose next rise that removes
    one of its tags on such rows costs the least F1 per tag removed goes up to that point.

    With `window` > 0 each F1 curve is first averaged over ±window: on a dev set of a few hundred paragraphs the
    raw curve is flat and jagged, and its single best point does not carry over to other text.
    A sector without positives keeps 0.5.
    """
    grid = THRESHOLD_GRID
    half = int(round(window / 0.01))
    curves = np.zeros((Y.shape[1], len(grid)))
    best = np.full(Y.shape[1], int(np.argmin(np.abs(grid - 0.5))))
    for j in range(Y.shape[1]):
        y, s = Y[:, j].astype(bool), S[:, j]
        if not y.any():
            continue
        pred = s[:, None] >= grid[None, :]
        f1 = 2 * (pred & y[:, None]).sum(axis=0) / (pred.sum(axis=0) + y.sum())
        if half:
            f1 = np.convolve(np.pad(f1, half, mode="edge"), np.ones(2 * half + 1) / (2 * half + 1), mode="valid")
        curves[j] = f1
        top = np.flatnonzero(np.isclose(f1, f1.max()))
        best[j] = top[np.argmin(np.abs(grid[top] - 0.5))]
    none = Y.sum(axis=1) == 0
    if none.any() and false_tag_budget < 1:
        S_none = S[none]

        def false_tags(at: np.ndarray) -> float:  # share of rows without a sector that get one
            return float((S_none >= grid[at]).any(axis=1).mean())

        def wrong_tags(at: np.ndarray, j: int) -> int:  # sector j's tags on rows without a sector
            return int((S_none[:, j] >= grid[at[j]]).sum())

        rate = false_tags(best)
        while rate > false_tag_budget:
            options = []  # per sector: the nearest higher threshold that drops one of its tags on a row without a
            for j in range(Y.shape[1]):  # sector, and the F1 it costs per tag dropped
                now = wrong_tags(best, j)
                for k in range(best[j] + 1, len(grid)):
                    trial = best.copy()
                    trial[j] = k
                    gain = now - wrong_tags(trial, j)
                    if gain > 0:
                        loss = max(curves[j, best[j]] - curves[j, k], 0.0)
                        options.append((loss / gain, loss, j, trial))
                        break
            if not options:
                break
            best = min(options, key=lambda o: (o[0], o[1], o[2]))[3]
            rate = false_tags(best)
    return grid[best].astype(np.float64)
