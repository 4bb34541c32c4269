"""sectortag.jobs.bench: the parts that are not timing (workload, files, report). Fast: nothing is tokenized."""

import json

import pytest

from sectortag.jobs.baselines import fasttext_line
from sectortag.jobs.bench import peer, report
from sectortag.jobs.bench.workloads import (build_workloads, check_output, distinct_paragraphs, lines_as_paragraphs,
                                             records_file, sample_file, share_repeated)


OWN = [f"đoạn văn số {i} của bộ dữ liệu, đủ dài để là một đoạn" for i in range(30)]
EXTRA = [f"dòng văn bản pháp luật số {i}, cũng đủ dài để là một đoạn" for i in range(200)]


def test_workloads_are_fixed_sized_and_seeded():
    a = build_workloads(OWN, EXTRA, 100, repeat_share=0.2, seed=7)
    b = build_workloads(OWN, EXTRA, 100, repeat_share=0.2, seed=7)
    assert a == b
    assert len(a["distinct"]) == len(a["repeats"]) == 100
    assert len(set(a["distinct"])) == 100 and set(OWN) <= set(a["distinct"])
    assert share_repeated(a["repeats"]) == pytest.approx(0.2, abs=0.01)
    assert len(set(a["repeats"])) == 80 and set(a["repeats"]) <= set(a["distinct"])
    assert not set(a["spare"]) & set(a["distinct"])
    assert a != build_workloads(OWN, EXTRA, 100, repeat_share=0.2, seed=8)


def test_workload_repeats_text_when_there_is_not_enough():
    w = build_workloads(OWN, [], 100)
    assert len(w["distinct"]) == 100 and set(w["distinct"]) == set(OWN)
    assert share_repeated(w["distinct"]) == 0.7


def test_shared_lines_become_paragraphs():
    texts = ["1. Điều khoản đầu tiên đủ dài để được tính là một đoạn văn.\na) ngắn\n  b) Một dòng khác cũng đủ dài để là đoạn.  "]
    assert lines_as_paragraphs(texts) == [
        "1. Điều khoản đầu tiên đủ dài để được tính là một đoạn văn.", "b) Một dòng khác cũng đủ dài để là đoạn."]


def test_sample_file_and_output_check(tmp_path):
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    sample_file(inp, OWN, 50, seed=1)
    rows = [json.loads(l) for l in inp.open(encoding="utf-8")]
    assert [r["id"] for r in rows] == [f"b{i}" for i in range(50)] and {r["text"] for r in rows} <= set(OWN)
    out.write_text("".join(json.dumps({**r, "labels": [], "error": None}) + "\n" for r in rows), encoding="utf-8")
    assert check_output(inp, out)["ok"]
    out.write_text("".join(json.dumps({**r, "error": None}) + "\n" for r in rows[:-1]), encoding="utf-8")
    assert not check_output(inp, out)["ok"]  # a row lost
    out.write_text("".join(json.dumps({**r, "error": None}) + "\n" for r in reversed(rows)), encoding="utf-8")
    assert not check_output(inp, out)["ok"]  # out of order


def test_distinct_paragraphs_never_repeat(tmp_path):
    texts = distinct_paragraphs(OWN + OWN[:5], 75, seed=2)
    assert len(texts) == 75 and len(set(texts)) == 75 and texts == distinct_paragraphs(OWN, 75, seed=2)
    assert set(texts[:30]) == set(OWN) and all(t.startswith(("Mục 2. ", "Mục 3. ")) for t in texts[30:])
    assert distinct_paragraphs(OWN, 10, seed=2) == texts[:10]
    records_file(tmp_path / "r.jsonl", texts[:3])
    assert [json.loads(l) for l in (tmp_path / "r.jsonl").open(encoding="utf-8")] == [
        {"id": f"b{i}", "text": t} for i, t in enumerate(texts[:3])]


def test_fasttext_lines():
    assert fasttext_line("thu ngân_sách", ["tai_chinh", "noi_vu"]) == "__label__tai_chinh __label__noi_vu thu ngân_sách"
    assert fasttext_line("chúc tết", []) == "__label__none chúc tết"


def test_bootstrap_gap():
    codes = ("a", "b")
    truth = [["a"], ["b"], [], ["a", "b"]] * 10
    gap = peer.bootstrap_gap(truth, truth, [[]] * 40, codes, rounds=200)
    assert gap["difference"] == 1.0 and gap["ci95"][0] > 0.5
    assert peer.bootstrap_gap(truth, truth, truth, codes, rounds=50) == {"difference": 0.0, "ci95": [0.0, 0.0]}


def _result(speed_small=1.0):
    rate = lambda n, pps: {"paragraphs": n, "paragraphs_per_s": pps, "median_s": n / pps}  # noqa: E731
    run = lambda n, rss: {"seconds": 100.0, "paragraphs": n, "paragraphs_per_s": n / 100, "peak_rss_mb": rss,  # noqa: E731
                          "peak_rss_tree_mb": rss * 2, "output_check": {"ok": True, "rows_in": n, "rows_out": n}}
    throughput = {"floor_word_tokenize": rate(20000, 500)}
    for p, n1 in (("", 5000), ("word_", 400)):
        throughput.update({f"{p}predict_n1_distinct": rate(20000, n1), f"{p}predict_n1_repeats": rate(20000, n1 * 1.2),
                           f"{p}predict_nall_distinct": rate(20000, n1 * 1.7), f"{p}batch_500_n2": rate(500, n1 * speed_small),
                           f"{p}batch_5000_n2": rate(5000, n1 * 1.7), f"{p}batch_20000_n2": rate(20000, n1 * 1.8),
                           f"{p}classify_from_tokens": rate(20000, 9000)})
    ratios = lambda r1, s: {"predict_n1_distinct_vs_floor": r1, "predict_n1_repeats_vs_floor": r1 * 1.2,  # noqa: E731
                            "speedup_nall": 1.7, "speedup_n2": {"batch_500": speed_small, "batch_5000": s, "batch_20000": 1.8}}
    return {
        "machine": {"cores": 2, "cpu_model": "Test CPU", "python": "3.11", "load_average_at_start": [1.0, 1.0, 1.0],
                    "libraries": {"underthesea": "9.5.0", "scikit-learn": "1.9.1"}},
        "repeats": 3, "n_jobs_minus_1_workers": 2,
        "workload": {"size": 20000, "mean_chars": 190.0},
        "models": {"champion": {"features": "syllable", "word_segmentation": False, "test_macro_f1": 0.87, "what": "shipped"},
                   "word": {"features": "word", "word_segmentation": True, "test_macro_f1": 0.86, "what": "bench"}},
        "throughput": throughput,
        "ratios": {"champion": ratios(10.0, 1.0), "word": ratios(0.8, 1.7)},
        "streaming": {"big": run(200000, 300), "small": run(10000, 280), "rss_ratio": 1.07, "rss_ratio_tree": 1.07},
        "cold_start": {"api": {"median_s": 2.5}, "cli": {"median_s": 2.4}},
        "bundle_mb": 1.2, "train": {"seconds": 20.0, "exit_code": 0, "paragraphs": 2640},
        "peer_fasttext": {"status": "not installed"},
    }


def test_targets_and_markdown():
    r = _result()
    r["targets"] = report.targets(r)
    met = {t["id"]: t["met"] for t in r["targets"]}
    assert met == {"2_no_repeats_champion": True, "2_repeats_champion": True, "3_large_champion": False,
                   "3_small_champion": True, "2_no_repeats_word": False, "2_repeats_word": True, "3_large_word": True,
                   "3_small_word": True, "4_rss": True, "4_rows": True, "5_cold": False, "5_bundle": True,
                   "6_train": True, "7_f1": False}
    md = report.markdown(r)
    assert md.count("\n| (") == 1 + 2 * 6 + 6 and "2 cores (Test CPU)" in md and "not installed" in md
    assert "word-feature model (word features, word segmentation)" in md
    r = _result(speed_small=0.8)
    assert not {t["id"]: t["met"] for t in report.targets(r)}["3_small_word"]
