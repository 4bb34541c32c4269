"""`sectortag train`: settings → data and split → fit → metrics → model file → MLflow run, version, alias.

Nothing outside the run changes until everything has succeeded. The champion alias moves under the registry
lock, after comparing the new model and the current champion on the same dev data (ours, plus the real dev
sets when present; the test parts stay untouched for reporting); that move is the commit point, and
models/champion.sectortag is then made a copy of whatever the alias holds.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .. import registry
from ..errors import Interrupted, SectorTagError
from ..corpus import check_splits, evaluation_sets, load_splits, summary
from ..metrics import flat_metrics, report
from ..model import SectorTagger
from ..settings import Settings, load_settings, model_params

SELECTION_SETS = ("ours", "news", "news_articles")


@dataclass
class TrainResult:
    run_id: str
    version: str
    alias: str
    score: float
    previous_champion: float | None
    metrics: dict[str, dict]
    model_path: Path
    seconds: float


def selection_frames(settings: Settings, data: pd.DataFrame, root: str | Path) -> dict[str, pd.DataFrame]:
    """The dev data a champion is chosen on: our dev split, and the real dev sets that exist."""
    frames = {"ours": data[data["split"] == "dev"]}
    real = evaluation_sets(settings, root, include=("news", "news_articles"))
    frames.update({name: parts["dev"] for name, parts in real.items() if name in SELECTION_SETS and "dev" in parts})
    return frames


def selection_score(tagger: SectorTagger, frames: dict[str, pd.DataFrame]) -> tuple[float, dict[str, float]]:
    """Mean dev macro-F1 over the selection sets (each set counts once, whatever its size)."""
    per = {name: report(list(f["labels"]), tagger.predict(list(f["text"])), tagger.labels_)["macro_f1"]
           for name, f in frames.items()}
    return sum(per.values()) / len(per), per


def selection_sha256(frames: dict[str, pd.DataFrame]) -> str:
    """Identifies the dev data a selection score was computed on: scores with the same hash are comparable."""
    import hashlib

    from ..data import data_hash

    return hashlib.sha256(json.dumps({name: data_hash(f) for name, f in sorted(frames.items())}).encode()).hexdigest()


def clean_stale(models_dir: Path) -> None:
    """Remove what killed runs left behind: staging folders and half-copied files of dead processes."""
    def dead(pid: str) -> bool:
        try:
            os.kill(int(pid), 0)
            return False
        except (ValueError, ProcessLookupError):
            return True
        except PermissionError:
            return False

    for folder in Path(tempfile.gettempdir()).glob("sectortag-train-*"):
        if dead(folder.name.split("-")[2]):
            shutil.rmtree(folder, ignore_errors=True)
    if models_dir.is_dir():
        for part in models_dir.glob(".*.tmp"):
            if dead(part.name.rsplit(".", 2)[-2]):
                part.unlink(missing_ok=True)


def train(config_path: str | Path, root: str | Path = ".", extra: list[str] | None = None,
          overrides: dict[str, Any] | None = None, say: Callable[[str], None] = lambda s: None) -> TrainResult:
    """Train, evaluate, save, log and register one model as configured. See the module docstring."""
    start = time.perf_counter()
    settings = load_settings(config_path, overrides)  # every value checked before any work
    registry.start()
    root = Path(root)
    models_dir = root / settings.paths.models_dir
    clean_stale(models_dir)
    codes = settings.labels.codes
    data = load_splits(settings, root, extra)
    check_splits(data, codes)
    frames = selection_frames(settings, data, root)
    tagger = SectorTagger(**model_params(settings))
    parts = {s: data[data["split"] == s] for s in ("train", "dev", "test")}
    say(f"training on {len(parts['train'])} paragraphs (dev {len(parts['dev'])}, test {len(parts['test'])}); "
        f"champion chosen on dev sets: {', '.join(frames)}")

    tr = settings.tracking
    registry.open_experiment(tr.experiment)
    closed = registry.close_orphan_runs(tr.experiment)
    if closed:
        say(f"marked {closed} run(s) of killed training processes as KILLED")
    champion_file = models_dir / "champion.sectortag"
    registry.sync_champion_file(tr.registered_model, champion_file, tr.champion_alias)  # repair a stale copy
    from mlflow.exceptions import MlflowException

    try:
        return _run(settings, data, parts, frames, tagger, root, extra, champion_file, start, say)
    except KeyboardInterrupt:
        raise Interrupted("interrupted before registration: the registry and the champion are unchanged") from None
    except MlflowException:
        problem = registry.server_problem()
        if problem is None:
            raise
        raise SectorTagError(f"{problem}: it went away during the training; the champion is unchanged unless the "
                             f"server recorded this run's move before that, and the next training closes this run; "
                             f"retry when it answers") from None


def _run(settings, data, parts, frames, tagger, root, extra, champion_file, start, say) -> TrainResult:
    import mlflow

    codes, tr = settings.labels.codes, settings.tracking
    with tempfile.TemporaryDirectory(prefix=f"sectortag-train-{os.getpid()}-") as staging, mlflow.start_run() as run:
        registry.mark_run_owner()
        mlflow.log_params({**settings.flat(), "data.extra": ",".join(extra or []) or "none"})
        info = summary(data, codes)
        mlflow.set_tag("data_sha256", info["data_sha256"])
        mlflow.log_dict(info, "dataset_summary.json")

        tagger.fit(list(parts["train"]["text"]), list(parts["train"]["labels"]),
                   list(parts["dev"]["text"]), list(parts["dev"]["labels"]))
        metrics = {split: report(list(parts[split]["labels"]), tagger.predict(list(parts[split]["text"])), codes)
                   for split in ("dev", "test")}
        for split, m in metrics.items():
            mlflow.log_metrics(flat_metrics(m, split))
        score, per_set = selection_score(tagger, frames)
        mlflow.log_metrics({"dev_selection_macro_f1": score, **{f"dev_{k}_macro_f1": v for k, v in per_set.items()}})
        thresholds = dict(zip(codes, map(float, tagger.thresholds_)))
        mlflow.log_dict(thresholds, "thresholds.json")
        mlflow.log_dict(metrics, "classification_report.json")
        mlflow.log_metric("n_features", tagger.model_.n_features)

        tagger.metadata_ = {"run_id": run.info.run_id, "data_sha256": info["data_sha256"], "metrics": metrics,
                            "selection": {"score": score, "per_set": per_set}, "config": settings.flat(),
                            "thresholds": thresholds}
        model_file = Path(staging) / registry.MODEL_FILE
        sha = tagger.save(model_file)
        mlflow.set_tag(registry.SHA_TAG, sha)
        mlflow.log_metric("model_mb", model_file.stat().st_size / 1e6)
        example = list(parts["test"]["text"][:3])
        model_uri = registry.log_pyfunc(model_file, example, None)

        def champion_score(version) -> float | None:
            try:
                return selection_score(SectorTagger.load(registry.download_version(version)), frames)[0]
            except Exception as e:  # a champion that cannot be loaded any more cannot be kept
                say(f"the current champion (version {version.version}) cannot be scored ({e}); it is replaced")
                return None

        try:
            version, alias, previous = registry.register_and_promote(
                model_uri, tr.registered_model, sha, score, champion_score, tr.champion_alias, tr.challenger_alias,
                tags={registry.SCORE_TAG: repr(score), registry.SELECTION_TAG: selection_sha256(frames)})
        except KeyboardInterrupt:
            raise Interrupted("interrupted while registering: the new version, if it was registered, holds no "
                              "alias; the champion is unchanged") from None
        mlflow.set_tags({"registered_version": version, "alias": alias})
    try:
        registry.sync_champion_file(tr.registered_model, champion_file, tr.champion_alias)
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted after version {version} became '{alias}'; {champion_file} is brought "
                          f"in line with the champion by the next run") from None
    return TrainResult(run.info.run_id, version, alias, score, previous, metrics, champion_file,
                       time.perf_counter() - start)
