import json
import unicodedata

from conftest import shared_file
from sectortag.text import clean, normalize, split_paragraphs, tokenize, tokenize_many, Tokenized

BODY1 = "Sáng 3/4, UBND tỉnh Quảng Trị tổ chức hội nghị triển khai kế hoạch đầu tư công năm 2024 với các sở, ngành."
BODY2 = "Theo báo cáo, tỉnh đã giải ngân được 48% kế hoạch vốn, cao hơn mức bình quân của cả nước cùng kỳ năm trước."
TITLE = "Quảng Trị đẩy nhanh giải ngân vốn đầu tư công năm 2024"


def test_split_drops_repeated_titles_captions_and_boilerplate():
    article = "\n".join([TITLE, "", BODY1, TITLE, "Quang cảnh hội nghị.", "", BODY2, TITLE,
                         "Đọc thêm", "Tin mới Emagazine Truyền hình Podcast", "Chủ đề Kinh tế địa phương"])
    assert split_paragraphs(article) == [TITLE, BODY1, BODY2]


def test_split_min_chars_is_configurable():
    article = f"{BODY1}\nQuang cảnh hội nghị."
    assert split_paragraphs(article, min_chars=10) == [BODY1, "Quang cảnh hội nghị."]
    assert split_paragraphs(article, min_chars=200) == []


def test_split_handles_windows_line_breaks_and_spaces():
    assert split_paragraphs(f"  {BODY1}  \r\n\r\n{BODY2}\r") == [BODY1, BODY2]


def test_clean_removes_html_and_invisible_characters():
    assert clean("Thu <b>ngân sách</b> &amp; thuế\u200b\ufeff") == "Thu ngân sách & thuế"


def test_tone_mark_placement_and_nfd_give_the_same_tokens():
    old, new = "Hoà Bình thuỷ lợi, hoà giải", "Hòa Bình thủy lợi, hòa giải"
    assert tokenize(old) == tokenize(new)
    assert tokenize(unicodedata.normalize("NFD", new)) == tokenize(new)
    assert normalize(old) == normalize(new)


def test_tokenize_segments_words():
    tokens = tokenize("Sở Tài nguyên và Môi trường đẩy nhanh giải phóng mặt bằng").split()
    assert "giải_phóng" in tokens and "mặt_bằng" in tokens


def test_tokenize_many_keeps_order_and_reuses_repeats():
    texts = [BODY1, BODY2, BODY1, ""]
    out = tokenize_many(texts)
    assert out[0] == out[2] == tokenize(BODY1) and out[1] == tokenize(BODY2) and out[3] == ""
    assert tokenize_many(out) is out  # already tokenized input passes through
    assert isinstance(out, Tokenized)


def test_seed_article_paragraphs_once_each():
    article = shared_file("seeds", "seed_article.txt").read_text(encoding="utf-8")
    gold = [json.loads(l)["text"] for l in shared_file("seeds", "seed_article_paragraphs.jsonl").open(encoding="utf-8")]
    paragraphs = split_paragraphs(article)
    assert paragraphs == gold
    assert not any(p.startswith(("Đọc thêm", "Tin mới")) for p in paragraphs)
