"""Shared test fixtures: small synthetic Corpus tables that need no audio, a temporary cache, and the
whole book built strictly once per test session (``strict_book``)."""

from __future__ import annotations

import pandas as pd
import pytest

from serlib.data.corpus import Corpus


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
def strict_book(tmp_path_factory, request):
    """The whole book, every toc chapter executed in the smoke profile, built with ``-W -n`` into a
    temporary folder: once per test session, whoever asks first (see ``tests/_book.py``)."""
    from tests._book import BuildTimeNote, build_strict_book

    book = build_strict_book(tmp_path_factory.mktemp("strict_book"))
    request.config.pluginmanager.register(BuildTimeNote(book), "serbook-strict-book-time")
    return book
