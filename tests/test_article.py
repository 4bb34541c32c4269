"""Articles → body paragraphs: captions, bylines and site furniture; HTML files."""

import pytest

from sectortag.article import html_to_text, read_article, split_article, split_paragraphs
from sectortag.errors import DataError

BODY1 = "Sáng 3/4, UBND tỉnh Quảng Trị tổ chức hội nghị triển khai kế hoạch đầu tư công năm 2024 với các sở, ngành."
BODY2 = "Theo báo cáo, tỉnh đã giải ngân được 48% kế hoạch vốn, cao hơn mức bình quân của cả nước cùng kỳ năm trước."
TITLE = "Quảng Trị đẩy nhanh giải ngân vốn đầu tư công năm 2024"
CAPTION = "Chủ tịch UBND tỉnh Võ Văn Hưng phát biểu chỉ đạo tại hội nghị."


@pytest.mark.parametrize("line", [
    f"{CAPTION} Ảnh: Thanh Hà",
    f"{CAPTION} (Ảnh: PV)",
    f"Ảnh: Lãnh đạo tỉnh kiểm tra công trường đường ven biển sáng 3/4.",
    "Ảnh minh họa: Người dân làm thủ tục tại Trung tâm Phục vụ hành chính công tỉnh.",
])
def test_marked_captions_are_skipped_by_default_and_tagged_on_request(line):
    article = "\n".join([BODY1, line, BODY2])
    assert split_paragraphs(article) == [BODY1, BODY2]
    assert split_article(article).dropped["caption"] == 1
    assert split_paragraphs(article, captions="tag") == [BODY1, line, BODY2]


def test_a_short_sentence_under_a_repeated_title_is_a_caption_and_a_long_one_is_body():
    long_body = BODY1 + " " + BODY2  # two sentences: the body resuming, not a caption
    article = "\n".join([TITLE, BODY1, TITLE, CAPTION, BODY2, TITLE, long_body])
    parts = split_article(article)
    assert parts.paragraphs == [TITLE, BODY1, BODY2, long_body]
    assert parts.dropped == {"short": 0, "caption": 1, "boilerplate": 0, "repeat": 2}


def test_source_citations_in_body_text_are_not_captions():
    line = "Thu ngân sách quý I đạt 5.200 tỷ đồng, bằng 31% dự toán (nguồn: Cục Thuế tỉnh)."
    assert split_paragraphs("\n".join([BODY1, line])) == [BODY1, line]


def test_unknown_caption_mode_is_one_clear_error():
    with pytest.raises(DataError, match="captions='drop'"):
        split_article(BODY1, captions="drop")


def test_html_markup_scripts_and_figcaptions_are_removed(tmp_path):
    page = (f"<html><head><title>Báo tỉnh</title><script>var a = '{BODY2}';</script></head><body>"
            f"<h1>{TITLE}</h1><p>{BODY1}</p><figure><img src=a.jpg><figcaption>{CAPTION}</figcaption></figure>"
            f"<div class='image-caption'><span>{CAPTION} Lần 2</span></div>"
            f"<p>Theo b&aacute;o c&aacute;o,<br>tỉnh đã giải ngân được 48% kế hoạch vốn.</p></body></html>")
    text = html_to_text(page)
    assert CAPTION not in text and "var a" not in text and "Báo tỉnh" not in text
    path = tmp_path / "bai.html"
    path.write_text(page, encoding="utf-8")
    assert split_paragraphs(read_article(path)) == [TITLE, BODY1, "tỉnh đã giải ngân được 48% kế hoạch vốn."]


def test_article_files_name_the_problem(tmp_path):
    bad = tmp_path / "bai.txt"
    bad.write_bytes("Thu ngân sách".encode("utf-16"))
    with pytest.raises(DataError, match="bai.txt: not UTF-8"):
        read_article(bad)
    with pytest.raises(DataError, match="not an article file"):
        read_article(tmp_path / "bai.docx")
