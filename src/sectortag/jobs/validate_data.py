"""`make validate-data`: check datasets/ before it trains anything.

Schema (unique ids, non-empty NFC text, known codes in canonical order, genre, whole articles numbered
1..n), exact and near duplicates (TF-IDF cosine ≥ 0.8), the minimum counts of the corpus (the whole corpus,
and the second, real-news part: files `r2_*.jsonl`), per-split counts, and the blind second-pass labels
(coverage and Cohen's kappa per sector, per part). Exits non-zero on any failure, naming the record.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path

from ..corpus import assign_split, split_keys, text_key
from ..settings import load_settings

ROOT = Path(".")
GENRES = {"news", "report", "quote", "directive", "conclusion", "communique", "caption", "protocol", "headline", "byline"}
MINIMUM = {"records": 5000, "per_sector": 700, "multi": 600, "none": 1800, "near_miss": 1300}
# the second, real-news part (issue "real news"): what it must add
PART2 = "r2_"
MINIMUM_PART2 = {"records": 2500, "near_miss": 900, "near_miss_strong": 450, "articles": 60}
REALISM_PART2 = {"continuation": 0.15, "national": 0.30, "abbreviation": 0.30, "words_75_150": 0.25}
LINKING = re.compile(r"^(Theo đó|Bên cạnh|Ngoài ra|Tuy nhiên|Tuy vậy|Đồng thời|Cũng theo|Trong đó|Do đó|Vì vậy|Về |"
                     r"Cụ thể|Đặc biệt|Còn |Mặt khác|Thậm chí|Như vậy|Từ đó|Trước đó|Sau đó|Ông |Bà |Anh |Chị |Cũng |"
                     r"Riêng |Đây |Điều này|Việc này|Theo ông|Theo bà|Liên quan)")
NATIONAL = re.compile(r"\bBộ [A-ZĐ]|Chính phủ|Thủ tướng|Quốc hội")
ABBREVIATION = re.compile(r"\b(?!UBND\b|HĐND\b)[A-ZĐ]{2,}\b|\b[A-ZĐ]{1,3}\s?&\s?[A-ZĐ]{1,3}\b|tỉ đồng|ôtô")
STRONG = re.compile(r"thu hồi đất|giải phóng mặt bằng|bồi thường|đấu giá quyền sử dụng|giá đất|giấy chứng nhận quyền|"
                    r"khoáng sản|ô nhiễm|nước thải|chất thải|tác động môi trường|biến đổi khí hậu|tài nguyên nước|"
                    r"đầu tư công|giải ngân|FDI|vốn đầu tư|chủ trương đầu tư|xúc tiến đầu tư|GRDP|PCI|đăng ký doanh nghiệp|"
                    r"khu công nghiệp|cụm công nghiệp|ODA|PPP|nhà đầu tư|ngân sách|dự toán|thu nội địa|\bthuế\b|lệ phí|"
                    r"tài sản công|quyết toán|nợ công|bình ổn giá|kho bạc|cải cách tiền lương|cổ phần hóa|thoái vốn|kinh phí|"
                    r"biên chế|công chức|viên chức|tuyển dụng|bổ nhiệm|sáp nhập|hợp nhất|một cửa|cải cách hành chính|"
                    r"thi đua|khen thưởng|bằng khen|tôn giáo|lưu trữ|tinh giản")
NEAR_DUPLICATE = 0.8
KAPPA_TARGET = 0.85


def read_records(paths: list[Path]) -> tuple[list[dict], list[str]]:
    records, problems = [], []
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            where = f"{path}:line {number}"
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
        key = text_key(r["text"])
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
    near = [r for r in none if str(r.get("topic", "")).lower().startswith("near miss")]
    words = [len(r["text"].split()) for r in records]
    n = max(len(records), 1)
    return {
        "records": len(records),
        "per_sector": {c: sum(c in r["labels"] for r in records) for c in codes},
        "by_number_of_labels": dict(sorted(Counter(len(r["labels"]) for r in records).items())),
        "multi": sum(len(r["labels"]) >= 2 for r in records),
        "none": len(none),
        "near_miss": len(near),
        "near_miss_strong": sum(bool(STRONG.search(r["text"])) for r in near),
        "articles": len({r["article"] for r in records if r.get("article")}),
        "article_paragraphs": sum(bool(r.get("article")) for r in records),
        "genre": dict(Counter(r.get("genre") for r in records).most_common()),
        "shares": {
            "continuation": round(sum(bool(LINKING.match(r["text"])) for r in records) / n, 3),
            "national": round(sum(bool(NATIONAL.search(r["text"])) for r in records) / n, 3),
            "abbreviation": round(sum(bool(ABBREVIATION.search(r["text"])) for r in records) / n, 3),
            "words_75_150": round(sum(75 <= w <= 150 for w in words) / n, 3),
        },
    }


def check_articles(records: list[dict]) -> list[str]:
    """Whole articles: 8–15 paragraphs numbered 1..n, in file order."""
    problems, articles = [], {}
    for r in records:
        if r.get("article"):
            articles.setdefault(r["article"], []).append(r)
    for a, rows in articles.items():
        numbers = [r.get("n") for r in rows]
        if numbers != list(range(1, len(rows) + 1)):
            problems.append(f"article {a}: paragraphs numbered {numbers}, expected 1..{len(rows)} in order")
        if not 8 <= len(rows) <= 15:
            problems.append(f"article {a}: {len(rows)} paragraphs, expected 8 to 15")
    return problems


def check_counts(c: dict, splits: dict, part2: dict | None) -> list[str]:
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
    if part2 is None:
        return problems + [f"no second (real-news) part: files datasets/paragraphs/{PART2}*.jsonl"]
    for key, least in MINIMUM_PART2.items():
        if part2[key] < least:
            problems.append(f"real-news part: only {part2[key]} {key.replace('_', ' ')}; at least {least} required")
    for key, least in REALISM_PART2.items():
        if part2["shares"][key] < least:
            problems.append(f"real-news part: {key.replace('_', ' ')} share {part2['shares'][key]:.1%}, at least {least:.0%} required")
    return problems


def cohen_kappa(a: list[int], b: list[int]) -> float:
    n = len(a)
    po = sum(x == y for x, y in zip(a, b)) / n
    pa, pb = sum(a) / n, sum(b) / n
    pe = pa * pb + (1 - pa) * (1 - pb)
    return 1.0 if pe == 1 else (po - pe) / (1 - pe)


def read_second_pass(folder: Path) -> tuple[dict[str, list[str]], list[str]]:
    problems, second = [], {}
    for path in sorted(folder.glob("*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                r = json.loads(line)
                if r["id"] in second:
                    problems.append(f"{path.name}:line {number}: second-pass id {r['id']!r} labelled twice")
                second[r["id"]] = r["labels"]
    return second, problems


def agreement(records: list[dict], codes: tuple[str, ...], second: dict[str, list[str]]) -> tuple[dict, list[str]]:
    """Agreement of the blind second pass with the first-pass labels recorded in `first_labels`
    (or `labels` where both passes agreed from the start)."""
    problems = []
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
        if report["kappa"][code] < KAPPA_TARGET:
            problems.append(f"kappa for {code} is {report['kappa'][code]}, below {KAPPA_TARGET}")
    report["exact_match"] = round(sum(second[r["id"]] == r.get("first_labels", r["labels"]) for r in both) / len(both), 3)
    report["disagreements_resolved"] = sum("first_labels" in r for r in both)
    return report, problems


def validate(config_path: Path) -> tuple[dict, list[str]]:
    settings = load_settings(config_path)
    codes = settings.labels.codes
    paths = sorted({p for pat in settings.data.datasets for p in ROOT.glob(pat)})
    records, problems = read_records(paths)
    problems += check_schema(records, codes)
    if problems:
        return {}, problems
    problems += check_duplicates(records) + check_articles(records)
    s = settings.split
    keys = split_keys_of(records)
    split_of = dict(zip([r["id"] for r in records], assign_split(keys, s.dev_percent, s.test_percent, s.salt)))
    part2_records = [r for r in records if Path(r["_where"].split(":")[0]).name.startswith(PART2)]
    summary = counts(records, codes)
    summary["splits"] = {sp: counts([r for r in records if split_of[r["id"]] == sp], codes) for sp in ("train", "dev", "test")}
    summary["part2"] = counts(part2_records, codes) if part2_records else None
    problems += check_counts(summary, summary["splits"], summary["part2"])
    second, more = read_second_pass(ROOT / "datasets" / "second_pass")
    problems += more
    part1_records = [r for r in records if r not in part2_records]
    summary["second_pass"], more = agreement(part1_records, codes, second)
    problems += more
    if part2_records:
        summary["second_pass_part2"], more = agreement(part2_records, codes, second)
        problems += [f"real-news part: {m}" for m in more]
    return summary, problems


def split_keys_of(records: list[dict]) -> list[str]:
    import pandas as pd

    return split_keys(pd.DataFrame({"id": [r["id"] for r in records], "article": [r.get("article") for r in records]}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sectortag.jobs.validate_data", description=__doc__)
    parser.add_argument("--config", default="training/config.toml")
    parser.add_argument("--json", help="also write the summary to this file")
    args = parser.parse_args(argv)
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
