"""Shared test fixtures: small synthetic Corpus tables that need no audio, a temporary cache, the
book's chapters executed in the smoke profile once per test session (``smoke_chapters``) and the
whole book built strictly from them (``strict_book``).

Under pytest-xdist (``make test`` runs the suite on one worker process per core, ``--dist
loadgroup``) two things are arranged here. Each worker's torch and BLAS libraries get their share
of the cores (``cores // workers`` threads, unless the caller set ``OMP_NUM_THREADS`` and its
kin), so two workers do not fight over the same cores; no result depends on the thread count (see
``tests/_pins.py``). And every test that uses the session's smoke runs or the strict book is put
in one group, ``book``, which runs on a single worker: the chapters are executed and the book is
built once, not once per worker."""

from __future__ import annotations

import os

if os.environ.get("PYTEST_XDIST_WORKER"):  # before torch or numpy is imported
    try:
        _cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        _cores = os.cpu_count() or 1
    _share = max(1, _cores // max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))))
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(_var, str(_share))

import pandas as pd  # noqa: E402 - after the thread counts are set
import pytest  # noqa: E402

from serlib.data.corpus import Corpus  # noqa: E402

BUILD_TIME_NOTE = "serbook-strict-book-time"
BOOK_GROUP = "book"
"""The xdist group of every test that uses ``smoke_chapters`` or ``strict_book``."""


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items) -> None:
    """Put the tests that share the session's chapter runs and book build in one xdist group (before
    xdist reads the groups): under ``--dist loadgroup`` they run on one worker, which executes
    each chapter and builds the book once."""
    for item in items:
        if {"smoke_chapters", "strict_book"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.xdist_group(BOOK_GROUP))


def make_table_corpus(n_speakers_per_gender: int = 5, per_class: int = 3, labels=("neutral", "angry", "sad", "happy"),
                      sessions: bool = True, seed: int = 0) -> Corpus:
    """A Corpus of fake rows (no audio): each speaker has ``per_class`` utterances of every class."""
    rows = []
    for i in range(n_speakers_per_gender):
        for g in ("F", "M"):
            spk = f"S{i + 1:02d}{g}"
            for lab in labels:
                for k in range(per_class):
                    rows.append({"utt_id": f"{spk}_{lab}_{k}", "path": f"/nonexistent/{spk}_{lab}_{k}.wav",
                                 "corpus": "table", "speaker": spk, "gender": g,
                                 "session": f"Ses{i + 1:02d}" if sessions else spk, "emotion": lab,
                                 "transcript": "", "duration": 1.0, "sample_rate": 16000})
    return Corpus("table", pd.DataFrame(rows), labels)


@pytest.fixture
def table_corpus() -> Corpus:
    return make_table_corpus()


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setenv("SERLIB_CACHE", str(d))
    return d


@pytest.fixture
def one_torch_thread():
    """Run a test with torch on one thread, restoring the previous count afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def smoke_chapters(tmp_path_factory):
    """The book's chapters, each executed in the smoke profile at most once per test session, into a
    temporary copy of the book's sources: ``smoke_chapters.run(stem)`` is the executed ``.ipynb``,
    its tables in ``<stem>.results`` beside it (see ``tests/_book.py``)."""
    from tests._book import SmokeChapters

    return SmokeChapters(tmp_path_factory.mktemp("strict_book"))


@pytest.fixture(scope="session")
def strict_book(smoke_chapters, request):
    """The whole book, every toc chapter executed in the smoke profile (the session's runs), built
    with ``-W -n`` into a temporary folder: once per test session, whoever asks first (see
    ``tests/_book.py``)."""
    from tests._book import BuildTimeNote, build_strict_book

    book = build_strict_book(smoke_chapters)
    workeroutput = getattr(request.config, "workeroutput", None)
    if workeroutput is None:  # not an xdist worker: this process prints the summary
        request.config.pluginmanager.register(BuildTimeNote(book.seconds, book.source), BUILD_TIME_NOTE)
    else:
        workeroutput[BUILD_TIME_NOTE] = [book.seconds, str(book.source)]
    return book


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """Under pytest-xdist: the worker that built the strict book hands its time to this process's summary."""
    built = getattr(node, "workeroutput", {}).get(BUILD_TIME_NOTE)
    if built and not node.config.pluginmanager.has_plugin(BUILD_TIME_NOTE):
        from tests._book import BuildTimeNote

        node.config.pluginmanager.register(BuildTimeNote(*built), BUILD_TIME_NOTE)
