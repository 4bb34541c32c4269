"""Training runs against a real temporary MLflow SQLite store: params, metrics, artifacts, versions, aliases,
the champion rule, concurrent trainings, a replaced registry artifact and an unreachable server."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient

from sectortag import ModelError, SectorTagger
from sectortag.errors import ConfigError, SectorTagError
from sectortag.jobs.train import train

TRAIN = [sys.executable, "-m", "sectortag.cli", "train"]


@pytest.mark.slow
def test_runs_versions_and_the_champion_rule(project):
    first = train("training/config.toml")
    assert (first.version, first.alias, first.previous_champion) == ("1", "champion", None)
    champion_file = project / "models" / "champion.sectortag"
    before = champion_file.read_bytes()

    client = MlflowClient()
    run = client.get_run(first.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["model.C"] == "8.0" and run.data.params["split.salt"] == "sectortag-split-v1"
    for key in ("dev_macro_f1", "test_micro_f1", "test_noi_vu_f1", "dev_tai_chinh_precision", "dev_selection_macro_f1"):
        assert 0 <= run.data.metrics[key] <= 1
    artifacts = {a.path for a in client.list_artifacts(first.run_id)}
    assert {"classification_report.json", "thresholds.json", "dataset_summary.json"} <= artifacts

    # a clearly worse configuration becomes the challenger; the champion and its file stay put
    worse = train("training/config.toml", overrides={"model.max_features": 15})
    assert worse.score < first.score
    assert (worse.version, worse.alias) == ("2", "challenger")
    assert str(client.get_model_version_by_alias("sectortag", "champion").version) == "1"
    assert champion_file.read_bytes() == before

    # an identical retrain ties at full precision and becomes champion
    again = train("training/config.toml")
    assert again.score == first.score and again.alias == "champion" and again.previous_champion == first.score

    # the champion from the registry predicts like the file, and its hash is the one recorded
    texts = ["Tỉnh giao 1.200 tỷ đồng vốn đầu tư công cho các huyện.", "Lễ khai mạc lễ hội hoa ban."]
    import tempfile

    before_tmp = set(Path(tempfile.gettempdir()).glob("sectortag-*"))
    from_registry = SectorTagger.load("models:/sectortag@champion")
    assert set(Path(tempfile.gettempdir()).glob("sectortag-*")) == before_tmp  # nothing left in /tmp by a load
    assert from_registry.predict(texts) == SectorTagger.load(champion_file).predict(texts)
    assert from_registry.sha256_ == client.get_model_version("sectortag", again.version).tags["model_sha256"]

    # the pyfunc loads and predicts in a fresh Python process, with array<string> labels in its signature
    code = (
        "import mlflow, pandas as pd, json;"
        "m = mlflow.pyfunc.load_model('models:/sectortag@champion');"
        "out = m.predict(pd.DataFrame({'text': ['Tỉnh thu ngân sách 9.000 tỷ đồng, vượt dự toán.', None]}));"
        "sig = m.metadata.signature.outputs.to_dict();"
        "print(json.dumps({'labels': [list(l) for l in out['labels']], 'columns': list(out.columns), "
        "'error': list(out['error']), 'labels_type': sig[0]['type'], 'version': list(out['model_version']), "
        "'sha': list(out['model_sha256']), 'score_missing': out['score_tai_chinh'][1]}))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ.copy(), timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["columns"][0] == "labels" and "score_tai_chinh" in result["columns"]
    assert "tai_chinh" in result["labels"][0] and result["labels"][1] == []
    assert result["error"] == [None, "missing text"] and result["labels_type"] == "array"
    assert result["score_missing"] is None  # null, not NaN: the output is valid JSON
    champion = client.get_model_version_by_alias("sectortag", "champion")
    assert result["version"] == [str(champion.version)] * 2 and result["sha"] == [champion.tags["model_sha256"]] * 2


def test_a_replaced_registry_artifact_is_refused(project, model_file):
    train("training/config.toml")
    client = MlflowClient()
    version = client.get_model_version("sectortag", "1")
    stored = Path(mlflow.artifacts.download_artifacts(f"models:/sectortag/1", dst_path=str(project / "peek")))
    stored_model = next(stored.rglob("sectortag.model"))
    # replace the artifact in the store itself, as an attacker with write access would
    source = Path(version.source.replace("file://", "")) if version.source.startswith("file://") else None
    store_files = list((project / "mlruns").rglob("sectortag.model")) + list(project.rglob("artifacts/**/sectortag.model"))
    targets = [p for p in store_files if "peek" not in p.parts and "cache" not in p.parts]
    assert targets, f"no stored model file found (source {source})"
    for t in targets:  # a genuine sectortag model, but not the one that was registered
        t.write_bytes(model_file.read_bytes())
    assert stored_model.read_bytes() != targets[0].read_bytes()
    import shutil

    shutil.rmtree(project / "cache", ignore_errors=True)  # verified local copies are reused; start without one
    with pytest.raises(ModelError, match="does not match the SHA-256 recorded at registration"):
        SectorTagger.load("models:/sectortag@champion")


def _run_two(project, args_a, args_b):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    procs = [subprocess.Popen(TRAIN + a, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for a in (args_a, args_b)]
    outs = [p.communicate(timeout=600) for p in procs]
    return [(p.returncode, o[1]) for p, o in zip(procs, outs)]


@pytest.mark.slow
@pytest.mark.parametrize("existing", [False, True])
def test_two_trainings_at_once(project, existing):
    if existing:
        train("training/config.toml", overrides={"model.max_features": 15})
    results = _run_two(project, [], ["--set", "model.max_features=30"])
    assert all(code == 0 for code, _ in results), results
    client = MlflowClient()
    versions = sorted(int(v.version) for v in client.search_model_versions("name='sectortag'"))
    assert versions == list(range(1, len(versions) + 1)) and len(versions) == (3 if existing else 2)
    champion = client.get_model_version_by_alias("sectortag", "champion")
    scores = {v.version: float(v.tags["dev_selection_macro_f1"]) for v in client.search_model_versions("name='sectortag'")}
    assert scores[champion.version] == max(scores.values())
    assert SectorTagger.load(project / "models" / "champion.sectortag").sha256_ == champion.tags["model_sha256"]


def test_a_stale_champion_file_is_repaired(project):
    first = train("training/config.toml")
    champion = project / "models" / "champion.sectortag"
    good = champion.read_bytes()
    champion.write_bytes(b"stale")
    from sectortag import registry

    assert registry.sync_champion_file("sectortag", champion) is True
    assert champion.read_bytes() == good and first.alias == "champion"


def test_failed_run_is_marked_failed_and_changes_nothing(project, monkeypatch):
    import sectortag.registry as registry

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(registry, "log_pyfunc", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        train("training/config.toml")
    runs = MlflowClient().search_runs([mlflow.get_experiment_by_name("sectortag").experiment_id])
    assert [r.info.status for r in runs] == ["FAILED"]
    assert MlflowClient().search_registered_models() == []
    assert not (project / "models" / "champion.sectortag").exists()


def test_bad_settings_fail_before_any_run(project):
    for overrides, message in [({"model.Cc": 1}, "unknown key 'Cc'"), ({"model.C": -1}, "'C' parameter"),
                               ({"model.C": "eight"}, "'C' parameter"), ({"nosuch.key": 1}, "unknown setting"),
                               ({"model.C": float("nan")}, "finite number")]:
        with pytest.raises(ConfigError, match=message):
            train("training/config.toml", overrides=overrides)
    assert not (project / "mlflow.db").exists()
    path = project / "training" / "config.toml"
    path.write_text(path.read_text().replace('"noi_vu"]', '"y_te"]'), encoding="utf-8")
    with pytest.raises(ConfigError, match="differ from the sectors"):
        train(path)


def test_an_unreachable_server_fails_in_seconds(project, monkeypatch):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{port}")
    start = time.perf_counter()
    with pytest.raises(SectorTagError, match=f"127.0.0.1:{port} does not answer"):
        train("training/config.toml")
    with pytest.raises(SectorTagError, match="does not answer"):
        SectorTagger.load(f"models:/sectortag@champion")
    assert time.perf_counter() - start < 30


@pytest.mark.slow
@pytest.mark.parametrize("point", ["before-register", "registered", "after-alias"])
def test_a_training_killed_at_each_step_leaves_a_consistent_registry(project, point):
    """kill -9 at a named point: the alias is the commit point, no version lacks its hash, the champion file is
    brought in line by the next run, the killed run is closed, and no temporary file is left behind."""
    import signal
    import tempfile

    first = train("training/config.toml")
    env = {**os.environ, "SECTORTAG_PAUSE_AT": point, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.Popen(TRAIN, cwd=project, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    for line in proc.stderr:
        if f"paused at {point}" in line:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    client = MlflowClient()
    versions = client.search_model_versions("name='sectortag'")
    assert all(v.tags.get("model_sha256") for v in versions)  # never a version without its hash
    champion = client.get_model_version_by_alias("sectortag", "champion")
    expected_version = "2" if point == "after-alias" else first.version
    assert str(champion.version) == expected_version
    later = train("training/config.toml")  # repairs the champion file and closes the killed run
    runs = client.search_runs([mlflow.get_experiment_by_name("sectortag").experiment_id])
    assert not [r for r in runs if r.info.status == "RUNNING"]
    champion = client.get_model_version_by_alias("sectortag", "champion")
    assert SectorTagger.load(project / "models" / "champion.sectortag").sha256_ == champion.tags["model_sha256"]
    assert not list(Path(tempfile.gettempdir()).glob(f"sectortag-train-{proc.pid}-*"))
    assert not list((project / "models").glob(".*.tmp")) and later.alias in ("champion", "challenger")
