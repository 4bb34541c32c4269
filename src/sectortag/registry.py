"""MLflow: runs, registered versions, the champion alias, and fetching a registered model.

The tracking URI is `MLFLOW_TRACKING_URI` when set (a shared server works unchanged), else the SQLite file
`mlflow.db` of the project (`home.py`), wherever the command is run from. Nothing happens at import: `start()`
sets the URI, quietens MLflow and checks that the server answers.

What must be serial is serialised with a file lock (`registry_lock`): creating or migrating a new local
store, and the read–compare–move of the champion alias. The alias move is the single commit point of a
training run; `models/champion.sectortag` is a copy derived from the alias and repaired when they differ.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

from .errors import ModelError, SectorTagError
from .home import default_tracking_uri, project_home

DEFAULT_NAME = "sectortag"
MODEL_FILE = "sectortag.model"
SHA_TAG = "model_sha256"


def start() -> None:
    """Configure MLflow for a sectortag job: no progress bars or per-call warnings, and fail in seconds,
    with the URI named, when a tracking server does not answer."""
    import mlflow

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    # our pyfunc declares its schema through the logged signature, not through type hints
    warnings.filterwarnings("ignore", category=UserWarning, module=r"mlflow\.pyfunc\.utils\.data_validation")
    warnings.filterwarnings("ignore", category=FutureWarning, module="mlflow")
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    uri = default_tracking_uri()
    if uri is None:
        raise SectorTagError("no MLflow store: run inside the sectortag project (or set SECTORTAG_HOME to it), "
                             "or set MLFLOW_TRACKING_URI")
    # through the environment, as MLflow reads it on every call (and subprocesses inherit it); setting MLflow's
    # process-wide URI instead would outlive a later change of MLFLOW_TRACKING_URI in the same process
    os.environ["MLFLOW_TRACKING_URI"] = uri
    problem = server_problem()
    if problem:
        raise SectorTagError(f"{problem}; start it or unset MLFLOW_TRACKING_URI")


def server_problem() -> str | None:
    """'MLflow tracking server <uri> does not answer (<why>)' when the tracking URI is a server that does not
    accept connections now; None for a local store or a server that does."""
    import mlflow

    uri = mlflow.get_tracking_uri()
    parsed = urlparse(uri)
    if parsed.scheme in ("http", "https"):
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        try:
            socket.create_connection((parsed.hostname, port), timeout=5).close()
        except OSError as e:
            return f"MLflow tracking server {uri} does not answer ({e.strerror or e})"
    return None


def _lock_path() -> Path:
    import mlflow

    parsed = urlparse(mlflow.get_tracking_uri())
    if parsed.scheme == "sqlite":
        db = Path(mlflow.get_tracking_uri()[len("sqlite:///"):])
        return db.with_name(f".{db.name}.lock")
    home = project_home()
    return (home if home else _cache_dir().parent) / ".sectortag-registry.lock"


@contextlib.contextmanager
def registry_lock() -> Iterator[None]:
    """Hold an exclusive lock beside the local store (or in the working folder for a server store)."""
    import fcntl

    path = _lock_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def open_experiment(name: str) -> None:
    """Select (creating if needed) the experiment; the first touch of a new store creates its tables, so it
    is done under the lock."""
    import mlflow

    with registry_lock():
        home = project_home()
        if urlparse(mlflow.get_tracking_uri()).scheme == "sqlite" and home and mlflow.get_experiment_by_name(name) is None:
            # artifacts beside the project's store, not in whatever folder the first run started from
            mlflow.create_experiment(name, artifact_location=(home / "mlruns").as_uri())
        mlflow.set_experiment(name)
        # again: when another machine creates it at the same moment, MLflow (3.17) returns the experiment without
        # making it the active one, and the run would go to "Default"; the second call finds and selects it
        mlflow.set_experiment(name)


def pause_point(name: str) -> None:
    """For tests of interrupted runs: with SECTORTAG_PAUSE_AT=<name>, say so on stderr and wait to be killed."""
    if os.environ.get("SECTORTAG_PAUSE_AT") == name:
        import sys
        import time

        print(f"sectortag: paused at {name}", file=sys.stderr, flush=True)
        time.sleep(float(os.environ.get("SECTORTAG_PAUSE_SECONDS", "120")))


def mark_run_owner() -> None:
    """Tag the active run with this process, so a later run can close it if the process was killed."""
    import mlflow

    mlflow.set_tags({"sectortag.host": socket.gethostname(), "sectortag.pid": str(os.getpid())})


def close_orphan_runs(experiment: str) -> int:
    """Mark as KILLED the RUNNING runs of this experiment whose process (on this host) no longer exists."""
    import mlflow
    from mlflow import MlflowClient

    exp = mlflow.get_experiment_by_name(experiment)
    if exp is None:
        return 0
    client, closed = MlflowClient(), 0
    for run in client.search_runs([exp.experiment_id], "attributes.status = 'RUNNING'"):
        tags = run.data.tags
        if tags.get("sectortag.host") != socket.gethostname() or not tags.get("sectortag.pid", "").isdigit():
            continue
        try:
            os.kill(int(tags["sectortag.pid"]), 0)
        except ProcessLookupError:
            client.set_terminated(run.info.run_id, "KILLED")
            closed += 1
        except PermissionError:
            pass
    return closed


def champion_version(name: str, alias: str = "champion"):
    """The model version holding `alias`, or None."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        return MlflowClient().get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sectortag" / "models"


def download_version(version) -> Path:
    """The model file of a registered version, fetched once into ~/.cache/sectortag/models/<sha>.model and
    checked against the SHA-256 recorded at registration."""
    import mlflow
    from mlflow.exceptions import MlflowException

    sha = version.tags.get(SHA_TAG)
    if not sha:
        raise ModelError(f"models:/{version.name}/{version.version} has no recorded {SHA_TAG}: it was not registered "
                         f"by sectortag train, so it is not loaded")
    target = _cache_dir() / f"{sha}.model"
    if target.is_file() and _sha(target) == sha:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sectortag-fetch-") as tmp:
        try:
            local = Path(mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{version.name}/{version.version}", dst_path=tmp))
        except MlflowException as e:
            raise ModelError(f"models:/{version.name}/{version.version}: cannot fetch it from MLflow at "
                             f"{mlflow.get_tracking_uri()} ({e.message})") from None
        found = sorted(local.rglob(MODEL_FILE))
        if not found:
            raise ModelError(f"models:/{version.name}/{version.version}: no sectortag model among its artifacts")
        if _sha(found[0]) != sha:
            raise ModelError(f"models:/{version.name}/{version.version}: the stored model file does not match the "
                             f"SHA-256 recorded at registration; it was replaced or damaged")
        copy_atomically(found[0], target)
    return target


def fetch_model(uri: str | None, with_version: bool = False) -> tuple[Path, str] | tuple[Path, str, str]:
    """A local model file and its trusted SHA-256 (and, `with_version`, its version number) for
    `models:/name@alias`, `models:/name/version`, `runs:/<run>/model` or None (the champion of `sectortag`)."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    start()
    uri = uri or f"models:/{DEFAULT_NAME}@champion"
    client = MlflowClient()
    try:
        if uri.startswith("runs:/"):
            run_id = uri[len("runs:/"):].split("/")[0]
            versions = client.search_model_versions(f"run_id = '{run_id}'")
            if not versions:
                raise ModelError(f"{uri}: no registered version comes from this run")
            version = versions[0]
        else:
            name, at, ref = uri[len("models:/"):].partition("@")
            if at:
                version = client.get_model_version_by_alias(name, ref)
            else:
                name, _, number = uri[len("models:/"):].partition("/")
                version = client.get_model_version(name, number)
    except MlflowException as e:
        if uri == f"models:/{DEFAULT_NAME}@champion":
            raise ModelError(f"no trained model: run `make train` (no champion in MLflow at {_where()})") from None
        raise ModelError(f"{uri}: not found in MLflow at {_where()} ({e.message.splitlines()[0]}); "
                         f"train one with `make train`") from None
    path = download_version(version)
    return (path, version.tags[SHA_TAG], str(version.version)) if with_version else (path, version.tags[SHA_TAG])


def _where() -> str:
    import mlflow

    return mlflow.get_tracking_uri()


def _sha(path: Path) -> str:
    from .bundle import file_sha256

    return file_sha256(path)


def copy_atomically(source: Path, target: Path) -> None:
    """Copy a file into place so that a reader never sees half of it."""
    from .files import replaced_atomically

    with replaced_atomically(target) as tmp:
        shutil.copyfile(source, tmp)


def log_pyfunc(model_file: Path, example_texts: list[str], example_output) -> str:
    """Log the model file as an MLflow pyfunc (models-from-code: `mlflow_model.py` reads the file through the
    same safe loader) with its signature; return the model URI."""
    import mlflow
    import pandas as pd
    from mlflow.models import ModelSignature
    from mlflow.types.schema import Array, ColSpec, Schema

    from .labels import SECTOR_CODES

    example = pd.DataFrame({"text": example_texts})
    signature = ModelSignature(
        inputs=Schema([ColSpec("string", "text")]),
        outputs=Schema([ColSpec(Array("string"), "labels"), *[ColSpec("double", f"score_{c}") for c in SECTOR_CODES],
                        ColSpec("string", "error"), ColSpec("string", "model_version"),
                        ColSpec("string", "model_sha256")]),
    )
    package_dir = Path(__file__).resolve().parent
    info = mlflow.pyfunc.log_model(
        name="model",
        python_model=str(package_dir / "mlflow_model.py"),
        artifacts={"model": str(model_file)},
        signature=signature,
        input_example=example,
        code_paths=[str(package_dir)],
        pip_requirements=_requirements(),
    )
    return info.model_uri


def _requirements() -> list[str]:
    from importlib.metadata import version

    return [f"{p}=={version(p)}" for p in ("numpy", "underthesea", "pandas", "pyarrow", "mlflow")]


def register_and_promote(model_uri: str, name: str, sha256: str, score: float, champion_score,
                         champion: str = "champion", challenger: str = "challenger",
                         tags: dict[str, str] | None = None) -> tuple[str, str, float | None]:
    """Under the registry lock: register a new version (its SHA-256 recorded in the same call), score the
    current champion with `champion_score(version) -> float | None` on the same data, and move `champion`
    to the new version when `score` is at least that (full precision), else `challenger`.
    Returns (version, alias given, the champion's score)."""
    import mlflow
    from mlflow import MlflowClient

    client = MlflowClient()
    with registry_lock():
        current = champion_version(name, champion)
        previous = champion_score(current) if current is not None else None
        pause_point("before-register")
        version = str(mlflow.register_model(model_uri, name, tags={SHA_TAG: sha256, **(tags or {})}).version)
        alias = champion if previous is None or score >= previous else challenger
        pause_point("registered")
        client.set_registered_model_alias(name, alias, version)
        alias = settle_champion(name, version, alias, champion, challenger)
    pause_point("after-alias")
    return version, alias, previous


CONTENDER_TAG = "sectortag.contender"
SCORE_TAG, SELECTION_TAG = "dev_selection_macro_f1", "dev_selection_sha256"
SETTLE_WINDOW_MS = 3_600_000  # versions registered this close to ours count as racing with it
SETTLE_ROUNDS = 5


def settle_champion(name: str, version: str, alias: str, champion: str = "champion",
                    challenger: str = "challenger") -> str:
    """After this trainer moved `champion` to `version`: make the alias end on the best of the versions racing
    for it, and return the alias `version` ends with.

    The file lock serialises trainers of one machine only; on a shared server, two trainers on two machines can
    both read the old champion, both win against it, and the later move would win, whatever the scores. So each
    trainer that moved the alias marks its version a contender, then re-reads the alias and the contenders
    registered within SETTLE_WINDOW_MS of it on the same selection data (tag SELECTION_TAG: their recorded
    scores are comparable) and moves the alias to the best by the promotion rule (recorded score at full
    precision, a tie to the newer version). This converges: the last trainer to move the alias re-reads after
    its move and sees every contender that moved it before. A champion that is not a contender (set by hand,
    or by a training on other data) is left alone, as is a version without the tags."""
    from mlflow import MlflowClient

    if alias != champion:
        return alias
    client = MlflowClient()
    client.set_model_version_tag(name, version, CONTENDER_TAG, "true")
    ours = client.get_model_version(name, version)
    if SCORE_TAG not in ours.tags or SELECTION_TAG not in ours.tags:
        return alias

    def rank(v) -> tuple[float, int]:
        return float(v.tags[SCORE_TAG]), int(v.version)

    for _ in range(SETTLE_ROUNDS):
        holder = champion_version(name, champion)
        contenders = {str(v.version): v for v in client.search_model_versions(f"name='{name}'")
                      if v.tags.get(CONTENDER_TAG) and v.tags.get(SELECTION_TAG) == ours.tags[SELECTION_TAG]
                      and SCORE_TAG in v.tags
                      and abs(v.creation_timestamp - ours.creation_timestamp) <= SETTLE_WINDOW_MS}
        contenders[str(ours.version)] = ours
        best = max(contenders.values(), key=rank)
        if holder is not None and (str(holder.version) not in contenders or str(holder.version) == str(best.version)):
            break
        client.set_registered_model_alias(name, champion, best.version)
    holder = champion_version(name, champion)
    if holder is not None and str(holder.version) == str(version):
        return champion
    client.set_registered_model_alias(name, challenger, version)
    return challenger


def sync_champion_file(name: str, path: Path, alias: str = "champion") -> bool:
    """Make `path` a copy of the model holding `alias` (repairing a stale or missing copy), with the sidecar
    `<path>.json` saying which version it is; returns whether the model file changed. Without a champion,
    nothing is done."""
    version = champion_version(name, alias)
    if version is None or not version.tags.get(SHA_TAG):
        return False
    changed = not (path.is_file() and _sha(path) == version.tags[SHA_TAG])
    if changed:
        source = download_version(version)
        path.parent.mkdir(parents=True, exist_ok=True)
        copy_atomically(source, path)
    note = {"name": name, "alias": alias, "version": str(version.version), "sha256": version.tags[SHA_TAG],
            "run_id": version.run_id or "", "tracking_uri": _where()}
    if read_sidecar(path) != note:
        write_sidecar(path, note)
    return changed


def sidecar(path: Path) -> Path:
    """`models/champion.sectortag` → `models/champion.sectortag.json`: which registered version the file is."""
    return path.with_name(path.name + ".json")


def read_sidecar(path: Path) -> dict:
    import json

    try:
        return json.loads(sidecar(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def write_sidecar(path: Path, note: dict) -> None:
    import json

    from .files import replaced_atomically

    with replaced_atomically(sidecar(path)) as tmp:
        tmp.write_text(json.dumps(note, indent=1) + "\n", encoding="utf-8")


def version_of(sha256: str, name: str = DEFAULT_NAME) -> str:
    """The registered version whose model file has this SHA-256, or "" when the registry cannot say (not
    registered, or no store reachable: a served or Spark-scored pyfunc still works, without the number)."""
    try:
        start()
        from mlflow import MlflowClient

        found = MlflowClient().search_model_versions(f"name = '{name}' and tags.{SHA_TAG} = '{sha256}'")
    except Exception:  # provenance is best effort here; the hash is always recorded
        return ""
    return str(found[0].version) if found else ""


def champion_ref(name: str = DEFAULT_NAME, alias: str = "champion") -> tuple[str, str] | None:
    """(version, SHA-256) of the model holding `alias`, or None. Reads the project's SQLite store directly
    when that is the store (no MLflow import, so loading a model stays fast), else asks MLflow."""
    import sqlite3

    uri = default_tracking_uri()
    if uri and uri.startswith("sqlite:///"):
        db = Path(uri[len("sqlite:///"):])
        if not db.is_file():
            return None
        try:
            with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as con:
                row = con.execute(
                    "SELECT a.version, t.value FROM registered_model_aliases a LEFT JOIN model_version_tags t "
                    "ON t.name = a.name AND t.version = a.version AND t.key = ? WHERE a.name = ? AND a.alias = ?",
                    (SHA_TAG, name, alias)).fetchone()
            return None if row is None else (str(row[0]), row[1] or "")
        except sqlite3.Error:
            pass  # another schema: ask MLflow
    start()
    version = champion_version(name, alias)
    return None if version is None else (str(version.version), version.tags.get(SHA_TAG, ""))
