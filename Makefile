# The README's commands. Each installs what it needs on first use and is quick afterwards.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PY_STAMP   := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: install tools demo demo-down demo-loop test cloud-up cloud-down bench clean custodian-venv

install: $(PY_STAMP) $(NODE_STAMP) tools

# Tools only Debian packages provide: installed when missing and running as root; otherwise the
# tests that need them say so (and skip) loudly.
DEBIAN_TOOLS := restic prometheus prometheus-alertmanager
DEBIAN_POSTGRES := postgresql postgresql-contrib
tools:
	@for tool in $(DEBIAN_TOOLS); do \
	  command -v $$tool >/dev/null && continue; \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing $$tool (Debian package)"; \
	    apt-get install -y -q $$tool >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q $$tool >/dev/null; }; \
	  else \
	    echo "WARNING: $$tool is not installed and this is not root: the tests that need it will be skipped (apt-get install $$tool)"; \
	  fi; \
	done
	@# Prefect on PostgreSQL needs pg_trgm, which the pgserver wheel lacks: Debian's server and contrib
	@ls /usr/share/postgresql/*/extension/pg_trgm.control >/dev/null 2>&1 || \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing postgresql postgresql-contrib (Debian packages)"; \
	    apt-get install -y -q $(DEBIAN_POSTGRES) >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q $(DEBIAN_POSTGRES) >/dev/null; }; \
	  else \
	    echo "WARNING: no PostgreSQL with pg_trgm and this is not root: the Prefect-on-PostgreSQL demo and scale test cannot run (apt-get install $(DEBIAN_POSTGRES))"; \
	  fi

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

# Prometheus → Alertmanager → receiver → failover, once, with the real components; prints the time
# from "site down" to "validated failover".
demo-loop: install
	$(PY) -m demo.loop

test: install
	$(PY) -m pytest

# Cloud Custodian 0.9.53 in a venv of its own (.local/venv-c7n), the rightsizing oracle; the oracle
# test and bench/rightsizing.py also build it on first use.
custodian-venv: install
	$(PY) -m multicloud.testing.custodian build

cloud-up: install
	$(PY) -m deployments.cloudstack up

cloud-down:
	$(PY) -m deployments.cloudstack down

bench: install
	$(PY) bench/storage.py
	$(PY) bench/replication.py
	$(PY) bench/backups.py
	$(PY) bench/costs.py
	$(PY) bench/rightsizing.py

clean: demo-down
	rm -rf .local
