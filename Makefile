# Two commands on a fresh machine (Python 3.11+, make, Terraform >= 1.10 on PATH):
#   make demo   runs the runbook on the example parameters
#   make test   runs the test suite, notebooks included
# Both create .venv and install the package with its dev extras on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
NBVAL  := --nbval --nbval-sanitize-with notebooks/nbval-sanitize.cfg

# Offline machines carry an unpacked AWS provider mirror; use it when it is there.
export RUNBOOK_TF_PROVIDER_MIRROR ?= $(wildcard /opt/tf-plugins)

.PHONY: demo test install clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m runbook_lib.demo

# The committed notebooks' outputs come from a fresh sandbox; nbval replays them on one.
TEST_SANDBOX := $(CURDIR)/build/test-sandbox

test: $(STAMP)
	-RUNBOOK_SANDBOX_DIR=$(TEST_SANDBOX) $(BIN)/runbook sandbox stop > /dev/null
	rm -rf $(TEST_SANDBOX) build/notebooks
	RUNBOOK_SANDBOX_DIR=$(TEST_SANDBOX) $(BIN)/python -m pytest $(NBVAL) tests notebooks; \
	status=$$?; RUNBOOK_SANDBOX_DIR=$(TEST_SANDBOX) $(BIN)/runbook sandbox stop > /dev/null; exit $$status

clean:
	rm -rf build runs .pytest_cache
