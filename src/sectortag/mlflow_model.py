"""Model-from-code entry for MLflow: the pyfunc is rebuilt from this file, not unpickled."""

from mlflow.models import set_model

from sectortag.tracking import SectorTaggerPyfunc

set_model(SectorTaggerPyfunc())
