import math

import numpy as np
import pandas as pd
import pytest

from conftest import shared_file
from sectortag import SECTOR_CODES, ConfigError, DataError, ModelError, SectorTagger
from sectortag.estimator import SectorClassifier, tune_thresholds
from sectortag.metrics import report
from sectortag.settings import model_params


def test_parameters_follow_scikit_learn_conventions():
    from sklearn.base import clone

    t = SectorTagger(C=2.0, features="both")
    assert t.get_params()["C"] == 2.0 and t.get_params()["features"] == "both"
    assert t.get_params()["max_df"] == SectorClassifier().max_df  # defaults live in the estimator only
    assert not hasattr(t, "model_")  # nothing computed in __init__
    with pytest.raises(ModelError, match="not fitted"):
        t.predict(["Thu ngân sách tăng."])
    with pytest.raises(ConfigError, match="unknown model parameter.*Cc"):
        SectorTagger(Cc=2)
    est = SectorClassifier(C=3.0)
    assert clone(est).get_params() == est.get_params()


def test_default_tagger_is_the_configured_model(settings):
    assert SectorTagger().get_params() == SectorTagger(**model_params(settings)).get_params()


@pytest.mark.parametrize("params,message", [
    ({"C": -1}, "'C' parameter"), ({"C": "eight"}, "'C' parameter"), ({"features": "syllables"}, "'features'"),
    ({"syllable_ngram_range": (2, 1)}, "syllable_ngram_range"), ({"thresholds": 1.5}, "'thresholds'"),
])
def test_bad_parameters_fail_before_any_text_is_read(params, message):
    class Exploding(list):
        def __iter__(self):
            raise AssertionError("texts were read before the parameters were checked")

    with pytest.raises(ConfigError, match=message):
        SectorTagger(**params).fit(Exploding(["x"]), [["tai_chinh"]])


def test_fitted_state(tagger):
    assert tagger.labels_ == SECTOR_CODES
    assert tagger.thresholds_.shape == (4,) and ((0 < tagger.thresholds_) & (tagger.thresholds_ < 1)).all()


def test_saved_model_scores_exactly_like_the_fitted_pipeline(tagger, corpus):
    texts = list(corpus[corpus.split == "test"].text[:200])
    pipeline_scores = tagger.estimator_.pipeline_.predict_proba(texts)
    assert np.abs(tagger.predict_scores(texts) - pipeline_scores).max() < 1e-6


def test_every_feature_kind_and_classifier_compiles_faithfully(corpus):
    train, dev = corpus[corpus.split == "train"].head(400), corpus[corpus.split == "dev"].head(100)
    for params in ({"features": "both", "classifier": "svm", "C": 0.5}, {"features": "syllable"},
                   {"features": "word", "class_weight": "balanced"}):
        t = SectorTagger(**params).fit(list(train.text), list(train.labels), list(dev.text), list(dev.labels))
        texts = list(dev.text[:40])
        assert np.abs(t.predict_scores(texts) - t.estimator_.pipeline_.predict_proba(texts)).max() < 1e-6


def test_test_split_is_well_above_chance(tagger, corpus):
    test = corpus[corpus.split == "test"]
    summary = report(list(test.labels), tagger.predict(list(test.text)), SECTOR_CODES)
    assert summary["macro_f1"] >= 0.7, summary


def test_predict_shapes_and_alignment(tagger):
    texts = [
        "Năm nay tỉnh thu ngân sách nhà nước đạt 15.200 tỷ đồng, vượt 8% dự toán Hội đồng nhân dân giao.",
        "Chiều 20/5, đoàn đại biểu tỉnh bạn đã đến thăm và tặng quà các gia đình chính sách.",
        "Huyện đã thu hồi 45 ha đất, chi trả bồi thường cho 230 hộ dân để giải phóng mặt bằng dự án khu công nghiệp.",
    ]
    labels = tagger.predict(texts)
    assert len(labels) == 3 and all(set(l) <= set(SECTOR_CODES) for l in labels)
    assert "tai_chinh" in labels[0] and labels[1] == [] and "tai_nguyen_moi_truong" in labels[2]
    proba = tagger.predict_proba(texts)
    assert list(proba.columns) == list(SECTOR_CODES) and len(proba) == 3
    assert ((proba.values >= 0) & (proba.values <= 1)).all()
    # labels are exactly the scores at or above the per-sector thresholds
    assert labels == [[c for c, s, t in zip(SECTOR_CODES, row, tagger.thresholds_) if s >= t] for row in proba.values]


def test_predict_proba_keeps_a_series_index_and_refuses_a_bare_string(tagger):
    s = pd.Series(["Tuyển dụng 40 công chức cấp xã.", "Khai mạc hội chợ hoa."], index=[10, 20])
    assert list(tagger.predict_proba(s).index) == [10, 20]
    with pytest.raises(DataError, match="one string"):
        tagger.predict("Tuyển dụng 40 công chức cấp xã.")


def test_predict_frame_keeps_rows_and_reports_bad_ones(tagger):
    df = pd.DataFrame({"id": [1, 2, 3, 4, 5], "text": [
        "Sở Nội vụ tổ chức thi tuyển công chức cấp xã năm 2024.", None, float("nan"), 42, "   "]})
    out = tagger.predict_frame(df)
    assert list(out["id"]) == [1, 2, 3, 4, 5] and len(out) == 5
    assert out.loc[0, "error"] is None and "noi_vu" in out.loc[0, "labels"]
    assert out.loc[1, "error"] == "missing text" and out.loc[2, "error"] == "missing text"
    assert out.loc[3, "error"].startswith("not a text") and out.loc[4, "error"].startswith("no words")
    assert all(l == [] for l in out.loc[1:, "labels"])
    assert math.isnan(out.loc[3, "score_tai_chinh"])
    with pytest.raises(DataError, match="no column 'body'"):
        tagger.predict_frame(df, text_column="body")


def test_explanations_name_terms_of_the_paragraph_and_move_the_score(tagger):
    from sectortag.text import normalize

    text = "Cục Thuế tỉnh cho biết thu ngân sách nhà nước năm nay vượt 9% dự toán được giao."
    why = tagger.explain([text, "Chiều 2/2, đoàn công tác đã đến thăm, chúc Tết các gia đình."], top=3)
    up = why[0]["tai_chinh"]["up"]
    assert len(up) == 3 and all(term in normalize(text).lower() for term, _ in up)
    assert up[0][1] >= up[1][1] >= up[2][1] > 0
    without = text.lower().replace(up[0][0], " ")
    assert tagger.predict_scores([without])[0, 2] < why[0]["tai_chinh"]["score"]
    assert why[1]["noi_vu"]["up"] or why[1]["noi_vu"]["down"]  # a paragraph with no sector still shows its terms


def test_tag_article(tagger):
    article = shared_file("seeds", "seed_article.txt").read_text(encoding="utf-8")
    out = tagger.tag_article(article)
    assert list(out.columns[:3]) == ["paragraph_no", "paragraph", "labels"] and len(out) == 22
    assert list(out.paragraph_no) == list(range(1, 23))
    assert len(tagger.tag_article(article, captions="tag")) == 28  # the six photo captions, tagged on request


def test_thresholds_maximise_f1_and_respect_the_false_tag_budget():
    Y = np.array([[1], [1], [0], [0], [0]])
    S = np.array([[0.9], [0.7], [0.6], [0.2], [0.1]])
    assert tune_thresholds(Y, S)[0] == pytest.approx(0.61)  # F1 = 1 on (0.6, 0.7]; ties go nearest 0.5
    # catching the positive at 0.55 costs one false tag (0.6) and gives the best F1 (0.8) ...
    Y2 = np.array([[1, 0], [1, 0], [0, 1], [0, 0], [0, 0], [0, 0]])
    S2 = np.array([[0.9, 0.1], [0.55, 0.1], [0.1, 0.9], [0.6, 0.1], [0.1, 0.2], [0.1, 0.1]])
    free = tune_thresholds(Y2, S2)
    assert free[0] <= 0.55 and (S2[3:] >= free).any(axis=1).sum() == 1
    # ... which a false-tag budget of zero does not allow
    bounded = tune_thresholds(Y2, S2, false_tag_budget=0.0)
    assert bounded[0] > 0.6 and not (S2[3:] >= bounded).any()
    assert bounded[1] == free[1]  # the other sector is left alone
