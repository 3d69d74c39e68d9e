# The README's commands. `make run` loads the embedded demo; `make test` runs every test
# (it installs and starts PostgreSQL and Azurite itself).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: azurite azurite-env azurite-stop run test test-airflow airflow-venv venv services demo validate bench infra-check fuzz clean

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps -e .   # the `ingest` command in the venv (this checkout's code)
	touch $@

venv: $(VENV)/.installed

demo: venv
	$(PY) -m examples.make_demo --out demo

run: demo
	INGEST_DATASET=demo $(PY) -m ingest run --config demo/ingestion_config.xlsx

validate: venv
	$(PY) -m ingest validate --config demo/ingestion_config.xlsx

services:
	bash scripts/install_services.sh

# local Azure storage: Azurite (installed into .tools/ if missing) with the app's containers;
# prints the settings to use. `eval "$$(make -s azurite-env)"` sets them in a shell.
azurite: venv
	$(PY) scripts/azurite.py start $(if $(BLOB_PORT),--blob-port $(BLOB_PORT))

azurite-env:
	@$(PY) scripts/azurite.py env

azurite-stop:
	$(PY) scripts/azurite.py stop

airflow-venv:
	bash scripts/airflow_venv.sh

test: venv services airflow-venv
	$(PY) -m pytest

test-airflow: venv airflow-venv
	INGEST_PYTHON=$(CURDIR)/$(PY) .tools/airflow-venv/bin/python -m pytest -p no:cacheprovider examples/airflow/tests

# infra/: every .bicep parses, checkov finds nothing unjustified, app settings match the code
infra-check: venv
	bash scripts/install_checkov.sh
	$(PY) -m pytest -q tests/unit/test_infra_parse.py tests/unit/test_infra_scan.py tests/unit/test_infra_network.py tests/unit/test_infra_settings.py

# the workbook fuzz at full size: 10,000 random workbooks through the reader and the planner
fuzz: venv
	INGEST_FUZZ_PROFILE=fuzz $(PY) -m pytest -q -s -p no:cacheprovider tests/unit/test_workbook_fuzz.py

bench: venv services
	$(PY) -m bench.run

clean:
	rm -rf lake audit logs demo .ingest
