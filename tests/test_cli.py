"""The `sectortag` command end to end, in a subprocess as a user runs it."""

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
def model_path(tagger, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "m.joblib"
    tagger.save(path)
    return path


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

    strict = run("predict", "--input", str(inp), "--output", str(tmp_path / "s.csv"), "--model", str(model_path), "--strict")
    assert strict.returncode == 1
    frame = pd.read_csv(tmp_path / "s.csv")
    assert len(frame) == 3 and "score_tai_chinh" in frame.columns

    article = tmp_path / "a.txt"
    article.write_text("Tiêu đề bài\n\nUBND tỉnh phê duyệt bảng giá đất giai đoạn 2025 - 2029 áp dụng từ ngày 1/1.\n"
                       "Đọc thêm\n", encoding="utf-8")
    proc = run("predict", "--input", str(article), "--output", str(tmp_path / "a.parquet"), "--model", str(model_path))
    assert proc.returncode == 0, proc.stderr
    assert len(pd.read_parquet(tmp_path / "a.parquet")) == 1


def test_evaluate_json(model_path, tmp_path):
    data = tmp_path / "gold.jsonl"
    data.write_text(
        json.dumps({"text": "Cục Thuế tỉnh thu nội địa đạt 7.000 tỷ đồng.", "labels": ["tai_chinh"]}, ensure_ascii=False)
        + "\n" + json.dumps({"text": "Đội bóng tỉnh giành cúp.", "labels": []}, ensure_ascii=False) + "\n",
        encoding="utf-8")
    proc = run("evaluate", "--data", str(data), "--model", str(model_path), "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert set(result) == {"n", "micro_f1", "macro_f1", "subset_accuracy", "per_label"} and result["n"] == 2
    assert set(result["per_label"]["tai_chinh"]) == {"precision", "recall", "f1", "support"}


def test_errors_are_one_line_and_exit_non_zero(model_path, tmp_path):
    broken = tmp_path / "b.jsonl"
    broken.write_text('{"text": "a"}\n{oops\n', encoding="utf-8")
    proc = run("predict", "--input", str(broken), "--output", str(tmp_path / "o.jsonl"), "--model", str(model_path))
    assert proc.returncode == 2 and "b.jsonl:line 2: broken JSON" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "o.jsonl").exists()
    proc = run("predict", "--input", str(tmp_path / "none.jsonl"), "--output", str(tmp_path / "o.jsonl"),
               "--model", str(model_path))
    assert proc.returncode == 2 and "file not found" in proc.stderr
    proc = run("evaluate", "--data", str(broken), "--model", str(tmp_path / "missing.joblib"))
    assert proc.returncode == 2 and "model file not found" in proc.stderr and "Traceback" not in proc.stderr
