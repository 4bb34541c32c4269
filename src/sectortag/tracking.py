"""MLflow: the pyfunc wrapper, run logging, registry versions and the champion/challenger rule.

The tracking URI is MLflow's own: `MLFLOW_TRACKING_URI` when set (a shared server works unchanged),
else MLflow's default, the SQLite file `mlflow.db` in the working directory.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from .errors import ModelError
from .model import SectorTagger, load_bundle

BUNDLE_ARTIFACT = "bundle"
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
# our pyfunc declares its schema through the logged signature, not through type hints
warnings.filterwarnings("ignore", message=".*Add type hints to the `predict` method")
logging.getLogger("mlflow").setLevel(logging.WARNING)


class SectorTaggerPyfunc(mlflow.pyfunc.PythonModel):
    """MLflow pyfunc around the same SectorTagger bundle: one prediction path, not two.

    Input: a DataFrame with a `text` column. Output: `labels` (list of codes), `score_<code>` per sector, `error`.
    """

    def load_context(self, context) -> None:
        self.tagger = load_bundle(context.artifacts[BUNDLE_ARTIFACT])

    def predict(self, context, model_input, params: dict[str, Any] | None = None) -> pd.DataFrame:
        if not isinstance(model_input, pd.DataFrame):
            model_input = pd.DataFrame({"text": list(model_input)})
        out = self.tagger.predict_frame(model_input, "text")
        columns = ["labels"] + [f"score_{c}" for c in self.tagger.labels_] + ["error"]
        result = out[columns].copy()
        result["error"] = result["error"].fillna("")
        return result


def log_pyfunc(tagger: SectorTagger, bundle_path: str | Path, example_texts: list[str]) -> str:
    """Log the bundle as a pyfunc model (signature and input example) in the active run; return its URI."""
    example = pd.DataFrame({"text": example_texts})
    wrapper = SectorTaggerPyfunc()
    wrapper.tagger = tagger
    output = wrapper.predict(None, example)
    package_dir = Path(__file__).resolve().parent
    info = mlflow.pyfunc.log_model(
        name="model",
        python_model=str(package_dir / "mlflow_model.py"),
        artifacts={BUNDLE_ARTIFACT: str(bundle_path)},
        signature=infer_signature(example, output),
        input_example=example,
        code_paths=[str(package_dir)],
        pip_requirements=_requirements(),
    )
    return info.model_uri


def _requirements() -> list[str]:
    from importlib.metadata import version

    return [f"{p}=={version(p)}" for p in ("scikit-learn", "underthesea", "joblib", "pandas", "pyarrow", "mlflow")]


def register_and_promote(model_uri: str, name: str, metric: str, value: float, bundle_sha256: str,
                         champion: str = "champion", challenger: str = "challenger") -> tuple[str, str, float | None]:
    """Register a new version of `name`; it becomes `champion` when its `metric` is at least the current
    champion's, otherwise `challenger`. Returns (version, alias given, the previous champion's value)."""
    client = MlflowClient()
    version = str(mlflow.register_model(model_uri, name).version)
    client.set_model_version_tag(name, version, "bundle_sha256", bundle_sha256)
    client.set_model_version_tag(name, version, metric, f"{value:.6f}")
    previous = champion_metric(client, name, metric, champion)
    alias = champion if previous is None or value >= previous else challenger
    client.set_registered_model_alias(name, alias, version)
    return version, alias, previous


def champion_metric(client: MlflowClient, name: str, metric: str, alias: str = "champion") -> float | None:
    """The selection metric of the version holding `alias`, or None when there is none yet."""
    try:
        current = client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None
    if metric in current.tags:
        return float(current.tags[metric])
    run = client.get_run(current.run_id)
    return run.data.metrics.get(metric)


def log_json(obj: Any, artifact_file: str) -> None:
    """Log a JSON artifact into the active run."""
    mlflow.log_text(json.dumps(obj, ensure_ascii=False, indent=2), artifact_file)


def download_bundle(uri: str) -> tuple[Path, str | None]:
    """Fetch the bundle of a `models:/` or `runs:/` model; return its local path and the SHA-256
    recorded at registration (None for a run URI)."""
    expected = None
    try:
        if uri.startswith("models:/"):
            name, _, ref = uri[len("models:/"):].partition("@")
            client = MlflowClient()
            if ref:
                mv = client.get_model_version_by_alias(name, ref)
            else:
                name, _, number = uri[len("models:/"):].partition("/")
                mv = client.get_model_version(name, number)
            expected = mv.tags.get("bundle_sha256")
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=tempfile.mkdtemp(prefix="sectortag-")))
    except MlflowException as e:
        raise ModelError(f"{uri}: cannot fetch the model from MLflow at {mlflow.get_tracking_uri()} ({e.message})") from None
    found = sorted(local.rglob("*.joblib"))
    if not found:
        raise ModelError(f"{uri}: no sectortag bundle among the model's artifacts")
    return found[0], expected
