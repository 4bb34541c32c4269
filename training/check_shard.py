"""Quick check of one dataset shard while writing it (the full check is `make validate-data`)."""
import json
import sys
import unicodedata
from collections import Counter

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import cosine_similarity

CODES = ["tai_nguyen_moi_truong", "ke_hoach_dau_tu", "tai_chinh", "noi_vu"]
GENRES = {"news", "report", "quote", "directive", "conclusion", "communique", "caption", "protocol"}

path = sys.argv[1]
recs, bad = [], 0
for n, line in enumerate(open(path, encoding="utf-8"), 1):
    if not line.strip():
        continue
    try:
        r = json.loads(line)
    except json.JSONDecodeError as e:
        print(f"line {n}: broken JSON: {e}"); bad += 1; continue
    for f in ("id", "text", "labels", "genre", "topic"):
        if f not in r:
            print(f"line {n}: missing field {f}"); bad += 1
    if any(l not in CODES for l in r.get("labels", [])):
        print(f"line {n}: unknown label {r.get('labels')}"); bad += 1
    if r.get("genre") not in GENRES:
        print(f"line {n}: unknown genre {r.get('genre')}"); bad += 1
    if unicodedata.normalize("NFC", r.get("text", "")) != r.get("text", ""):
        print(f"line {n}: text not NFC"); bad += 1
    recs.append(r)
ids = Counter(r["id"] for r in recs)
for i, c in ids.items():
    if c > 1:
        print(f"duplicate id {i}"); bad += 1
texts = [r["text"] for r in recs]
if len(texts) > 1:
    X = TfidfVectorizer(lowercase=True).fit_transform(texts)
    S = cosine_similarity(X, dense_output=False).tocoo()
    for i, j, v in zip(S.row, S.col, S.data):
        if i < j and v >= 0.8:
            print(f"near duplicate ({v:.2f}): {recs[i]['id']} ~ {recs[j]['id']}"); bad += 1
per = Counter(l for r in recs for l in r["labels"])
print(f"{len(recs)} records; per sector {dict(per)}; none {sum(1 for r in recs if not r['labels'])}; "
      f"multi {sum(1 for r in recs if len(r['labels']) >= 2)}; problems {bad}")
