"""Baselines and peers that our model must beat, on the same splits and the same report.

* AllNone: predicts no sector for every paragraph.
* Keywords: what a user would build by hand: a lexicon of sector terms (below), a sector when any term occurs.
* UndertheseaRecipe: underthesea's own classifier recipe: syllable uni+bigram TF-IDF and a linear SVM,
  no word segmentation, decision at the SVM's own boundary.
* FastTextPeer: fastText supervised, one-vs-all multi-label, on the same word tokens (optional extra).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.multiclass import OneVsRestClassifier
from sklearn.svm import LinearSVC

from sectortag.labels import SECTOR_CODES
from sectortag.metrics import to_matrix
from sectortag.text import clean

# Terms a policy officer would list for each sector (lower-case, matched on whole syllables).
LEXICON: dict[str, list[str]] = {
    "tai_nguyen_moi_truong": [
        "tài nguyên", "môi trường", "đất đai", "giải phóng mặt bằng", "bồi thường", "tái định cư", "thu hồi đất",
        "giao đất", "cho thuê đất", "đấu giá quyền sử dụng đất", "giá đất", "bảng giá đất", "quy hoạch sử dụng đất",
        "giấy chứng nhận quyền sử dụng đất", "sổ đỏ", "chất thải", "rác thải", "nước thải", "ô nhiễm",
        "đánh giá tác động môi trường", "biến đổi khí hậu", "khoáng sản", "cát sỏi", "tài nguyên nước",
        "đo đạc", "bản đồ địa chính", "biển và hải đảo", "khí tượng thủy văn",
    ],
    "ke_hoach_dau_tu": [
        "kế hoạch và đầu tư", "đầu tư công", "giải ngân", "thu hút đầu tư", "xúc tiến đầu tư", "fdi",
        "vốn đầu tư nước ngoài", "chủ trương đầu tư", "nhà đầu tư", "đấu thầu", "lựa chọn nhà thầu",
        "khu công nghiệp", "cụm công nghiệp", "ppp", "đối tác công tư", "đăng ký doanh nghiệp",
        "doanh nghiệp thành lập mới", "grdp", "tăng trưởng kinh tế", "kinh tế - xã hội", "quy hoạch tỉnh",
        "oda", "thống kê", "pci", "môi trường kinh doanh",
    ],
    "tai_chinh": [
        "tài chính", "ngân sách", "thu ngân sách", "chi ngân sách", "dự toán", "quyết toán", "thuế", "phí",
        "lệ phí", "tài sản công", "mua sắm tập trung", "nợ công", "kho bạc", "bình ổn giá", "quản lý giá",
        "tiền sử dụng đất", "cải cách tiền lương", "tự chủ tài chính", "vượt thu", "hụt thu",
    ],
    "noi_vu": [
        "nội vụ", "cán bộ", "công chức", "viên chức", "biên chế", "tinh giản", "tuyển dụng", "bổ nhiệm",
        "sắp xếp tổ chức bộ máy", "sáp nhập", "hợp nhất", "đơn vị hành chính", "chính quyền địa phương",
        "quy chế làm việc", "cải cách hành chính", "một cửa", "thi đua", "khen thưởng", "bằng khen",
        "tôn giáo", "tín ngưỡng", "lưu trữ", "văn thư", "thanh niên", "tiền lương",
    ],
}


class AllNone:
    """Predicts no sector at all: the floor every model must clear."""

    def fit(self, texts, labels, dev_texts=None, dev_labels=None):
        return self

    def predict(self, texts):
        return [[] for _ in texts]


class Keywords:
    """A sector when any of its lexicon terms occurs in the (cleaned, lower-cased) paragraph."""

    def __init__(self, lexicon: dict[str, list[str]] = LEXICON):
        self.lexicon = lexicon
        self.patterns = {c: re.compile(r"(?<!\w)(" + "|".join(map(re.escape, terms)) + r")(?!\w)")
                         for c, terms in lexicon.items()}

    def fit(self, texts, labels, dev_texts=None, dev_labels=None):
        return self

    def predict(self, texts):
        out = []
        for t in texts:
            low = clean(t).lower()
            out.append([c for c in SECTOR_CODES if self.patterns[c].search(low)])
        return out


def _syllables(text: str) -> list[str]:
    return re.findall(r"\w+", clean(text).lower())


class UndertheseaRecipe:
    """Syllable uni+bigram TF-IDF (no word segmentation) and a linear SVM per sector."""

    def fit(self, texts, labels, dev_texts=None, dev_labels=None):
        self.vec = TfidfVectorizer(tokenizer=_syllables, token_pattern=None, lowercase=False,
                                   ngram_range=(1, 2), sublinear_tf=True)
        X = self.vec.fit_transform(texts)
        self.clf = OneVsRestClassifier(LinearSVC(C=1.0)).fit(X, to_matrix(labels, SECTOR_CODES))
        return self

    def predict(self, texts):
        S = self.clf.decision_function(self.vec.transform(texts))
        return [[c for c, s in zip(SECTOR_CODES, row) if s > 0] for row in S]


def fasttext_line(tokens: str, labels: Sequence[str]) -> str:
    """One fastText training line: every label (or __label__none for a paragraph with none), then the words."""
    tags = " ".join(f"__label__{c}" for c in labels) or "__label__none"
    return f"{tags} {tokens}".strip()


def fasttext_scores(model, texts: Sequence[str], codes: Sequence[str]) -> np.ndarray:
    """One-vs-all probabilities of a fastText model, one column per code, for a batch of token lines."""
    labels, probs = model.predict(list(texts), k=-1, threshold=0.0)
    index = {f"__label__{c}": j for j, c in enumerate(codes)}
    S = np.zeros((len(texts), len(codes)))
    for i, (ls, ps) in enumerate(zip(labels, probs)):
        for lab, p in zip(ls, ps):
            if lab in index:
                S[i, index[lab]] = p
    return S


class FastTextPeer:
    """fastText supervised (one-vs-all) on underthesea word tokens; thresholds tuned on dev like ours."""

    def __init__(self, tokens: dict[str, str], epoch: int = 50, lr: float = 0.5, word_ngrams: int = 2):
        import fasttext  # the optional `bench` extra: fasttext-numpy2

        self.fasttext, self.tokens = fasttext, tokens
        self.epoch, self.lr, self.word_ngrams = epoch, lr, word_ngrams

    def _line(self, text: str) -> str:
        return self.tokens[text].lower().replace("\n", " ")

    def fit(self, texts, labels, dev_texts=None, dev_labels=None):
        from sectortag.model import tune_thresholds

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "train.txt"
            with path.open("w", encoding="utf-8") as f:
                for t, ls in zip(texts, labels):
                    f.write(fasttext_line(self._line(t), ls) + "\n")
            self.model = self.fasttext.train_supervised(str(path), loss="ova", epoch=self.epoch, lr=self.lr,
                                                        wordNgrams=self.word_ngrams, verbose=0, seed=0, thread=1)
        self.thresholds = np.full(len(SECTOR_CODES), 0.5)
        if dev_texts is not None:
            self.thresholds = tune_thresholds(to_matrix(dev_labels, SECTOR_CODES), self.scores(dev_texts))
        return self

    def scores(self, texts) -> np.ndarray:
        return fasttext_scores(self.model, [self._line(t) for t in texts], SECTOR_CODES)

    def predict(self, texts):
        S = self.scores(texts)
        return [[c for c, s, th in zip(SECTOR_CODES, row, self.thresholds) if s >= th] for row in S]
