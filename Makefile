# sectortag: every target installs what it needs into .venv first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONFIG ?= training/config.toml
SHARED ?= ../shared
EXTRA ?=

.DEFAULT_GOAL := help
.PHONY: help setup train evaluate predict test bench validate-data mlflow-ui mlflow-server mlflow-server-stop clean system-deps serve

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-19s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)  # never re-made over an existing one (another Python would break it)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP) ## create .venv and install sectortag with its dev extras (re-runs when pyproject.toml changes)

train: $(STAMP) ## train on datasets/, log the run to MLflow, register a version (EXTRA=file.jsonl adds training data)
	$(BIN)/sectortag train --config $(CONFIG) $(foreach f,$(EXTRA),--extra $(f))

evaluate: $(VENV)/.installed-bench ## our model, baselines and ablations on every evaluation set; writes reports/
	$(BIN)/python -m sectortag.jobs.evaluate --config $(CONFIG)

predict: $(STAMP) ## tag a file: make predict INPUT=in.jsonl OUTPUT=out.jsonl [MODEL=path-or-uri]
	@test -n "$(INPUT)" -a -n "$(OUTPUT)" || { echo "usage: make predict INPUT=file OUTPUT=file"; exit 2; }
	$(BIN)/sectortag predict --input "$(INPUT)" --output "$(OUTPUT)" $(if $(MODEL),--model "$(MODEL)")

validate-data: $(STAMP) ## check datasets/: schema, duplicates, counts, splits
	$(BIN)/python -m sectortag.jobs.validate_data --config $(CONFIG)

# The tests of the optional paths (Spark, a PostgreSQL-backed MLflow server, the HTML report in a browser) need
# the optional extras and two Debian packages; `make test` installs what is missing and skips, with a reason,
# what it could not install.
$(VENV)/.installed-test: $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[dev,spark,db,report]" && touch $@

test: $(VENV)/.installed-test system-deps ## run the whole test suite (installs the optional extras and, as root, PostgreSQL and Chromium when missing)
	$(BIN)/python -m pytest -q

# Debian packages, installed only when missing and only as root (CI); a user's machine is never touched
# otherwise: the command to run is printed instead. SYSTEM_DEPS=skip turns it off.
system-deps: ## install Debian's postgresql and chromium when missing (as root; prints the command otherwise)
	@missing=""; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	if [ -z "$$missing" ] || [ "$(SYSTEM_DEPS)" = skip ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else \
	  echo "note:$$missing not installed; their tests are skipped (to run them: sudo apt-get install$$missing)"; \
	fi

$(VENV)/.installed-bench: $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[dev,bench]" && touch $@ \
	  || echo "make bench: could not install the bench extra (fastText); the peer is reported as not installed"

$(VENV)/.installed-spark: $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[dev,spark]" && touch $@ \
	  || echo "make bench: could not install the spark extra (pyspark); the Spark section is skipped"

bench: $(VENV)/.installed-bench $(VENV)/.installed-spark ## measure throughput, memory, start-up, training time, one process vs Spark; writes reports/bench.{json,md} (BENCH_ARGS=--no-spark skips Spark)
	$(BIN)/python -m sectortag.jobs.bench --shared $(SHARED) $(BENCH_ARGS)

SERVE_PORT ?= 5002
serve: $(STAMP) ## serve the champion over HTTP (POST /invocations) on 127.0.0.1:$(SERVE_PORT) with mlflow models serve
	PATH="$(abspath $(BIN)):$$PATH" MLFLOW_TRACKING_URI="$${MLFLOW_TRACKING_URI:-sqlite:///$(abspath mlflow.db)}" \
	  $(BIN)/mlflow models serve -m "models:/sectortag@champion" --env-manager local -h 127.0.0.1 -p $(SERVE_PORT)

mlflow-ui: $(STAMP) ## browse runs and models at http://127.0.0.1:5000
	$(BIN)/mlflow ui --backend-store-uri $${MLFLOW_TRACKING_URI:-sqlite:///mlflow.db}

# A shared MLflow server for a team: PostgreSQL (Debian's postgresql, `make system-deps`) and `mlflow server` on
# it, everything under .mlflow-server/; SERVER_ARGS="--host 0.0.0.0 --port 5050 --pg-port 5433" changes where.
$(VENV)/.installed-db: $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[dev,db]" && touch $@

mlflow-server: $(VENV)/.installed-db ## start a shared MLflow server on PostgreSQL (.mlflow-server/) and print the MLFLOW_TRACKING_URI to export
	$(BIN)/python -m sectortag.jobs.server start $(SERVER_ARGS)

mlflow-server-stop: $(STAMP) ## stop the server of `make mlflow-server` and its PostgreSQL (the data stays)
	$(BIN)/python -m sectortag.jobs.server stop

clean: ## remove .venv, trained models, reports and caches (keeps mlflow.db)
	rm -rf $(VENV) models/*.sectortag reports .pytest_cache .hypothesis src/*.egg-info
