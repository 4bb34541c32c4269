"""The labelled corpus and the evaluation sets: files → one frame with a train/dev/test split.

The split is a hash of each record's id, or of its `article` for paragraphs of a whole article (so an
article never straddles two splits); adding records never moves existing ones. The real evaluation sets of
`[evaluation]` are read in place and split into halves by a hash of their id (of their article or legal
`group` where they have one); sets are never pooled.
"""

from __future__ import annotations

import glob
import hashlib
import math
import re
from pathlib import Path
from typing import Any

import pandas as pd

from .data import data_hash, read_file
from .errors import DataError
from .settings import Settings

SPLITS = ("train", "dev", "test")


def _hashed(key: str, salt: str) -> int:
    return int(hashlib.sha256(f"{salt}:{key}".encode()).hexdigest()[:8], 16)


def bucket(key: str, salt: str) -> float:
    """A stable number in [0, 100) for `key`."""
    return _hashed(key, salt) % 10000 / 100


def text_key(text: str) -> str:
    """A text as compared for duplicates: lower case, punctuation and spacing ignored."""
    return re.sub(r"\W+", " ", text.lower()).strip()


def assign_split(keys: list[str], dev_percent: float, test_percent: float, salt: str) -> list[str]:
    """train/dev/test for each key, from a hash of the key alone."""
    out = []
    for k in keys:
        b = bucket(k, salt)
        out.append("test" if b < test_percent else "dev" if b < test_percent + dev_percent else "train")
    return out


def split_keys(frame: pd.DataFrame) -> list[str]:
    """The key a record is split by: its `article` when it has one, else its `id`."""
    articles = frame["article"] if "article" in frame.columns else [None] * len(frame)
    return [f"article:{a}" if isinstance(a, str) and a else str(i) for a, i in zip(articles, frame["id"])]


def load_labelled(patterns: tuple[str, ...] | list[str], root: str | Path = ".") -> pd.DataFrame:
    """Every labelled file matched by `patterns` (globs relative to `root`) as one frame with `id`, `text`,
    `labels`, `source_file` (and `article`, `n` where present). Ids must be unique; a record without one gets
    a hash of its text."""
    root = Path(root)
    paths = sorted({p for pat in patterns for p in glob.glob(str(root / pat))})
    if not paths:
        raise DataError(f"no labelled files match {list(patterns)} under {root.resolve()}")
    frames = []
    for p in paths:
        frame = read_file(p, labelled=True)
        for i, t in enumerate(frame["text"]):
            if not isinstance(t, str) or not t.strip():
                raise DataError(f"{p}: record {i + 1}: field 'text' is empty or not a string")
        if "id" not in frame.columns:
            frame["id"] = None
        frame["id"] = [
            str(i) if i is not None and not (isinstance(i, float) and math.isnan(i))
            else "h" + hashlib.sha1(t.encode()).hexdigest()[:16]
            for i, t in zip(frame["id"], frame["text"])
        ]
        frame["source_file"] = str(Path(p).relative_to(root)) if Path(p).is_relative_to(root) else p
        frames.append(frame)
    data = pd.concat(frames, ignore_index=True)
    dup = data["id"][data["id"].duplicated()]
    if len(dup):
        first = dup.iloc[0]
        files = ", ".join(sorted(set(data.loc[data["id"] == first, "source_file"])))
        raise DataError(f"duplicate id {first!r} ({len(dup)} duplicates in all; see {files})")
    return data


def check_conflicts(data: pd.DataFrame) -> None:
    """Refuse the same text under two ids with different labels: one of them is wrong."""
    key = [text_key(t) for t in data["text"]]
    seen: dict[str, tuple[str, list[str]]] = {}
    for k, i, labels in zip(key, data["id"], data["labels"]):
        if k in seen and seen[k][1] != list(labels):
            raise DataError(f"the same text has different labels under id {seen[k][0]!r} ({seen[k][1]}) "
                            f"and id {i!r} ({list(labels)}); fix one of them")
        seen.setdefault(k, (i, list(labels)))


def load_splits(settings: Settings, root: str | Path = ".", extra: list[str] | None = None) -> pd.DataFrame:
    """The labelled corpus with a `split` column; `extra` files join the training split only."""
    data = load_labelled(settings.data.datasets, root)
    s = settings.split
    data["split"] = assign_split(split_keys(data), s.dev_percent, s.test_percent, s.salt)
    for path in extra or []:
        more = read_file(path, labelled=True)
        more["split"], more["source_file"] = "train", str(path)
        if "id" not in more.columns:
            more["id"] = [f"extra:{path}:{i}" for i in range(len(more))]
        data = pd.concat([data, more[["id", "text", "labels", "split", "source_file"]]], ignore_index=True)
    check_conflicts(data)
    return data


def check_splits(data: pd.DataFrame, codes: tuple[str, ...]) -> None:
    """Refuse, before any work, data that cannot train and tune a model."""
    for split in SPLITS:
        part = data[data["split"] == split]
        if part.empty:
            raise DataError(f"the {split} split is empty ({len(data)} records in all); add labelled data")
        if split == "test":
            continue
        for code in codes:
            if not any(code in labels for labels in part["labels"]):
                raise DataError(f"no {split} example carries sector {code!r}: cannot train and tune it")


def summary(data: pd.DataFrame, codes: tuple[str, ...]) -> dict[str, Any]:
    """Counts per split, per sector and per number of labels, and the data hash."""
    out: dict[str, Any] = {}
    for split in SPLITS:
        part = data[data["split"] == split]
        out[split] = {
            "n": int(len(part)),
            "per_sector": {c: int(sum(c in l for l in part["labels"])) for c in codes},
            "none": int(sum(len(l) == 0 for l in part["labels"])),
            "multi": int(sum(len(l) >= 2 for l in part["labels"])),
        }
    out["data_sha256"] = data_hash(data)
    return out


ALL_SETS = ("ours", "seed", "news", "news_articles", "legal")


def evaluation_sets(settings: Settings, root: str | Path = ".",
                    include: tuple[str, ...] = ALL_SETS) -> dict[str, dict[str, pd.DataFrame]]:
    """{set: {part: frame}} — `ours` (train/dev/test and, where the corpus has whole articles, `articles`:
    the article paragraphs of its dev+test splits), and the real sets of `[evaluation]` that exist:
    `seed` (test), `news` (dev/test halves by id), `news_articles` (dev: every paragraph of whole real
    articles), `legal` (dev/test halves by group)."""
    root = Path(root)
    sets: dict[str, dict[str, pd.DataFrame]] = {}
    if "ours" in include:
        data = load_splits(settings, root)
        ours = {s: data[data.split == s] for s in SPLITS}
        if "article" in data.columns:
            in_articles = data["article"].map(lambda a: isinstance(a, str) and bool(a))
            ours["articles"] = data[in_articles & (data.split == "test")]
        sets["ours"] = ours
    ev, salt = settings.evaluation, settings.evaluation.half_salt

    def half(keys) -> pd.Series:  # even hash → dev, odd → test
        return pd.Series(["dev" if _hashed(str(k), salt) % 2 == 0 else "test" for k in keys], index=keys.index)

    seed = root / ev.seed
    if "seed" in include and seed.is_file():
        sets["seed"] = {"test": read_file(seed, labelled=True)}
    news = root / ev.news
    if "news" in include and news.is_file():
        frame = read_file(news, labelled=True)[["id", "text", "labels"]]
        h = half(frame["id"])
        sets["news"] = {"dev": frame[h == "dev"], "test": frame[h == "test"]}
    articles = root / ev.news_articles
    if "news_articles" in include and articles.is_file():
        sets["news_articles"] = {"dev": read_file(articles, labelled=True)[["id", "article", "n", "text", "labels"]]}
    legal = root / ev.legal
    if "legal" in include and legal.is_file():
        frame = read_file(legal, labelled=True)[["group", "text", "labels"]]  # only `text` reaches a model
        h = half(frame["group"])
        sets["legal"] = {"dev": frame[h == "dev"], "test": frame[h == "test"]}
    return {name: {part: f.reset_index(drop=True) for part, f in parts.items() if len(f)} for name, parts in sets.items()}
