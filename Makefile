# Sequences with RNNs: every command a student, instructor or maintainer needs.
# Each target sets up .venv from requirements.txt first (idempotent, fast when
# nothing changed).

PYTHON_SYSTEM ?= python3
VENV      := .venv
PY        := $(VENV)/bin/python
STAMP     := $(VENV)/.installed
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
# Quiet TensorFlow everywhere the Makefile starts Python.
export TF_CPP_MIN_LOG_LEVEL := 3
export TF_ENABLE_ONEDNN_OPTS := 0

.PHONY: help setup demo test test-fast lab release release-check grade bench sync clean

help:
	@echo "make demo     build the release, grade the bundled example class, print the totals"
	@echo "make test     run every test (notebooks, metrics, exercises, autograder)"
	@echo "make lab      open JupyterLab on the course (nbgrader extensions included)"
	@echo "make release  regenerate release/ from source/"
	@echo "make grade ASSIGNMENT=... SUBMISSIONS=... OUT=...   grade a folder of submissions"
	@echo "make bench    print speed ratios against the named peers (spec section 8); BENCH=metrics|notebooks|grading|cluster for one"

setup: $(STAMP)

$(STAMP): requirements.txt constraints.txt pyproject.toml
	@test -x $(PY) || $(PYTHON_SYSTEM) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

demo: $(STAMP)
	$(PY) -m autograder demo

test: $(STAMP)
	$(PY) -m pytest -n 2 --timeout=900 $(PYTEST_ARGS)

# Root (containers, CI) needs --allow-root. JupyterLab reads default settings from
# share/jupyter/lab/settings/overrides.json: ours turn off the news and update checks
# (they need a network the course does not assume, and their pop-up hides the notebook).
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings/overrides.json
$(LAB_SETTINGS): tools/jupyterlab/overrides.json $(STAMP)
	@mkdir -p $(dir $@)
	cp $< $@

lab: $(STAMP) $(LAB_SETTINGS)
	$(VENV)/bin/jupyter lab --notebook-dir=$(CURDIR) --LabApp.news_url=None \
		$(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

release: $(STAMP)
	$(PY) -m autograder release

release-check: $(STAMP)
	$(PY) -m autograder release --check

ASSIGNMENT ?=
SUBMISSIONS ?=
OUT ?= grading-output
grade: $(STAMP)
	@test -n "$(ASSIGNMENT)" -a -n "$(SUBMISSIONS)" || { echo "usage: make grade ASSIGNMENT=01_hidden_state SUBMISSIONS=path/to/submissions [OUT=dir]"; exit 2; }
	$(PY) -m autograder grade $(ASSIGNMENT) $(SUBMISSIONS) --out $(OUT)

# make bench                  every benchmark (metrics, notebooks, grading)
# make bench BENCH=grading    only the named ones
bench: $(STAMP)
	$(PY) -m benchmarks $(BENCH)

sync: $(STAMP)
	$(PY) tools/sync_notebooks.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis gradebook.db
