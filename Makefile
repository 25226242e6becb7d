# serbook — every target sets up what it needs on a fresh machine.
#   make book              execute every chapter (PROFILE=book) and build _build/html
#   PROFILE=smoke make book   the quick build
#   make test              the whole test suite
#   make bench             speed and memory measurements (results in bench/results.json)
#   make student           the chapters with the exercises' solutions removed, in _build/student
#   make instructor        the chapters with the solutions, in _build/instructor
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PROFILE ?= book
STAMP := $(VENV)/.installed

.PHONY: setup book test bench clean notebooks student instructor

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[book,test]"
	touch $(STAMP)

setup: $(STAMP)

notebooks: setup
	$(VENV)/bin/jupytext --sync notebooks/*.py >/dev/null

book: setup
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/serbook book --profile $(PROFILE)

test: setup
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m pytest -q

bench: setup
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m serlib.bench

student: setup
	$(VENV)/bin/serbook edition student

instructor: setup
	$(VENV)/bin/serbook edition instructor

clean:
	rm -rf _build book/chapters/*.ipynb book/chapters/*.results results
