"""Model management: `sectortag models list | show | promote`, the champion file agreeing with the registry's
alias, the project found from any folder, and the message before any model is trained."""

import json
import warnings

import pytest

from sectortag.bundle import file_sha256
from sectortag.cli import main
from sectortag.errors import ModelError, ModelMismatchWarning
from sectortag.jobs.train import train
from sectortag.model import SectorTagger


def _alias(name="champion"):
    from mlflow import MlflowClient

    return MlflowClient().get_model_version_by_alias("sectortag", name)


def test_list_show_promote_and_load_agree(project, capsys):
    first = train("training/config.toml")
    worse = train("training/config.toml", overrides={"model.max_features": 15})
    assert (first.alias, worse.alias) == ("champion", "challenger")
    assert main(["models", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(r["version"], r["aliases"]) for r in listed] == [(worse.version, ["challenger"]), (first.version, ["champion"])]
    assert all(len(r["sha256"]) == 64 and "test_macro_f1" in r["metrics"] for r in listed)

    assert main(["models", "promote", worse.version]) == 0
    assert f"version {worse.version} is now the champion (was {first.version}" in capsys.readouterr().out
    assert main(["models", "list", "--json"]) == 0
    assert [r["aliases"] for r in json.loads(capsys.readouterr().out)] == [["champion"], []]  # no longer challenger
    champion = _alias()
    assert str(champion.version) == worse.version and champion.tags["promoted_from"] == first.version
    path = project / "models" / "champion.sectortag"
    assert file_sha256(path) == champion.tags["model_sha256"]
    tagger = SectorTagger.load()
    assert tagger.provenance() == {"model_version": worse.version, "model_sha256": champion.tags["model_sha256"]}

    assert main(["models", "show", worse.version]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["champion_file_is_this"] and shown["tags"]["promoted_from"] == first.version

    # the alias moved behind the file's back (MLflow UI, another machine): load says so and uses the alias
    from mlflow import MlflowClient

    MlflowClient().set_registered_model_alias("sectortag", "champion", first.version)
    with pytest.warns(ModelMismatchWarning, match=f"registry's champion is version {first.version}"):
        tagger = SectorTagger.load()
    assert tagger.provenance()["model_version"] == first.version
    assert file_sha256(path) == _alias().tags["model_sha256"]  # the file was refreshed
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SectorTagger.load()  # now they agree: no warning


def test_promote_refuses_unknown_versions_in_one_line(project, capsys):
    train("training/config.toml")
    capsys.readouterr()  # MLflow's own registration lines
    assert main(["models", "promote", "7"]) == 2
    err = capsys.readouterr().err.strip()
    assert "no version 7 of 'sectortag'" in err and len(err.splitlines()) == 1


def test_before_any_training_load_and_predict_say_to_run_make_train(project, tmp_path, capsys):
    with pytest.raises(ModelError, match="no trained model: run `make train`"):
        SectorTagger.load()
    inp = tmp_path / "in.jsonl"
    inp.write_text('{"text": "Thu ngân sách đạt 96% dự toán năm."}\n', encoding="utf-8")
    assert main(["predict", "--input", str(inp), "--output", str(tmp_path / "o.jsonl")]) == 2
    err = capsys.readouterr().err.strip()
    assert "no trained model: run `make train`" in err and len(err.splitlines()) == 1


def test_works_from_any_folder_without_a_stray_store(project, tmp_path_factory, monkeypatch, capsys):
    train("training/config.toml")
    capsys.readouterr()
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("MLFLOW_TRACKING_URI")  # the project's own mlflow.db is found through the home
    monkeypatch.setenv("SECTORTAG_HOME", str(project))
    inp = elsewhere / "in.jsonl"
    inp.write_text('{"text": "Thu ngân sách đạt 96% dự toán năm."}\n', encoding="utf-8")
    assert main(["predict", "--input", "in.jsonl", "--output", "out.jsonl"]) == 0
    assert main(["models", "list"]) == 0
    monkeypatch.delenv("MLFLOW_TRACKING_URI")  # each command as a new process would start
    assert main(["models", "show", "1"]) == 0
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert main(["models", "promote", "1"]) == 0
    assert sorted(p.name for p in elsewhere.iterdir()) == ["in.jsonl", "out.jsonl"]  # no mlflow.db, no mlruns
    assert json.loads((elsewhere / "out.jsonl").read_text(encoding="utf-8"))["model_version"] == "1"
    monkeypatch.setenv("SECTORTAG_HOME", str(elsewhere))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)  # set by the commands above, as for their subprocesses
    assert main(["models", "list"]) == 2
    assert "SECTORTAG_HOME" in capsys.readouterr().err


def test_version_flag(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith("sectortag 0.")
