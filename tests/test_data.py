import json

import pandas as pd
import pytest

from sectortag.corpus import assign_split, load_labelled
from sectortag.data import iter_chunks, read_file
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


def test_jsonl_with_a_byte_order_mark_and_deep_nesting(tmp_path):
    bom = write(tmp_path / "bom.jsonl", b'\xef\xbb\xbf{"text": "Thu ng\xc3\xa2n s\xc3\xa1ch."}\n', mode="b")
    assert list(read_file(bom).text) == ["Thu ngân sách."]
    deep = write(tmp_path / "deep.jsonl", '{"text": "a", "x": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    with pytest.raises(DataError, match="deep.jsonl:line 1: JSON nested too deeply"):
        read_file(deep)


def test_an_article_never_straddles_two_splits():
    from sectortag.corpus import split_keys

    frame = pd.DataFrame({"id": [f"p{i}" for i in range(300)], "article": [f"a{i // 10}" for i in range(300)]})
    splits = assign_split(split_keys(frame), 15, 15, "salt")
    by_article = {}
    for a, s in zip(frame.article, splits):
        by_article.setdefault(a, set()).add(s)
    assert all(len(s) == 1 for s in by_article.values()) and len({s for v in by_article.values() for s in v}) == 3


def test_the_same_text_with_different_labels_is_refused_in_training(tmp_path):
    from sectortag.corpus import check_conflicts

    write(tmp_path / "a.jsonl", '{"id": "x", "text": "Thu ngân sách tăng.", "labels": ["tai_chinh"]}\n'
                                '{"id": "y", "text": "Thu ngân sách tăng!", "labels": []}\n')
    with pytest.raises(DataError, match="different labels under id 'x'"):
        check_conflicts(load_labelled(["a.jsonl"], tmp_path))


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_output_columns_never_shift_when_input_fields_drift(tmp_path, suffix):
    from sectortag.output import ChunkWriter

    first = pd.DataFrame({"id": ["1", "2"], "text": ["a", "b"], "labels": [[], ["noi_vu"]]})
    reordered = pd.DataFrame({"text": ["c"], "id": ["3"], "labels": [["tai_chinh"]]})
    missing = pd.DataFrame({"text": ["d"], "labels": [[]]})
    out = tmp_path / f"o{suffix}"
    with ChunkWriter(out) as w:
        for chunk in (first, reordered, missing):
            w.write(chunk)
    got = (pd.read_csv(out, dtype=str, keep_default_na=False) if suffix == ".csv" else
           pd.read_json(out, lines=True, dtype=False) if suffix == ".jsonl" else pd.read_parquet(out))
    assert list(got.columns) == ["id", "text", "labels"]
    assert list(got["text"]) == ["a", "b", "c", "d"] and list(got["id"][:3]) == ["1", "2", "3"]
    assert got["id"][3] in ("", None) or pd.isna(got["id"][3])
    extra = pd.DataFrame({"id": ["5"], "text": ["e"], "labels": [[]], "note": ["new"]})
    if suffix == ".jsonl":
        with ChunkWriter(tmp_path / "x.jsonl") as w:
            w.write(first)
            w.write(extra)
        assert json.loads((tmp_path / "x.jsonl").read_text().splitlines()[-1])["note"] == "new"
    else:
        with pytest.raises(DataError, match="field 'note' first appears after row 2"):
            with ChunkWriter(tmp_path / f"x{suffix}") as w:
                w.write(first)
                w.write(extra)
        assert not (tmp_path / f"x{suffix}").exists()


def test_a_csv_encoding_error_names_its_line(tmp_path):
    rows = "id,text\n" + "".join(f"{i},Dòng số {i} của tệp.\n" for i in range(3000))
    path = write(tmp_path / "latin.csv", rows.encode("utf-8") + "3000,caf\xe9\n".encode("latin-1"), mode="b")
    with pytest.raises(DataError, match=r"latin.csv:line 3002: not UTF-8"):
        read_file(path)


def test_parquet_output_refuses_a_later_chunk_of_another_type_in_one_line(tmp_path):
    from sectortag.output import ChunkWriter

    out = tmp_path / "o.parquet"
    with pytest.raises(DataError, match=r"rows 3-3 do not fit the Parquet schema of the first rows"):
        with ChunkWriter(out) as w:
            w.write(pd.DataFrame({"id": [1, 2], "text": ["a", "b"]}))
            w.write(pd.DataFrame({"id": ["x-3"], "text": ["c"]}))
    assert not out.exists()
