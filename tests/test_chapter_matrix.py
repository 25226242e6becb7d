"""Every chapter completes, exercises included, on every real corpus it supports and with each of its
documented switches flipped.

Each cell executes one chapter notebook in the ``smoke`` profile and asserts that no cell raised,
that the run saved its results, and that what the cell changed reached the results: a corpus cell's
``run.json`` names every corpus it was given, read from the tree it was given; a switch cell's
tables differ from those of the same chapter's run without the switch (a switch the code ignored
would leave them identical: both runs are on one machine, where a chapter's run is repeatable bit
for bit). A switch combined with a corpus is checked where it shows in the tables' shape
(``probe=false`` saves no speaker-probe table). The real corpora are the fixture trees of
:mod:`serlib.data.fixtures`, written once per session. To keep the matrix to a few dozen short runs,
a cell changes **one thing** from the smoke profile: the corpus (its fixture tree) *or* one boolean
/ choice parameter, or both where the switch is independent of the corpus (then the cell also
covers that corpus). Cells left out on purpose, and why:

* ``size`` / ``corpus_size`` (tiny, default, large): the same code on a larger embedded corpus; the
  ``book`` profile (default) is what the book build runs.
* chapter 2 ``mixup_pairs`` = real_real / real_fake and ``ablation_pairs``: the smoke profile's
  ablation already trains a GAN with each of these pairings; the cell ``mixup_pairs=none`` covers
  the one the ablation does not.
* chapter 3 ``audio_encoder`` (ast, wav2vec2), ``text_encoder`` (bert, roberta, llama),
  ``balance_classes``: need local checkpoints; tests/test_ahn.py runs the paper profile with tiny
  stand-ins of wav2vec2 + RoBERTa (Table V), wav2vec2 + Llama with ``balance_classes`` (Table VI)
  and loads AST + BERT. ``test_set`` test2/test3: the fixture's release has only Test1, and
  test_ahn.py checks the refusal. ``split=speaker`` is what ``auto`` means on these corpora.
* chapter 0 on OMG-Emotion: its fixture's four videos (the corpus's speakers and sessions) share
  almost no class, so leave-one-video-out leaves classes without training examples (a fixture
  limit: the release has hundreds of videos). Chapter 5 runs OMG-Emotion on its predefined split.
* chapter 5 ``retrain_encoder`` (the cache logic is unit-tested in test_pereira2018.py),
  ``freq_bins`` (the encoder's shapes are unit-tested), ``curve_methods`` subsets (the smoke
  profile runs every method), ``pretrain_corpus=librispeech`` is the real-corpora cell.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from serlib.config import project_root
from serlib.data.fixtures import make_fixture, msp_improv_transcripts

ROOT = project_root()

# Parameters every cell gets (one place to add what all runs need).
COMMON = {"profile": "smoke"}

# A cell asks whether a chapter completes with one switch flipped, not whether its method learns
# (each chapter's test_notebook_smoke asserts that, on the smoke profile itself): the cells train
# a few steps per network, as short as each chapter's code allows.
QUICK: dict[str, dict] = {
    "00_corpora": {},
    "01_sahu2018_gan": {"seeds": [0], "aae_epochs": 2, "gan_epochs": 3, "n_synthetic_per_class": 8},
    "02_latif2020_mixup_gan": {"max_folds": 2, "epochs": 2, "clf_epochs": 2, "ablation_folds": 1,
                               "ablation_seeds": [0], "n_synthetic_per_class": 8},
    "03_ahn_infogan": {"max_folds": 2, "epochs_stage1": 2, "epochs_gan": 3, "epochs_stage3": 3},
    "04_leow_speaker_adversarial": {"max_epochs": 3},
    "05_pereira2018_began": {"epochs": 1, "head_max_epochs": 2},
}


@pytest.fixture(scope="session")
def trees(tmp_path_factory):
    """One fixture tree per corpus (SAVEE with three utterances per class and speaker, so that its
    per-speaker 60/40 split keeps every class), and a reader's transcript table for MSP-IMPROV."""
    base = tmp_path_factory.mktemp("corpora")
    roots = {name: str(make_fixture(name, base / name, n_per_class=3 if name == "savee" else None))
             for name in ("iemocap", "msp_improv", "msp_podcast", "emodb", "ravdess", "savee", "omg", "librispeech")}
    roots["msp_improv_text"] = str(msp_improv_transcripts(roots["msp_improv"], base / "msp_improv_text.csv"))
    targets = base / "msp_improv_targets.csv"
    targets.write_text("sentence,text\n" + "".join(f"{k},target sentence {k}\n" for k in range(1, 21)))
    roots["msp_improv_targets"] = str(targets)
    return roots


def _real(name: str, key: str = "corpus", root_key: str = "data_root") -> dict[str, str]:
    return {key: name, root_key: f"@{name}"}


CELLS: dict[str, list[tuple[str, dict]]] = {
    "00_corpora": [
        ("iemocap+is10", {**_real("iemocap"), "feature_set": "is10"}),
        ("msp_improv+speaker", {**_real("msp_improv"), "protocol": "speaker"}),
        ("msp_podcast", _real("msp_podcast")),
        ("emodb", _real("emodb")),
        ("ravdess", _real("ravdess")),
        ("savee", _real("savee")),
        ("variant=cross", {"variant": "cross"}),
    ],
    "01_sahu2018_gan": [
        ("iemocap->msp_improv", {**_real("iemocap"), **_real("msp_improv", "cross_corpus", "cross_data_root")}),
        ("label_conditioned_prior=false", {"label_conditioned_prior": False}),
        ("cgan_variants=all", {"cgan_variants": ["baseline", "decoder_init", "improved"]}),
        ("svm_gamma=scale", {"svm_gamma": "scale"}),
        ("no cross corpus", {"cross_corpus": ""}),
    ],
    "02_latif2020_mixup_gan": [
        ("iemocap->msp_improv+lam_per_sample", {**_real("iemocap"),
                                                **_real("msp_improv", "cross_corpus", "cross_data_root"),
                                                "lam_per_sample": True}),
        ("mixup_pairs=none", {"mixup_pairs": "none"}),
        ("encoder=aae", {"encoder": "aae"}),
        ("encoder=none", {"encoder": "none"}),
        ("conditioning=concat", {"conditioning": "concat"}),
        ("classifier_mixup=all", {"classifier_mixup": ["real", "synthetic", "real+synthetic", "codes"]}),
        ("compare_chapter1=false", {"compare_chapter1": False}),
        ("ablation=false", {"ablation": False}),
        ("ablation_grid=true", {"ablation_grid": True}),
        ("no cross corpus", {"cross_corpus": ""}),
    ],
    "03_ahn_infogan": [
        ("iemocap", _real("iemocap")),
        ("msp_improv+transcripts", {**_real("msp_improv"), "transcripts": "@msp_improv_text"}),
        ("msp_improv+targets+exclude", {**_real("msp_improv"), "target_sentences": "@msp_improv_targets",
                                        "missing_text": "exclude"}),
        ("msp_podcast", _real("msp_podcast")),
        ("split=session", {"split": "session"}),
        ("split=predefined", {"split": "predefined"}),
        ("ablation=false", {"ablation": False}),
    ],
    "04_leow_speaker_adversarial": [
        ("emodb+probe=false", {**_real("emodb"), "probe": False}),
        ("ravdess+select=uar", {**_real("ravdess"), "select": "uar"}),
        ("encoders without cnn_bigru", {"encoders": ["tdnn_bilstm", "cnn1d_gru"]}),
        ("kernel_sizes=2", {"kernel_sizes": [2]}),
        ("input_norm=none", {"input_norm": "none"}),
        ("input_norm=train", {"input_norm": "train"}),
    ],
    "05_pereira2018_began": [
        ("librispeech+savee+omg+emodb", {**_real("librispeech", "pretrain_corpus", "pretrain_data_root"),
                                         "savee_root": "@savee", "omg_root": "@omg", "emodb_root": "@emodb"}),
        ("emodb+protocols=loso", {**_real("emodb"), "protocols": ["loso"]}),
        ("freeze_encoder=false", {"freeze_encoder": False}),
        ("representation=embedding", {"representation": "embedding"}),
        ("chunk_weighting=uniform", {"chunk_weighting": "uniform"}),
        ("yardstick=false", {"yardstick": False}),
    ],
}


# Tables a switch removes (beside the corpus check of the cell's corpora).
ABSENT: dict[str, list[str]] = {"emodb+probe=false": ["speaker_probe.csv"]}
CORPUS_KEYS = ("corpus", "cross_corpus", "pretrain_corpus", "savee_root", "omg_root", "emodb_root")


def _resolve(params: dict, trees: dict[str, str]) -> dict:
    return {k: (trees[v[1:]] if isinstance(v, str) and v.startswith("@") else v) for k, v in params.items()}


def _run(chapter: str, run_params: dict, out: Path, session) -> Path:
    from serlib.run import execute

    nb = execute(ROOT / "notebooks" / f"{chapter}.py", run_params, output_dir=out, progress=False, session=session)
    book = nbformat.read(nb, as_version=4)
    errors = [o for c in book.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.output_type == "error"]
    assert not errors
    res = out / f"{chapter}.results"
    assert list(res.glob("*.csv")), "the run saved no result table"
    return res


@pytest.fixture(scope="session")
def baseline(tmp_path_factory, kernel_session):
    """Each chapter's run without a switch (``COMMON`` + ``QUICK``), made once when a cell first asks."""
    runs: dict[str, Path] = {}

    def get(chapter: str) -> Path:
        if chapter not in runs:
            runs[chapter] = _run(chapter, {**COMMON, **QUICK[chapter]}, tmp_path_factory.mktemp(f"base-{chapter}"),
                                 kernel_session)
        return runs[chapter]

    return get


def _tables(res: Path) -> dict[str, pd.DataFrame]:
    return {p.name: pd.read_csv(p, index_col=0) for p in sorted(res.glob("*.csv"))}


def _same(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> bool:
    return a.keys() == b.keys() and all(a[k].shape == b[k].shape and a[k].equals(b[k]) for k in a)


@pytest.mark.slow
@pytest.mark.parametrize(("chapter", "name", "params"), [
    # one worker takes a chapter's cells (under pytest-xdist --dist loadgroup), so its baseline runs once
    pytest.param(chapter, name, params, id=f"{chapter[:2]}-{name}", marks=pytest.mark.xdist_group(f"matrix-{chapter}"))
    for chapter, cells in CELLS.items() for name, params in cells])
def test_chapter_cell(chapter, name, params, trees, baseline, kernel_session, tmp_path):
    run_params = {**COMMON, **QUICK[chapter], **_resolve(params, trees)}
    res = _run(chapter, run_params, tmp_path, kernel_session)
    run = json.loads((res / "run.json").read_text())
    assert run["parameters"] == run_params
    given = {k: v[1:] for k, v in params.items() if k in CORPUS_KEYS and str(v).startswith("@")}
    if given:  # every corpus given was read, from the tree given
        read = {(c["name"], c["root"]) for c in run["corpora"]}
        for key, corpus in given.items():
            assert (corpus, trees[corpus]) in read, (key, corpus, read)
        for table in ABSENT.get(name, []):
            assert not (res / table).exists(), f"{name}: {table} was saved"
    else:  # a switch alone: the results differ from the chapter's run without it
        assert not _same(_tables(res), _tables(baseline(chapter))), f"{name} changed no result table"
