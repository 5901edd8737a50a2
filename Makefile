# Two commands on a fresh machine (Python 3.11+, make, Terraform >= 1.10 on PATH):
#   make demo   runs the runbook on the example parameters
#   make test   runs the test suite, notebooks included
# And for developers: make test-fast runs everything but the slow tests (no Terraform, no sandbox).
# Both create .venv and install the package with its dev extras on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
NBVAL  := --nbval --nbval-sanitize-with notebooks/nbval-sanitize.cfg

# Offline machines carry an unpacked AWS provider mirror; use it when it is there.
export RUNBOOK_TF_PROVIDER_MIRROR ?= $(wildcard /opt/tf-plugins)

.PHONY: demo test test-fast install clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m runbook_lib.demo

# The committed notebooks' outputs come from a fresh sandbox; nbval replays them on one,
# first, and the tests then go on in that sandbox (tests/conftest.py, suite_sandbox), so
# the notebook suite applies each root once.
TEST_SANDBOX := $(CURDIR)/build/test-sandbox

test: $(STAMP)
	-RUNBOOK_SANDBOX_DIR=$(TEST_SANDBOX) $(BIN)/runbook sandbox stop > /dev/null
	rm -rf $(TEST_SANDBOX) build/notebooks
	RUNBOOK_SANDBOX_DIR=$(TEST_SANDBOX) $(BIN)/python -m pytest $(NBVAL) -n 2 --dist loadgroup --durations=20 notebooks tests; \
	status=$$?; RUNBOOK_SANDBOX_DIR=$(TEST_SANDBOX) $(BIN)/runbook sandbox stop > /dev/null; exit $$status

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" tests

clean:
	rm -rf build runs .pytest_cache
