#!/usr/bin/env bash
# A separate virtualenv with Apache Airflow for the Airflow example's tests
# (examples/airflow/tests): Airflow's dependency pins would fight the app's. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.tools/airflow-venv
AIRFLOW_VERSION=3.3.2
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import airflow, azure.identity, sys; sys.exit(airflow.__version__ != '$AIRFLOW_VERSION')" 2>/dev/null; then
  echo "installing Apache Airflow $AIRFLOW_VERSION into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q "apache-airflow==$AIRFLOW_VERSION" "requests>=2.31" "azure-identity==1.27.0" "pytest>=8" "pytest-timeout>=2.3"
fi
