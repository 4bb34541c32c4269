import math

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from conftest import shared_file
from sectortag import SECTOR_CODES, DataError, ModelError, SectorTagger
from sectortag.metrics import report
from sectortag.model import load_bundle, tune_thresholds


def test_sklearn_conventions():
    t = SectorTagger(C=2.0, features="both")
    assert t.get_params()["C"] == 2.0 and t.get_params()["features"] == "both"
    assert clone(t).get_params() == t.get_params()
    assert not hasattr(t, "classifier_")  # nothing computed in __init__
    with pytest.raises(ModelError, match="not fitted"):
        t.predict(["Thu ngân sách tăng."])


def test_fitted_state(tagger):
    assert tagger.labels_ == SECTOR_CODES
    assert tagger.thresholds_.shape == (4,) and ((0 < tagger.thresholds_) & (tagger.thresholds_ < 1)).all()


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
    assert "tai_chinh" in labels[0]
    assert "tai_nguyen_moi_truong" in labels[2]
    proba = tagger.predict_proba(texts)
    assert list(proba.columns) == list(SECTOR_CODES) and len(proba) == 3
    assert ((proba.values >= 0) & (proba.values <= 1)).all()
    # labels are exactly the scores at or above the per-sector thresholds
    assert labels == [[c for c, s, t in zip(SECTOR_CODES, row, tagger.thresholds_) if s >= t] for row in proba.values]


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


def test_tag_article(tagger):
    title = "Bình Phước công bố quy hoạch tỉnh thời kỳ 2021 - 2030"
    article = "\n\n".join([
        title,
        "Sáng 14/6, UBND tỉnh Bình Phước tổ chức hội nghị công bố quy hoạch tỉnh và xúc tiến đầu tư năm 2023.",
        title,
        "Ảnh: Minh Hà",
        "Tỉnh đã cấp chủ trương đầu tư cho 12 dự án với tổng vốn đăng ký hơn 9.000 tỷ đồng.",
        "Đọc thêm",
    ])
    out = tagger.tag_article(article)
    assert list(out.columns[:2]) == ["paragraph", "labels"]
    assert list(out.paragraph) == [title] + article.split("\n\n")[1:5:3]
    assert len(out) == 3 and "ke_hoach_dau_tu" in out.labels[2]


def test_seed_article_tags_each_body_paragraph(tagger):
    article = shared_file("seeds", "seed_article.txt").read_text(encoding="utf-8")
    out = tagger.tag_article(article)
    assert len(out) == 28 and out.paragraph.is_unique


def test_fit_refuses_bad_training_data():
    with pytest.raises(DataError, match="empty"):
        SectorTagger().fit([], [])
    with pytest.raises(DataError, match="no positive training example for sector"):
        SectorTagger().fit(["Thu ngân sách.", "Tuyển công chức."], [["tai_chinh"], ["noi_vu"]])
    with pytest.raises(DataError, match="unknown label code 'y_te'"):
        SectorTagger().fit(["Khám bệnh."], [["y_te"]])


def test_tune_thresholds_maximises_f1():
    Y = np.array([[1], [1], [0], [0]])
    S = np.array([[0.9], [0.35], [0.3], [0.1]])
    assert 0.3 < tune_thresholds(Y, S)[0] <= 0.35
    assert tune_thresholds(np.zeros((3, 1)), np.ones((3, 1)))[0] == 0.5


def test_threshold_window_ignores_a_narrow_spike():
    # F1 is 1.0 only for thresholds in (0.25, 0.30] and 0.67 on the broad plateau below
    Y = np.array([[1]] * 10 + [[0]] * 10)
    S = np.array([[0.30]] * 10 + [[0.25]] * 10)
    assert tune_thresholds(Y, S)[0] == 0.30
    assert tune_thresholds(Y, S, window=0.05)[0] == 0.25  # pulled towards the plateau


def test_bundle_round_trip_and_damage(tagger, tmp_path):
    path = tmp_path / "m.joblib"
    sha = tagger.save(path)
    loaded = SectorTagger.load(path)
    texts = ["Tỉnh tinh giản 120 biên chế trong năm 2023.", "Khai mạc giải bóng đá thiếu niên."]
    assert loaded.predict(texts) == tagger.predict(texts) and loaded.bundle_sha256_ == sha
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind

    data = path.read_bytes()
    (tmp_path / "cut.joblib").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match="not a readable sectortag model bundle"):
        load_bundle(tmp_path / "cut.joblib")
    with pytest.raises(ModelError, match="differs from the one recorded"):
        load_bundle(path, expected_sha256="0" * 64)
    (tmp_path / "other.joblib").write_bytes(b"not a model at all")
    with pytest.raises(ModelError):
        load_bundle(tmp_path / "other.joblib")
    with pytest.raises(ModelError, match="not found"):
        SectorTagger.load(tmp_path / "missing.joblib")
