import json
import unicodedata

from conftest import shared_file
from sectortag.article import split_paragraphs, unwrap
from sectortag.text import clean, forget, normalize, tokenize, tokenize_many

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
    remembered = tokenize_many(texts, remember=True)
    assert remembered == out == tokenize_many(texts, remember=True)
    forget()


def test_parallel_tokenizer_gives_the_serial_result(monkeypatch):
    import sectortag.text as text

    monkeypatch.setattr(text, "PARALLEL_MIN_TEXTS", 4)
    texts = [f"{BODY1} Đoạn {i}." for i in range(12)]
    assert tokenize_many(texts, n_jobs=2) == [tokenize(t) for t in texts]


def test_a_broken_worker_pool_falls_back_to_this_process(monkeypatch):
    import joblib.externals.loky as loky
    from joblib.externals.loky.process_executor import BrokenProcessPool

    import sectortag.text as text

    class Broken:
        def map(self, *args, **kwargs):
            raise BrokenProcessPool("a worker was killed")

    monkeypatch.setattr(text, "PARALLEL_MIN_TEXTS", 4)
    monkeypatch.setattr(text, "effective_jobs", lambda n: 2)
    monkeypatch.setattr(loky, "get_reusable_executor", lambda **kwargs: Broken())
    texts = [f"{BODY2} Đoạn {i}." for i in range(8)]
    assert tokenize_many(texts, n_jobs=2) == [tokenize(t) for t in texts]


def test_seed_article_paragraphs_once_each():
    article = shared_file("seeds", "seed_article.txt").read_text(encoding="utf-8")
    gold = [json.loads(l)["text"] for l in shared_file("seeds", "seed_article_paragraphs.jsonl").open(encoding="utf-8")]
    assert split_paragraphs(article, captions="tag") == gold
    paragraphs = split_paragraphs(article)  # captions skipped (the default)
    assert not any(p.startswith(("Đọc thêm", "Tin mới")) for p in paragraphs)
    # the six photo captions stand right under the repeated title; they name people at the meeting, and the
    # body resuming under the first repeat (a 249-character sentence) is kept
    captions = [p for p in gold if p not in paragraphs]
    assert len(captions) == 6 and paragraphs == [p for p in gold if p in paragraphs]
    assert all(len(c) < 140 and c.endswith(".") for c in captions)
    assert any(p.startswith("Chiều 19/9") for p in paragraphs)


def test_hard_wrapped_text_is_joined_back_into_paragraphs():
    import textwrap


    body = [BODY1 + " " + BODY2, BODY2 + " " + BODY1 + " " + BODY2]
    wrapped = "\n\n".join(textwrap.fill(p, 72) for p in body)
    assert len(wrapped.split("\n")) > 6
    assert split_paragraphs(unwrap(wrapped)) == body  # nothing lost, one paragraph each
    ordinary = "\n".join([TITLE, BODY1, BODY2, "Quang cảnh hội nghị.", BODY1 + " Thêm."])
    assert unwrap(ordinary) == ordinary
