"""Baselines and peers that our model must beat, on the same splits and the same report.

* AllNone: no sector for every paragraph.
* Keywords: what a user would build by hand: a lexicon of sector terms (training/lexicon.toml), a sector when
  any of its terms occurs.
* UndertheseaRecipe: underthesea's own classifier recipe: syllable uni+bigram TF-IDF and a linear SVM,
  no word segmentation, decision at the SVM's own boundary.
* FastTextPeer: fastText supervised, one-vs-all multi-label, on the same word tokens (optional `bench` extra).
"""

from __future__ import annotations

import re
import tempfile
import tomllib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..estimator import tune_thresholds
from ..features import syllable_tokens, word_tokens
from ..labels import SECTOR_CODES
from ..metrics import to_matrix
from ..text import clean, tokenize_many

LEXICON_FILE = Path("training") / "lexicon.toml"


class AllNone:
    """Predicts no sector at all: the floor every model must clear."""

    def fit(self, texts, labels, dev_texts=None, dev_labels=None):
        return self

    def predict(self, texts):
        return [[] for _ in texts]


class Keywords:
    """A sector when any of its lexicon terms occurs in the (cleaned, lower-cased) paragraph."""

    def __init__(self, lexicon: dict[str, list[str]] | None = None, path: Path = LEXICON_FILE):
        if lexicon is None:
            with open(path, "rb") as f:
                lexicon = tomllib.load(f)
        self.patterns = {c: re.compile(r"(?<!\w)(" + "|".join(map(re.escape, lexicon[c])) + r")(?!\w)")
                         for c in SECTOR_CODES}

    def fit(self, texts, labels, dev_texts=None, dev_labels=None):
        return self

    def predict(self, texts):
        lowered = [clean(t).lower() for t in texts]
        return [[c for c in SECTOR_CODES if self.patterns[c].search(low)] for low in lowered]


class UndertheseaRecipe:
    """Syllable uni+bigram TF-IDF (no word segmentation) and a linear SVM per sector, C=1, no thresholds."""

    def fit(self, texts, labels, dev_texts=None, dev_labels=None):
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.multiclass import OneVsRestClassifier
        from sklearn.svm import LinearSVC

        self.vec = TfidfVectorizer(tokenizer=lambda t: syllable_tokens(clean(t)), token_pattern=None,
                                   lowercase=False, ngram_range=(1, 2), sublinear_tf=True)
        X = self.vec.fit_transform(texts)
        self.clf = OneVsRestClassifier(LinearSVC(C=1.0)).fit(X, to_matrix(labels, SECTOR_CODES))
        return self

    def predict(self, texts):
        S = self.clf.decision_function(self.vec.transform(texts))
        return [[c for c, s in zip(SECTOR_CODES, row) if s > 0] for row in S]


def fasttext_line(tokens: str, labels: Sequence[str]) -> str:
    """One fastText training line: every label (or __label__none for a paragraph with none), then the words."""
    tags = " ".join(f"__label__{c}" for c in labels) or "__label__none"
    return f"{tags} {tokens}".strip()


def fasttext_scores(model, lines: Sequence[str], codes: Sequence[str] = SECTOR_CODES) -> np.ndarray:
    """One-vs-all probabilities of a fastText model, one column per code, for a batch of token lines."""
    labels, probs = model.predict(list(lines), k=-1, threshold=0.0)
    index = {f"__label__{c}": j for j, c in enumerate(codes)}
    S = np.zeros((len(lines), len(codes)))
    for i, (ls, ps) in enumerate(zip(labels, probs)):
        for lab, p in zip(ls, ps):
            if lab in index:
                S[i, index[lab]] = p
    return S


def fasttext_words(texts: Sequence[str]) -> list[str]:
    """Our underthesea word tokens as fastText reads them: lower-cased, punctuation dropped."""
    return [" ".join(word_tokens(t)) for t in tokenize_many(list(texts), -1, segment=True, remember=True)]


class FastTextPeer:
    """fastText supervised (one-vs-all) on underthesea word tokens; thresholds tuned on dev like ours."""

    def __init__(self, epoch: int = 50, lr: float = 0.5, word_ngrams: int = 2, threshold_window: float = 0.05):
        import fasttext  # the optional `bench` extra: fasttext-numpy2

        self.fasttext = fasttext
        self.epoch, self.lr, self.word_ngrams, self.window = epoch, lr, word_ngrams, threshold_window

    def fit(self, texts, labels, dev_texts=None, dev_labels=None):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "train.txt"
            path.write_text("".join(fasttext_line(w, ls) + "\n" for w, ls in zip(fasttext_words(texts), labels)),
                            encoding="utf-8")
            self.model = self.fasttext.train_supervised(str(path), loss="ova", epoch=self.epoch, lr=self.lr,
                                                        wordNgrams=self.word_ngrams, verbose=0, seed=0, thread=1)
        self.thresholds = np.full(len(SECTOR_CODES), 0.5)
        if dev_texts is not None:
            self.thresholds = tune_thresholds(to_matrix(dev_labels, SECTOR_CODES), self.scores(dev_texts), self.window)
        return self

    def scores(self, texts) -> np.ndarray:
        return fasttext_scores(self.model, fasttext_words(texts))

    def predict(self, texts):
        S = self.scores(texts)
        return [[c for c, s, th in zip(SECTOR_CODES, row, self.thresholds) if s >= th] for row in S]
