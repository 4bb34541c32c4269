"""Shared fixtures: the project's own labelled paragraphs, and a model trained on them once."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sectortag.corpus import load_splits
from sectortag.model import SectorTagger
from sectortag.settings import load_settings, model_params

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
def settings():
    return load_settings(CONFIG)


@pytest.fixture(scope="session")
def corpus(settings):
    """datasets/ with its train/dev/test split."""
    return load_splits(settings, ROOT)


@pytest.fixture(scope="session")
def tagger(settings, corpus) -> SectorTagger:
    """The configured model, fitted on the train split and tuned on dev."""
    train, dev = corpus[corpus.split == "train"], corpus[corpus.split == "dev"]
    return SectorTagger(**model_params(settings)).fit(list(train.text), list(train.labels), list(dev.text), list(dev.labels))


@pytest.fixture(scope="session")
def model_file(tagger, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "m.sectortag"
    tagger.save(path)
    return path


def write_project(folder: Path, corpus, n: int = 600) -> Path:
    """A throw-away project: config (evaluation sets pointing nowhere) and an `n`-paragraph sample of datasets/."""
    (folder / "training").mkdir(parents=True, exist_ok=True)
    shutil.copy(CONFIG, folder / "training" / "config.toml")
    (folder / "datasets" / "paragraphs").mkdir(parents=True, exist_ok=True)
    sample = corpus.sample(n=min(n, len(corpus)), random_state=1)
    with open(folder / "datasets" / "paragraphs" / "sample.jsonl", "w", encoding="utf-8") as f:
        for r in sample.itertuples():
            f.write(json.dumps({"id": r.id, "text": r.text, "labels": r.labels}, ensure_ascii=False) + "\n")
    return folder


@pytest.fixture()
def project(tmp_path, corpus, monkeypatch) -> Path:
    """A throw-away project folder with its own MLflow SQLite store and model cache; the real dev sets of
    ../shared are not used (the config's relative paths point outside the folder)."""
    write_project(tmp_path, corpus)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("SECTORTAG_MODEL", raising=False)
    return tmp_path


def our_articles(limit: int | None = None) -> dict[str, list[dict]]:
    """The team's own whole articles of datasets/ (records with an `article` field), paragraphs in order."""
    articles: dict[str, list[dict]] = {}
    for path in sorted((ROOT / "datasets" / "paragraphs").glob("*.jsonl")):
        for line in path.open(encoding="utf-8"):
            record = json.loads(line)
            if "article" in record:
                articles.setdefault(record["article"], []).append(record)
    chosen = sorted(articles)[:limit]
    return {a: sorted(articles[a], key=lambda r: r["n"]) for a in chosen}


@pytest.fixture(scope="session")
def article_folder(tmp_path_factory) -> Path:
    """24 of the team's own whole articles as .txt files (paragraphs separated by blank lines)."""
    folder = tmp_path_factory.mktemp("articles")
    for article_id, records in our_articles(24).items():
        (folder / f"{article_id}.txt").write_text("\n\n".join(r["text"] for r in records) + "\n", encoding="utf-8")
    return folder
