"""Shared test fixtures: small synthetic Corpus tables that need no audio, a temporary cache, the
book's chapters executed in the smoke profile once per test session (``smoke_chapters``) and the
whole book built strictly from them (``strict_book``).

Under pytest-xdist (``make test`` runs the suite on one worker process per core) two things are
arranged here. Each worker's torch and BLAS libraries get their share of the cores (``cores //
workers`` threads, unless the caller set ``OMP_NUM_THREADS`` and its kin), so two workers do not
fight over the same cores; no result depends on the thread count (see ``tests/_pins.py``). And the
session's smoke runs and strict build live in one folder every worker sees, each made once under
a file lock by the first worker to need it (``tests/_book.py``), so the chapters' tests spread
over the workers while each chapter is executed, and the book built, once per session."""

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
def kernel_session():
    """One Jupyter kernel per test process for the tests that execute a notebook once
    (:class:`serlib.run.KernelSession`): each run starts from an emptied namespace, its own folder
    and this process's environment, as in a fresh kernel, without paying the kernel's start and the
    imports again. The session's smoke runs of the chapters, which the book build and the pins
    use, and the runs under other CPU kernels start kernels of their own."""
    from serlib.run import KernelSession

    with KernelSession() as session:
        yield session


@pytest.fixture(scope="session")
def smoke_chapters(tmp_path_factory):
    """The book's chapters, each executed in the smoke profile at most once per test session, into a
    temporary copy of the book's sources: ``smoke_chapters.run(stem)`` is the executed ``.ipynb``,
    its tables in ``<stem>.results`` beside it (see ``tests/_book.py``)."""
    from tests._book import SmokeChapters, shared_book_folder

    folder = shared_book_folder()
    if folder is None and os.environ.get("PYTEST_XDIST_WORKER"):  # the folder every worker of the session sees
        folder = tmp_path_factory.getbasetemp().parent / "strict_book"
    return SmokeChapters(folder or tmp_path_factory.mktemp("strict_book"))


@pytest.fixture(scope="session")
def strict_book(request):
    """The whole book, every toc chapter executed in the smoke profile (the session's runs), built
    with ``-W -n`` into a temporary folder (or ``SERBOOK_TEST_BOOK``): once per test session, whoever
    asks first; or an earlier session's build of the same tree, when ``SERBOOK_TEST_BOOK_REUSE=1``
    (see ``tests/_book.py``)."""
    from tests._book import BuildTimeNote, build_strict_book, reusable_book, shared_book_folder, stamp_book

    book = reusable_book()
    reused = book is not None
    if book is None:
        book = build_strict_book(request.getfixturevalue("smoke_chapters"))
        if shared_book_folder() is not None:
            stamp_book(book)
    workeroutput = getattr(request.config, "workeroutput", None)
    if workeroutput is None:  # not an xdist worker: this process prints the summary
        request.config.pluginmanager.register(BuildTimeNote(book.seconds, book.source, reused), BUILD_TIME_NOTE)
    else:
        workeroutput[BUILD_TIME_NOTE] = [book.seconds, str(book.source), reused]
    return book


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items) -> None:
    """Under ``--dist loadgroup`` every test marked ``xdist_group`` must carry its group in its id
    (pytest-xdist puts it there, and its scheduler keeps a group on one worker). A pytest that
    ignores the rewritten id would spread a group over the workers: each would then make the
    group's shared runs itself, and the suite would run minutes longer without failing."""
    if not (os.environ.get("PYTEST_XDIST_WORKER") and config.getvalue("loadgroup")):
        return
    lost = [item.nodeid for item in items
            if item.get_closest_marker("xdist_group") and "@" not in item.nodeid.rsplit("]", 1)[-1]]
    if lost:
        raise pytest.UsageError(f"pytest-xdist could not group {len(lost)} tests (e.g. {lost[0]}): this pytest "
                                "ignores the group in a test's id; install the pytest that pyproject.toml pins")


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """Under pytest-xdist: the worker that built the strict book hands its time to this process's summary."""
    built = getattr(node, "workeroutput", {}).get(BUILD_TIME_NOTE)
    if built and not node.config.pluginmanager.has_plugin(BUILD_TIME_NOTE):
        from tests._book import BuildTimeNote

        node.config.pluginmanager.register(BuildTimeNote(*built), BUILD_TIME_NOTE)
