"""Training configuration: one TOML file (training/config.toml) holds every hyper-parameter,
the label set, the data paths and the split rule."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .labels import SECTOR_CODES

DEFAULT_CONFIG = Path("training") / "config.toml"
REQUIRED = {
    "labels": ["codes"],
    "data": ["datasets", "min_chars"],
    "split": ["dev_percent", "test_percent", "salt"],
    "model": [],
    "tracking": ["experiment", "registered_model"],
    "paths": ["models_dir", "reports_dir"],
}


def load_config(path: str | Path = DEFAULT_CONFIG) -> dict[str, Any]:
    """Read and check the configuration file; raise ConfigError naming what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: configuration file not found (run from the project root or pass --config)")
    try:
        with path.open("rb") as f:
            config = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    for section, keys in REQUIRED.items():
        if section not in config:
            raise ConfigError(f"{path}: missing section [{section}]")
        for key in keys:
            if key not in config[section]:
                raise ConfigError(f"{path}: missing key {key!r} in [{section}]")
    codes = tuple(config["labels"]["codes"])
    if codes != SECTOR_CODES:
        raise ConfigError(
            f"{path}: [labels] codes {list(codes)} differ from the sector set this version of sectortag "
            f"knows ({list(SECTOR_CODES)})"
        )
    split = config["split"]
    if not (0 < split["dev_percent"] < 100 and 0 < split["test_percent"] < 100
            and split["dev_percent"] + split["test_percent"] < 100):
        raise ConfigError(f"{path}: [split] dev_percent and test_percent must be in (0, 100) and sum below 100")
    config["_path"] = str(path)
    return config


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested sections into `section.key` pairs (for logging as MLflow params)."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        if key.startswith("_"):
            continue
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out
