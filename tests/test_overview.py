"""The results overview and the parameters reference (serlib.overview, notebooks 90 and 91).

The results folders are fabricated in tmp_path the way the chapters write them: tables built with
serlib.papers.beside from the papers' published numbers and small frames of ours, written with
serlib.results.save_table, plus a run.json.
"""

from __future__ import annotations

import dataclasses
import json

import nbformat
import pandas as pd
import pytest

from serlib import overview
from serlib.config import PROFILES, project_root
from serlib.papers import ahn as ahn_paper
from serlib.papers import beside
from serlib.papers import latif2020 as latif_paper
from serlib.papers import pereira2018 as pereira_paper
from serlib.papers import sahu2018 as sahu_paper
from serlib.results import save_json, save_table

ROOT = project_root()
STEMS = [c.stem for c in overview.CHAPTERS]


def _ours(paper_values: dict[str, float], rows: list[str], delta: float, text_col: str, mean_col: str,
          extra: dict[str, float] | None = None) -> pd.DataFrame:
    """Ours = the paper's number + ``delta`` on ``rows``; ``extra`` rows are ours only."""
    vals = {r: paper_values[r] + delta for r in rows} | dict(extra or {})
    return pd.DataFrame({text_col: [f"{v:.2f} ± 1.00" for v in vals.values()], mean_col: list(vals.values())},
                        index=list(vals))


def headline_tables(delta: float) -> dict[str, dict[str, pd.DataFrame]]:
    """For every chapter, its headline tables with ours = paper + ``delta`` where both exist."""
    from serlib.experiments import leow
    from serlib.papers.leow import TABLES as LEOW

    t = {}
    t["00_corpora"] = {"baseline_summary": pd.DataFrame(
        {"uar": ["51.25 ± 7.29", "78.75 ± 6.37"], "accuracy": ["51.25 ± 7.29", "78.75 ± 6.37"], "n": [5, 5]},
        index=pd.Index(["EGEMAPS + RBF-SVM", "EGEMAPS + RBF-SVM (speaker-adaptive norm.)"], name="method"))}
    s1, s3 = sahu_paper.TABLES["table1"], sahu_paper.TABLES["table3"]
    rows1 = ["Chance accuracy", "Only real openSMILE", "Real openSMILE + improved-conditional"]
    t["01_sahu2018_gan"] = {
        "table1": beside(_ours(s1.values, rows1, delta, "ours UAR (%) mean ± std", "ours mean"), s1),
        "table3": beside(_ours(s3.values, ["Only real openSMILE", "Real openSMILE + improved-conditional"], delta,
                               "ours UAR (%) mean ± std", "ours mean"), s3)}
    l3, l4 = latif_paper.TABLES["table3"], latif_paper.TABLES["table4"]
    rows = ["Latif et al. 2020: Real", "Latif et al. 2020: Real+Syn.", "Sahu et al. 2018: Real+Syn."]
    t["02_latif2020_mixup_gan"] = {
        name: beside(_ours(p.values, rows, delta, "ours UAR (%) mean ± std", "ours mean",
                           {"ours only: compressed codes of the mixup GAN": 30.0}), p)
        for name, p in (("table3", l3), ("table4", l4))}
    a2, a3 = ahn_paper.TABLES["II"], ahn_paper.TABLES["III"]
    t["03_ahn_infogan"] = {
        "table_ii": beside(_ours(a2.values, ["Ours — without augmentation", "Ours — with augmentation"], delta,
                                 "ours UAR (%)", "mean", {"Yardstick: IS10 + RBF-SVM": 50.0}), a2),
        "table_iii": beside(_ours(a3.values, ["Full model", "Without cross-modal alignment"], delta,
                                  "ours UAR (%)", "mean"), a3)}
    emodb1 = LEOW["table1_emodb"].values
    emodb2 = LEOW["table2_emodb"].values

    def leow_ours(values: dict[str, float], rows: list[str]) -> pd.DataFrame:
        return pd.DataFrame({"ours accuracy (%)": [values[r] + delta for r in rows], "ours accuracy std": 1.0,
                             "ours UAR (%)": [values[r] + delta for r in rows], "runs": 5}, index=rows)

    t["04_leow_speaker_adversarial"] = {
        "table1": leow.beside_paper(leow_ours(emodb1, ["1 / without AL", "1 / 2.50"]), "table1", "emodb"),
        "table2": leow.beside_paper(leow_ours(emodb2, ["2D CNN biGRU (MFCC)"]), "table2", "emodb"),
        "real_speech": pd.DataFrame({"without AL: accuracy (%)": [50.0, 52.0 + delta], "2.50: accuracy (%)": [51.0, 53.0]},
                                    index=[step for step, _ in leow.REAL_SPEECH_STEPS[:2]])}
    p1, p3 = pereira_paper.TABLES["table1"], pereira_paper.TABLES["table3"]
    mean1 = sum(p1.values.values()) / len(p1.values)
    began = "BEGAN encoder (pretrained, frozen) + conv head"
    t1 = pd.DataFrame({"paper: Pereira et al. (SAVEE)": [f"{v:.2f} ± 2.00" for v in p1.values.values()] + [""] * 2
                       + [f"{mean1:.2f}"],
                       f"ours (embedded): {began}": ["", "", "", "", "30.00", "40.00", f"{mean1 + delta:.2f} ± 0.50"]},
                      index=list(p1.values) + ["Ses01F", "Ses01M", "mean over speakers"])
    ours3 = pd.DataFrame({"ours (embedded) accuracy (%)": [f"{p3.values['Pereira et al. (BEGAN + supervised module)'] + delta:.2f} ± 0.00",
                                                           "50.00 ± 0.00"],
                          "ours (embedded) UAR (%)": ["31.25 ± 0.00", "50.00 ± 0.00"]},
                         index=[began, "IS10 + RBF-SVM"])
    t3 = beside(ours3, p3).rename(columns={p3.frame().columns[0]: "paper: accuracy (%), Emo-DB"})
    t["05_pereira2018_began"] = {"table1_speaker_dependent": t1, "table3_loso": t3}
    return t


PARTIAL_STEM = "04_leow_speaker_adversarial"
"""The chapter whose fabricated run.json says it ran on a partial Emo-DB with allow_partial."""


def _corpora(stem: str) -> list[dict]:
    if stem == PARTIAL_STEM:
        cov = {"loaded": 400, "expected": 535, "complete": False,
               "summary": "400 of 535: speakers 13, 16 missing (132 files)"}
        return [{"name": "emodb", "role": "main", "root": "/data/emodb", "options": {},
                 "fingerprint": {"files": 400, "bytes": 1, "sha256": "0" * 64}, "coverage": cov}]
    cov = {"loaded": 100, "expected": 100, "complete": True, "summary": "100 of 100: complete"}
    return [{"name": "embedded", "role": "main", "root": None, "options": {"size": "default"},
             "fingerprint": {"files": 100, "bytes": 1, "sha256": "1" * 64}, "coverage": cov}]


def fabricate(folder, monkeypatch, *, delta: float = 5.0, profile: str = "smoke", skip: tuple[str, ...] = (),
              seconds: dict[str, float] | None = None) -> dict[str, dict[str, pd.DataFrame]]:
    """Write every chapter's headline tables and run.json into ``folder/<stem>.results/``.

    ``skip`` holds ``"<stem>/<table>"`` (that table is not written) or ``"<stem>/run"``.
    """
    tables = headline_tables(delta)
    for i, stem in enumerate(STEMS):
        monkeypatch.setenv("SERBOOK_RESULTS_DIR", str(folder / f"{stem}.results"))
        for name, table in tables[stem].items():
            if f"{stem}/{name}" not in skip:
                save_table(name, table, stem, profile=profile, corpus="embedded")
        if f"{stem}/run" not in skip:
            save_json("run", {"notebook": f"notebooks/{stem}.py", "parameters": {"profile": profile},
                              "seconds": (seconds or {}).get(stem, 10.0 + i), "peak_rss_mib": 500.0 + i,
                              "finished": "2026-01-01 12:00:00", "versions": {}, "corpora": _corpora(stem),
                              "allow_partial": stem == PARTIAL_STEM, "git": {"commit": "abc1234def5678", "dirty": False},
                              "device": "cpu"}, stem)
    monkeypatch.delenv("SERBOOK_RESULTS_DIR")
    return tables


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------
def test_load_all_reads_every_chapter(tmp_path, monkeypatch):
    written = fabricate(tmp_path, monkeypatch, profile="smoke")
    results = overview.load_all(tmp_path, "smoke")
    assert [r.entry.stem for r in results] == STEMS
    for r in results:
        assert r.profile == "smoke" and not r.absent
        assert set(r.tables) == {h.name for h in r.entry.headlines}
        for name, table in r.tables.items():
            expected = written[r.entry.stem][name]
            assert list(table.columns) == [str(c) for c in expected.columns]
            assert list(table.index) == [str(i) for i in expected.index]
        assert r.meta[r.entry.headlines[0].name]["corpus"] == "embedded"


def test_missing_run_json_names_the_file_and_the_command(tmp_path, monkeypatch):
    fabricate(tmp_path, monkeypatch, skip=("04_leow_speaker_adversarial/run",))
    with pytest.raises(overview.ResultsMissing) as err:
        overview.load_all(tmp_path, "book")
    msg = str(err.value)
    assert str(tmp_path / "04_leow_speaker_adversarial.results" / "run.json") in msg
    assert "serbook run notebooks/04_leow_speaker_adversarial.py -p profile=book" in msg
    assert "01_sahu2018_gan" not in msg  # only what is missing is listed


def test_every_missing_file_is_listed_at_once(tmp_path, monkeypatch):
    fabricate(tmp_path, monkeypatch, skip=("00_corpora/run", "03_ahn_infogan/table_ii"))
    with pytest.raises(overview.ResultsMissing) as err:
        overview.load_all(tmp_path, "smoke")
    msg = str(err.value)
    assert str(tmp_path / "00_corpora.results" / "run.json") in msg
    assert str(tmp_path / "03_ahn_infogan.results" / "table_ii.csv") in msg
    assert "serbook run notebooks/03_ahn_infogan.py -p profile=smoke" in msg


def test_an_empty_folder_is_an_error_not_an_empty_page(tmp_path):
    with pytest.raises(overview.ResultsMissing, match="has not been executed"):
        overview.load_all(tmp_path / "nothing", "book")


def test_optional_table_absent_is_reported_with_its_reason(tmp_path, monkeypatch):
    fabricate(tmp_path, monkeypatch, skip=("01_sahu2018_gan/table3",))
    res = overview.load_chapter("01_sahu2018_gan", tmp_path)
    assert "table3" not in res.tables and "cross_corpus" in res.absent["table3"]
    assert "not produced by this run" in overview.headline_sentence(res, "table3")


def test_tables_left_by_an_earlier_run_are_not_shown_as_this_runs(tmp_path, monkeypatch):
    import os

    fabricate(tmp_path, monkeypatch)
    old = (tmp_path / "01_sahu2018_gan.results" / "run.json").stat().st_mtime - 3600
    os.utime(tmp_path / "01_sahu2018_gan.results" / "table3.csv", (old, old))
    res = overview.load_chapter("01_sahu2018_gan", tmp_path)
    assert "table3" not in res.tables and "earlier run" in res.absent["table3"]
    os.utime(tmp_path / "01_sahu2018_gan.results" / "table1.csv", (old, old))
    with pytest.raises(overview.ResultsMissing, match="table1.csv is older than the run"):
        overview.load_chapter("01_sahu2018_gan", tmp_path, "smoke")


def test_unknown_profile_is_refused(tmp_path, monkeypatch):
    fabricate(tmp_path, monkeypatch)
    with pytest.raises(ValueError, match="profile"):
        overview.load_all(tmp_path, "fast")


# ---------------------------------------------------------------------------------------------
# Which side is ahead
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("delta, word", [(5.0, "ahead of the paper"), (-5.0, "behind the paper"),
                                         (0.0, "level with the paper")])
def test_sentence_says_which_side_is_ahead(tmp_path, monkeypatch, delta, word):
    fabricate(tmp_path, monkeypatch, delta=delta)
    for r in overview.load_all(tmp_path, "smoke"):
        for h in r.entry.headlines:
            if not (h.paper_columns or h.pairs):
                continue
            sentence = overview.headline_sentence(r, h.name)
            assert word in sentence, (r.entry.stem, h.name, sentence)
            other = {"ahead of the paper", "behind the paper", "level with the paper"} - {word}
            assert not any(o in sentence for o in other), sentence
            unit = "points" if h.unit == "%" else ""
            assert f"{delta:+.1f} {unit}".strip() in sentence, sentence


def test_comparisons_use_only_rows_with_both_numbers(tmp_path, monkeypatch):
    fabricate(tmp_path, monkeypatch, delta=2.0)
    res = overview.load_chapter("02_latif2020_mixup_gan", tmp_path)
    comps = overview.compare(res.tables["table3"], res.entry.headlines[0])
    assert {c.row for c in comps} == {"Latif et al. 2020: Real", "Latif et al. 2020: Real+Syn.",
                                      "Sahu et al. 2018: Real+Syn."}
    assert all(c.difference == pytest.approx(2.0) for c in comps)
    sahu = overview.load_chapter("01_sahu2018_gan", tmp_path)
    assert "Chance accuracy" not in {c.row for c in overview.compare(sahu.tables["table1"], sahu.entry.headlines[0])}


def test_pairs_compare_differently_named_rows(tmp_path, monkeypatch):
    fabricate(tmp_path, monkeypatch, delta=-10.0)
    res = overview.load_chapter("05_pereira2018_began", tmp_path)
    h = next(h for h in res.entry.headlines if h.name == "table3_loso")
    (c,) = overview.compare(res.tables["table3_loso"], h)
    assert c.paper == pereira_paper.TABLES["table3"].values["Pereira et al. (BEGAN + supervised module)"]
    assert c.difference == pytest.approx(-10.0)


def test_leow_compares_each_paper_corpus(tmp_path, monkeypatch):
    from serlib.experiments import leow

    fabricate(tmp_path, monkeypatch, delta=1.0)
    res = overview.load_chapter("04_leow_speaker_adversarial", tmp_path)
    table = leow.beside_paper(res.tables["table2"][["ours accuracy (%)"]], "table2", "embedded")
    comps = overview.compare(table, res.entry.headlines[1])
    assert {c.paper_column for c in comps} == {"paper accuracy, Emo-DB (%)", "paper accuracy, RAVDESS (%)"}


def test_a_table_that_no_longer_fits_the_registry_is_an_error():
    h = overview.chapter("01_sahu2018_gan").headlines[0]
    with pytest.raises(KeyError, match="table1"):
        overview.compare(pd.DataFrame({"paper UAR (%)": [1.0], "renamed": [2.0]}, index=["x"]), h)


def test_cells_written_as_mean_and_std_are_read_as_numbers():
    h = overview.Headline("t", "t", "X", paper_columns=("^paper",), ours_column="^ours$")
    table = pd.DataFrame({"paper": [60.0, 50.0, None], "ours": ["52.50 ± 8.48", "", "40.00 ± 1.00"]},
                         index=["a", "b", "c"])
    (c,) = overview.compare(table, h)
    assert (c.row, c.paper, c.ours) == ("a", 60.0, 52.5)


def test_timing_table_from_run_json(tmp_path, monkeypatch):
    secs = {stem: 30.0 * (i + 1) for i, stem in enumerate(STEMS)}
    fabricate(tmp_path, monkeypatch, seconds=secs, profile="book")
    t = overview.timing_table(overview.load_all(tmp_path, "book"), "smoke")
    assert t.loc[STEMS, "seconds"].tolist() == [secs[s] for s in STEMS]
    assert t.loc["total", "seconds"] == pytest.approx(sum(secs.values()))
    assert set(t.loc[STEMS, "as the book's profile"]) == {"no"}  # built as smoke, saved from book
    assert t.loc[STEMS, "peak memory (MiB)"].tolist() == [500.0 + i for i in range(len(STEMS))]
    assert t.loc["total", "peak memory (MiB)"] == 500.0 + len(STEMS) - 1


def test_provenance_table_names_corpus_and_coverage(tmp_path, monkeypatch):
    fabricate(tmp_path, monkeypatch, profile="book")
    t = overview.provenance_table(overview.load_all(tmp_path, "book"))
    row = t.loc[PARTIAL_STEM]
    assert "emodb (main): 400 of 535: speakers 13, 16 missing (132 files)" in row["corpora and coverage"]
    assert "/data/emodb" not in row["corpora and coverage"], "the corpus's folder is a path of the machine, not for the page"
    assert (row["complete"], row["allow_partial"], row["commit"], row["device"]) == ("no", "yes", "abc1234def", "cpu")
    other = t.drop(index=PARTIAL_STEM)
    assert set(other["complete"]) == {"yes"} and set(other["allow_partial"]) == {"no"}
    assert other["corpora and coverage"].str.startswith("embedded (main): 100 of 100").all()
    assert overview.corpus_text({}).startswith("not recorded")


# ---------------------------------------------------------------------------------------------
# The parameters reference
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("stem", STEMS)
def test_parameters_reference_lists_every_parameter(stem):
    cfg = overview.chapter(stem).config
    ref = overview.parameters_reference(stem)
    fields = [f.name for f in cfg.fields_meta()]
    cell = overview.notebook_parameters(stem)
    assert set(fields) <= set(ref.index)
    assert set(cell) <= set(ref.index)
    assert ref.index.is_unique
    for profile in PROFILES:
        defaults = cfg.defaults(profile)
        for name in fields:
            shown = overview._show(defaults[name])
            if shown is None:  # unset: a dash on the page
                assert pd.isna(ref.at[name, profile]), (stem, name, profile)
            else:
                assert ref.at[name, profile] == shown, (stem, name, profile)
    for name in fields:
        assert ref.at[name, "set with -p"] == ("yes" if name in cell else "no")
        field = next(f for f in dataclasses.fields(cfg) if f.name == name)
        assert ref.at[name, "paper's value"] == str(field.metadata.get("paper_value") or "")
    assert ref.at["profile", "set with -p"] == "yes"


@pytest.mark.parametrize("stem", STEMS)
def test_every_chapter_has_the_same_entry_points(stem):
    """``Config``, ``load(cfg, ...)``, ``run(cfg, data, ...)`` and a ``Results`` dataclass in each chapter."""
    import importlib
    import inspect

    mod = importlib.import_module(overview.chapter(stem).module)
    for name in ("Config", "Results", "load", "run"):
        assert name in mod.__all__, f"{mod.__name__} does not export {name}"
    assert dataclasses.is_dataclass(mod.Results), f"{mod.__name__}.Results is not a dataclass"
    assert next(iter(inspect.signature(mod.load).parameters)) == "cfg", f"{mod.__name__}.load must take cfg first"
    assert list(inspect.signature(mod.run).parameters)[:2] in (["cfg", "data"], ["cfg", "corpus"]), (
        f"{mod.__name__}.run must take (cfg, data/corpus, ...)")
    assert inspect.signature(mod.run).return_annotation in ("Results", "Results | None"), mod.__name__
    for fn in (mod.load, mod.run):  # a progress switch, where there is one, has one name
        assert not {"show", "verbose", "progress_bar"} & set(inspect.signature(fn).parameters), fn
    for old in ("load_data", "run_protocol", "ProtocolResult", "LeowResults"):
        assert not hasattr(mod, old), f"{mod.__name__}.{old} is the old name"


@pytest.mark.parametrize("stem", STEMS)
def test_parameters_cell_and_config_name_the_same_knobs(stem):
    """Every name of a chapter's parameters cell is a knob of its Config (or a notebook-only name such
    as ``profile``), and every knob a reader can set appears in the cell."""
    from serlib.params import NOTEBOOK_ONLY

    cfg = overview.chapter(stem).config
    cell = set(overview.notebook_parameters(stem))
    knobs = set(cfg.knobs())
    strays = sorted(cell - knobs - NOTEBOOK_ONLY)
    assert not strays, (f"notebooks/{stem}.py: parameters cell sets {strays}, which {cfg.__module__}.Config does "
                        f"not declare; add them to the Config (param(...)) or remove them from the cell")
    missing = [k for k in cfg.knobs() if k not in cell]
    assert not missing, (f"notebooks/{stem}.py: {cfg.__module__}.Config knob(s) {missing} are missing from the "
                         f"parameters cell; add `name = None  # meaning` there (or list the field in "
                         f"Config.NOT_IN_NOTEBOOK if the chapter has no use for it)")
    assert "profile" in cell, f"notebooks/{stem}.py: the parameters cell sets no profile"
    hidden = set(cfg.NOT_IN_NOTEBOOK)
    assert hidden <= {f.name for f in cfg.fields_meta()}, (stem, hidden)
    assert not hidden & cell, f"notebooks/{stem}.py: {sorted(hidden & cell)} are NOT_IN_NOTEBOOK yet in the cell"


@pytest.mark.parametrize("stem", STEMS)
def test_parameters_cell_reaches_the_config_in_one_call(stem):
    """Executing a chapter's parameters cell and calling ``Config.from_notebook`` on its namespace gives
    the profile's configuration, and a value injected after the cell (what papermill does) lands."""
    import jupytext

    nb = jupytext.read(project_root() / "notebooks" / f"{stem}.py")
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    cfg_cls = overview.chapter(stem).config
    for profile in PROFILES:
        namespace: dict = {}
        exec(cell.source, namespace)  # noqa: S102 - the book's own parameters cell
        namespace["profile"] = profile
        got = cfg_cls.from_notebook(namespace)
        assert got.as_dict() == cfg_cls.for_profile(profile).as_dict(), (stem, profile)
        assert got.changed == {}
    knob = "allow_partial"
    namespace = {}
    exec(cell.source, namespace)  # noqa: S102
    namespace.update(profile="smoke", seeds=7, **{knob: True})
    got = cfg_cls.from_notebook(namespace)
    assert got.profile == "smoke" and got.allow_partial is True and got.seeds == (
        [7] if "seeds" in cfg_cls.knobs() else cfg_cls.defaults("smoke")["seeds"])
    assert got.changed.get(knob) is True


def test_notebook_parameters_reads_names_and_comments(tmp_path):
    (tmp_path / "99_x.py").write_text(
        '# %% [markdown]\n# # X\n\n# %% tags=["parameters"]\nprofile = "book"  # smoke | book | paper\n'
        "epochs = None  # training epochs\nseeds: list | None = None\n\n# %%\nother = 1  # not a parameter\n")
    assert overview.notebook_parameters("99_x", tmp_path) == {"profile": "smoke | book | paper",
                                                               "epochs": "training epochs", "seeds": ""}
    (tmp_path / "98_y.py").write_text("# %%\nprofile = 'book'\n")
    with pytest.raises(ValueError, match="parameters"):
        overview.notebook_parameters("98_y", tmp_path)


# ---------------------------------------------------------------------------------------------
# The two notebooks
# ---------------------------------------------------------------------------------------------
def test_notebooks_cover_every_chapter_and_take_profile():
    import jupytext

    from serlib.run import _declared_parameters

    for stem, call in (("90_results", "show"), ("91_parameters", "reference")):
        nb = jupytext.read(ROOT / "notebooks" / f"{stem}.py")
        assert "profile" in (_declared_parameters(nb) or set())
        code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        assert {s for s in STEMS if f'{call}("{s}")' in code} == set(STEMS), stem


def _errors(path) -> list:
    book = nbformat.read(path, as_version=4)
    return [o for c in book.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]


def _text(path) -> str:
    book = nbformat.read(path, as_version=4)
    out = []
    for c in book.cells:
        for o in c.get("outputs", []):
            data = o.get("data", {})
            out.append(str(data.get("text/markdown", "")) + str(data.get("text/plain", "")))
    return "\n".join(out)


def test_results_notebook_renders_fabricated_results(tmp_path, monkeypatch, kernel_session):
    from serlib.run import execute

    chapters = tmp_path / "chapters"
    monkeypatch.setenv("SERBOOK_RECORDED_DIR", str(tmp_path / "no-records"))  # the sentences of these tables only
    fabricate(chapters, monkeypatch, delta=-3.0, profile="smoke", skip=("02_latif2020_mixup_gan/table4",))
    nb = execute(ROOT / "notebooks" / "90_results.py", {"profile": "smoke", "chapters_dir": str(chapters)},
                 output_dir=tmp_path / "out", progress=False, session=kernel_session)
    assert not _errors(nb)
    text = _text(nb)
    compared = [h for c in overview.CHAPTERS for h in c.headlines if h.paper_columns or h.pairs]
    assert text.count("behind the paper") == len(compared) - 1  # one sentence each, Table 4 skipped
    assert "ahead of the paper" not in text
    assert "Table 4, across corpora (UAR %)**: not produced by this run" in text
    assert "Every chapter's saved results come from that profile" in text
    assert "this build's run has no claims table" in text  # the fabricated runs predate the claims tables
    assert (tmp_path / "out" / "90_results.results" / "claims.csv").exists()
    timing = pd.read_csv(tmp_path / "out" / "90_results.results" / "timing.csv", index_col=0)
    assert list(timing.index) == STEMS + ["total"]
    assert json.loads((tmp_path / "out" / "90_results.results" / "run.json").read_text())["parameters"]["profile"] \
        == "smoke"


def _claims(verdict: str) -> pd.DataFrame:
    from serlib import claims

    m = claims.measure([40.0, 50.0, 60.0])
    return claims.claims_table([claims.Claim("The method beats the baseline (points)", "+4.80", m, verdict),
                                claims.Claim("No number from the paper", None, m, claims.INCONCLUSIVE)])


def test_claims_across_the_book_from_this_build_and_recorded_runs(tmp_path, monkeypatch):
    from serlib import claims

    chapters, records = tmp_path / "chapters", tmp_path / "records"
    fabricate(chapters, monkeypatch, skip=("05_pereira2018_began/run",))
    for stem in ("00_corpora", "04_leow_speaker_adversarial"):
        _claims(claims.HELD).to_csv(chapters / f"{stem}.results" / "claims.csv")
    # two recorded runs of chapter 4: one with a claims table, one from before it existed
    for corpus, with_claims in (("emodb", True), ("ravdess", False)):
        folder = records / "04_leow_speaker_adversarial" / corpus
        folder.mkdir(parents=True)
        (folder / "run.json").write_text(json.dumps({"parameters": {"profile": "paper"}, "corpora": []}))
        if with_claims:
            _claims(claims.NOT_HELD).to_csv(folder / "claims.csv")
    from serlib.recorded import load_recorded

    table, notes = overview.claims_across_book(chapters, {s: load_recorded(s, records) for s in STEMS})
    assert table.index.name == "Chapter"
    assert list(table.columns) == ["Run", "What the paper claims", "Paper", "This run (mean ± std, 95 % interval)",
                                   "Verdict"]
    titles = {c.stem: c.title for c in overview.CHAPTERS}
    assert list(dict.fromkeys(table.index)) == [titles["00_corpora"], titles["04_leow_speaker_adversarial"]]
    leow_rows = table.loc[titles["04_leow_speaker_adversarial"]]
    assert list(leow_rows["Run"]) == ["this build (emodb, profile smoke)"] * 2 + ["recorded on emodb"] * 2
    assert list(leow_rows["Verdict"]) == ["held", "inconclusive", "not held", "inconclusive"]
    assert not table.isna().any().any() and (table["Paper"] == "—").sum() == 3
    assert (table["Paper"] == "+4.80").sum() == 3  # read as written, not as the number 4.8
    joined = "\n".join(notes)
    assert "the run recorded on ravdess predates the claims table" in joined
    for stem in ("01_sahu2018_gan", "02_latif2020_mixup_gan", "03_ahn_infogan"):
        assert f"{titles[stem]}: this build's run has no claims table" in joined
    assert f"{titles['05_pereira2018_began']}: not run in this build" in joined
    assert len(notes) == 5


def test_a_claims_table_left_by_an_earlier_run_is_not_read(tmp_path, monkeypatch):
    import os

    from serlib import claims

    fabricate(tmp_path, monkeypatch)
    csv = tmp_path / "00_corpora.results" / "claims.csv"
    _claims(claims.HELD).to_csv(csv)
    old = (tmp_path / "00_corpora.results" / "run.json").stat().st_mtime - 3600
    os.utime(csv, (old, old))
    table, notes = overview.claims_across_book(tmp_path, stems=["00_corpora"])
    assert table.empty and "left from an earlier run" in notes[0]


def test_results_notebook_fails_loudly_without_results(tmp_path, kernel_session):
    from serlib.run import NotebookFailed, execute

    with pytest.raises(NotebookFailed, match="ResultsMissing"):
        execute(ROOT / "notebooks" / "90_results.py", {"profile": "book", "chapters_dir": str(tmp_path / "none")},
                output_dir=tmp_path / "out", progress=False, session=kernel_session)


def test_parameters_notebook_renders(tmp_path, kernel_session):
    from serlib.run import execute

    nb = execute(ROOT / "notebooks" / "91_parameters.py", {"profile": "paper"}, output_dir=tmp_path, progress=False,
                 session=kernel_session)
    assert not _errors(nb)
    text = _text(nb)
    assert "built with the **paper** profile" in text
    for stem in STEMS:
        assert f"serbook run notebooks/{stem}.py -p profile=paper" in text
        for name in overview.notebook_parameters(stem):
            assert name in text


# ---------------------------------------------------------------------------------------------
# The book's pages point at things that exist
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("stem", [s for s in STEMS])
def test_run_box_commands_are_valid(stem):
    """The "Run this chapter yourself" box: one command per profile, only declared parameters,
    a download link to the chapter's existing source."""
    import re
    import shlex

    import jupytext

    from serlib.run import _declared_parameters

    src = ROOT / "notebooks" / f"{stem}.py"
    nb = jupytext.read(src)
    boxes = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "markdown" and ":::{admonition} Run this chapter yourself" in c.source]
    assert boxes == [1], "the box is the second cell, right after the chapter's first markdown cell"
    box = nb.cells[1].source
    link = re.search(r"\{download\}`[^<`]*<([^>]+)>`", box)
    assert link and (ROOT / "book" / "chapters" / link.group(1)).resolve() == src.resolve()
    declared = _declared_parameters(nb)
    commands = [shlex.split(c) for c in box.replace("\\\n", " ").splitlines() if c.startswith("serbook run ")]
    profiles = []
    for argv in commands:
        assert argv[2] == f"notebooks/{stem}.py"
        params = dict(argv[i + 1].split("=", 1) for i, a in enumerate(argv) if a == "-p")
        assert set(params) <= declared, set(params) - declared
        profiles.append(params["profile"])
    assert profiles == list(PROFILES)
    last = [c for c in nb.cells if c.cell_type == "markdown"][-1].source
    assert last.startswith("## References") and ":filter: docname in docnames" in last


def test_book_pages_name_functions_that_exist():
    import importlib
    import re

    names = set()
    for page in (ROOT / "book").rglob("*.md"):  # the prose pages and the "Using serbook" part (book/using/)
        names |= set(re.findall(r"`(serlib(?:\.\w+)+)`", page.read_text()))
    assert len(names) >= 10
    for dotted in sorted(names):
        parts = dotted.split(".")
        for cut in range(len(parts), 0, -1):  # the longest importable module, then attributes
            try:
                obj = importlib.import_module(".".join(parts[:cut]))
                break
            except ModuleNotFoundError:
                continue
        for attr in parts[cut:]:
            assert hasattr(obj, attr), f"{dotted} (named in book/**/*.md) does not exist"
            obj = getattr(obj, attr)


def test_protocols_table_names_split_functions_that_exist():
    from serlib import splits

    rows = [ln.split("|") for ln in (ROOT / "book" / "protocols.md").read_text().splitlines()
            if ln.startswith("| ") and "`" in ln.split("|")[2]]
    named = [r[2].strip().strip("`") for r in rows]
    assert len(named) >= 6
    assert [n for n in named if not hasattr(splits, n)] == []
