"""Per-article summary of tagged paragraphs: how much of each article each sector carries, and where."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from .errors import DataError

SHORT_ARTICLE = 5  # fewer body paragraphs than this: one paragraph can make a sector main


def main_sectors(counts: dict[str, int], n: int, main_share: float = 0.2, main_min: int = 2) -> list[str]:
    """The sectors that tag at least `main_share` of `n` body paragraphs and at least `main_min` of them
    (1 in a short article), most paragraphs first."""
    least = 1 if n < SHORT_ARTICLE else main_min
    main = [c for c, k in counts.items() if k >= least and k >= main_share * n and k > 0]
    return sorted(main, key=lambda c: -counts[c])


def summarize(tagged: pd.DataFrame, codes: Sequence[str], main_share: float = 0.2, main_min: int = 2) -> pd.DataFrame:
    """One row per article of a `tag_articles` frame (articles in first-seen order): article_id, paragraphs,
    n_<code>, share_<code>, main_sectors ("a;b"), paragraphs_<code> (paragraph numbers, "2;5")."""
    for column in ("article_id", "paragraph_no", "labels"):
        if column not in tagged.columns:
            raise DataError(f"cannot summarise: no column {column!r} (expected the output of tag_articles)")
    rows = []
    for article_id, group in tagged.groupby("article_id", sort=False):
        group = group[group["paragraph_no"] > 0]  # paragraph_no 0: an article without body text
        n = len(group)
        where = {c: [int(no) for no, labels in zip(group["paragraph_no"], group["labels"]) if c in labels] for c in codes}
        counts = {c: len(v) for c, v in where.items()}
        row = {"article_id": article_id, "paragraphs": n}
        row.update({f"n_{c}": counts[c] for c in codes})
        row.update({f"share_{c}": round(counts[c] / n, 4) if n else 0.0 for c in codes})
        row["main_sectors"] = ";".join(main_sectors(counts, n, main_share, main_min))
        row.update({f"paragraphs_{c}": ";".join(map(str, where[c])) for c in codes})
        rows.append(row)
    columns = (["article_id", "paragraphs"] + [f"n_{c}" for c in codes] + [f"share_{c}" for c in codes]
               + ["main_sectors"] + [f"paragraphs_{c}" for c in codes])
    return pd.DataFrame(rows, columns=columns)
