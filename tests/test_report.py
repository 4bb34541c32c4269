"""The HTML report: self-contained, escaped, counting what was tagged, marking for review exactly the paragraphs
near a threshold; and the same page opened in a real (headless, system) Chromium."""

from __future__ import annotations

import re
import shutil
import time
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from conftest import ROOT
from sectortag.article import read_article
from sectortag.bundle import file_sha256
from sectortag.cli import main
from sectortag.report import render, term_spans, write_report
from sectortag.text import normalize

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class Page(HTMLParser):
    """What a report shows, read back from its HTML: articles, paragraphs (with their review mark, sectors and
    the text of each <mark>), notes, and every src/href and <link>."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.articles: list[str] = []
        self.paragraphs: dict[tuple[str, int], dict] = {}
        self.urls: list[str] = []
        self.links: list[dict] = []
        self.notes: list[str] = []
        self.scripts = 0
        self._para: dict | None = None
        self._mark: list[str] | None = None
        self._note: list[str] | None = None
        self._in_text = False
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.urls += [v for k, v in attrs if k in ("src", "href") and v]
        if tag == "link":
            self.links.append(a)
        if tag == "script":
            self.scripts += 1
        if "data-article" in a:
            self.articles.append(a["data-article"])
        if "data-paragraph" in a:
            self._para = {"review": "data-review" in a, "sectors": a["data-sectors"].split(), "marks": [], "text": []}
            self.paragraphs[(self.articles[-1], int(a["data-paragraph"]))] = self._para
            self._in_text = False
        if tag == "p" and self._para is not None and not self._para["text"]:
            self._in_text = True  # the paragraph's own text: its first <p>
        if tag == "mark" and self._para is not None:
            self._mark = []
        if tag == "p" and "note" in (a.get("class") or "").split():
            self._note = []

    def handle_endtag(self, tag):
        if tag == "mark" and self._mark is not None:
            self._para["marks"].append("".join(self._mark))
            self._mark = None
        if tag == "p" and self._note is not None:
            self.notes.append("".join(self._note))
            self._note = None
        if tag == "p":
            self._in_text = False

    def handle_data(self, data):
        if self._mark is not None:
            self._mark.append(data)
        if self._note is not None:
            self._note.append(data)
        if self._in_text:
            self._para["text"].append(data)


@pytest.fixture(scope="module")
def folder_report(model_file, article_folder, tmp_path_factory):
    """The report of the 24-article folder written by the CLI, and the same folder tagged in Python."""
    out = tmp_path_factory.mktemp("report") / "report.html"
    assert main(["report", "--input", str(article_folder), "--output", str(out), "--model", str(model_file)]) == 0
    return out


@pytest.fixture(scope="module")
def folder_tagged(tagger, article_folder):
    return tagger.tag_articles([(p.name, read_article(p)) for p in sorted(article_folder.glob("*.txt"))])


def expected_review(tagger, tagged, margin):
    """(article, paragraph) whose score for some sector is within `margin` of its threshold, from predict_proba."""
    body = tagged[tagged.paragraph_no > 0]
    proba = tagger.predict_proba(list(body.paragraph)).to_numpy()
    near = (abs(proba - tagger.thresholds_) < margin).any(axis=1)
    return {(a, int(n)) for (a, n), flag in zip(zip(body.article_id, body.paragraph_no), near) if flag}


def test_the_page_is_self_contained_and_counts_what_was_tagged(folder_report, folder_tagged, model_file):
    text = folder_report.read_text(encoding="utf-8")
    page = Page(text)
    assert all(not re.match(r"(?i)\s*(https?:)?//", u) for u in page.urls), page.urls
    assert all(u.startswith("#") for u in page.urls)  # only links inside the page
    assert page.links == [] and "@import" not in text and "url(" not in text
    assert "default-src 'none'" in text  # the browser itself refuses anything from outside
    assert page.articles == list(dict.fromkeys(folder_tagged.article_id))
    body = folder_tagged[folder_tagged.paragraph_no > 0]
    assert list(page.paragraphs) == list(zip(body.article_id, body.paragraph_no.astype(int)))
    for (article, n), labels in zip(page.paragraphs, body.labels):
        assert page.paragraphs[(article, n)]["sectors"] == list(labels)
    assert list(body.paragraph) == ["".join(p["text"]) for p in page.paragraphs.values()]
    assert file_sha256(model_file) in text  # the model that tagged the batch
    assert re.search(rf"<b>{len(page.articles)}</b><span>articles", text)
    assert re.search(rf"<b>{len(body)}</b><span>body paragraphs", text)


@pytest.mark.parametrize("margin", [0.1, 0.2])
def test_review_marks_exactly_the_paragraphs_near_a_threshold(tagger, folder_tagged, margin):
    page = Page(render(tagger, folder_tagged, margin=margin)[0])
    marked = {key for key, p in page.paragraphs.items() if p["review"]}
    expected = expected_review(tagger, folder_tagged, margin)
    assert expected and len(expected) < len(page.paragraphs)  # the check separates something
    assert marked == expected


def syllables(text: str) -> str:
    """The syllables of a text as the model compares them: letters and digits, lower case, one tone placement."""
    return normalize(" ".join(re.findall(r"[^\W_]+", text))).casefold()


def test_marked_terms_are_the_explaining_terms_of_the_predicted_sectors(tagger, folder_tagged):
    page = Page(render(tagger, folder_tagged)[0])
    body = folder_tagged[folder_tagged.paragraph_no > 0]
    reasons = tagger.explain(list(body.paragraph))
    n_marks = 0
    for (key, shown), labels, why in zip(page.paragraphs.items(), body.labels, reasons):
        terms = {syllables(t) for code in labels for t, _ in why[code]["up"]}
        for mark in shown["marks"]:
            assert syllables(mark) in terms, (key, mark, terms)
        n_marks += len(shown["marks"])
        if not labels:
            assert shown["marks"] == []
    assert n_marks > len(body) // 4


def test_term_spans_ignore_case_tone_placement_and_punctuation():
    text = "Thu Ngân sách, dự toán; hoà giải và hòa giải; thu ngân-sách"
    assert [text[a:b] for a, b in term_spans(text, "thu ngân sách")] == ["Thu Ngân sách", "thu ngân-sách"]
    assert len(term_spans(text, "hòa giải")) == 2
    assert term_spans(text, "ngân sách dự toán nhà") == []


def test_untrusted_text_is_escaped_and_empty_articles_say_why(tagger, tmp_path):
    attack = ("Thu ngân sách nhà nước đạt 96% dự toán &lt;script&gt;alert(1)&lt;/script&gt; "
              "và <b>chi</b> thường xuyên tăng.")
    tagged = tagger.tag_articles([('x"><script>alert(2)</script>', attack), ("empty", "Ảnh: PV\nĐọc thêm")])
    assert "<script>alert(1)</script>" in tagged.paragraph.iloc[0]  # the text really holds markup
    counts = write_report(tagger, tagged, tmp_path / "r.html")
    text = (tmp_path / "r.html").read_text(encoding="utf-8")
    page = Page(text)
    assert page.scripts == 1 and text.count("<script") == 1  # only the page's own
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert page.articles == ['x"><script>alert(2)</script>', "empty"]
    assert "".join(page.paragraphs[(page.articles[0], 1)]["text"]) == tagged.paragraph.iloc[0]
    assert page.notes == [tagged.error.iloc[1]] and tagged.error.iloc[1].startswith("no body paragraphs")
    assert (counts.articles, counts.paragraphs) == (2, 1)
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]  # no temporary file left beside it


def test_report_cli_line_and_one_line_errors(model_file, article_folder, tmp_path, capsys):
    out = tmp_path / "r.html"
    assert main(["report", "--input", str(article_folder / "*.txt"), "--output", str(out), "--model", str(model_file),
                 "--margin", "0.05"]) == 0
    line = capsys.readouterr().out.strip()
    page = Page(out.read_text(encoding="utf-8"))
    review = sum(p["review"] for p in page.paragraphs.values())
    assert re.fullmatch(rf"report of 24 articles, {len(page.paragraphs)} paragraphs, {review} to review \(margin 0\.05\) "
                        rf"written to {re.escape(str(out))} in \d+\.\d s", line), line
    # a file of one article a row, and a folder with a file that cannot be read: its reason is shown
    articles = tmp_path / "articles.jsonl"
    articles.write_text('{"doc": "d1", "text": "Thu ngân sách nhà nước 10 tháng đạt 96% dự toán năm.\\nHuyện đã thu '
                        'hồi 38 ha đất để giải phóng mặt bằng khu công nghiệp."}\n', encoding="utf-8")
    assert main(["report", "--input", str(articles), "--articles", "--id-column", "doc", "--output", str(out),
                 "--model", str(model_file)]) == 0
    assert list(Page(out.read_text(encoding="utf-8")).paragraphs) == [("d1", 1), ("d1", 2)]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "bad.txt").write_bytes("Thu ngân sách đạt 96% dự toán năm nay.".encode("utf-16"))
    (tmp_path / "in" / "good.txt").write_text("Thu ngân sách nhà nước 10 tháng đạt 96% dự toán năm.", encoding="utf-8")
    assert main(["report", "--input", str(tmp_path / "in"), "--output", str(out), "--model", str(model_file)]) == 0
    page = Page(out.read_text(encoding="utf-8"))
    assert page.articles == ["bad.txt", "good.txt"] and list(page.paragraphs) == [("good.txt", 1)]
    assert len(page.notes) == 1 and "bad.txt: not UTF-8" in page.notes[0]
    capsys.readouterr()
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"text": "Thu ngân sách nhà nước 10 tháng đạt 96% dự toán năm."}\n', encoding="utf-8")
    for args, message in [(["--input", str(rows)], "report needs whole articles"),
                          (["--input", str(article_folder), "--output", str(tmp_path / "r.csv")], "name the output .html"),
                          (["--input", str(article_folder), "--margin", "1.5"], "--margin 1.5"),
                          (["--input", str(tmp_path / "missing.txt")], "missing.txt: file not found")]:
        argv = ["report", "--output", str(tmp_path / "x.html"), "--model", str(model_file)] + args
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
        assert not (tmp_path / "x.html").exists()


# ---- a real browser ------------------------------------------------------------------------------------------
def test_the_report_renders_in_headless_chromium(folder_report, folder_tagged, tagger, tmp_path):
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium not found on PATH (Debian: apt-get install chromium; `make test` installs it as root)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed (the `report` extra)")
    problems: list[str] = []
    body = folder_tagged[folder_tagged.paragraph_no > 0]
    start = time.perf_counter()
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=chromium, args=CHROMIUM_ARGS, headless=True,
            viewport={"width": 1280, "height": 900})
        try:
            page = browser.new_page()
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("request", lambda r: problems.append(f"request: {r.url}") if not r.url.startswith("file:") else None)
            page.goto(folder_report.as_uri(), wait_until="load")
            assert page.locator("[data-article]").count() == folder_tagged.article_id.nunique() == 24
            assert page.locator("[data-paragraph]").count() == len(body)
            assert page.locator("[data-paragraph]:visible").count() == len(body)
            assert page.locator("svg rect").count() == 2 * len(tagger.labels_)
            # the filter buttons work: "to review" leaves only the marked paragraphs visible
            review = len(expected_review(tagger, folder_tagged, 0.1))
            page.get_by_role("button", name="to review").click()
            assert page.locator("[data-paragraph]:visible").count() == review
            page.get_by_role("button", name="all").click()
            # a paragraph's sector marks are drawn: one coloured bar per predicted sector, with a width
            tagged_row = page.locator("[data-paragraph]:not([data-sectors=''])").first
            assert tagged_row.locator(".marks i").first.bounding_box()["width"] > 0
            (ROOT / "reports").mkdir(exist_ok=True)
            page.screenshot(path=str(ROOT / "reports" / "report_full.png"), full_page=True)
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=str(ROOT / "reports" / "report_screenshot.png"))  # the top, shown in the README
        finally:
            browser.close()
    assert problems == []
    assert (ROOT / "reports" / "report_screenshot.png").stat().st_size > 10_000
    assert (ROOT / "reports" / "report_full.png").stat().st_size > 10_000
    print(f"browser check in {time.perf_counter() - start:.1f} s")
