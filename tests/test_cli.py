"""The `sectortag` command end to end: one subprocess run as a user runs it, the rest through `cli.main`."""

import json
import subprocess
import sys

import pandas as pd
import pytest

from conftest import ROOT


def run(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "sectortag.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=600)


@pytest.fixture(scope="module")
def model_path(model_file):
    return model_file


def main(*args, capsys=None):
    from sectortag.cli import main as cli_main

    code = cli_main([str(a) for a in args])
    return code


def test_predict_round_trip_jsonl_csv_txt(model_path, tmp_path):
    rows = [{"id": i, "text": t, "source": "x"} for i, t in enumerate([
        "Tỉnh đã giải ngân 5.400 tỷ đồng vốn đầu tư công, đạt 61% kế hoạch.",
        "",
        "Sở Nội vụ thẩm định đề án sáp nhập các phòng chuyên môn thuộc UBND huyện.",
    ])]
    inp = tmp_path / "in.jsonl"
    inp.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    proc = run("predict", "--input", str(inp), "--output", str(out), "--model", str(model_path), "--chunk-size", "2")
    assert proc.returncode == 0, proc.stderr
    assert "1 rows could not be tagged" in proc.stderr
    got = [json.loads(l) for l in out.read_text(encoding="utf-8").splitlines()]
    assert [g["id"] for g in got] == [0, 1, 2] and all(g["source"] == "x" for g in got)
    assert "ke_hoach_dau_tu" in got[0]["labels"] and got[1]["labels"] == [] and got[1]["error"]
    assert "noi_vu" in got[2]["labels"] and got[2]["score_noi_vu"] > 0.5

    assert main("predict", "--input", inp, "--output", tmp_path / "s.csv", "--model", model_path, "--strict") == 1
    frame = pd.read_csv(tmp_path / "s.csv")
    assert len(frame) == 3 and "score_tai_chinh" in frame.columns

    article = tmp_path / "a.txt"
    article.write_text("Tiêu đề bài\n\nUBND tỉnh phê duyệt bảng giá đất giai đoạn 2025 - 2029 áp dụng từ ngày 1/1.\n"
                       "Đọc thêm\n", encoding="utf-8")
    assert main("predict", "--input", article, "--output", tmp_path / "a.parquet", "--model", model_path) == 0
    assert len(pd.read_parquet(tmp_path / "a.parquet")) == 1


def test_evaluate_json(model_path, tmp_path, capsys):
    data = tmp_path / "gold.jsonl"
    data.write_text(
        json.dumps({"text": "Cục Thuế tỉnh thu nội địa đạt 7.000 tỷ đồng.", "labels": ["tai_chinh"]}, ensure_ascii=False)
        + "\n" + json.dumps({"text": "Đội bóng tỉnh giành cúp.", "labels": []}, ensure_ascii=False) + "\n",
        encoding="utf-8")
    assert main("evaluate", "--data", data, "--model", model_path, "--json") == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"n", "micro_f1", "macro_f1", "subset_accuracy", "false_tag_rate", "per_label"}
    assert result["n"] == 2 and 0 <= result["false_tag_rate"] <= 1
    assert set(result["per_label"]["tai_chinh"]) == {"precision", "recall", "f1", "support"}


def test_errors_are_one_line_and_exit_non_zero(model_path, tmp_path, capsys):
    broken = tmp_path / "b.jsonl"
    broken.write_text('{"text": "a"}\n{oops\n', encoding="utf-8")
    good = tmp_path / "g.jsonl"
    good.write_text('{"text": "Thu ngân sách tăng 12%.", "labels": ["tai_chinh"]}\n', encoding="utf-8")
    cases = [
        (("predict", "--input", broken, "--output", tmp_path / "o.jsonl"), "b.jsonl:line 2: broken JSON"),
        (("predict", "--input", tmp_path / "none.jsonl", "--output", tmp_path / "o.jsonl"), "file not found"),
        (("predict", "--input", good, "--output", good), "would overwrite the input"),
        (("predict", "--input", good, "--output", tmp_path), "is a folder"),
        (("predict", "--input", good, "--output", tmp_path / "o.jsonl", "--chunk-size", "0"), "--chunk-size 0"),
        (("evaluate", "--data", broken, "--model", tmp_path / "missing.sectortag"), "model file not found"),
    ]
    for args, message in cases:
        extra = ("--model", model_path) if args[0] == "predict" else ()
        assert main(*args, *extra) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o.jsonl").exists()


def test_retagging_a_tagged_file_keeps_the_true_labels(model_path, tmp_path):
    src = tmp_path / "gold.jsonl"
    src.write_text('{"id": 1, "text": "Cục Thuế thu nội địa đạt 7.000 tỷ đồng.", "labels": ["tai_chinh"]}\n', encoding="utf-8")
    assert main("predict", "--input", src, "--output", tmp_path / "once.jsonl", "--model", model_path) == 0
    assert main("predict", "--input", tmp_path / "once.jsonl", "--output", tmp_path / "twice.jsonl", "--model", model_path) == 0
    once, twice = (json.loads((tmp_path / f).read_text(encoding="utf-8")) for f in ("once.jsonl", "twice.jsonl"))
    assert once["labels_true"] == twice["labels_true"] == ["tai_chinh"] and once["labels"] == twice["labels"]
    assert list(twice) == list(once)


def test_predict_explain_names_the_terms_behind_each_predicted_sector(model_path, tmp_path):
    from sectortag.text import tokenize

    texts = ["Cục Thuế tỉnh cho biết thu ngân sách nhà nước năm nay vượt 9% dự toán được giao.",
             "Chiều 2/2, đoàn công tác đã đến thăm, chúc Tết các gia đình chính sách."]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n" for i, t in enumerate(texts)),
                   encoding="utf-8")
    assert main("predict", "--input", src, "--output", tmp_path / "o.jsonl", "--model", model_path, "--explain") == 0
    rows = [json.loads(l) for l in (tmp_path / "o.jsonl").read_text(encoding="utf-8").splitlines()]
    assert "tai_chinh" in rows[0]["labels"] and rows[1]["labels"] == []
    why = rows[0]["why_tai_chinh"]
    terms = [part.rsplit(" (", 1)[0] for part in why.split(", ")]
    seen = tokenize(texts[0]).lower().replace("_", " ")
    assert terms and all(term in seen for term in terms) and "(+" in why
    assert all(rows[1][f"why_{c}"] is None for c in ("tai_chinh", "noi_vu"))  # no sector predicted, no reason given
