"""One self-contained HTML page of a tagged batch of articles, for analysts: what each article is about, and why.

The page (`write_report`) holds, in one file with inline CSS, SVG and a few lines of script (no CDN, fonts or
images; it opens offline as file://, and a Content-Security-Policy forbids loading anything from outside):
the model version and file hash that tagged the batch; a table of articles with their main sectors and the
paragraphs per sector; two small bar charts of sectors across the batch; and every article's body paragraphs,
marked with the colour of each predicted sector, the terms that pushed each predicted sector up highlighted in
the text, and the paragraphs whose score for any sector lies within `margin` of that sector's threshold
marked "to review". All text from the articles is escaped.
"""

from __future__ import annotations

import functools
import html
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from .files import replaced_atomically
from .labels import SECTORS
from .text import normalize

if TYPE_CHECKING:
    import pandas as pd

    from .model import SectorTagger

DEFAULT_MARGIN = 0.1
# (mark colour, tint) per sector, in the order of the model's labels; dark enough for white text on a badge
PALETTE = (("#2e7d32", "#e2f1e3"), ("#1565c0", "#e1ecf9"), ("#a85d00", "#fcefd9"), ("#7b1fa2", "#f2e3f6"),
           ("#00796b", "#ddf2ef"), ("#c62828", "#fbe3e3"))
NAMES = {s.code: s.name_vi for s in SECTORS}
_SYLLABLE = re.compile(r"[^\W_]+")


@dataclass
class ReportCounts:
    """What a report shows, for the closing message."""

    articles: int
    paragraphs: int
    review: int


def near_threshold(scores: Sequence[float], thresholds: Sequence[float], margin: float) -> list[int]:
    """Indices of the sectors whose score lies within `margin` of their threshold (|score - threshold| < margin);
    none for a row that could not be scored."""
    return [j for j, (s, t) in enumerate(zip(scores, thresholds)) if not math.isnan(s) and abs(s - t) < margin]


@functools.lru_cache(maxsize=100_000)
def _key(syllable: str) -> str:
    return normalize(syllable).casefold()


def term_spans(text: str, term: str) -> list[tuple[int, int]]:
    """(start, end) of every place `term` ("thu ngân sách") occurs in `text` as whole syllables, whatever the
    case, the tone-mark placement or the punctuation between syllables (the model drops punctuation)."""
    words = [(m.start(), m.end(), _key(m.group())) for m in _SYLLABLE.finditer(text)]
    target = [_key(s) for s in _SYLLABLE.findall(term)]
    n = len(target)
    if not n:
        return []
    return [(words[i][0], words[i + n - 1][1]) for i in range(len(words) - n + 1)
            if [w[2] for w in words[i:i + n]] == target]


def highlight(text: str, terms: Sequence[tuple[int, str, float]], names: Sequence[str]) -> str:
    """`text`, escaped, with each explaining term wrapped in <mark> (class of its strongest sector, a title
    giving term, sector and contribution). `terms` are (sector index, term, contribution); longer matches win
    where two overlap."""
    found: dict[tuple[int, int], list[tuple[int, str, float]]] = {}
    for j, term, contribution in terms:
        for span in term_spans(text, term):
            found.setdefault(span, []).append((j, term, contribution))
    chosen: list[tuple[int, int]] = []
    for span in sorted(found, key=lambda s: (s[0] - s[1], -max(c for _, _, c in found[s]), s[0])):
        if all(span[1] <= a or span[0] >= b for a, b in chosen):
            chosen.append(span)
    out, pos = [], 0
    for start, end in sorted(chosen):
        why = sorted(found[(start, end)], key=lambda x: -x[2])
        title = "; ".join(f"{term}: {names[j]} {c:+.2f}" for j, term, c in why)
        out.append(html.escape(text[pos:start]))
        out.append(f'<mark class="s{why[0][0]}" title="{html.escape(title)}">{html.escape(text[start:end])}</mark>')
        pos = end
    out.append(html.escape(text[pos:]))
    return "".join(out)


def render(tagger: "SectorTagger", tagged: "pd.DataFrame", margin: float = DEFAULT_MARGIN, top: int = 5,
           source: str = "", generated: datetime | None = None) -> tuple[str, ReportCounts]:
    """The HTML page of a `tag_articles` frame, and what it shows."""
    codes = list(tagger.labels_)
    names = [NAMES.get(c, c) for c in codes]
    thresholds = [float(t) for t in tagger.thresholds_]
    summary = tagger.summarize(tagged)
    body = tagged[tagged["paragraph_no"] > 0]
    texts = [t if isinstance(t, str) else "" for t in body["paragraph"]]
    reasons = dict(zip(body.index, tagger.explain(texts, top=top))) if texts else {}
    generated = generated or datetime.now().astimezone()
    prov = tagger.provenance()

    articles_html, review_total = [], 0
    review_per_article: dict[str, int] = {}
    for n, (article_id, group) in enumerate(tagged.groupby("article_id", sort=False), start=1):
        rows, review_here = [], 0
        for index, row in group.iterrows():
            if row["paragraph_no"] == 0:
                rows.append(f'<p class="note">{html.escape(str(row["error"] or "no body paragraphs"))}</p>')
                continue
            scores = [float(row[f"score_{c}"]) for c in codes]
            near = near_threshold(scores, thresholds, margin)
            review_here += bool(near)
            rows.append(_paragraph(row, scores, near, reasons.get(index), codes, names, thresholds))
        review_per_article[article_id] = review_here
        review_total += review_here
        articles_html.append(_article(n, article_id, summary.iloc[n - 1], rows, codes, names, review_here))

    n_articles, n_paragraphs = len(summary), len(body)
    counts = ReportCounts(n_articles, n_paragraphs, review_total)
    version = prov["model_version"] or "unregistered file"
    sha = prov["model_sha256"]
    legend = "".join(f'<span class="badge s{j}">{html.escape(name)}</span>' for j, name in enumerate(names))
    page = _PAGE.format(
        css=_CSS + _palette_css(len(codes)), script=_SCRIPT,
        title=html.escape(f"Sector report: {n_articles} articles"),
        source=html.escape(source or "articles"),
        version=html.escape(version), sha_short=html.escape(sha[:12] or "unknown"), sha=html.escape(sha),
        date=html.escape(generated.strftime("%Y-%m-%d %H:%M %Z").strip()),
        n_articles=n_articles, n_paragraphs=n_paragraphs, n_review=review_total,
        n_tagged=sum(bool(labels) for labels in body["labels"]), margin=f"{margin:g}", legend=legend,
        charts=_charts(summary, codes, names), table=_table(summary, codes, names, review_per_article),
        articles="\n".join(articles_html))
    return page, counts


def write_report(tagger: "SectorTagger", tagged: "pd.DataFrame", path: str | Path, margin: float = DEFAULT_MARGIN,
                 top: int = 5, source: str = "", generated: datetime | None = None) -> ReportCounts:
    """Render the page (see `render`) and write it atomically: a reader never sees half a page."""
    page, counts = render(tagger, tagged, margin, top, source, generated)
    with replaced_atomically(path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return counts


# ---- pieces of the page ----------------------------------------------------------------------------------
def _badges(sectors: Sequence[int], names: Sequence[str]) -> str:
    return "".join(f'<span class="badge s{j}">{html.escape(names[j])}</span>' for j in sectors)


def _paragraph(row, scores: list[float], near: list[int], why, codes: list[str], names: list[str],
               thresholds: list[float]) -> str:
    labels = [codes.index(c) for c in row["labels"]]
    terms = [(j, term, c) for j in labels for term, c in (why or {}).get(codes[j], {}).get("up", [])]
    text = row["paragraph"] if isinstance(row["paragraph"], str) else ""
    marks = "".join(f'<i class="s{j}"></i>' for j in labels)
    extra = ""
    if near:
        detail = "; ".join(f"{html.escape(names[j])} {scores[j]:.3f}, threshold {thresholds[j]:.3f} "
                           f"({'tagged' if j in labels else 'not tagged'})" for j in near)
        extra += f'<div class="review-note"><span class="flag">to review</span> {detail}</div>'
    if isinstance(row["error"], str) and row["error"]:
        extra += f'<div class="note">{html.escape(row["error"])}</div>'
    chips = f'<div class="chips">{_badges(labels, names)}</div>' if labels else ""
    attrs = f'data-paragraph="{int(row["paragraph_no"])}" data-sectors="{" ".join(codes[j] for j in labels)}"'
    classes = "para" + (" review" if near else "") + ("" if labels else " untagged")
    return (f'<div class="{classes}" {attrs}{" data-review" if near else ""}><div class="marks">{marks}</div>'
            f'<div class="no">{int(row["paragraph_no"])}</div><div class="body"><p>{highlight(text, terms, names)}</p>'
            f'{chips}{extra}</div></div>')


def _article(n: int, article_id: str, summary_row, rows: list[str], codes: list[str], names: list[str],
             review: int) -> str:
    main = [codes.index(c) for c in str(summary_row["main_sectors"]).split(";") if c in codes]
    paragraphs = int(summary_row["paragraphs"])
    info = f'{paragraphs} paragraph{"s" if paragraphs != 1 else ""}' + (f", {review} to review" if review else "")
    return (f'<section class="article card" id="a{n}" data-article="{html.escape(article_id)}">'
            f'<header><h2><span class="num">{n}</span> {html.escape(article_id)}</h2>'
            f'<div class="meta">{_badges(main, names)}<span>{info}</span><a href="#top">↑ top</a></div></header>'
            + "\n".join(rows) + "</section>")


def _table(summary, codes: list[str], names: list[str], review: dict[str, int]) -> str:
    head = "".join(f'<th class="n" title="{html.escape(names[j])}"><span class="dot s{j}"></span>'
                   f'{html.escape(_short(names[j]))}</th>' for j in range(len(codes)))
    rows = []
    for n, row in enumerate(summary.itertuples(index=False), start=1):
        data = row._asdict()
        main = [codes.index(c) for c in str(data["main_sectors"]).split(";") if c in codes]
        cells = "".join(f'<td class="n"><span class="count s{j}">{int(data[f"n_{c}"])}</span></td>' if data[f"n_{c}"]
                        else '<td class="n zero">0</td>' for j, c in enumerate(codes))
        to_review = review.get(data["article_id"], 0)
        rows.append(f'<tr><td class="n">{n}</td><td class="id"><a href="#a{n}">{html.escape(str(data["article_id"]))}</a></td>'
                    f'<td>{_badges(main, names) or "<span class=none>none</span>"}</td>'
                    f'<td class="n">{int(data["paragraphs"])}</td>{cells}'
                    f'<td class="n{" rv" if to_review else " zero"}">{to_review}</td></tr>')
    return (f'<div class="scroll"><table><thead><tr><th class="n">#</th><th>Article</th><th>Main sectors</th><th class="n">Paragraphs</th>'
            f'{head}<th class="n">To review</th></tr></thead><tbody>{"".join(rows)}</tbody></table></div>')


def _short(name: str) -> str:
    """A column heading: "Tài nguyên – Môi trường" → "TN–MT"; one-word-pair names stay whole."""
    parts = [p.strip() for p in name.split("–")]
    if len(parts) == 1:
        return name
    return "–".join("".join(w[0].upper() for w in p.split()) for p in parts)


def _charts(summary, codes: list[str], names: list[str]) -> str:
    paragraphs = [int(summary[f"n_{c}"].sum()) for c in codes]
    main = [sum(c in str(m).split(";") for m in summary["main_sectors"]) for c in codes]
    return (_bars("Paragraphs per sector", paragraphs, names) +
            _bars("Articles with the sector as main", main, names))


def _bars(title: str, values: list[int], names: list[str]) -> str:
    """A small horizontal bar chart in inline SVG."""
    label_w, bar_w, row_h = 170, 190, 26
    top = max(values + [1])
    height = row_h * len(values) + 4
    rows = []
    for j, (value, name) in enumerate(zip(values, names)):
        y = j * row_h + 4
        w = max(round(bar_w * value / top), 2 if value else 0)
        rows.append(f'<text x="{label_w - 8}" y="{y + 14}" text-anchor="end">{html.escape(name)}</text>'
                    f'<rect class="s{j}" x="{label_w}" y="{y + 2}" width="{w}" height="{row_h - 10}" rx="3"/>'
                    f'<text x="{label_w + w + 6}" y="{y + 14}" class="v">{value}</text>')
    return (f'<figure class="chart"><figcaption>{html.escape(title)}</figcaption>'
            f'<svg viewBox="0 0 {label_w + bar_w + 40} {height}" width="{label_w + bar_w + 40}" height="{height}" '
            f'role="img" aria-label="{html.escape(title)}">{"".join(rows)}</svg></figure>')


def _palette_css(n: int) -> str:
    return "".join(f".s{j}{{--c:{PALETTE[j % len(PALETTE)][0]};--t:{PALETTE[j % len(PALETTE)][1]}}}"
                   for j in range(n))


_CSS = """
:root{--ink:#1d2330;--muted:#5d6575;--line:#e3e6ec;--bg:#f4f5f8;--card:#fff;--warn:#b45309;--warnbg:#fff7e6}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.6 system-ui,-apple-system,"Segoe UI",Roboto,
"Noto Sans","Helvetica Neue",Arial,"DejaVu Sans",sans-serif}
main{max-width:1120px;margin:0 auto;padding:0 20px 48px}
.top{background:#1f2a44;color:#fff;padding:22px 0 18px;margin-bottom:20px}
.top .in{max-width:1120px;margin:0 auto;padding:0 20px}
h1{margin:0 0 4px;font-size:24px;font-weight:650}
.prov{color:#c9d1e4;font-size:13.5px}.prov code{color:#fff;font-size:12.5px}
.stats{display:flex;flex-wrap:wrap;gap:12px;margin-top:14px}
.stat{background:rgba(255,255,255,.09);border-radius:8px;padding:6px 14px;min-width:110px}
.stat b{display:block;font-size:22px;line-height:1.2}.stat span{font-size:12.5px;color:#c9d1e4}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:16px 20px;margin:0 0 18px;
box-shadow:0 1px 2px rgba(20,30,50,.04)}
h2{font-size:17px;margin:0;font-weight:620;word-break:break-word}
h3{font-size:15px;margin:0 0 10px;color:var(--muted);font-weight:600;text-transform:uppercase;letter-spacing:.04em}
.legend{display:flex;flex-wrap:wrap;gap:8px 18px;align-items:center;font-size:13.5px;color:var(--muted)}
.badge{display:inline-block;background:var(--c);color:#fff;border-radius:999px;padding:1px 10px;font-size:12.5px;
font-weight:600;margin:0 4px 2px 0;white-space:nowrap}
.none{color:#9aa1ad;font-size:12.5px}.greyed{color:#7a8190}
.dot{display:inline-block;width:9px;height:9px;border-radius:50%;background:var(--c);margin-right:5px}
.charts{display:flex;flex-wrap:wrap;gap:8px 36px}
.chart{margin:0}.chart figcaption{font-size:13.5px;color:var(--muted);margin-bottom:4px}
.chart svg text{font-size:12.5px;fill:var(--ink)}.chart svg text.v{fill:var(--muted)}.chart rect{fill:var(--c)}
table{border-collapse:collapse;width:100%;font-size:14px}
th{text-align:left;font-weight:600;color:var(--muted);font-size:12.5px;border-bottom:2px solid var(--line);
padding:6px 8px;white-space:nowrap}
td{border-bottom:1px solid var(--line);padding:6px 8px;vertical-align:top}
tbody tr:hover{background:#f8f9fb}
.n{text-align:right;font-variant-numeric:tabular-nums}td.zero{color:#c2c7d0}.scroll{overflow-x:auto}td.id{white-space:nowrap}
td.rv{color:var(--warn);font-weight:700}
.count{background:var(--t);color:var(--c);font-weight:650;border-radius:5px;padding:1px 7px}
a{color:#1f5fbf;text-decoration:none}a:hover{text-decoration:underline}
.article header{display:flex;flex-wrap:wrap;justify-content:space-between;gap:6px 16px;align-items:baseline;
border-bottom:1px solid var(--line);padding-bottom:10px;margin-bottom:6px}
.article .num{color:#9aa1ad;font-weight:500;margin-right:4px}
.meta{display:flex;flex-wrap:wrap;gap:4px 10px;align-items:center;font-size:13px;color:var(--muted)}
.para{display:grid;grid-template-columns:12px 26px 1fr;gap:0 10px;padding:9px 8px;margin:0 -8px;
border-bottom:1px solid #f0f1f4}
.para:last-child{border-bottom:0}
.marks{display:flex;gap:2px}.marks i{flex:1;border-radius:2px;background:var(--c)}
.no{color:#9aa1ad;font-size:12.5px;text-align:right;padding-top:2px;font-variant-numeric:tabular-nums}
.body p{margin:0}.untagged .body p{color:#596070}
.chips{margin-top:3px}
mark{background:var(--t);color:inherit;border-radius:3px;padding:0 2px;box-shadow:inset 0 -2px 0 var(--c);cursor:help}
.review{background:var(--warnbg);border-radius:6px}
.review-note{font-size:13px;color:var(--warn);margin-top:4px}
.flag{display:inline-block;border:1px solid var(--warn);color:var(--warn);border-radius:4px;padding:0 6px;
font-size:11.5px;font-weight:700;text-transform:uppercase;letter-spacing:.03em;margin-right:4px}
.note{font-size:13px;color:#8a4b0f;background:#fdf3e7;border-radius:6px;padding:6px 10px;margin:6px 0 0}
.filter{display:flex;gap:6px;align-items:center;font-size:13.5px;color:var(--muted);margin:0 0 12px}
.filter button{font:inherit;border:1px solid var(--line);background:#fff;border-radius:6px;padding:3px 10px;cursor:pointer}
.filter button[aria-pressed=true]{background:#1f2a44;color:#fff;border-color:#1f2a44}
body[data-show=tagged] .para.untagged:not(.review),body[data-show=review] .para:not(.review){display:none}
footer{color:var(--muted);font-size:12.5px;text-align:center}
@media print{.top{background:none;color:var(--ink)}.filter{display:none}.card{break-inside:avoid-page}}
"""

_SCRIPT = """
document.querySelectorAll('.filter button').forEach(function (b) {
  b.addEventListener('click', function () {
    document.body.dataset.show = b.dataset.show;
    document.querySelectorAll('.filter button').forEach(function (o) { o.setAttribute('aria-pressed', o === b); });
  });
});
"""

_PAGE = """<!DOCTYPE html>
<html lang="vi">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>{title}</title>
<style>{css}</style>
</head>
<body data-show="all" id="top">
<div class="top"><div class="in">
<h1>Sector report</h1>
<div class="prov">input <code>{source}</code> · model version <code>{version}</code> · sha256 <code title="{sha}">{sha_short}</code> · generated {date}</div>
<div class="stats">
<div class="stat"><b>{n_articles}</b><span>articles</span></div>
<div class="stat"><b>{n_paragraphs}</b><span>body paragraphs</span></div>
<div class="stat"><b>{n_tagged}</b><span>with a sector</span></div>
<div class="stat"><b>{n_review}</b><span>to review</span></div>
</div></div></div>
<main>
<section class="card"><div class="legend">{legend}
<span><mark class="s0">term</mark> pushed the sector up (hover for its weight)</span>
<span class="greyed">grey text: no sector</span>
<span><span class="flag">to review</span> a score within {margin} of its sector's threshold</span></div></section>
<section class="card"><h3>Sectors across the batch</h3><div class="charts">{charts}</div></section>
<section class="card"><h3>Articles</h3>{table}</section>
<div class="filter">Show paragraphs:
<button data-show="all" aria-pressed="true">all</button>
<button data-show="tagged" aria-pressed="false">with a sector</button>
<button data-show="review" aria-pressed="false">to review</button></div>
{articles}
<footer>sectortag · model sha256 {sha}</footer>
</main>
<script>{script}</script>
</body>
</html>
"""
