"""Features from word tokens: TF-IDF over underthesea words, over syllables, or both.

Input is the output of `text.tokenize`: words joined by spaces, the syllables of a word joined by "_"
(or, for syllable features alone, the normalised text without segmentation).
"""

from __future__ import annotations

import re

import numpy as np

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion

FEATURE_KINDS = ("word", "syllable", "both")
_PUNCT_ONLY = re.compile(r"^\W+$")


def word_tokens(tokens: str) -> list[str]:
    """Lower-cased word tokens, punctuation dropped."""
    return [w for w in tokens.lower().split() if not _PUNCT_ONLY.match(w)]


_SYLLABLE = re.compile(r"[^\W_]+")


def syllable_tokens(tokens: str) -> list[str]:
    """Lower-cased syllables, punctuation dropped (underthesea's classifier recipe); works on segmented
    tokens ("giải_phóng" → "giải", "phóng") and on unsegmented text alike."""
    return _SYLLABLE.findall(tokens.lower())


def _tfidf(analyse, ngram_range, min_df, max_df, max_features, sublinear_tf) -> TfidfVectorizer:
    return TfidfVectorizer(
        tokenizer=analyse,
        token_pattern=None,
        lowercase=False,
        ngram_range=tuple(ngram_range),
        min_df=min_df,
        max_df=max_df,
        max_features=max_features or None,
        sublinear_tf=sublinear_tf,
        dtype=np.float32,
    )


def build_vectorizer(
    kind: str = "word",
    word_ngram_range: tuple[int, int] = (1, 2),
    syllable_ngram_range: tuple[int, int] = (1, 2),
    min_df: int = 1,
    max_df: float = 1.0,
    max_features: int | None = None,
    sublinear_tf: bool = True,
):
    """A fresh (unfitted) vectoriser of the given kind: "word", "syllable" or "both" (a FeatureUnion)."""
    common = dict(min_df=min_df, max_df=max_df, max_features=max_features, sublinear_tf=sublinear_tf)
    if kind == "word":
        return _tfidf(word_tokens, word_ngram_range, **common)
    if kind == "syllable":
        return _tfidf(syllable_tokens, syllable_ngram_range, **common)
    if kind == "both":
        return FeatureUnion([
            ("word", _tfidf(word_tokens, word_ngram_range, **common)),
            ("syllable", _tfidf(syllable_tokens, syllable_ngram_range, **common)),
        ])
    raise ValueError(f"unknown feature kind {kind!r}; expected one of {FEATURE_KINDS}")
