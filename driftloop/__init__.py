"""driftloop: a closed-loop MLOps pipeline on Apache Airflow 3 (the Airflow-free core)."""

from __future__ import annotations

import os

__version__ = "0.1.0"

# Telemetry of the libraries we drive is off before any of them is imported,
# so nothing phones home or waits on the network. Users can still opt in.
_TELEMETRY_OFF = {
    "GX_ANALYTICS_ENABLED": "false",
    "BENTOML_DO_NOT_TRACK": "True",
    "WHYLOGS_NO_ANALYTICS": "1",
    "SCARF_ANALYTICS": "false",
    "AIRFLOW__USAGE_DATA_COLLECTION__ENABLED": "False",
    "DO_NOT_TRACK": "1",
    # MLflow reads only "true" here, not DO_NOT_TRACK=1.
    "MLFLOW_DISABLE_TELEMETRY": "true",
}
for _name, _value in _TELEMETRY_OFF.items():
    os.environ.setdefault(_name, _value)
