"""One training run: config → data and split → fit → metrics → bundle → MLflow run, version and alias.

Nothing outside the run changes until everything has succeeded: the registry version, the alias and
models/champion.joblib are written last, so a failed or interrupted run leaves the previous model as it was.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .config import flatten, load_config
from .data import assign_split, data_hash, load_labelled, read_file
from .errors import DataError
from .files import replaced_atomically
from .metrics import flat_metrics, report
from .model import SectorTagger


@dataclass
class TrainResult:
    run_id: str
    version: str
    alias: str
    previous_champion: float | None
    metrics: dict[str, dict]
    bundle_path: Path
    seconds: float


def tagger_from_config(config: dict[str, Any]) -> SectorTagger:
    """An unfitted SectorTagger with the `[model]` hyper-parameters of the configuration."""
    m = dict(config["model"])
    thresholds = m.get("thresholds", "tuned")
    return SectorTagger(
        labels=tuple(config["labels"]["codes"]),
        features=m.get("features", "word"),
        word_ngram_range=tuple(m.get("word_ngram_range", (1, 2))),
        syllable_ngram_range=tuple(m.get("syllable_ngram_range", (1, 2))),
        min_df=m.get("min_df", 1),
        max_df=m.get("max_df", 1.0),
        max_features=m.get("max_features") or None,
        sublinear_tf=m.get("sublinear_tf", True),
        classifier=m.get("classifier", "logreg"),
        C=m.get("C", 8.0),
        class_weight=m.get("class_weight", "balanced"),
        thresholds=thresholds if thresholds == "tuned" else float(thresholds),
        threshold_window=m.get("threshold_window", 0.05),
        n_jobs=config.get("predict", {}).get("n_jobs", 1),
        random_state=m.get("random_state", 0),
        min_chars=config["data"]["min_chars"],
    )


def load_splits(config: dict[str, Any], root: str | Path = ".", extra: list[str] | None = None) -> pd.DataFrame:
    """The labelled corpus with a `split` column; `extra` files join the training split only."""
    data = load_labelled(config["data"]["datasets"], root)
    s = config["split"]
    data["split"] = assign_split(list(data["id"]), s["dev_percent"], s["test_percent"], s["salt"])
    for path in extra or []:
        more = read_file(path, labelled=True)
        more["split"], more["source_file"] = "train", str(path)
        data = pd.concat([data, more[["text", "labels", "split", "source_file"]]], ignore_index=True)
    return data


def check_splits(data: pd.DataFrame, codes: tuple[str, ...]) -> None:
    """Refuse, before any work, data that cannot train and tune a model."""
    for split in ("train", "dev", "test"):
        part = data[data["split"] == split]
        if part.empty:
            raise DataError(f"the {split} split is empty ({len(data)} records in all); add labelled data")
        if split == "test":
            continue
        for code in codes:
            if not any(code in labels for labels in part["labels"]):
                raise DataError(f"no {split} example carries sector {code!r}: cannot train and tune it")


def dataset_summary(data: pd.DataFrame, codes: tuple[str, ...]) -> dict[str, Any]:
    """Counts per split, per sector and per number of labels."""
    out: dict[str, Any] = {}
    for split in ("train", "dev", "test"):
        part = data[data["split"] == split]
        out[split] = {
            "n": int(len(part)),
            "per_sector": {c: int(sum(c in l for l in part["labels"])) for c in codes},
            "none": int(sum(len(l) == 0 for l in part["labels"])),
            "multi": int(sum(len(l) >= 2 for l in part["labels"])),
        }
    out["data_sha256"] = data_hash(data)
    return out


def train(config_path: str | Path, root: str | Path = ".", extra: list[str] | None = None,
          overrides: dict[str, Any] | None = None, say: Callable[[str], None] = lambda s: None) -> TrainResult:
    """Train, evaluate, save, log and register one model as configured. See the module docstring."""
    import mlflow

    from . import tracking

    start = time.perf_counter()
    config = load_config(config_path)
    for key, value in (overrides or {}).items():
        section, _, name = key.partition(".")
        config.setdefault(section, {})[name] = value
    codes = tuple(config["labels"]["codes"])
    data = load_splits(config, root, extra)
    check_splits(data, codes)
    tagger = tagger_from_config(config)
    summary = dataset_summary(data, codes)
    parts = {s: data[data["split"] == s] for s in ("train", "dev", "test")}
    say(f"training on {len(parts['train'])} paragraphs (dev {len(parts['dev'])}, test {len(parts['test'])})")

    tr = config["tracking"]
    mlflow.set_experiment(tr["experiment"])
    models_dir = Path(root) / config["paths"]["models_dir"]
    with tempfile.TemporaryDirectory(prefix="sectortag-train-") as staging, mlflow.start_run() as run:
        params = flatten(config)
        params["data.extra"] = ",".join(extra or []) or "none"
        mlflow.log_params({k: json.dumps(v) if isinstance(v, list) else v for k, v in params.items()})
        mlflow.set_tag("data_sha256", summary["data_sha256"])
        tracking.log_json(summary, "dataset_summary.json")

        tagger.fit(list(parts["train"]["text"]), list(parts["train"]["labels"]),
                   list(parts["dev"]["text"]), list(parts["dev"]["labels"]))
        metrics = {}
        for split in ("dev", "test"):
            metrics[split] = report(list(parts[split]["labels"]), tagger.predict(list(parts[split]["text"])), codes)
            mlflow.log_metrics(flat_metrics(metrics[split], split))
        thresholds = dict(zip(codes, map(float, tagger.thresholds_)))
        tracking.log_json(thresholds, "thresholds.json")
        tracking.log_json(metrics, "classification_report.json")
        mlflow.log_metric("n_features", _n_features(tagger))

        tagger.metadata_ = {"run_id": run.info.run_id, "data_sha256": summary["data_sha256"],
                            "metrics": metrics, "config": flatten(config), "thresholds": thresholds}
        bundle_path = Path(staging) / "sectortag.joblib"
        sha = tagger.save(bundle_path)
        mlflow.set_tag("bundle_sha256", sha)
        mlflow.log_metric("bundle_mb", bundle_path.stat().st_size / 1e6)
        model_uri = tracking.log_pyfunc(tagger, bundle_path, list(parts["test"]["text"][:3]))

        value = metrics["test"]["macro_f1"]
        version, alias, previous = tracking.register_and_promote(
            model_uri, tr["registered_model"], tr["selection_metric"], value, sha,
            tr.get("champion_alias", "champion"), tr.get("challenger_alias", "challenger"))
        mlflow.set_tags({"registered_version": version, "alias": alias})
        models_dir.mkdir(parents=True, exist_ok=True)
        _install(bundle_path, models_dir / "latest.joblib")
        if alias == tr.get("champion_alias", "champion"):
            _install(bundle_path, models_dir / "champion.joblib")
    installed = models_dir / ("champion.joblib" if alias == tr.get("champion_alias", "champion") else "latest.joblib")
    return TrainResult(run.info.run_id, version, alias, previous, metrics, installed, time.perf_counter() - start)


def _n_features(tagger: SectorTagger) -> int:
    return int(tagger.classifier_.estimators_[0].coef_.shape[1]) if hasattr(
        tagger.classifier_.estimators_[0], "coef_") else 0


def _install(src: Path, dst: Path) -> None:
    """Copy a bundle into place atomically."""
    with replaced_atomically(dst) as tmp:
        shutil.copyfile(src, tmp)
