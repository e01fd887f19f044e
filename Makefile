# qwenvl-agents — every target installs what it needs; `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
STAMP := $(VENV)/.stamp-install
# The exact versions the test suite passed with (make lock refreshes them); pyproject.toml keeps ranges.
LOCK := locks/dev.txt
EXTRAS := all,embeddings,studio,test
# The lock's torch and uv lines choose the versions installed before the rest.
TORCH_VERSION := $(shell sed -n 's/^torch==//p' $(LOCK))
UV_VERSION := $(shell sed -n 's/^uv==//p' $(LOCK))
LOCK_VENV := build/lock-venv
APT_PACKAGES := chromium libreoffice-impress libreoffice-writer libreoffice-calc poppler-utils fonts-wqy-microhei fonts-dejavu-core
VLLM_PORT ?= 8765
STUDIO_PORT ?= 2024

.DEFAULT_GOAL := help
.PHONY: help install lock system-deps demo test test-unit lint format typecheck check-deps bench vlm-test-server vlm-test-server-stop studio clean

help: ## Show this help
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-22s\033[0m %s\n", $$1, $$2}'

install: $(STAMP) ## Create .venv with exactly the locked versions: the package, every extra, langgraph dev, test tools
# torch by pip first: its CPU build lies where pip's configuration points (uv does not look there), and from
# PyPI it would be a CUDA build of several GB; the lock's torch==X then finds it installed. uv installs the
# rest of the lock, exactly (sync removes what the lock does not name), in seconds.
$(STAMP): pyproject.toml $(LOCK)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(PY) -m pip install --quiet --disable-pip-version-check torch==$(TORCH_VERSION)
	$(UV) pip sync --quiet --python $(PY) --strict $(LOCK)
	$(UV) pip install --quiet --python $(PY) --no-deps --no-build-isolation -e .
	@touch $@

lock: ## Refresh locks/ to the newest versions pyproject.toml allows (then run make test, and commit if it passes)
	rm -rf $(LOCK_VENV) && $(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install --quiet --disable-pip-version-check --upgrade pip uv setuptools wheel
	$(LOCK_VENV)/bin/pip install --quiet --disable-pip-version-check torch==$(TORCH_VERSION)
	$(LOCK_VENV)/bin/uv pip install --quiet --python $(LOCK_VENV)/bin/python --upgrade -e '.[$(EXTRAS)]'
	{ echo "# The project's .venv, exactly: made by 'make lock' from pyproject.toml ($(EXTRAS)); do not edit."; \
	  $(LOCK_VENV)/bin/uv pip freeze --python $(LOCK_VENV)/bin/python --exclude-editable | sed 's/^torch==\(.*\)+cpu$$/torch==\1/'; \
	} > $(LOCK)
	rm -rf $(LOCK_VENV)
	$(MAKE) install
	$(PY) -m tests.vllm_server lock

system-deps: ## Install LibreOffice, Chromium, poppler-utils and fonts from Debian (needs root), if missing
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "please run: sudo apt-get install -y --no-install-recommends$$missing"; exit 1; fi; \
	fi

demo: install system-deps ## Make the sample documents and list their pages (no GPU or server needed)
	$(VENV)/bin/qwenvl demo

test: lint typecheck check-deps system-deps ## Everything CI checks, failing fast: lint, typecheck, imports declared, the whole suite (with the real vLLM test server on the CPU)
	$(PY) -m tests.vllm_server install
	$(PY) -m tests.vllm_server build
	$(PY) -m pytest

test-unit: install ## Only the fast unit tests
	$(PY) -m pytest tests/unit -m "not integration"

lint: install ## ruff check and format check
	$(VENV)/bin/ruff check qwenvl_agents graphs tests bench examples
	$(VENV)/bin/ruff format --check qwenvl_agents graphs tests bench examples

format: install ## Format the code with ruff
	$(VENV)/bin/ruff check --fix qwenvl_agents graphs tests bench examples
	$(VENV)/bin/ruff format qwenvl_agents graphs tests bench examples

typecheck: install ## mypy on the package
	$(VENV)/bin/mypy

check-deps: install ## Every package the code imports is declared in pyproject.toml (deptry)
	$(VENV)/bin/deptry qwenvl_agents graphs examples

bench: install system-deps ## Run the benchmarks (ratios measured side by side)
	$(PY) bench/render.py
	$(PY) bench/ocr_quality.py
	$(PY) -m tests.vllm_server install
	$(PY) -m tests.vllm_server build
	$(PY) bench/ingest.py
	$(PY) bench/retrieval.py --minilm

vlm-test-server: install ## Start the tiny Qwen2.5-VL on a real vLLM server on the CPU (port $(VLLM_PORT))
	$(PY) -m tests.vllm_server install
	$(PY) -m tests.vllm_server build
	$(PY) -m tests.vllm_server start --port $(VLLM_PORT)

vlm-test-server-stop: ## Stop the vLLM test server
	$(PY) -m tests.vllm_server stop

# --allow-blocking: the ingest pipeline runs its own event loop in a worker thread and does SQLite/file I/O
# there; langgraph dev's detector (blockbuster) flags blocking calls under any loop, not only the server's.
# ORT_DISABLE_TELEMETRY: onnxruntime (OCR) otherwise reports to mobile.events.data.microsoft.com.
studio: install ## Serve agent, rag and ingest to LangGraph Studio with `langgraph dev` (port $(STUDIO_PORT))
	@data_dir="$$($(PY) -c 'from qwenvl_agents import Settings; print(Settings().data_dir.expanduser().resolve())')"; \
	case "$$data_dir/" in "$(CURDIR)/"*) \
	  echo "QWENVL_DATA_DIR=$$data_dir is inside the project folder, and langgraph dev reloads on every file written there."; \
	  echo "Put it elsewhere, e.g.: QWENVL_DATA_DIR=~/qwenvl-data make studio"; exit 1;; esac; \
	echo "data: $$data_dir"; \
	echo "open: https://smith.langchain.com/studio/?baseUrl=http://127.0.0.1:$(STUDIO_PORT)"; \
	LANGGRAPH_CLI_NO_ANALYTICS=1 LANGGRAPH_NO_VERSION_CHECK=true ORT_DISABLE_TELEMETRY=1 QWENVL_DATA_DIR="$$data_dir" \
	  exec $(VENV)/bin/langgraph dev --no-browser --allow-blocking --port $(STUDIO_PORT)

clean: ## Remove caches (not the data directory)
	rm -rf .pytest_cache .mypy_cache .ruff_cache build dist *.egg-info
