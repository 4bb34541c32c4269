"""The one configuration: training/config.toml read into strict, frozen settings.

Every section and key is known: an unknown key, a missing one, a wrong type or an out-of-range value is a
ConfigError naming `[section] key` before any data is read or any run is started. `[model]` maps onto the
estimator's parameters and is checked by the estimator's own constraints (one implementation for both).
`--set section.key=value` overrides go through the same checks.
"""

from __future__ import annotations

import dataclasses
import json
import math
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .labels import SECTOR_CODES

DEFAULT_CONFIG = Path("training") / "config.toml"


@dataclass(frozen=True)
class Labels:
    codes: tuple[str, ...]


@dataclass(frozen=True)
class Data:
    datasets: tuple[str, ...]  # globs of labelled JSONL files, relative to the project root


@dataclass(frozen=True)
class Split:
    dev_percent: float
    test_percent: float
    salt: str


@dataclass(frozen=True)
class Predict:
    chunk_size: int


@dataclass(frozen=True)
class Tracking:
    experiment: str
    registered_model: str
    champion_alias: str
    challenger_alias: str


@dataclass(frozen=True)
class Paths:
    models_dir: str
    reports_dir: str


@dataclass(frozen=True)
class Evaluation:
    """Real evaluation text kept outside the project (../shared); a missing file means "skip that set"."""

    seed: str
    news: str
    news_articles: str
    legal: str
    legal_extra: str
    half_salt: str


def _eval_files(e: Evaluation) -> list[str]:
    return [e.seed, e.news, e.news_articles, e.legal, e.legal_extra]


# what a section's values must satisfy together, with the message when they do not
RULES: dict[type, list[tuple[Any, str]]] = {
    Labels: [(lambda s: s.codes == SECTOR_CODES, f"codes differ from the sectors this version knows ({list(SECTOR_CODES)})")],
    Data: [(lambda s: bool(s.datasets), "datasets is empty")],
    Split: [(lambda s: 0 < s.dev_percent < 100 and 0 < s.test_percent < 100 and s.dev_percent + s.test_percent < 100,
             "dev_percent and test_percent must be in (0, 100) and sum below 100")],
    Predict: [(lambda s: s.chunk_size >= 1, "chunk_size must be at least 1")],
    Tracking: [(lambda s: s.champion_alias != s.challenger_alias, "champion_alias and challenger_alias must differ")],
    Paths: [(lambda s: s.models_dir != s.reports_dir, "models_dir and reports_dir must differ")],
    Evaluation: [(lambda s: len(set(_eval_files(s))) == len(_eval_files(s)), "each evaluation set needs its own file")],
}


@dataclass(frozen=True)
class Settings:
    labels: Labels
    data: Data
    split: Split
    model: dict[str, Any]
    predict: Predict
    tracking: Tracking
    paths: Paths
    evaluation: Evaluation
    path: str = field(default="", compare=False)

    def with_overrides(self, overrides: dict[str, Any]) -> "Settings":
        """A copy with `section.key` values replaced, checked like the file."""
        raw = self.as_dict()
        for key, value in overrides.items():
            section, dot, name = key.partition(".")
            if not dot or section not in raw or not name:
                raise ConfigError(f"--set {key}: unknown setting; sections are {', '.join(raw)}")
            raw[section][name] = value
        return from_dict(raw, self.path)

    def as_dict(self) -> dict[str, dict[str, Any]]:
        out = {}
        for f in dataclasses.fields(self):
            if f.name == "path":
                continue
            value = getattr(self, f.name)
            out[f.name] = dict(value) if isinstance(value, dict) else {
                k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(value).items()}
        return out

    def flat(self) -> dict[str, Any]:
        """`section.key` → value, for logging as MLflow parameters."""
        return {f"{s}.{k}": json.dumps(v) if isinstance(v, list) else v
                for s, values in self.as_dict().items() for k, v in values.items()}


def _check_value(value: Any, kind: Any, where: str) -> Any:
    origin = typing.get_origin(kind)
    if origin is tuple:
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where} must be a list of strings, got {value!r}")
        return tuple(value)
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(f"{where} must be a finite number, got {value!r}")
        return float(value)
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} must be an integer, got {value!r}")
        return value
    if kind is str:
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{where} must be a non-empty string, got {value!r}")
        return value
    raise TypeError(kind)


def _section(cls, table: Any, name: str, source: str):
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: [{name}] must be a table")
    hints = typing.get_type_hints(cls)
    known = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise ConfigError(f"{source}: [{name}] unknown key {unknown[0]!r}; known keys: {', '.join(known)}")
    missing = [k for k in known if k not in table]
    if missing:
        raise ConfigError(f"{source}: [{name}] missing key {missing[0]!r}")
    values = {k: _check_value(table[k], hints[k], f"{source}: [{name}] {k}") for k in known}
    section = cls(**values)
    for holds, message in RULES[cls]:
        if not holds(section):
            raise ConfigError(f"{source}: [{name}] {message}")
    return section


def check_model(params: Any, source: str) -> dict[str, Any]:
    """`[model]` checked by the estimator's own parameter constraints; returns the parameters."""
    from sklearn.utils._param_validation import InvalidParameterError

    from .estimator import SectorClassifier

    if not isinstance(params, dict):
        raise ConfigError(f"{source}: [model] must be a table")
    known = SectorClassifier.parameter_names()
    unknown = sorted(set(params) - set(known) - {"labels"})
    if unknown:
        raise ConfigError(f"{source}: [model] unknown key {unknown[0]!r}; known keys: {', '.join(k for k in known if k != 'labels')}")
    if "labels" in params:
        raise ConfigError(f"{source}: [model] labels: set the sector codes in [labels] codes")
    for k, v in params.items():
        if isinstance(v, float) and not math.isfinite(v):
            raise ConfigError(f"{source}: [model] {k} must be a finite number, got {v!r}")
    estimator = SectorClassifier(**{k: tuple(v) if isinstance(v, list) else v for k, v in params.items()})
    try:
        estimator.check_parameters()
    except (InvalidParameterError, ValueError) as e:
        message = str(e).splitlines()[0].replace(" of SectorClassifier", "")
        raise ConfigError(f"{source}: [model] {message}") from None
    return dict(params)


SECTIONS = {"labels": Labels, "data": Data, "split": Split, "predict": Predict, "tracking": Tracking,
            "paths": Paths, "evaluation": Evaluation}


def from_dict(raw: dict[str, Any], source: str = "config") -> Settings:
    """Settings from a parsed TOML document (every section required, nothing unknown)."""
    unknown = sorted(set(raw) - set(SECTIONS) - {"model"})
    if unknown:
        raise ConfigError(f"{source}: unknown section [{unknown[0]}]; sections are {', '.join([*SECTIONS, 'model'])}")
    for name in [*SECTIONS, "model"]:
        if name not in raw:
            raise ConfigError(f"{source}: missing section [{name}]")
    parts = {name: _section(cls, raw[name], name, source) for name, cls in SECTIONS.items()}
    return Settings(model=check_model(raw["model"], source), path=source, **parts)


def load_settings(path: str | Path = DEFAULT_CONFIG, overrides: dict[str, Any] | None = None) -> Settings:
    """Read and check the configuration file; raise ConfigError naming what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: configuration file not found (run from the project root or pass --config)")
    try:
        with path.open("rb") as f:
            raw = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    settings = from_dict(raw, str(path))
    return settings.with_overrides(overrides) if overrides else settings


def model_params(settings: Settings) -> dict[str, Any]:
    """`[model]` as estimator parameters (lists become tuples, the label set comes from [labels])."""
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in settings.model.items()}
    return {**params, "labels": settings.labels.codes}

