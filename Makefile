# The README's commands. Each installs what it needs on first use and is quick afterwards.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PY_STAMP   := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: install demo demo-down test cloud-up cloud-down bench clean

install: $(PY_STAMP) $(NODE_STAMP)

$(PY_STAMP): pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[dev]'
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

demo: install
	$(PY) -m demo up

demo-down:
	$(PY) -m demo down

test: install
	$(PY) -m pytest

cloud-up: install
	$(PY) -m deployments.cloudstack up

cloud-down:
	$(PY) -m deployments.cloudstack down

bench: install
	$(PY) bench/storage.py
	$(PY) bench/replication.py
	$(PY) bench/costs.py

clean: demo-down
	rm -rf .local
