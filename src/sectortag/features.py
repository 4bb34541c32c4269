"""Features: TF-IDF over underthesea words, over syllables, or both.

The analysers here are shared by the two places that turn text into features: scikit-learn's
`TfidfVectorizer` while training (`build_vectorizer`), and the saved linear model while predicting
(`linear.FeatureBlock`), so that both see exactly the same terms. Input is the output of `text.tokenize`:
words joined by spaces, the syllables of a word joined by "_" (or, for syllables alone, the normalised text).
Nothing here imports scikit-learn until a vectoriser is built.
"""

from __future__ import annotations

import re

FEATURE_KINDS = ("word", "syllable", "both")
_PUNCT_ONLY = re.compile(r"^\W+$")
_SYLLABLE = re.compile(r"[^\W_]+")


def word_tokens(tokens: str) -> list[str]:
    """Lower-cased word tokens, punctuation dropped."""
    return [w for w in tokens.lower().split() if not _PUNCT_ONLY.match(w)]


def syllable_tokens(tokens: str) -> list[str]:
    """Lower-cased syllables, punctuation dropped (underthesea's classifier recipe); works on segmented
    tokens ("giải_phóng" → "giải", "phóng") and on unsegmented text alike."""
    return _SYLLABLE.findall(tokens.lower())


ANALYSERS = {"word": word_tokens, "syllable": syllable_tokens}


def ngrams(tokens: list[str], ngram_range: tuple[int, int]) -> list[str]:
    """The n-grams of `tokens` for n in `ngram_range`, joined by spaces: the terms scikit-learn's word
    analyser produces (unigrams first, then bigrams, …)."""
    low, high = ngram_range
    out = list(tokens) if low == 1 else []
    for n in range(max(low, 2), min(high, len(tokens)) + 1):
        out.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return out


def blocks_for(kind: str) -> tuple[str, ...]:
    """The analyser names a feature kind uses: ("word",), ("syllable",) or both."""
    if kind not in FEATURE_KINDS:
        raise ValueError(f"unknown feature kind {kind!r}; expected one of {FEATURE_KINDS}")
    return ("word", "syllable") if kind == "both" else (kind,)


def build_vectorizer(kind: str, word_ngram_range: tuple[int, int], syllable_ngram_range: tuple[int, int],
                     min_df: int | float, max_df: float, max_features: int, sublinear_tf: bool):
    """A fresh (unfitted) TF-IDF vectoriser: one `TfidfVectorizer`, or a `FeatureUnion` of two for "both"."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    ranges = {"word": tuple(word_ngram_range), "syllable": tuple(syllable_ngram_range)}
    parts = [
        (name, TfidfVectorizer(tokenizer=ANALYSERS[name], token_pattern=None, lowercase=False,
                               ngram_range=ranges[name], min_df=min_df, max_df=max_df,
                               max_features=max_features or None, sublinear_tf=sublinear_tf, dtype=np.float32))
        for name in blocks_for(kind)
    ]
    return parts[0][1] if len(parts) == 1 else FeatureUnion(parts)
