"""Scoring on a real local Spark (local[2]): row by row the same as `predict_frame`, every row and column kept,
the file job end to end with its one-line errors, the hash check in the workers, and MLflow's spark_udf route."""

import json
import math
import re
import shutil
import warnings

import pandas as pd
import pytest

pytest.importorskip("pyspark", reason="pyspark not installed (the `spark` extra: pip install -e '.[spark]')")
if not shutil.which("java"):
    pytest.skip("Java not found on PATH: Spark needs Java 17 or later", allow_module_level=True)

from conftest import ROOT  # noqa: E402

from sectortag import cli  # noqa: E402
from sectortag.errors import DataError, ModelError  # noqa: E402
from sectortag.model import MAX_CHARS, SectorTagger  # noqa: E402
from sectortag.spark import _job_error, predict_files, score, session, worker_tagger  # noqa: E402

LONG = ("Tỉnh phân bổ vốn đầu tư công cho các dự án giao thông và thu ngân sách vượt dự toán. " * 300)[:25_000]
ODD = [None, "", "   \n\t ", LONG, "!!! ??? ...", "Lễ hội hoa ban khai mạc tối 12/3."]


@pytest.fixture(scope="module")
def spark():
    s = session("local[2]")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def loaded(model_file) -> SectorTagger:
    """The model as the workers load it: from its file (scores match the fitted estimator to ~1e-8 only)."""
    return SectorTagger.load(model_file)


@pytest.fixture(scope="module")
def frame(corpus) -> pd.DataFrame:
    """A few hundred of the project's own paragraphs plus odd rows, with ids."""
    texts = list(corpus.sample(n=300, random_state=3)["text"]) + ODD
    return pd.DataFrame({"id": range(len(texts)), "text": texts, "source": [f"s{i % 7}" for i in range(len(texts))]})


def assert_same_as_predict_frame(got: pd.DataFrame, expected: pd.DataFrame, codes, tolerance: float = 1e-9) -> None:
    """Row by row: labels equal, scores within `tolerance` (missing where the row could not be tagged), error equal."""
    assert len(got) == len(expected)
    for g, e in zip(got.itertuples(index=False), expected.itertuples(index=False)):
        assert list(g.labels) == list(e.labels), g.id
        for code in codes:
            a, b = getattr(g, f"score_{code}"), getattr(e, f"score_{code}")
            assert (a is None or math.isnan(a)) if math.isnan(b) else abs(a - b) <= tolerance, (g.id, code)
        assert (g.error if isinstance(g.error, str) else None) == e.error, g.id


def test_score_matches_predict_frame_row_by_row(spark, frame, model_file, loaded):
    df = spark.createDataFrame(frame, "id long, text string, source string").repartition(5)
    assert df.rdd.getNumPartitions() == 5
    tagged = score(df, str(model_file))
    types = dict(tagged.dtypes)
    assert types["labels"] == "array<string>" and types["error"] == "string"
    assert all(types[f"score_{c}"] == "double" for c in loaded.labels_)
    assert tagged.columns[:3] == ["id", "text", "source"]

    got = tagged.toPandas()
    assert len(got) == len(frame) and sorted(got["id"]) == list(frame["id"])  # rows in = rows out, ids recoverable
    got = got.sort_values("id").reset_index(drop=True)
    assert list(got["source"]) == list(frame["source"]) and list(got["text"].fillna("\0")) == list(frame["text"].fillna("\0"))
    expected = loaded.predict_frame(frame)
    assert_same_as_predict_frame(got, expected, loaded.labels_)
    # the odd rows: missing, blank, whitespace, over-long, symbols only
    errors = dict(zip(got["id"], got["error"]))
    n = len(frame) - len(ODD)
    assert errors[n] == "missing text" and errors[n + 1].startswith("no words") and errors[n + 2].startswith("no words")
    assert errors[n + 3] == f"text longer than {MAX_CHARS} characters: tagged on its start"
    assert got["labels"].map(len).sum() > 50  # the project's paragraphs do get sectors


def test_values_that_are_not_text(spark, model_file):
    """Spark columns are typed: a number or a struct column as the text column gives one error per row."""
    numbers = spark.createDataFrame([(1, 42), (2, None)], "id long, text long")
    got = score(numbers, str(model_file)).orderBy("id").toPandas()
    assert got["error"][0].startswith("not a text:") and got["error"][1] == "missing text"
    assert list(map(list, got["labels"])) == [[], []] and got["score_tai_chinh"].isna().all()

    structs = spark.createDataFrame([(1, ("Tỉnh thu ngân sách vượt dự toán.",))], "id long, text struct<body:string>")
    got = score(structs, str(model_file)).toPandas()
    assert got["error"][0].startswith("not a text:") and list(got["labels"][0]) == []


def test_true_labels_are_kept_and_a_missing_column_is_one_line(spark, model_file):
    df = spark.createDataFrame([(1, "Tỉnh thu ngân sách 9.000 tỷ đồng, vượt dự toán.", ["tai_chinh"], 0.5)],
                               "id long, text string, labels array<string>, score_tai_chinh double")
    got = score(df, str(model_file)).toPandas()
    assert list(got["labels_true"][0]) == ["tai_chinh"] and "tai_chinh" in list(got["labels"][0])
    assert list(got.columns).count("score_tai_chinh") == 1 and got["score_tai_chinh"][0] != 0.5
    with pytest.raises(DataError, match=r"^no column 'body' in the input \(columns: id, text, labels"):
        score(df, str(model_file), text_column="body")


def test_workers_refuse_a_model_file_changed_after_the_driver_read_it(spark, model_file, tmp_path):
    copy = tmp_path / "changed.sectortag"
    shutil.copy(model_file, copy)
    lazy = score(spark.createDataFrame([(1, "Tỉnh giao vốn đầu tư công.")], "id long, text string"), str(copy))
    copy.write_bytes(copy.read_bytes()[:-10] + b"0123456789")  # same size, other bytes
    with pytest.raises(Exception) as failure:
        lazy.collect()
    message = str(_job_error(failure.value))
    assert "\n" not in message and re.search(r"changed\.sectortag: SHA-256 \w+ differs from the trusted record", message)


def write_jsonl(path, frame: pd.DataFrame) -> None:
    with path.open("w", encoding="utf-8") as f:
        for r in frame.to_dict(orient="records"):
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def test_predict_files_jsonl_end_to_end_through_the_cli(spark, frame, corpus, model_file, loaded, tmp_path, capsys):
    sample = corpus.sample(n=150, random_state=5)
    records = pd.DataFrame({"id": [f"r{i}" for i in range(150)], "text": list(sample["text"]),
                            "labels": list(sample["labels"]), "article": [f"a{i // 10}" for i in range(150)]})
    inp, out = tmp_path / "in.jsonl", tmp_path / "tagged"
    write_jsonl(inp, records)
    argv = ["predict", "--engine", "spark", "--input", str(inp), "--output", str(out), "--model", str(model_file)]
    assert cli.main(argv) == 0
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert re.match(r"tagged 150 of 150 rows into .*tagged \(\d+ Parquet parts, Spark local\[2\]\); 0 rows could not", line)
    parts = sorted(out.glob("part-*.parquet"))
    assert len(parts) >= 2 and (out / "_SUCCESS").exists()
    got = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)  # part files in name order = input order
    assert list(got["id"]) == list(records["id"]) and list(got["article"]) == list(records["article"])
    assert [list(x) for x in got["labels_true"]] == [list(x) for x in records["labels"]]
    # files hold scores with 4 decimals, as every sectortag output does
    assert_same_as_predict_frame(got, loaded.predict_frame(records.drop(columns="labels")), loaded.labels_, 5e-5)
    assert set(got.model_sha256) == {loaded.sha256_}
    assert not list(tmp_path.glob(".tagged*"))  # nothing left beside it

    # a second run replaces the earlier Spark output
    before = {p.name for p in parts}
    assert cli.main(argv) == 0
    assert {p.name for p in out.glob("part-*.parquet")}.isdisjoint(before)


def test_predict_files_parquet_folder(spark, frame, model_file, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        frame.iloc[i * 110 : (i + 1) * 110].to_parquet(folder / f"chunk{i}.parquet", index=False)
    (folder / "_SUCCESS").write_text("")  # Spark's marker files are ignored
    result = predict_files(folder, tmp_path / "out", model=str(model_file))
    assert result["rows_in"] == result["rows_out"] == len(frame)
    assert result["error_rows"] == 4  # missing, empty, whitespace-only, and the long text (tagged on its start)
    got = pd.read_parquet(tmp_path / "out")
    assert sorted(got["id"]) == list(frame["id"]) and set(got.columns) >= {"id", "text", "source", "labels", "error"}


def test_file_job_errors_are_one_line(spark, model_file, tmp_path, capsys):
    good = tmp_path / "good.jsonl"
    write_jsonl(good, pd.DataFrame({"id": [1], "text": ["Tỉnh giao vốn đầu tư công."]}))
    no_text = tmp_path / "body.jsonl"
    write_jsonl(no_text, pd.DataFrame({"id": [1], "body": ["Tỉnh giao vốn đầu tư công."]}))
    a_file = tmp_path / "taken"
    a_file.write_text("x")
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    shutil.copy(good, mixed / "a.jsonl")
    (mixed / "b.csv").write_text("text\nx\n")
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    cases = [
        (tmp_path / "missing.jsonl", tmp_path / "o1", r"missing\.jsonl: not found"),
        (no_text, tmp_path / "o2", r"body\.jsonl: no column 'text' \(columns: body, id\)"),
        (good, a_file, r"taken: exists and is a file"),
        (good, other, r"other: the folder exists and is not an earlier Spark output"),
        (mixed, tmp_path / "o3", r"mixed: the folder mixes or holds other files \(csv, json\)"),
        (tmp_path / "article.txt", tmp_path / "o4", r"article\.txt: Spark scoring reads .parquet, .jsonl"),
        (good, tmp_path / "no" / "such" / "out", r"folder .*no/such does not exist"),
    ]
    (tmp_path / "article.txt").write_text("Một bài viết.")
    for inp, out, pattern in cases:
        code = cli.main(["predict", "--engine", "spark", "--input", str(inp), "--output", str(out),
                         "--model", str(model_file)])
        err = capsys.readouterr().err.strip()
        assert code == 2 and len(err.splitlines()) == 1, err
        assert err.startswith("sectortag predict: error: ") and re.search(pattern, err), err
    assert (other / "keep.txt").read_text() == "mine" and a_file.read_text() == "x"


@pytest.mark.slow
def test_registry_models_and_mlflow_spark_udf(spark, project):
    """Train into a throw-away store; score with models:/…; MLflow's spark_udf gives labels as array<string>
    with no result_type given; a worker refuses a registry model whose hash is not the one the job started with."""
    import mlflow

    from sectortag.jobs.train import train

    train("training/config.toml")
    champion = SectorTagger.load("models:/sectortag@champion")
    texts = ["Tỉnh thu ngân sách 9.000 tỷ đồng, vượt dự toán.", "Huyện thu hồi 38 ha đất để giải phóng mặt bằng.",
             "Lễ hội hoa ban khai mạc tối 12/3."]
    df = spark.createDataFrame([(i, t) for i, t in enumerate(texts)], "id long, text string")
    expected = champion.predict(texts)

    got = score(df, "models:/sectortag@champion").orderBy("id").toPandas()
    assert [list(x) for x in got["labels"]] == expected

    tagger = worker_tagger("models:/sectortag@champion", champion.sha256_, mlflow.get_tracking_uri())
    assert tagger.predict(texts) == expected and tagger.n_jobs == 1
    with pytest.raises(ModelError, match="now points to another model"):
        worker_tagger("models:/sectortag@champion", "0" * 64, mlflow.get_tracking_uri())

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        udf = mlflow.pyfunc.spark_udf(spark, "models:/sectortag@champion")
        out = df.withColumn("tags", udf("text"))
        assert dict(out.dtypes)["tags"].startswith("struct<labels:array<string>,score_")
        rows = out.orderBy("id").select("tags.labels", "tags.error").collect()
    assert [list(r["labels"]) for r in rows] == expected and [r["error"] for r in rows] == [None, None, None]


def test_readme_spark_example_runs(spark, model_file, tmp_path, monkeypatch, capsys):
    """The README's Spark example, as written, in this process (its session() returns the running one)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = next(b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "sectortag.spark" in b)
    (tmp_path / "training").mkdir()  # a project of its own, whose champion is the test's model
    shutil.copy(ROOT / "training" / "config.toml", tmp_path / "training")
    (tmp_path / "models").mkdir()
    shutil.copy(model_file, tmp_path / "models" / "champion.sectortag")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SECTORTAG_MODEL", raising=False)
    monkeypatch.delenv("SECTORTAG_HOME", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    exec(compile(example, "README.md", "exec"), {})
    assert "ke_hoach_dau_tu" in capsys.readouterr().out
