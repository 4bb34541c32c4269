"""Shared fixtures: the project's own labelled paragraphs, and a small model trained on them once."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sectortag.config import load_config
from sectortag.model import SectorTagger
from sectortag.train import load_splits, tagger_from_config

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CONFIG = ROOT / "training" / "config.toml"


def shared_file(*parts: str) -> Path:
    """A file under ../shared, or skip the test when the folder is absent (a user's fresh clone)."""
    path = SHARED.joinpath(*parts)
    if not path.is_file():
        pytest.skip(f"{path} not found: ../shared holds evaluation text that is not part of the project")
    return path


@pytest.fixture(scope="session")
def config() -> dict:
    return load_config(CONFIG)


@pytest.fixture(scope="session")
def corpus(config):
    """datasets/ with its train/dev/test split."""
    return load_splits(config, ROOT)


@pytest.fixture(scope="session")
def tagger(config, corpus) -> SectorTagger:
    """The configured model, fitted on the train split and tuned on dev."""
    train, dev = corpus[corpus.split == "train"], corpus[corpus.split == "dev"]
    return tagger_from_config(config).fit(list(train.text), list(train.labels), list(dev.text), list(dev.labels))


@pytest.fixture()
def project(tmp_path, corpus, monkeypatch) -> Path:
    """A throw-away project folder: config, a 600-paragraph sample of datasets/, its own MLflow SQLite store."""
    (tmp_path / "training").mkdir()
    shutil.copy(CONFIG, tmp_path / "training" / "config.toml")
    (tmp_path / "datasets" / "paragraphs").mkdir(parents=True)
    sample = corpus.sample(n=min(600, len(corpus)), random_state=1)
    with open(tmp_path / "datasets" / "paragraphs" / "sample.jsonl", "w", encoding="utf-8") as f:
        for r in sample.itertuples():
            f.write(json.dumps({"id": r.id, "text": r.text, "labels": r.labels}, ensure_ascii=False) + "\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.delenv("SECTORTAG_MODEL", raising=False)
    return tmp_path
