"""The speed and memory measurements of ``make bench`` (``python -m bench``), kept beside the
library rather than in it.

Nothing here is run by the book, so none of it is part of :mod:`serlib`, none of it ships in the
``serbook`` package, and editing it leaves the code version of resumable runs
(:func:`serlib.parallel.code_version`) unchanged:

* :mod:`bench.suite` measures the targets and writes ``bench/results.json``;
* :mod:`bench.models` times every chapter's networks at the papers' sizes, and the training
  engine against the hand-written loops it replaced;
* :mod:`bench.reference_loops` holds those loops (chapters 1-3), which the tests also use to
  check that the engine makes the same parameter updates;
* :mod:`bench.reference_features` holds the one-shot feature extraction that the chunked one
  replaced, which the tests also use to check that both give the same numbers.

Run it from the repository root, where the ``bench`` folder is importable.
"""
