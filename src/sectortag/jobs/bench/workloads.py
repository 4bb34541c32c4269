"""The paragraphs the benchmark measures: fixed, seeded workloads built from the project's datasets and the
text of ../shared corpora, JSONL sample files for `sectortag predict`, and the check of its output."""

from __future__ import annotations

import json
import math
import random
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SEED = 4
REPEAT_SHARE = 0.20  # share of repeated paragraphs in the "realistic" workload (boilerplate, republished news)
MIN_CHARS = 40  # a line of ../shared text shorter than this is not a paragraph (as [model] min_chars)


def jsonl_texts(path: Path) -> list[str]:
    """The `text` field of every record of a JSONL file (other fields are not read)."""
    out = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                text = json.loads(line).get("text")
                if isinstance(text, str):
                    out.append(text)
    return out


def lines_as_paragraphs(texts: Sequence[str], min_chars: int = MIN_CHARS) -> list[str]:
    """Each line of each text that is at least `min_chars` long (clauses of a legal article are paragraphs)."""
    return [line.strip() for t in texts for line in t.split("\n") if len(line.strip()) >= min_chars]


def build_workloads(own: Sequence[str], extra: Sequence[str], size: int, repeat_share: float = REPEAT_SHARE,
                    seed: int = SEED) -> dict[str, list[str]]:
    """Fixed workloads of `size` paragraphs from the project's paragraphs `own` plus `extra` text.

    distinct: every paragraph once (all of `own`, topped up from `extra`), when enough text exists; otherwise
      the distinct texts repeated as needed. repeats: `repeat_share` of the rows repeat earlier ones (the first
      `size * (1 - repeat_share)` distinct paragraphs plus repeats of them). spare: distinct text left over for
      warm-ups; pool: all distinct text.
    """
    rng = random.Random(seed)
    own = list(dict.fromkeys(own))
    seen = set(own)
    extra = [t for t in dict.fromkeys(extra) if t not in seen]
    rng.shuffle(extra)
    if len(own) >= size:
        distinct, spare = rng.sample(own, size), extra
    else:
        take = size - len(own)
        distinct, spare = own + extra[:take], extra[take:]
    if len(distinct) < size:  # not enough text: repeat it
        distinct = (distinct * math.ceil(size / max(1, len(distinct))))[:size]
    rng.shuffle(distinct)
    n_base = max(1, round(size * (1 - repeat_share)))
    base = distinct[:n_base]
    repeats = base + [rng.choice(base) for _ in range(size - n_base)]
    rng.shuffle(repeats)
    return {"distinct": distinct, "repeats": repeats, "spare": spare, "pool": own + extra}


def share_repeated(texts: Sequence[str]) -> float:
    return round(1 - len(set(texts)) / max(1, len(texts)), 4)


def project_workloads(own: Sequence[str], shared: Path, size: int) -> tuple[dict[str, list[str]], dict[str, Any]]:
    """The workloads from the datasets' texts `own` and the ../shared corpora (when present), and their
    description for the report."""
    files = sorted((shared / "corpora").glob("*.jsonl")) if (shared / "corpora").is_dir() else []
    extra = lines_as_paragraphs([t for f in files for t in jsonl_texts(f)])
    w = build_workloads(own, extra, size)
    distinct, repeats = w["distinct"], w["repeats"]
    info = {
        "size": len(distinct), "seed": SEED, "mean_chars": round(statistics.mean(map(len, distinct)), 1),
        "sources": {"datasets": len(set(own)), "shared_lines": len(set(extra)),
                    "shared_files": [str(f.relative_to(shared)) for f in files] or "absent"},
        "distinct_workload_repeated_share": share_repeated(distinct),
        "repeats_workload_repeated_share": share_repeated(repeats),
        "note": f"paragraphs: datasets/ texts, plus each line of at least {MIN_CHARS} characters of ../shared "
                "corpora texts (the `text` field only); shuffled with a fixed seed",
    }
    return w, info


def sample_file(path: Path, pool: Sequence[str], n: int, seed: int) -> None:
    """A JSONL file of `n` records {"id": "b<i>", "text": …} drawn from `pool` with a fixed seed."""
    rng = random.Random(seed)
    records_file(path, [rng.choice(pool) for _ in range(n)])


def records_file(path: Path, texts: Sequence[str]) -> None:
    """A JSONL file with one record {"id": "b<i>", "text": …} per text, in order."""
    with path.open("w", encoding="utf-8") as f:
        for i, text in enumerate(texts):
            f.write(json.dumps({"id": f"b{i}", "text": text}, ensure_ascii=False) + "\n")


def distinct_paragraphs(pool: Sequence[str], n: int, seed: int) -> list[str]:
    """`n` paragraphs, no two alike: the distinct texts of `pool` shuffled with a fixed seed and, when there are
    fewer, further rounds of them numbered ("Mục 2. …"), so that no row is tokenized for free as a repeat."""
    rng = random.Random(seed)
    base = list(dict.fromkeys(pool))
    rng.shuffle(base)
    out, k = base[:n], 2
    while len(out) < n:
        out += [f"Mục {k}. {t}" for t in base[: n - len(out)]]
        k += 1
    return out


def check_output(inp: Path, out: Path) -> dict[str, Any]:
    """Every input row in the output, in input order (by id), none lost, none added."""
    rows_in = rows_out = in_order = errors = 0
    with inp.open(encoding="utf-8") as fi, out.open(encoding="utf-8") as fo:
        while True:
            a, b = fi.readline(), fo.readline()
            if not a and not b:
                break
            rows_in, rows_out = rows_in + bool(a), rows_out + bool(b)
            if a and b:
                rb = json.loads(b)
                in_order += json.loads(a)["id"] == rb["id"]
                errors += rb.get("error") is not None
    return {"rows_in": rows_in, "rows_out": rows_out, "rows_in_input_order": in_order, "error_rows": errors,
            "ok": rows_in == rows_out == in_order}
