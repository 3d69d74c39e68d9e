import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DAGS = HERE.parent / "dags"
sys.path.insert(0, str(DAGS))
os.environ.setdefault("AIRFLOW_HOME", str(HERE / ".airflow-home"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
