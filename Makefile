# contextbot — the two commands a new machine needs:
#   make demo   set up (Python venv + dependencies) and replay the sample conversation through the bot
#   make test   set up everything the tests need (venv, Synapse in its own venv, Chromium) and run all tests
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python

.PHONY: setup demo test test-deps bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(PY) -m bot demo

test-deps: setup
	bash scripts/setup-test-deps.sh

test: test-deps
	$(PY) -m pytest -q

bench: setup
	$(PY) bench/eval_detection.py
	$(PY) bench/perturb.py
	$(PY) bench/eval_wild.py
	$(PY) bench/clef.py
	$(PY) bench/throughput.py
	$(PY) bench/rumoureval.py
	$(PY) bench/eval_claims.py
	$(PY) bench/scale.py

clean:
	rm -rf $(VENV) .venv-synapse .pytest_cache artifacts
