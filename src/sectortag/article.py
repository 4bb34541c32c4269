"""An article → its body paragraphs: what is body text, and what is not (captions, bylines, site furniture).

The rule (README "Whole articles"):
- a line shorter than `min_chars` (40) characters is never body text: photo credits ("Ảnh: PV"), bylines,
  section labels, short captions;
- site furniture ("Đọc thêm", "Tin mới …") and later repeats of a line already seen (a title repeated under
  each photo) are dropped;
- a photo caption of any length — a line marked as one ("Ảnh: …", "… (Ảnh: PV)", "Ảnh minh họa"), one short
  sentence right under a repeated title (where scraped pages put a photo's caption), or an HTML `<figcaption>` — is
  dropped with `captions="skip"` (the default: a caption restates the body it illustrates, and most captions
  name people at an event, which the guidelines label `[]`), or tagged like a paragraph with `captions="tag"`
  (GUIDELINES rule 15: a caption that states a matter takes its sector).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from .errors import DataError
from .text import DEFAULT_MIN_CHARS, clean

CAPTION_MODES = ("skip", "tag")
# lines that are site furniture, not body text, whatever their length
BOILERPLATE = re.compile(
    r"^\s*(đọc thêm|xem thêm|tin mới|tin liên quan|tin cùng chuyên mục|bài liên quan|chủ đề\b|từ khóa|"
    r"tags?\s*:|chia sẻ|theo dõi .{0,40}trên|bản quyền|©|copyright|in bài|gửi bài|bình luận|"
    r"quay lại|lên đầu trang|trang chủ)",
    re.IGNORECASE,
)
_PHOTO = r"(?:ảnh|hình|video|clip|đồ h[ọo]a|infographic)"
# a line that says it is a caption: it opens with a photo credit, or ends with one
CAPTION = re.compile(
    rf"^\s*{_PHOTO}(?:\s+minh\s+h[ọo]a)?\s*(?:[:\-–]|$)"           # "Ảnh: …", "Ảnh minh họa"
    rf"|^\s*{_PHOTO}\s+minh\s+h[ọo]a"
    rf"|[(\[]\s*{_PHOTO}(?:\s+minh\s+h[ọo]a)?\s*(?:[:\-–][^()\[\]]{{0,80}})?[)\]]\.?\s*$"  # "… (Ảnh: PV)"
    rf"|[.\-–—]\s*{_PHOTO}\s*:\s*[^.:;]{{1,60}}\.?\s*$",           # "… phát biểu. Ảnh: Thu Hà"
    re.IGNORECASE,
)
# a line under a repeated title is a caption when it is one sentence of at most this many characters (the
# seed article's six run 59–133); a longer line there is the body resuming
CAPTION_UNDER_TITLE_MAX = 160
_SENTENCE_BREAK = re.compile(r"[.!?…]\s+\S")


@dataclass
class Article:
    """The body paragraphs of one article, in order, and how many lines were left out and why."""

    paragraphs: list[str]
    dropped: dict[str, int] = field(default_factory=lambda: {"short": 0, "caption": 0, "boilerplate": 0, "repeat": 0})

    @property
    def n_dropped(self) -> int:
        return sum(self.dropped.values())


def split_article(article: str, min_chars: int = DEFAULT_MIN_CHARS, captions: str = "skip") -> Article:
    """Split an article body into its body paragraphs (see the module docstring for the rule)."""
    if captions not in CAPTION_MODES:
        raise DataError(f"captions={captions!r}: expected one of {', '.join(CAPTION_MODES)}")
    out = Article([])
    seen: set[str] = set()
    under_repeat = False
    for line in clean(article).split("\n"):
        if not line:
            continue
        after_repeat, under_repeat = under_repeat, False
        key = line.casefold()
        if len(line) < min_chars:
            reason = "short"
        elif BOILERPLATE.match(line):
            reason = "boilerplate"
        elif key in seen:
            reason, under_repeat = "repeat", True
        elif captions == "skip" and (CAPTION.search(line) or (after_repeat and _caption_like(line))):
            reason = "caption"
        else:
            seen.add(key)
            out.paragraphs.append(line)
            continue
        out.dropped[reason] += 1
    return out


def _caption_like(line: str) -> bool:
    """One short sentence: what a photo caption under a repeated title looks like."""
    return len(line) <= CAPTION_UNDER_TITLE_MAX and not _SENTENCE_BREAK.search(line)


def split_paragraphs(article: str, min_chars: int = DEFAULT_MIN_CHARS, captions: str = "skip") -> list[str]:
    """The body paragraphs of an article, in order, each once (`split_article` without the counts)."""
    return split_article(article, min_chars, captions).paragraphs


_SENTENCE_END = (".", "!", "?", ":", ";", '"', "”", "»", ")", "…")


def unwrap(text: str) -> str:
    """Undo hard wrapping: when most lines are of a similar width (at most 100 characters) and run on without
    final punctuation, the lines of each block are joined back into one paragraph. Other text is returned as is."""
    lines = clean(text).split("\n")
    filled = [l for l in lines if l]
    if len(filled) < 4:
        return text
    width = sorted(len(l) for l in filled)[int(0.8 * (len(filled) - 1))]
    full = [l for l in filled if len(l) >= 0.75 * width]
    running_on = [l for l in full if not l.endswith(_SENTENCE_END)]
    if width > 100 or len(full) < 0.5 * len(filled) or len(running_on) < 0.5 * len(full):
        return text
    out: list[str] = []
    joinable = False  # the previous line filled the width, so this one continues its paragraph
    for line in lines:
        if line and joinable and out:
            out[-1] += " " + line
        else:
            out.append(line)
        joinable = bool(line) and len(line) >= 0.75 * width and not line.endswith(_SENTENCE_END)
    return "\n".join(out)


# ---- HTML ------------------------------------------------------------------------------------------------
_BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "header",
          "footer", "blockquote", "table", "ul", "ol", "dd", "dt", "pre", "main", "aside", "nav", "td", "th"}
_SKIP = {"script", "style", "noscript", "template", "head", "svg", "iframe", "figcaption", "button", "form", "select"}
_VOID = {"br", "img", "hr", "meta", "link", "input", "source", "wbr", "col", "area", "base", "embed", "param", "track"}


class _BodyText(HTMLParser):
    """Text of an HTML page with a line break at each block element; scripts, styles and captions
    (`<figcaption>`, or an element whose class or id names a caption) left out."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping: list[str] = []  # the open elements being skipped (a stack, so nesting is respected)

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in _BLOCK:
            self.parts.append("\n")
        if tag in _VOID:
            return
        names = " ".join(v or "" for k, v in attrs if k in ("class", "id")).lower()
        if self.skipping or tag in _SKIP or "caption" in names:
            self.skipping.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.skipping:
            while self.skipping and self.skipping.pop() != tag:
                pass
        if tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data.replace("\n", " "))


def html_to_text(markup: str) -> str:
    """The visible body text of an HTML document or fragment, one block element a line."""
    parser = _BodyText()
    parser.feed(markup)
    parser.close()
    return "\n".join(line.strip() for line in "".join(parser.parts).split("\n"))


ARTICLE_SUFFIXES = (".txt", ".html", ".htm")


def read_article(path: str | Path) -> str:
    """The text of one article file: `.txt` (hard wrapping undone) or `.html`/`.htm` (markup stripped)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in ARTICLE_SUFFIXES:
        raise DataError(f"{path}: not an article file; use {', '.join(ARTICLE_SUFFIXES)}")
    try:
        raw = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror})") from None
    return html_to_text(raw) if suffix in (".html", ".htm") else unwrap(raw)
