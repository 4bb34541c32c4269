"""Whole articles and folders: `tag_articles`, `summarize`, and `sectortag predict` on folders, globs, HTML,
standard input and output, chosen columns, spreadsheet CSV, and per-article summaries."""

import io
import json
import subprocess
import sys

import pandas as pd
import pytest

from conftest import ROOT, our_articles
from sectortag.article import split_article
from sectortag.cli import main
from sectortag.summary import main_sectors

CODES = ["tai_nguyen_moi_truong", "ke_hoach_dau_tu", "tai_chinh", "noi_vu"]


def test_tag_articles_keeps_article_and_paragraph_order(tagger):
    articles = our_articles(3)
    pairs = [(a, "\n".join(r["text"] for r in rs)) for a, rs in articles.items()]
    frame = tagger.tag_articles(pairs)
    assert list(dict.fromkeys(frame.article_id)) == list(articles)
    for article_id, text in pairs:
        rows = frame[frame.article_id == article_id]
        assert list(rows.paragraph) == split_article(text, tagger.min_chars).paragraphs
        assert list(rows.paragraph_no) == list(range(1, len(rows) + 1))
    # the same from a DataFrame with its own column names, and the labels equal predict's
    again = tagger.tag_articles(pd.DataFrame({"doc": [a for a, _ in pairs], "body": [t for _, t in pairs]}),
                                id_column="doc", text_column="body")
    pd.testing.assert_frame_equal(again, frame)
    assert list(frame.labels) == tagger.predict(list(frame.paragraph))


def test_an_article_without_body_text_keeps_one_row_saying_why(tagger):
    frame = tagger.tag_articles([("a", "Ảnh: PV\nTin mới Emagazine Truyền hình Podcast Thời sự Kinh tế"), ("b", "Thu ngân sách nhà nước 10 tháng đạt 96% dự toán năm.")])
    empty = frame[frame.article_id == "a"].iloc[0]
    assert empty.paragraph_no == 0 and empty.labels == [] and "no body paragraphs (1 short, 1 boilerplate" in empty.error
    summary = tagger.summarize(frame)
    assert list(summary.paragraphs) == [0, 1]


def test_summary_counts_match_the_tagged_rows(tagger):
    pairs = [(a, "\n".join(r["text"] for r in rs)) for a, rs in our_articles(6).items()]
    frame = tagger.tag_articles(pairs)
    summary = tagger.summarize(frame).set_index("article_id")
    for article_id, rows in frame.groupby("article_id"):
        row = summary.loc[article_id]
        assert row.paragraphs == len(rows)
        for code in CODES:
            carrying = [int(n) for n, labels in zip(rows.paragraph_no, rows.labels) if code in labels]
            assert row[f"n_{code}"] == len(carrying)
            assert row[f"paragraphs_{code}"] == ";".join(map(str, carrying))
            assert row[f"share_{code}"] == round(len(carrying) / len(rows), 4)
        counts = {c: row[f"n_{c}"] for c in CODES}
        assert row.main_sectors == ";".join(main_sectors(counts, row.paragraphs))
    assert set(summary.model_sha256) == {tagger.provenance()["model_sha256"]}


def test_main_sector_rule():
    assert main_sectors({"a": 3, "b": 1, "c": 2}, 10) == ["a", "c"]  # b: one paragraph of ten
    assert main_sectors({"a": 1, "b": 0}, 10) == []  # nothing reaches two paragraphs
    assert main_sectors({"a": 1, "b": 0}, 4) == ["a"]  # a short article: one paragraph is enough
    assert main_sectors({"a": 2, "b": 7}, 30) == ["b"]  # a: 2 of 30 is under a fifth, b: 7 is over


def test_predict_a_folder_into_rows_and_a_summary(model_file, article_folder, tmp_path):
    out, summary = tmp_path / "tags.csv", tmp_path / "summary.csv"
    (article_folder / "notes.md").write_text("not an article", encoding="utf-8")  # other files are ignored
    assert main(["predict", "--input", str(article_folder), "--output", str(out), "--summary", str(summary),
                 "--model", str(model_file), "--excel", "--explain"]) == 0
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # --excel: a byte-order mark so spreadsheets read UTF-8
    rows = pd.read_csv(out, encoding="utf-8-sig")
    files = sorted(p.name for p in article_folder.glob("*.txt"))
    assert list(dict.fromkeys(rows.article_id)) == files and len(files) >= 20
    for name in files[:5]:
        mine = rows[rows.article_id == name]
        text = (article_folder / name).read_text(encoding="utf-8")
        assert list(mine.paragraph) == split_article(text).paragraphs
    scores = rows[[f"score_{c}" for c in CODES]].to_numpy().ravel()
    assert all(abs(s * 10_000 - round(s * 10_000)) < 1e-6 for s in scores)  # 4 decimals
    assert rows.error.isna().all() and set(rows.model_sha256) == {_sha(model_file)}
    assert {f"why_{c}" for c in CODES} <= set(rows.columns)
    table = pd.read_csv(summary, encoding="utf-8-sig")
    assert list(table.article_id) == files
    assert list(table.paragraphs) == [int((rows.article_id == f).sum()) for f in files]


def test_predict_reads_html_and_globs_and_records_unreadable_files(model_file, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.html").write_text(
        "<html><body><p>UBND tỉnh phê duyệt bảng giá đất giai đoạn 2025 - 2029 áp dụng từ ngày 1/1/2025 trên địa bàn.</p>"
        "<figure><figcaption>Chủ tịch UBND tỉnh phát biểu chỉ đạo tại hội nghị triển khai sáng 3/4.</figcaption>"
        "</figure></body></html>", encoding="utf-8")
    (tmp_path / "in" / "b.txt").write_bytes("Thu ngân sách".encode("utf-16"))
    out = tmp_path / "out.jsonl"
    assert main(["predict", "--input", str(tmp_path / "in" / "*"), "--output", str(out), "--model", str(model_file)]) == 0
    rows = [json.loads(l) for l in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["article_id"], r["paragraph_no"]) for r in rows] == [("a.html", 1), ("b.txt", 0)]
    assert "tai_nguyen_moi_truong" in rows[0]["labels"] and rows[0]["error"] is None
    assert "not UTF-8" in rows[1]["error"]


def test_stdin_to_stdout_with_a_chosen_text_column(model_file):
    lines = [json.dumps({"ma": i, "noi_dung": t}, ensure_ascii=False) for i, t in enumerate([
        "Sở Nội vụ thẩm định đề án sắp xếp, tinh gọn bộ máy các phòng chuyên môn thuộc UBND huyện.",
        "Đội tuyển bóng đá U23 tập luyện trên sân Mỹ Đình chuẩn bị cho trận giao hữu cuối tuần."])]
    proc = subprocess.run([sys.executable, "-m", "sectortag.cli", "predict", "--input", "-", "--output", "-",
                           "--text-column", "noi_dung", "--model", str(model_file)], input="\n".join(lines) + "\n",
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(l) for l in proc.stdout.splitlines()]
    assert [r["ma"] for r in rows] == [0, 1] and "noi_vu" in rows[0]["labels"] and rows[1]["labels"] == []
    assert set(rows[0]) >= {"noi_dung", "labels", "error", "score_noi_vu", "model_version", "model_sha256"}
    assert "tagged 2 rows into standard output" in proc.stderr


def test_a_file_of_whole_articles_with_an_id_column(model_file, tmp_path):
    articles = our_articles(2)
    frame = pd.DataFrame({"doc": list(articles), "body": ["\n".join(r["text"] for r in rs) for rs in articles.values()]})
    frame.to_parquet(tmp_path / "in.parquet")
    out = tmp_path / "out.parquet"
    args = ["predict", "--input", str(tmp_path / "in.parquet"), "--output", str(out), "--model", str(model_file),
            "--articles", "--text-column", "body"]
    assert main(args) == 2  # no 'id' column: one line naming --id-column
    assert main(args + ["--id-column", "doc", "--summary", str(tmp_path / "s.jsonl")]) == 0
    got = pd.read_parquet(out)
    assert list(dict.fromkeys(got.article_id)) == list(articles)


@pytest.mark.parametrize("args, message", [
    (["--summary", "s.csv"], "--summary needs whole articles"),
    (["--excel"], "--excel writes CSV"),
    (["--articles", "--id-column", "text", "--summary", "o.jsonl"], "needs a file of its own"),
])
def test_option_errors_are_one_line(model_file, tmp_path, capsys, args, message):
    inp = tmp_path / "in.jsonl"
    inp.write_text('{"text": "Thu ngân sách đạt 96% dự toán năm."}\n', encoding="utf-8")
    code = main(["predict", "--input", str(inp), "--output", str(tmp_path / "o.jsonl"), "--model", str(model_file),
                 *[str(tmp_path / a) if a.endswith((".csv", ".jsonl")) else a for a in args]])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def _sha(path):
    from sectortag.bundle import file_sha256

    return file_sha256(path)
