"""Training runs against a real temporary MLflow SQLite store: params, metrics, artifacts, versions, aliases."""

import json
import os
import subprocess
import sys

import mlflow
import pytest
from mlflow import MlflowClient

from sectortag import SectorTagger
from sectortag.errors import ConfigError
from sectortag.train import train


@pytest.mark.slow
def test_runs_versions_and_the_champion_rule(project):
    first = train("training/config.toml")
    assert (first.version, first.alias, first.previous_champion) == ("1", "champion", None)
    champion_file = project / "models" / "champion.joblib"
    before = champion_file.read_bytes()

    client = MlflowClient()
    run = client.get_run(first.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["model.C"] == "8.0" and run.data.params["split.salt"] == "sectortag-split-v1"
    for key in ("dev_macro_f1", "test_micro_f1", "test_noi_vu_f1", "dev_tai_chinh_precision"):
        assert 0 <= run.data.metrics[key] <= 1
    artifacts = {a.path for a in client.list_artifacts(first.run_id)}
    assert {"classification_report.json", "thresholds.json", "dataset_summary.json"} <= artifacts

    # a clearly worse configuration becomes the challenger; the champion and its file stay put
    worse = train("training/config.toml", overrides={"model.max_features": 15})
    assert worse.metrics["test"]["macro_f1"] < first.metrics["test"]["macro_f1"]
    assert (worse.version, worse.alias) == ("2", "challenger")
    assert str(client.get_model_version_by_alias("sectortag", "champion").version) == "1"
    assert str(client.get_model_version_by_alias("sectortag", "challenger").version) == "2"
    assert champion_file.read_bytes() == before

    # the champion from the registry predicts like the file, and its hash is checked
    texts = ["Tỉnh giao 1.200 tỷ đồng vốn đầu tư công cho các huyện.", "Lễ khai mạc lễ hội hoa ban."]
    from_registry = SectorTagger.load("models:/sectortag@champion")
    assert from_registry.predict(texts) == SectorTagger.load(champion_file).predict(texts)
    assert from_registry.bundle_sha256_ == client.get_model_version("sectortag", "1").tags["bundle_sha256"]

    # the pyfunc loads and predicts in a fresh Python process
    code = (
        "import mlflow, pandas as pd, json;"
        "m = mlflow.pyfunc.load_model('models:/sectortag@champion');"
        "out = m.predict(pd.DataFrame({'text': ['Tỉnh thu ngân sách 9.000 tỷ đồng, vượt dự toán.', None]}));"
        "print(json.dumps({'labels': [list(l) for l in out['labels']], 'columns': list(out.columns), 'error': list(out['error'])}))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ.copy(), timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["columns"][0] == "labels" and "score_tai_chinh" in result["columns"]
    assert "tai_chinh" in result["labels"][0] and result["labels"][1] == []
    assert result["error"] == ["", "missing text"]


def test_failed_run_is_marked_failed_and_changes_nothing(project, monkeypatch):
    import sectortag.tracking as tracking

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(tracking, "log_pyfunc", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        train("training/config.toml")
    runs = MlflowClient().search_runs([mlflow.get_experiment_by_name("sectortag").experiment_id])
    assert [r.info.status for r in runs] == ["FAILED"]
    assert MlflowClient().search_registered_models() == []
    assert not (project / "models" / "champion.joblib").exists()


def test_config_label_set_must_match(project):
    path = project / "training" / "config.toml"
    path.write_text(path.read_text().replace('"noi_vu"]', '"y_te"]'), encoding="utf-8")
    with pytest.raises(ConfigError, match="differ from the sector set"):
        train(path)
