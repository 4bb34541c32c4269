"""`sectortag models list | show | promote`: the registered versions, and moving the champion by hand.

Promotion checks the version's model file against the SHA-256 recorded at registration before the alias
moves, records the previous champion on the promoted version (`promoted_from`, `promoted_at`), and then
refreshes the project's `models/champion.sectortag` (and its sidecar) atomically, so that the file, the
alias and `SectorTagger.load()` cannot disagree.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from .. import registry
from ..bundle import file_sha256
from ..errors import ModelError
from ..home import champion_file

METRICS = ("dev_macro_f1", "test_macro_f1", "dev_selection_macro_f1")


@dataclass(frozen=True)
class VersionInfo:
    """One registered version as `models list` shows it."""

    version: str
    aliases: tuple[str, ...]
    run_id: str
    created: str
    sha256: str
    metrics: dict[str, float]


def _when(ms: int | None) -> str:
    return dt.datetime.fromtimestamp((ms or 0) / 1000, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _aliases(client, name: str) -> dict[str, list[str]]:
    """version → its aliases (search results do not carry them)."""
    out: dict[str, list[str]] = {}
    for alias, number in (client.get_registered_model(name).aliases or {}).items():
        out.setdefault(str(number), []).append(alias)
    return out


def _info(client, version, aliases: dict[str, list[str]]) -> VersionInfo:
    metrics: dict[str, float] = {}
    if version.run_id:
        try:
            run_metrics = client.get_run(version.run_id).data.metrics
            metrics = {k: run_metrics[k] for k in METRICS if k in run_metrics}
        except Exception:  # a deleted run: the version is still listed
            metrics = {}
    return VersionInfo(str(version.version), tuple(sorted(aliases.get(str(version.version), []))), version.run_id or "",
                       _when(version.creation_timestamp), version.tags.get(registry.SHA_TAG, ""), metrics)


def list_versions(name: str = registry.DEFAULT_NAME) -> list[VersionInfo]:
    """Every registered version of `name`, newest first."""
    from mlflow import MlflowClient

    registry.start()
    client = MlflowClient()
    versions = client.search_model_versions(f"name = '{name}'")
    if not versions:
        raise ModelError(f"no registered versions of {name!r} in MLflow at {registry.default_tracking_uri()}: "
                         f"run `make train`")
    aliases = _aliases(client, name)
    return [_info(client, v, aliases) for v in sorted(versions, key=lambda v: -int(v.version))]


def get_version(number: str, name: str = registry.DEFAULT_NAME):
    """The MLflow model version `number` of `name`, or a one-line ModelError."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    registry.start()
    try:
        return MlflowClient().get_model_version(name, str(number))
    except MlflowException:
        raise ModelError(f"no version {number} of {name!r} in MLflow at {registry.default_tracking_uri()} "
                         f"(see `sectortag models list`)") from None


def show(number: str, name: str = registry.DEFAULT_NAME) -> dict:
    """Everything about one version: aliases, run, metrics, parameters, tags, and whether the project's
    champion file is this version."""
    from mlflow import MlflowClient

    version = get_version(number, name)
    client = MlflowClient()
    info = _info(client, version, _aliases(client, name))
    params = client.get_run(version.run_id).data.params if version.run_id else {}
    path = champion_file()
    return {"name": name, "version": info.version, "aliases": list(info.aliases), "run_id": info.run_id,
            "created": info.created, "sha256": info.sha256, "metrics": info.metrics,
            "tags": dict(version.tags), "params": dict(params), "source": version.source,
            "champion_file": str(path) if path else None,
            "champion_file_is_this": bool(path and path.is_file() and file_sha256(path) == info.sha256)}


def promote(number: str, name: str = registry.DEFAULT_NAME, alias: str = "champion") -> tuple[str | None, Path | None]:
    """Move `alias` to version `number` after checking its model file against the recorded SHA-256; record the
    previous holder on the version; refresh the champion file. Returns (previous version, champion file)."""
    from mlflow import MlflowClient

    version = get_version(number, name)  # starts MLflow on the project's store first
    client = MlflowClient()
    registry.download_version(version)  # refuses a file that does not match the hash recorded at registration
    with registry.registry_lock():
        current = registry.champion_version(name, alias)
        previous = None if current is None else str(current.version)
        if previous != str(version.version):
            client.set_model_version_tag(name, str(version.version), "promoted_from", previous or "none")
            client.set_model_version_tag(name, str(version.version), "promoted_at",
                                         dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
            client.set_registered_model_alias(name, alias, str(version.version))
            if "challenger" in _aliases(client, name).get(str(version.version), []):
                client.delete_registered_model_alias(name, "challenger")  # promoted: no longer a challenger
    path = champion_file()
    if path is not None and alias == "champion":
        registry.sync_champion_file(name, path, alias)
    return previous, path


def format_versions(rows: list[VersionInfo]) -> str:
    """A plain-text table of versions."""
    head = f"{'version':>7}  {'aliases':<20} {'dev sel.':>8} {'dev F1':>7} {'test F1':>7}  {'sha256':<12}  {'created':<23}  run"
    lines = [head]
    for r in rows:
        m = r.metrics
        cell = lambda k: f"{m[k]:.4f}" if k in m else "-"
        lines.append(f"{r.version:>7}  {','.join(r.aliases) or '-':<20} {cell('dev_selection_macro_f1'):>8} "
                     f"{cell('dev_macro_f1'):>7} {cell('test_macro_f1'):>7}  {r.sha256[:12]:<12}  {r.created:<23}  {r.run_id}")
    return "\n".join(lines)
