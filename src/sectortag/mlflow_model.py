"""Model-from-code entry for MLflow: the pyfunc is rebuilt from this file, not unpickled.

An MLflow pyfunc directory runs this code when loaded (that is how MLflow works); the model it reads is a
sectortag model file, loaded by the same safe loader as everywhere else (data only, hash-checked).
"""

import mlflow
import pandas as pd
from mlflow.models import set_model


class SectorTaggerPyfunc(mlflow.pyfunc.PythonModel):
    """Input: a DataFrame with a `text` column (or a list of texts). Output: the columns of `predict_frame` and
    `sectortag predict` — `labels` (list of codes), `score_<code>` per sector, `error` (null when the row was
    tagged) — and `model_version`, `model_sha256`. Missing values are nulls, never NaN, so served JSON is valid."""

    def load_context(self, context) -> None:
        from sectortag.model import SectorTagger
        from sectortag.registry import version_of

        self.tagger = SectorTagger.load(context.artifacts["model"])
        self.tagger.version_ = version_of(self.tagger.sha256_)

    def predict(self, context, model_input, params=None) -> pd.DataFrame:
        if not isinstance(model_input, pd.DataFrame):
            model_input = pd.DataFrame({"text": list(model_input)})
        out = self.tagger.predict_frame(model_input, "text")
        columns = ["labels"] + [f"score_{c}" for c in self.tagger.labels_] + ["error"]
        result = out[columns].assign(**self.tagger.provenance()).astype(object)
        return result.where(result.notna(), None)


set_model(SectorTaggerPyfunc())
