import json

import pandas as pd
import pytest

from sectortag.data import assign_split, iter_chunks, load_labelled, read_file
from sectortag.errors import DataError


def write(path, text, mode="w"):
    path.write_text(text, encoding="utf-8") if mode == "w" else path.write_bytes(text)
    return path


def test_reads_jsonl_csv_parquet_txt(tmp_path):
    rows = [{"id": "a", "text": "Thu ngân sách tăng 12%.", "labels": ["tai_chinh"], "note": "x"},
            {"id": "b", "text": "Khai mạc hội chợ.", "labels": []}]
    j = write(tmp_path / "d.jsonl", "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    frame = read_file(j, labelled=True)
    assert list(frame.labels) == [["tai_chinh"], []] and frame.loc[0, "note"] == "x"

    c = write(tmp_path / "d.csv", "id,text,labels\na,Thu ngân sách tăng.,tai_chinh;noi_vu\nb,Khai mạc hội chợ.,\n")
    assert list(read_file(c, labelled=True).labels) == [["tai_chinh", "noi_vu"], []]

    p = tmp_path / "d.parquet"
    pd.DataFrame({"text": ["Tuyển dụng công chức."], "labels": [["noi_vu"]]}).to_parquet(p)
    assert list(read_file(p, labelled=True).labels) == [["noi_vu"]]

    t = write(tmp_path / "a.txt", "Tiêu đề\n\nĐây là đoạn thân bài thứ nhất, đủ dài để được giữ lại.\nĐọc thêm\n")
    assert list(read_file(t).text) == ["Đây là đoạn thân bài thứ nhất, đủ dài để được giữ lại."]


def test_chunks_keep_order(tmp_path):
    j = write(tmp_path / "d.jsonl", "".join(json.dumps({"text": f"đoạn {i}"}) + "\n" for i in range(25)))
    chunks = list(iter_chunks(j, chunk_size=10))
    assert [len(c) for c in chunks] == [10, 10, 5]
    assert [t for c in chunks for t in c.text] == [f"đoạn {i}" for i in range(25)]


@pytest.mark.parametrize("name,content,message", [
    ("broken.jsonl", '{"text": "a"}\n{"text": "b"\n', r"broken.jsonl:line 2: broken JSON"),
    ("nolabel.jsonl", '{"text": "a", "labels": ["y_te"]}\n', r"line 1: unknown label code 'y_te'"),
    ("notext.jsonl", '{"body": "a"}\n', r"line 1: missing field 'text'"),
    ("nocol.csv", "body\nabc\n", r"nocol.csv: no 'text' field"),
    ("empty.jsonl", "", r"empty.jsonl: file is empty"),
    ("data.xlsx", "x", r"unknown file type"),
])
def test_bad_files_name_the_problem(tmp_path, name, content, message):
    path = write(tmp_path / name, content)
    with pytest.raises(DataError, match=message):
        read_file(path)


def test_non_utf8_and_missing(tmp_path):
    path = write(tmp_path / "latin.jsonl", '{"text": "caf\xe9"}\n'.encode("latin-1"), mode="b")
    with pytest.raises(DataError, match=r"latin.jsonl:line 1: not UTF-8"):
        read_file(path)
    with pytest.raises(DataError, match="file not found"):
        read_file(tmp_path / "nope.jsonl")


def test_parquet_wrong_column_type(tmp_path):
    p = tmp_path / "n.parquet"
    pd.DataFrame({"text": [1, 2]}).to_parquet(p)
    with pytest.raises(DataError, match="column 'text' has type int64"):
        read_file(p)


def test_split_is_deterministic_and_stable():
    ids = [f"r{i}" for i in range(3000)]
    first = assign_split(ids, 15, 15, "salt")
    assert first == assign_split(ids, 15, 15, "salt")
    assert assign_split(ids[:100] + ["new-1", "new-2"], 15, 15, "salt")[:100] == first[:100]
    shares = {s: first.count(s) / len(first) for s in ("train", "dev", "test")}
    assert 0.66 < shares["train"] < 0.74 and 0.12 < shares["dev"] < 0.18 and 0.12 < shares["test"] < 0.18


def test_duplicate_ids_are_refused(tmp_path):
    write(tmp_path / "a.jsonl", '{"id": "x", "text": "a", "labels": []}\n{"id": "x", "text": "b", "labels": []}\n')
    with pytest.raises(DataError, match="duplicate id 'x'"):
        load_labelled(["*.jsonl"], tmp_path)
