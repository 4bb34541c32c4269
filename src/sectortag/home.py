"""Where the project is: its config, its models and its MLflow store, found from any working folder.

The project home is `$SECTORTAG_HOME` when set, else the nearest folder holding `training/config.toml`
walking up from the working folder, else the source checkout sectortag is installed from (an editable
install). Nothing here writes anything: an MLflow store is never created in the user's current folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import ConfigError

ENV = "SECTORTAG_HOME"
CONFIG = Path("training") / "config.toml"
CHAMPION = Path("models") / "champion.sectortag"


def project_home() -> Path | None:
    """The project folder, or None when there is none (sectortag installed on its own)."""
    env = os.environ.get(ENV)
    if env:
        if not (Path(env) / CONFIG).is_file():
            raise ConfigError(f"{ENV}={env}: no {CONFIG} there; point it at the sectortag project folder")
        return Path(env).resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG).is_file():
            return folder
    checkout = Path(__file__).resolve().parents[2]
    return checkout if (checkout / CONFIG).is_file() else None


def default_config() -> Path:
    """The project's training/config.toml (relative to the working folder when there is no project)."""
    home = project_home()
    return home / CONFIG if home else CONFIG


def default_tracking_uri() -> str | None:
    """MLflow's store: `$MLFLOW_TRACKING_URI`, else the SQLite file `mlflow.db` of the project, else None."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri:
        return uri
    home = project_home()
    return f"sqlite:///{home / 'mlflow.db'}" if home else None


def champion_file() -> Path | None:
    """The project's `models/champion.sectortag` (whether or not it exists yet), or None without a project."""
    home = project_home()
    return home / CHAMPION if home else None
