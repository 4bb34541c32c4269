"""`make validate-data`: check datasets/ before it trains anything.

Schema (unique ids, non-empty NFC text, known codes in canonical order, genre), exact and near duplicates
(TF-IDF cosine ≥ 0.8), the minimum counts of the dataset issue, per-split counts, and the blind second-pass
labels (coverage and Cohen's kappa per sector). Exits non-zero on any failure, naming the record.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from sectortag.config import load_config  # noqa: E402
from sectortag.data import assign_split  # noqa: E402

GENRES = {"news", "report", "quote", "directive", "conclusion", "communique", "caption", "protocol", "headline", "byline"}
MINIMUM = {"records": 2400, "per_sector": 450, "multi": 400, "none": 700, "near_miss": 350}
NEAR_DUPLICATE = 0.8
KAPPA_TARGET = 0.85


def read_records(paths: list[Path]) -> tuple[list[dict], list[str]]:
    records, problems = [], []
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            where = f"{path.relative_to(ROOT)}:line {number}"
            try:
                r = json.loads(line)
            except json.JSONDecodeError as e:
                problems.append(f"{where}: broken JSON ({e.msg})")
                continue
            r["_where"] = where
            records.append(r)
    return records, problems


def check_schema(records: list[dict], codes: tuple[str, ...]) -> list[str]:
    problems = []
    ids = Counter(r.get("id") for r in records)
    for r in records:
        w = r["_where"]
        for field in ("id", "text", "labels", "genre", "topic"):
            if field not in r:
                problems.append(f"{w}: missing field {field!r}")
        text, labels = r.get("text", ""), r.get("labels", [])
        if not isinstance(text, str) or not text.strip():
            problems.append(f"{w}: field 'text' is empty")
        elif unicodedata.normalize("NFC", text) != text:
            problems.append(f"{w}: field 'text' is not NFC")
        if not isinstance(labels, list) or any(l not in codes for l in labels):
            problems.append(f"{w}: field 'labels' has an unknown code: {labels}")
        elif labels != [c for c in codes if c in labels]:
            problems.append(f"{w}: field 'labels' not in canonical order or repeated: {labels}")
        if r.get("genre") not in GENRES:
            problems.append(f"{w}: field 'genre' is {r.get('genre')!r}, not one of {sorted(GENRES)}")
        if ids[r.get("id")] > 1:
            problems.append(f"{w}: duplicate id {r.get('id')!r}")
    return problems


def check_duplicates(records: list[dict]) -> list[str]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    problems, seen = [], {}
    for r in records:
        key = re.sub(r"\W+", " ", r["text"].lower()).strip()
        if key in seen:
            problems.append(f"{r['_where']}: exact duplicate of {seen[key]}")
        seen.setdefault(key, r["_where"])
    X = TfidfVectorizer().fit_transform([r["text"] for r in records])
    S = (X @ X.T).tocoo()
    for i, j, v in zip(S.row, S.col, S.data):
        if i < j and v >= NEAR_DUPLICATE:
            problems.append(f"near duplicates (cosine {v:.2f}): {records[i]['_where']} ({records[i]['id']}) "
                            f"~ {records[j]['_where']} ({records[j]['id']})")
    return problems


def counts(records: list[dict], codes: tuple[str, ...]) -> dict:
    none = [r for r in records if not r["labels"]]
    return {
        "records": len(records),
        "per_sector": {c: sum(c in r["labels"] for r in records) for c in codes},
        "by_number_of_labels": dict(sorted(Counter(len(r["labels"]) for r in records).items())),
        "multi": sum(len(r["labels"]) >= 2 for r in records),
        "none": len(none),
        "near_miss": sum(str(r.get("topic", "")).lower().startswith("near miss") for r in none),
        "genre": dict(Counter(r.get("genre") for r in records).most_common()),
    }


def check_counts(c: dict, splits: dict) -> list[str]:
    problems = []
    for key in ("records", "multi", "none", "near_miss"):
        if c[key] < MINIMUM[key]:
            problems.append(f"only {c[key]} {key.replace('_', ' ')} records; at least {MINIMUM[key]} required")
    for code, n in c["per_sector"].items():
        if n < MINIMUM["per_sector"]:
            problems.append(f"only {n} records carry {code}; at least {MINIMUM['per_sector']} required")
    for split, sc in splits.items():
        for code, n in sc["per_sector"].items():
            if n == 0:
                problems.append(f"the {split} split has no record carrying {code}")
    return problems


def cohen_kappa(a: list[int], b: list[int]) -> float:
    n = len(a)
    po = sum(x == y for x, y in zip(a, b)) / n
    pa, pb = sum(a) / n, sum(b) / n
    pe = pa * pb + (1 - pa) * (1 - pb)
    return 1.0 if pe == 1 else (po - pe) / (1 - pe)


def second_pass(records: list[dict], codes: tuple[str, ...], folder: Path) -> tuple[dict, list[str]]:
    """Agreement of the blind second pass with the first-pass labels recorded in `first_labels`
    (or `labels` where both passes agreed from the start)."""
    problems, second = [], {}
    for path in sorted(folder.glob("*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                r = json.loads(line)
                if r["id"] in second:
                    problems.append(f"{path.name}:line {number}: second-pass id {r['id']!r} labelled twice")
                second[r["id"]] = r["labels"]
    missing = [r["id"] for r in records if r["id"] not in second]
    if missing:
        problems.append(f"{len(missing)} records have no second-pass label (first: {missing[:5]})")
    both = [r for r in records if r["id"] in second]
    report = {"records": len(both), "kappa": {}, "agreement": {}, "disagreements_resolved": 0}
    if not both:
        return report, problems
    for code in codes:
        a = [int(code in r.get("first_labels", r["labels"])) for r in both]
        b = [int(code in second[r["id"]]) for r in both]
        report["kappa"][code] = round(cohen_kappa(a, b), 3)
        report["agreement"][code] = round(sum(x == y for x, y in zip(a, b)) / len(a), 3)
    report["exact_match"] = round(sum(second[r["id"]] == r.get("first_labels", r["labels"]) for r in both) / len(both), 3)
    report["disagreements_resolved"] = sum("first_labels" in r for r in both)
    return report, problems


def validate(config_path: Path) -> tuple[dict, list[str]]:
    config = load_config(config_path)
    codes = tuple(config["labels"]["codes"])
    paths = sorted({p for pat in config["data"]["datasets"] for p in ROOT.glob(pat)})
    records, problems = read_records(paths)
    problems += check_schema(records, codes)
    if problems:
        return {}, problems
    problems += check_duplicates(records)
    s = config["split"]
    split_of = dict(zip([r["id"] for r in records],
                        assign_split([r["id"] for r in records], s["dev_percent"], s["test_percent"], s["salt"])))
    summary = counts(records, codes)
    summary["splits"] = {sp: counts([r for r in records if split_of[r["id"]] == sp], codes)
                         for sp in ("train", "dev", "test")}
    problems += check_counts(summary, summary["splits"])
    summary["second_pass"], more = second_pass(records, codes, ROOT / "datasets" / "second_pass")
    problems += more
    return summary, problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", default=str(ROOT / "training" / "config.toml"))
    parser.add_argument("--json", help="also write the summary to this file")
    args = parser.parse_args()
    summary, problems = validate(Path(args.config))
    if summary:
        splits = summary.pop("splits")
        print(json.dumps(summary, ensure_ascii=False, indent=1))
        for sp, c in splits.items():
            print(f"{sp:<6} {c['records']:>5} records  per sector {c['per_sector']}  multi {c['multi']}  none {c['none']}")
        if args.json:
            Path(args.json).write_text(json.dumps({**summary, "splits": splits}, ensure_ascii=False, indent=1))
    for p in problems:
        print(f"FAIL {p}", file=sys.stderr)
    print(f"validate-data: {'FAILED with ' + str(len(problems)) + ' problem(s)' if problems else 'ok'}",
          file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
