"""Tag files: rows of paragraphs (JSONL, CSV, Parquet, or JSONL on standard input), or whole articles (a `.txt`
or `.html` file, a folder of them, or a glob), into JSONL, CSV or Parquet, with an optional per-article summary.

Every output row records the model that produced it (`model_version`, `model_sha256`); scores are written
with 4 decimals; nothing is written under the final name until the whole output is complete.
"""

from __future__ import annotations

import glob
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..article import ARTICLE_SUFFIXES, read_article
from ..data import STDIN, iter_chunks
from ..errors import DataError, SectorTagError
from ..model import SectorTagger
from ..output import STDOUT, ChunkWriter

if TYPE_CHECKING:
    import pandas as pd

GLOB_CHARS = set("*?[")


@dataclass
class Counts:
    """What a run did, for the closing message."""

    rows: int = 0
    errors: int = 0
    articles: int = 0
    dropped: dict[str, int] = field(default_factory=dict)


def is_article_input(source: str) -> bool:
    """A folder, a glob, or a `.txt`/`.html` file: tagged as whole articles."""
    if source == STDIN:
        return False
    return bool(GLOB_CHARS & set(source)) or Path(source).is_dir() or Path(source).suffix.lower() in ARTICLE_SUFFIXES


def article_files(source: str) -> list[tuple[str, Path]]:
    """(article id, path) for every article file of a folder (recursively, sorted), a glob, or one file; the id
    is the path relative to the folder, or the file name."""
    if Path(source).is_dir():
        root = Path(source)
        found = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in ARTICLE_SUFFIXES)
        pairs = [(p.relative_to(root).as_posix(), p) for p in found]
    elif GLOB_CHARS & set(source):
        found = sorted(Path(p) for p in glob.glob(source, recursive=True))
        pairs = [(p.name, p) for p in found if p.is_file() and p.suffix.lower() in ARTICLE_SUFFIXES]
    else:
        if not Path(source).is_file():
            raise DataError(f"{source}: file not found")
        pairs = [(Path(source).name, Path(source))]
    if not pairs:
        raise DataError(f"{source}: no article files ({', '.join(ARTICLE_SUFFIXES)}) found")
    ids = [a for a, _ in pairs]
    if len(set(ids)) < len(ids):
        raise DataError(f"{source}: two files share the article id {next(a for a in ids if ids.count(a) > 1)!r}; "
                        f"give a folder so that ids are relative paths")
    return pairs


def check_paths(source: str, output: str) -> None:
    """Refuse, before any work, outputs that would overwrite the input or cannot be written."""
    if output == STDOUT:
        return
    out = Path(output)
    if source != STDIN and out.exists() and Path(source).exists() and out.resolve() == Path(source).resolve():
        raise SectorTagError(f"{out}: the output would overwrite the input; choose another output path")
    if out.is_dir():
        raise SectorTagError(f"{out}: is a folder; give an output file name (.jsonl, .csv or .parquet)")
    if out.parent.exists() and not os.access(out.parent, os.W_OK):
        raise SectorTagError(f"{out}: cannot write into folder {out.parent} (permission denied)")


def tag_rows(tagger: SectorTagger, source: str, writer: ChunkWriter, chunk_size: int, text_column: str,
             explain: bool, progress) -> Counts:
    """Each row of a paragraph file is tagged; every input column is kept (true labels as `labels_true`)."""
    counts = Counts()
    for chunk in iter_chunks(source, chunk_size, tagger.min_chars, text_column=text_column):
        if "labels" in chunk:  # a labelled (or already tagged) file: keep the true labels once
            chunk = chunk.drop(columns="labels") if "labels_true" in chunk else chunk.rename(columns={"labels": "labels_true"})
        stale = [c for c in chunk if str(c).startswith(("score_", "why_")) or c in ("error", "model_version", "model_sha256")]
        tagged = tagger.predict_frame(chunk.drop(columns=stale), text_column)
        if explain:
            tagged = with_reasons(tagger, tagged, text_column)
        writer.write(tagged.assign(**tagger.provenance()))
        counts.rows += len(tagged)
        counts.errors += int(tagged["error"].notna().sum())
        progress.update(len(tagged))
    return counts


def iter_article_batches(tagger: SectorTagger, source: str, chunk_size: int, id_column: str,
                         text_column: str, unreadable: dict[str, str]) -> Iterator[list[tuple[str, str]]]:
    """Articles in batches of about `chunk_size` lines (a batch is tagged at once).
    A file that cannot be read is recorded in `unreadable` and passed on as an empty article."""
    batch: list[tuple[str, str]] = []
    size = 0
    if is_article_input(source):
        pairs: Iterator[tuple[str, str]] = _read_files(article_files(source), unreadable)
    else:  # rows of a file, each a whole article
        pairs = ((str(a), t if isinstance(t, str) else "") for chunk in iter_chunks(source, chunk_size, tagger.min_chars,
                                                                                    text_column=text_column)
                 for a, t in _article_rows(chunk, id_column, text_column, source))
    for article_id, text in pairs:
        batch.append((article_id, text))
        size += text.count("\n") + 1
        if size >= chunk_size:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _read_files(pairs: list[tuple[str, Path]], unreadable: dict[str, str]) -> Iterator[tuple[str, str]]:
    for article_id, path in pairs:
        try:
            yield article_id, read_article(path)
        except DataError as e:
            unreadable[article_id] = str(e)
            yield article_id, ""


def _article_rows(chunk, id_column: str, text_column: str, source: str):
    if id_column not in chunk.columns:
        raise DataError(f"{source}: no {id_column!r} field to name the articles (found: "
                        f"{', '.join(map(str, chunk.columns))}); give --id-column")
    return zip(chunk[id_column], chunk[text_column])


def tagged_article_batches(tagger: SectorTagger, source: str, chunk_size: int, captions: str, id_column: str,
                           text_column: str) -> Iterator[tuple[list[tuple[str, str]], "pd.DataFrame"]]:
    """Each batch of articles with its `tag_articles` frame; a file that could not be read keeps its one row with
    the reason in `error`."""
    unreadable: dict[str, str] = {}
    for batch in iter_article_batches(tagger, source, chunk_size, id_column, text_column, unreadable):
        tagged = tagger.tag_articles(batch, captions=captions)
        for article_id, reason in unreadable.items():
            tagged.loc[tagged["article_id"] == article_id, "error"] = reason
        unreadable.clear()
        yield batch, tagged


def tag_articles(tagger: SectorTagger, source: str, writer: ChunkWriter, chunk_size: int, captions: str,
                 id_column: str, text_column: str, explain: bool, progress) -> tuple[Counts, list]:
    """Each article is split into body paragraphs and tagged; returns the counts and per-batch summaries."""
    counts, summaries = Counts(), []
    for batch, tagged in tagged_article_batches(tagger, source, chunk_size, captions, id_column, text_column):
        if explain:
            tagged = with_reasons(tagger, tagged, "paragraph")
        for why in tagged.attrs["dropped"].values():
            for reason, n in why.items():
                counts.dropped[reason] = counts.dropped.get(reason, 0) + n
        writer.write(tagged.assign(**tagger.provenance()))
        summaries.append(tagger.summarize(tagged))
        counts.rows += len(tagged)
        counts.errors += int(tagged["error"].notna().sum())
        counts.articles += len(batch)
        progress.update(len(batch))
    return counts, summaries


def with_reasons(tagger: SectorTagger, tagged, text_column: str = "text", top: int = 5):
    """Add `why_<code>` per sector: for each predicted sector, the terms that pushed its score up the most,
    as "term (+contribution), …"; empty where the sector was not predicted."""
    texts = [t if isinstance(t, str) else "" for t in tagged[text_column]]
    reasons = tagger.explain(texts, top=top)
    for code in tagger.labels_:
        tagged[f"why_{code}"] = [
            ", ".join(f"{term} ({c:+.2f})" for term, c in why[code]["up"]) if code in labels else None
            for why, labels in zip(reasons, tagged["labels"])
        ]
    return tagged


def write_summary(summaries: list, path: str, excel: bool) -> int:
    """Write the per-article summary (CSV, JSONL or Parquet, atomically); returns the number of articles."""
    import pandas as pd

    frame = pd.concat(summaries, ignore_index=True)
    with ChunkWriter(path, excel=excel) as writer:
        writer.write(frame)
    return len(frame)


def say(message: str) -> None:
    print(message, file=sys.stderr)
