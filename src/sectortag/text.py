"""Text before the model: a paragraph → normalised text → underthesea word tokens (`article` splits articles).

Tokenization is the expensive step of the whole tool, so `tokenize_many` tokenizes each distinct
text once, remembers recent results (re-fitting on the same texts, as model selection does, costs nothing),
and spreads large batches over worker processes (underthesea holds the GIL).
"""

from __future__ import annotations

import functools
import html
import logging
import re
import unicodedata
from collections.abc import Iterable, Sequence

DEFAULT_MIN_CHARS = 40
_TAG = re.compile(r"<[^>]{0,200}>")
# control and format characters (zero-width spaces, BOM, bidi marks), except line breaks and tabs
_INVISIBLE = re.compile(r"[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\ufeff]")
_SPACES = re.compile(r"[^\S\n]+")
_WORD = re.compile(r"(\w+)")
# below this many distinct texts a batch stays in this process: starting the workers (each imports
# underthesea and loads its model) costs more than splitting the batch saves
PARALLEL_MIN_TEXTS = 2000

_underthesea = None


def _tokenizer():
    """Import underthesea once, keeping the root logger as it was (underthesea calls basicConfig)."""
    global _underthesea
    if _underthesea is None:
        root = logging.getLogger()
        handlers, level = list(root.handlers), root.level
        import underthesea

        root.handlers[:] = handlers
        root.setLevel(level)
        _underthesea = underthesea
    return _underthesea


def clean(text: str) -> str:
    """Undo HTML (tags, entities), drop invisible characters, NFC, collapse spaces; keep line breaks."""
    text = html.unescape(_TAG.sub(" ", text)) if ("<" in text or "&" in text) else text
    text = _INVISIBLE.sub("", unicodedata.normalize("NFC", text))
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(_SPACES.sub(" ", line).strip() for line in text.split("\n"))


@functools.lru_cache(maxsize=500_000)
def _normalize_syllable(syllable: str) -> str:
    from underthesea.pipeline.text_normalize.token_normalize import token_normalize

    _tokenizer()
    return token_normalize(syllable)


def one_line(text: str) -> str:
    """`clean`, then the lines joined by single spaces (line breaks never leave double spaces)."""
    return " ".join(line for line in clean(text).split("\n") if line)


def normalize(text: str) -> str:
    """One line of text in the form the model sees: cleaned, NFC, one tone-mark placement ("hoà" → "hòa").

    Applies underthesea's `token_normalize` to each syllable (cached: a language has few distinct syllables),
    which gives underthesea's normalisation at a fraction of the cost of `text_normalize`.
    """
    text = one_line(text)
    if not text:
        return ""
    parts = _WORD.split(text)
    parts[1::2] = [_normalize_syllable(p) for p in parts[1::2]]
    return unicodedata.normalize("NFC", "".join(parts))


def tokenize(text: str, segment: bool = True) -> str:
    """Underthesea word tokens of one text, joined by spaces ("giải_phóng mặt_bằng"); with `segment=False`
    only the normalised text (for syllable features). `word_tokenize` normalises tone marks itself."""
    if not segment:
        return normalize(text)
    text = one_line(text)
    if not text:
        return ""
    return unicodedata.normalize("NFC", _tokenizer().word_tokenize(text, format="text"))


def _tokenize_chunk(texts: Sequence[str], segment: bool = True) -> list[str]:
    """Tokens of each text, in order (one worker's share of a batch; also warms a new worker up)."""
    return [tokenize(t, segment) for t in texts]


# results kept for `remember=True` callers (training and model selection fit many models on the same texts);
# cleared when full, so memory stays bounded
_MEMO: dict[bool, dict[str, str]] = {True: {}, False: {}}
MEMO_SIZE = 300_000


def forget() -> None:
    """Drop the remembered tokens (benchmarks call this between timed runs)."""
    _MEMO[True].clear()
    _MEMO[False].clear()


def tokenize_many(texts: Iterable[str], n_jobs: int = 1, segment: bool = True, remember: bool = False) -> list[str]:
    """Tokenize a batch: each distinct text once, results in input order, in `n_jobs` processes when the batch
    has at least PARALLEL_MIN_TEXTS distinct texts to do (ten times that without segmentation, which is cheap).
    With `remember`, results are kept and reused by later `remember` calls.

    The worker processes persist between calls (an idle one exits after 5 minutes) with underthesea already
    loaded, so only the first large batch pays for starting them. The batch goes out in small chunks, so the
    workers finish together; if a worker dies (killed, out of memory) the batch is tokenized here instead.
    """
    texts = list(texts)
    memo = _MEMO[segment] if remember else {}
    distinct = [t for t in dict.fromkeys(texts) if t not in memo]
    workers = effective_jobs(n_jobs)
    tokens: list[str] | None = None
    if workers > 1 and len(distinct) >= (PARALLEL_MIN_TEXTS if segment else 10 * PARALLEL_MIN_TEXTS):
        from joblib.externals.loky import get_reusable_executor
        from joblib.externals.loky.process_executor import BrokenProcessPool

        # about 16 chunks per worker, 50 to 500 texts each: cheap to send, and a short tail
        size = min(500, max(50, len(distinct) // (workers * 16)))
        chunks = [distinct[i : i + size] for i in range(0, len(distinct), size)]
        try:
            pool = get_reusable_executor(
                max_workers=workers, timeout=300,
                initializer=_tokenize_chunk, initargs=(["Khởi động bộ tách từ tiếng Việt."],),
            )
            tokens = [t for chunk in pool.map(_tokenize_chunk, chunks, [segment] * len(chunks)) for t in chunk]
        except BrokenProcessPool as e:
            logging.getLogger(__name__).warning("tokenizer workers failed (%s); tokenizing in this process", e)
            tokens = None
    if tokens is None:
        tokens = _tokenize_chunk(distinct, segment)
    lookup = dict(zip(distinct, tokens))
    out = [lookup[t] if t in lookup else memo[t] for t in texts]
    if remember:
        if len(memo) + len(lookup) > MEMO_SIZE:
            memo.clear()
        if len(lookup) <= MEMO_SIZE:
            memo.update(lookup)
    return out


def effective_jobs(n_jobs: int | None) -> int:
    """Worker processes for `n_jobs`: None or 0 → 1; -1 → every usable core, -2 → all but one, …;
    never more than the usable cores (CPU affinity and container CPU quotas count)."""
    if n_jobs is None or n_jobs == 0:
        return 1
    from joblib import cpu_count

    cpus = max(1, cpu_count())
    return max(1, cpus + 1 + n_jobs) if n_jobs < 0 else min(n_jobs, cpus)
