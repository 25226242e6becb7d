# serbook — every target sets up what it needs on a fresh machine.
#   make book              execute every chapter (PROFILE=book) and build _build/html
#   PROFILE=smoke make book   the quick build
#   make pdf               the executed book (make book first) as one PDF, _build/pdf/serbook.pdf, printed by
#                          headless Chromium (chromium, chromium-browser or google-chrome); copied into _build/html
#   make test              ruff, then the whole test suite, on one worker process per core (TEST_WORKERS=0: one)
#   make bench             speed and memory measurements (results in bench/results.json)
#   make mutants           apply each deliberate bug of tests/mutants.py to a copy; the fast tests must catch it
#                          (MUTANTS="name ..." runs some of them)
#   make student           the chapters with the exercises' solutions removed, in _build/student
#   make instructor        the chapters with the solutions, in _build/instructor
#   make publish           push _build/html to the gh-pages branch (ghp-import), for publishing by hand
#   make real-corpora      download Emo-DB and RAVDESS, run chapters 0, 4, 5 on them, record the results
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PROFILE ?= book
STAMP := $(VENV)/.installed
# make test: pytest-xdist worker processes (auto = one per CPU core; 0 = none, the suite in one process)
TEST_WORKERS ?= auto
# make test: the folder of the suite's strict smoke build, which the browser tests reuse
TEST_BOOK ?= $(CURDIR)/_build/test-book

SERBOOK := PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/serbook
# make real-corpora: the free corpora downloaded, the chapters run on each, in the PROFILE profile
REAL_DATA ?= $(CURDIR)/_build/corpora
REAL_CORPORA ?= emodb ravdess
REAL_CHAPTERS ?= 00_corpora 04_leow_speaker_adversarial 05_pereira2018_began

.PHONY: setup book pdf test bench mutants clean notebooks student instructor publish real-corpora

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

pdf: setup
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/serbook pdf

test: setup
	$(VENV)/bin/ruff check serlib tests notebooks bench
	@# Chromium's helper processes die when Chromium is started from a pytest-xdist worker, so the browser
	@# tests run in a plain pytest process of their own, started beside the suite: they wait for the
	@# strict book the suite builds (its stamp; an earlier one is removed first) and render its pages
	@# while the suite goes on. Their report follows the suite's.
	@mkdir -p "$(TEST_BOOK)" && rm -f "$(TEST_BOOK)/.serbook-test-book.json" "$(TEST_BOOK).browser.log"
	@export PATH="$(CURDIR)/$(VENV)/bin:$$PATH" SERBOOK_TEST_BOOK="$(TEST_BOOK)"; \
	$(PY) -m pytest -q --durations=15 -n $(TEST_WORKERS) --dist loadgroup -m "not browser" & suite=$$!; \
	trap 'kill $$suite 2>/dev/null' INT TERM; \
	SERBOOK_TEST_BOOK_REUSE=1 SERBOOK_TEST_BOOK_WAIT_PID=$$suite \
	  $(PY) -m pytest -q --durations=15 -m browser > "$(TEST_BOOK).browser.log" 2>&1; browser=$$?; \
	wait $$suite; status=$$?; \
	echo "--- the browser tests (pytest -m browser), run beside the suite:"; cat "$(TEST_BOOK).browser.log"; \
	test $$status -eq 0 && test $$browser -eq 0

bench: setup
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m bench

mutants: setup
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=$${MKL_NUM_THREADS:-1} \
	  $(PY) -m tests.mutants $(MUTANTS)

student: setup
	$(VENV)/bin/serbook edition student

instructor: setup
	$(VENV)/bin/serbook edition instructor

publish: setup
	@test -f _build/html/index.html || { echo "make publish: no _build/html/index.html; run make book first"; exit 1; }
	$(VENV)/bin/ghp-import --no-jekyll --push --force _build/html

real-corpora: setup
	@set -e; for corpus in $(REAL_CORPORA); do \
	  rc=0; $(SERBOOK) data download $$corpus --root "$(REAL_DATA)/$$corpus" --yes || rc=$$?; \
	  if [ $$rc -ne 0 ] && [ $$rc -ne 3 ]; then echo "make real-corpora: $$corpus could not be downloaded (exit $$rc)"; exit $$rc; fi; \
	  for chapter in $(REAL_CHAPTERS); do \
	    $(SERBOOK) run notebooks/$$chapter.py -p profile=$(PROFILE) -p corpus=$$corpus \
	      -p data_root="$(REAL_DATA)/$$corpus" --output-dir "_build/real/$$corpus"; \
	    $(SERBOOK) results add "_build/real/$$corpus/$$chapter.results"; \
	  done; \
	done

clean:
	rm -rf _build book/chapters/*.ipynb book/chapters/*.results results
