"""The shared MLflow server on a real PostgreSQL (`sectortag.jobs.server`): two trainings from two machines at
once, a server killed in the middle of a training, and loading the champion from the server.

One PostgreSQL cluster and one MLflow server for the module, on free loopback ports in a temporary folder,
started and stopped by the module's own functions. Each test uses its own registered model and experiment.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient

from conftest import write_project
from sectortag import SectorTagger
from sectortag.errors import SectorTagError
from sectortag.jobs import server

TRAIN = [sys.executable, "-m", "sectortag.cli", "train"]
QUIET = lambda s: None  # noqa: E731


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def mlflow_server():
    """(folder, state) of a running server; stopped at the end, also when a test or the start failed."""
    try:
        server.pg_bin()
    except SectorTagError as e:
        pytest.skip(str(e))
    # not pytest's tmp folder: it is private to the user running the tests, and PostgreSQL runs as `postgres`
    # under root
    base = Path(tempfile.mkdtemp(prefix="sectortag-server-"))
    base.chmod(0o755)
    folder = base / "server"
    try:
        state = server.start(folder, port=_free_port(), pg_port=_free_port(), say=QUIET)
        yield folder, state
    finally:
        server.stop(folder, say=QUIET)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture()
def on_server(mlflow_server, tmp_path, corpus, monkeypatch):
    """A throw-away project whose MLflow is the module's server; returns the project folder."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server[1].uri)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("SECTORTAG_MODEL", raising=False)
    project = write_project(tmp_path / "project", corpus, n=400)
    monkeypatch.chdir(project)
    return project


def _names(name: str) -> list[str]:
    return ["--set", f"tracking.registered_model={name}", "--set", f"tracking.experiment={name}"]


def _runs(experiment: str):
    return MlflowClient().search_runs([mlflow.get_experiment_by_name(experiment).experiment_id])


@pytest.mark.slow
def test_two_trainings_from_two_machines_at_once(on_server, tmp_path):
    """Two projects (two machines: two local locks) train at once; both read the same (absent) champion before
    either moves the alias, and the worse one moves it last: the alias must still end on the better one."""
    name = "race"
    second = tmp_path / "second"
    shutil.copytree(on_server, second)
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "SECTORTAG_PAUSE_AT": "registered"}
    runs = [(on_server, [], "3"), (second, ["--set", "model.max_features=15"], "12")]
    procs = [subprocess.Popen(TRAIN + _names(name) + args, cwd=cwd, env={**env, "SECTORTAG_PAUSE_SECONDS": pause},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for cwd, args, pause in runs]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
    assert all("champion before none" in out for out, _ in outs)  # both read the champion before either moved it

    client = MlflowClient()
    assert sorted(r.info.status for r in _runs(name)) == ["FINISHED", "FINISHED"]
    versions = client.search_model_versions(f"name='{name}'")
    assert sorted(int(v.version) for v in versions) == [1, 2]
    scores = {v.version: float(v.tags["dev_selection_macro_f1"]) for v in versions}
    assert len(set(scores.values())) == 2  # the test means something only if one is better
    champion = client.get_model_version_by_alias(name, "champion")
    assert champion.version == max(scores, key=lambda v: (scores[v], int(v)))
    # each machine's champion file was brought in line after its own settling, so both hold the champion
    for project in (on_server, second):
        assert SectorTagger.load(project / "models" / "champion.sectortag").sha256_ == champion.tags["model_sha256"]
    loser = next(v for v in versions if v.version != champion.version)
    assert client.get_model_version_by_alias(name, "challenger").version == loser.version


@pytest.mark.slow
def test_a_server_killed_during_a_training(on_server, mlflow_server):
    """SIGKILL the server while a training waits between registering and moving the alias: the training fails
    with one line, the alias stays; after a restart the retry succeeds and the killed run is closed."""
    folder, state = mlflow_server
    name = "killed"
    from sectortag.jobs.train import train

    overrides = {"tracking.registered_model": name, "tracking.experiment": name}
    first = train("training/config.toml", overrides=overrides)
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "SECTORTAG_PAUSE_AT": "registered", "SECTORTAG_PAUSE_SECONDS": "3"}
    proc = subprocess.Popen(TRAIN + _names(name), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if "paused at registered" in line:
            os.killpg(server.read_state(folder).mlflow_pid, signal.SIGKILL)  # the CLI and its uvicorn workers
            break
    err = "".join(seen) + proc.stderr.read()
    assert proc.wait(timeout=120) == 2, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"sectortag train: error: MLflow tracking server {state.uri} does not answer"), err

    restarted = server.start(folder, host=state.host, port=state.port, pg_port=state.pg_port, say=QUIET)
    assert restarted.pg_pid == state.pg_pid and restarted.mlflow_pid != state.mlflow_pid  # PostgreSQL kept running
    client = MlflowClient()
    assert client.get_model_version_by_alias(name, "champion").version == first.version
    orphan = client.get_model_version(name, str(int(first.version) + 1))  # registered before the kill
    assert orphan.aliases == []

    retry = train("training/config.toml", overrides=overrides)
    assert retry.alias == "champion" and int(retry.version) == int(first.version) + 2
    statuses = {r.info.run_id: r.info.status for r in _runs(name)}
    interrupted = [s for run, s in statuses.items() if run not in (first.run_id, retry.run_id)]
    assert interrupted == ["KILLED"]  # created before the kill, closed by the retry since its process is gone
    assert statuses[first.run_id] == statuses[retry.run_id] == "FINISHED"


def test_the_champion_loads_from_the_server(on_server, mlflow_server):
    from sectortag.jobs.train import train

    result = train("training/config.toml")  # the default names: models:/sectortag@champion
    assert result.alias == "champion"
    champion = MlflowClient().get_model_version_by_alias("sectortag", "champion")
    shutil.rmtree(on_server.parent / "cache")  # no verified local copy: the model comes from the server
    tagger = SectorTagger.load("models:/sectortag@champion")
    assert tagger.sha256_ == champion.tags["model_sha256"] == SectorTagger.load(result.model_path).sha256_
    texts = ["Tỉnh giao 1.200 tỷ đồng vốn đầu tư công cho các huyện.", "Lễ khai mạc lễ hội hoa ban."]
    assert tagger.predict(texts) == SectorTagger.load(result.model_path).predict(texts)
    # the model file went through the server into its artifact store
    stored = list((mlflow_server[0] / "artifacts").rglob("sectortag.model"))
    assert tagger.sha256_ in {SectorTagger.load(p).sha256_ for p in stored}


def test_start_again_status_and_stop(mlflow_server):
    """The last test of the module: starting a running server only says so; stop ends both processes."""
    folder, state = mlflow_server
    said = []
    again = server.start(folder, port=state.port, pg_port=state.pg_port, say=said.append)
    assert again.mlflow_pid == server.read_state(folder).mlflow_pid and said[0].startswith("already running")
    assert "answering" in server.status(folder) and "not answering" not in server.status(folder)
    pids = (again.pg_pid, again.mlflow_pid)
    said.clear()
    server.stop(folder, say=said.append)
    assert [s.split(" (")[0] for s in said] == ["stopped the MLflow server", "stopped PostgreSQL"]
    assert not any(server.process_running(pid) for pid in pids)
    assert server.status(folder).startswith("not started")
