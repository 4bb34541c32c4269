"""Bad input and faults: every row gets a defined result, files fail with one clear message, text functions
never raise on arbitrary Unicode and never lose body text."""

import unicodedata

import mlflow
import pandas as pd
import pytest
from hypothesis import example, given, settings, strategies as st
from mlflow import MlflowClient

from sectortag import ModelError, SectorTagger
from sectortag.model import MAX_CHARS
from sectortag.article import BOILERPLATE, split_article, split_paragraphs
from sectortag.text import clean, normalize
from sectortag.jobs.train import train

SENTENCE = "Sở Tài chính trình phương án phân bổ dự toán ngân sách năm 2025 cho các huyện."


@pytest.mark.parametrize("value,reason", [
    ("", "no words"), ("   \n\t ", "no words"), (None, "missing text"), (float("nan"), "missing text"),
    (17, "not a text: int"), (["a", "b"], "not a text: list"), ("... !!! 123 456,78 %", None),
    ("\u200b\u200b\ufeff", "no words"),
])
def test_each_odd_row_gets_a_defined_result(tagger, value, reason):
    out = tagger.predict_frame(pd.DataFrame({"text": ["Khai mạc hội nghị.", value, SENTENCE]}))
    assert len(out) == 3 and "tai_chinh" in out.loc[2, "labels"]
    if reason is None:
        assert out.loc[1, "error"] is None
    else:
        assert out.loc[1, "error"].startswith(reason) and out.loc[1, "labels"] == []


@pytest.mark.parametrize("text,expected", [
    ("The provincial budget revenue rose by ten percent this year.", None),
    ("So Noi vu de xuat tinh giam bien che cong chuc cap xa", None),
    ("<p>Sở Tài chính trình phương án phân bổ dự toán&nbsp;ngân sách năm 2025 &amp; giao cho các huyện.</p>", "tai_chinh"),
    ("Sở Tài chính\u0007 trình phương án\u200b phân bổ dự toán ngân sách năm 2025 😀🎉 cho các huyện.", "tai_chinh"),
])
def test_foreign_unaccented_html_control_and_emoji_text_is_tagged(tagger, text, expected):
    out = tagger.predict_frame(pd.DataFrame({"text": [text]}))
    scores = out.loc[0, [f"score_{c}" for c in tagger.labels_]].astype(float)
    assert out.loc[0, "error"] is None and scores.between(0, 1).all()  # tagged, with real scores, not refused
    if expected:  # markup, control characters and emoji do not hide the matter
        assert expected in out.loc[0, "labels"]


def test_html_control_and_emoji_do_not_change_the_prediction(tagger):
    noisy = "<b>Sở Tài chính</b>\u200b trình phương án phân bổ dự toán ngân sách năm 2025 cho các huyện.\u0007"
    assert tagger.predict([noisy]) == tagger.predict([SENTENCE])


def test_nfd_and_tone_mark_placement_give_the_same_prediction(tagger):
    new = "Huyện Hòa Vang quy hoạch khu xử lý chất thải rắn và bảo vệ nguồn nước thủy lợi."
    old = "Huyện Hoà Vang quy hoạch khu xử lý chất thải rắn và bảo vệ nguồn nước thuỷ lợi."
    variants = [new, old, unicodedata.normalize("NFD", new), unicodedata.normalize("NFD", old)]
    proba = tagger.predict_proba(variants)
    assert (proba.nunique() == 1).all()


def test_a_one_megabyte_paragraph_is_tagged_on_its_start(tagger):
    huge = (SENTENCE + " ") * (1_000_000 // len(SENTENCE))
    out = tagger.predict_frame(pd.DataFrame({"text": [huge, SENTENCE]}))
    assert out.loc[0, "error"] == f"text longer than {MAX_CHARS} characters: tagged on its start"
    assert "tai_chinh" in out.loc[0, "labels"] and out.loc[1, "error"] is None


def test_interrupted_training_changes_nothing(project, monkeypatch):
    first = train("training/config.toml")
    champion = project / "models" / "champion.sectortag"
    before = champion.read_bytes()
    import sectortag.registry as registry
    from sectortag.errors import Interrupted

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(registry, "register_and_promote", interrupt)
    with pytest.raises(Interrupted, match="registry and the champion are unchanged|champion is unchanged"):
        train("training/config.toml")
    client = MlflowClient()
    runs = client.search_runs([mlflow.get_experiment_by_name("sectortag").experiment_id], order_by=["start_time ASC"])
    assert [r.info.status for r in runs] == ["FINISHED", "FAILED"]
    assert [str(v.version) for v in client.search_model_versions("name='sectortag'")] == ["1"]
    assert str(client.get_model_version_by_alias("sectortag", "champion").version) == first.version
    assert champion.read_bytes() == before
    assert sorted(p.name for p in (project / "models").iterdir()) == ["champion.sectortag", "champion.sectortag.json"]  # no half-written files


def test_training_refuses_a_split_without_a_sector(project):
    import json

    path = project / "datasets" / "paragraphs" / "sample.jsonl"
    rows = [json.loads(l) for l in path.read_text(encoding="utf-8").splitlines()]
    for r in rows:
        r["labels"] = [l for l in r["labels"] if l != "noi_vu"]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    with pytest.raises(Exception, match="no train example carries sector 'noi_vu'"):
        train("training/config.toml")
    assert not (project / "mlflow.db").exists() or MlflowClient().search_registered_models() == []


# ---- properties of the text functions --------------------------------------------------------------
lines = st.lists(st.text(min_size=0, max_size=80), min_size=0, max_size=12)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_text_functions_never_raise(text):
    clean(text)
    split_paragraphs(text)
    split_paragraphs(text, min_chars=0)
    normalize(text)


@settings(max_examples=300, deadline=None)
@given(lines, st.integers(min_value=0, max_value=60))
def test_split_never_loses_body_text_and_is_idempotent(parts, min_chars):
    article = "\n".join(parts)
    paragraphs = split_paragraphs(article, min_chars, captions="tag")
    kept = {p.casefold() for p in paragraphs}
    for line in clean(article).split("\n"):
        if line and len(line) >= min_chars and not BOILERPLATE.match(line):  # an empty line holds no text
            assert line.casefold() in kept
    # with captions skipped, every line is either kept or counted with its reason
    parts_ = split_article(article, min_chars)
    assert len(parts_.paragraphs) + parts_.n_dropped == sum(1 for line in clean(article).split("\n") if line)
    if "<" not in article and "&" not in article:
        assert split_paragraphs("\n".join(paragraphs), min_chars, captions="tag") == paragraphs


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_characters="<&"), max_size=200))
@example("0\r\r0")  # line breaks once became a double space that normalising again collapsed
def test_clean_and_normalize_are_idempotent(text):
    assert clean(clean(text)) == clean(text)
    assert normalize(normalize(text)) == normalize(text)
