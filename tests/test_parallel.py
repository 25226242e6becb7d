"""serlib.parallel: one job runner for every chapter, and resumable runs."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from serlib import parallel
from serlib.config import ParameterError
from serlib.parallel import RunStopped, Unit, resume_dir, run_units


# module level: worker processes import the unit functions by name
def _square(x: int, pause: float = 0.0) -> dict:
    time.sleep(pause)
    rng = np.random.default_rng(x)
    return {"x": x, "draw": rng.normal(size=3), "table": pd.DataFrame({"x": [x], "sq": [x * x]})}


def _torch_fit(x: int) -> dict:
    """A few Adam steps of a small torch network from seed ``x``, and the torch threads it ran with."""
    import torch

    torch.manual_seed(x)
    net = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.Tanh(), torch.nn.Linear(32, 4))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    data, target = torch.randn(64, 16), torch.randint(0, 4, (64,))
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(data), target)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return {"x": x, "losses": np.array(losses), "weights": net[0].weight.detach().numpy().copy(),
            "threads": torch.get_num_threads()}


def _with_context(ctx: dict, i: int) -> float:
    return float(ctx["data"][i] * 2)


def _threads_seen(_: int) -> int:
    import torch

    return torch.get_num_threads()


def _counting(log_path: str, x: int) -> int:
    with open(log_path, "a") as fh:
        fh.write(f"{x}\n")
    return x * 10


def _calls(path: Path) -> list[int]:
    return [int(v) for v in path.read_text().split()] if path.exists() else []


def test_results_come_back_in_the_units_order_whatever_finishes_first():
    # the first unit sleeps longest, so it finishes last in a pool
    units = [Unit(f"x={x}", (x, 0.4 if x == 0 else 0.0)) for x in range(4)]
    out = run_units(_square, units, workers=2, threads=1, progress=False)
    assert [o["x"] for o in out] == [0, 1, 2, 3]


def test_results_do_not_depend_on_workers():
    units = [Unit(f"x={x}", (x,)) for x in range(5)]
    one = run_units(_square, units, workers=1, threads=1, progress=False)
    two = run_units(_square, units, workers=2, threads=1, progress=False)
    for a, b in zip(one, two, strict=True):
        np.testing.assert_array_equal(a["draw"], b["draw"])
        pd.testing.assert_frame_equal(a["table"], b["table"])


def test_torch_training_units_do_not_depend_on_workers_or_threads():
    units = [Unit(f"x={x}", (x,)) for x in range(4)]
    one = run_units(_torch_fit, units, workers=1, threads=1, progress=False)
    two = run_units(_torch_fit, units, workers=2, threads=1, progress=False)
    many = run_units(_torch_fit, units, workers=1, threads=2, progress=False)
    # each unit ran torch with the threads asked for, in this process and in the workers
    assert [o["threads"] for o in one] == [1] * 4 and [o["threads"] for o in two] == [1] * 4
    assert [o["threads"] for o in many] == [2] * 4
    assert not np.array_equal(one[0]["weights"], one[1]["weights"])  # the seeds matter
    for a, b, c in zip(one, two, many, strict=True):
        assert a["x"] == b["x"] == c["x"]
        assert a["losses"][-1] < a["losses"][0]  # it trained
        for key in ("losses", "weights"):
            np.testing.assert_array_equal(a[key], b[key])
            np.testing.assert_array_equal(a[key], c[key])


def test_context_reaches_every_unit_in_process_and_in_workers():
    ctx = {"data": np.arange(6.0)}
    units = [Unit(f"i={i}", (i,)) for i in range(6)]
    assert run_units(_with_context, units, workers=1, context=ctx, progress=False) == [0.0, 2, 4, 6, 8, 10]
    assert run_units(_with_context, units, workers=2, context=ctx, progress=False) == [0.0, 2, 4, 6, 8, 10]


def test_threads_are_set_per_unit_and_restored_in_process():
    import torch

    before = torch.get_num_threads()
    units = [Unit("a", (0,)), Unit("b", (1,))]
    assert run_units(_threads_seen, units, workers=1, threads=1, progress=False) == [1, 1]
    assert torch.get_num_threads() == before
    assert run_units(_threads_seen, units, workers=2, threads=1, progress=False) == [1, 1]


def test_knobs_are_checked_and_a_gpu_runs_units_one_after_the_other():
    assert parallel.default_workers(4, 10, "cuda") == 1
    assert parallel.default_workers(4, 2, "cpu") == 2  # never more than there are units
    assert parallel.default_workers(1, 10, "cpu") == 1
    assert parallel.default_workers(0, 10, "cpu") == parallel.default_workers(None, 10, "cpu") >= 1
    assert parallel.default_threads(None, 1) is None
    assert parallel.default_threads(3, 2) == 3
    with pytest.raises(ParameterError, match="workers"):
        parallel.default_workers(-1, 3)
    with pytest.raises(ParameterError, match="threads"):
        parallel.default_threads(0, 1)
    with pytest.raises(ValueError, match="unique"):
        run_units(_square, [Unit("same", (1,)), Unit("same", (2,))], progress=False)


def test_resume_skips_finished_units(tmp_path):
    calls = tmp_path / "calls.txt"
    units = [Unit(f"x={x}", (str(calls), x)) for x in range(4)]
    first = run_units(_counting, units, resume_dir=tmp_path / "units", progress=False)
    assert _calls(calls) == [0, 1, 2, 3]
    again = run_units(_counting, units, resume_dir=tmp_path / "units", progress=False)
    assert again == first == [0, 10, 20, 30]
    assert _calls(calls) == [0, 1, 2, 3]  # nothing computed again


def test_stop_after_units_then_resume_computes_only_the_rest(tmp_path, monkeypatch):
    calls = tmp_path / "calls.txt"
    units = [Unit(f"x={x}", (str(calls), x)) for x in range(5)]
    monkeypatch.setenv(parallel.STOP_ENV, "2")
    with pytest.raises(RunStopped, match="2 newly computed"):
        run_units(_counting, units, resume_dir=tmp_path / "units", progress=False)
    assert _calls(calls) == [0, 1]
    monkeypatch.delenv(parallel.STOP_ENV)
    out = run_units(_counting, units, resume_dir=tmp_path / "units", progress=False)
    assert out == [0, 10, 20, 30, 40]
    assert _calls(calls) == [0, 1, 2, 3, 4]  # the two finished units were not redone


def test_stop_after_units_in_a_worker_pool(tmp_path, monkeypatch):
    units = [Unit(f"x={x}", (x,)) for x in range(4)]
    monkeypatch.setenv(parallel.STOP_ENV, "1")
    with pytest.raises(RunStopped):
        run_units(_square, units, workers=2, threads=1, resume_dir=tmp_path / "u", progress=False)
    saved = sorted(p.name for p in (tmp_path / "u").glob("*.pkl"))
    assert len(saved) >= 1
    monkeypatch.delenv(parallel.STOP_ENV)
    out = run_units(_square, units, workers=2, threads=1, resume_dir=tmp_path / "u", progress=False)
    ref = run_units(_square, units, workers=1, progress=False)
    for a, b in zip(out, ref):
        np.testing.assert_array_equal(a["draw"], b["draw"])


@pytest.mark.parametrize("damage", ["flip", "sidecar", "garbage"])
def test_a_corrupt_unit_file_is_logged_by_name_and_redone(tmp_path, caplog, damage):
    calls = tmp_path / "calls.txt"
    folder = tmp_path / "units"
    units = [Unit(f"x={x}", (str(calls), x)) for x in range(3)]
    run_units(_counting, units, resume_dir=folder, progress=False)
    victim = parallel._unit_path(folder, "x=1")
    side = victim.with_name(victim.name + ".sha256")
    if damage == "flip":
        data = bytearray(victim.read_bytes())
        data[len(data) // 2] ^= 0xFF
        victim.write_bytes(bytes(data))
    elif damage == "sidecar":
        side.unlink()
    else:  # valid checksum over bytes that are not a unit file
        import hashlib

        victim.write_bytes(b"not a pickle")
        side.write_text(hashlib.sha256(b"not a pickle").hexdigest())
    with caplog.at_level(logging.WARNING, logger="serlib.parallel"):
        out = run_units(_counting, units, resume_dir=folder, progress=False)
    assert out == [0, 10, 20]
    assert _calls(calls) == [0, 1, 2, 1]  # only the damaged unit was computed again
    assert any(str(victim) in r.getMessage() for r in caplog.records)
    # the redone unit replaced the bad file: a third run computes nothing
    run_units(_counting, units, resume_dir=folder, progress=False)
    assert _calls(calls) == [0, 1, 2, 1]


def test_resume_dir_belongs_to_the_run_and_its_parameters(tmp_path, monkeypatch):
    from serlib.experiments.leow import Config

    monkeypatch.delenv("SERBOOK_RESULTS_DIR", raising=False)
    cfg = Config.for_profile("smoke")
    assert resume_dir("leow.run", cfg) is None  # outside serbook run nothing is kept
    monkeypatch.setenv("SERBOOK_RESULTS_DIR", str(tmp_path / "x.results"))
    a = resume_dir("leow.run", cfg, np.arange(3))
    assert a.parent == tmp_path / "x.results" / parallel.UNITS_FOLDER
    assert (a / "about.json").exists()
    # the knobs do not change the key; parameters and data do
    assert resume_dir("leow.run", Config.for_profile("smoke", workers=2, threads=2), np.arange(3)) == a
    assert resume_dir("leow.run", Config.for_profile("smoke", max_epochs=4), np.arange(3)) != a
    assert resume_dir("leow.run", cfg, np.arange(4)) != a
    assert resume_dir("other", cfg, np.arange(3)) != a


def test_units_of_other_parameters_are_not_reused(tmp_path, monkeypatch):
    from serlib.experiments.leow import Config

    monkeypatch.setenv("SERBOOK_RESULTS_DIR", str(tmp_path / "x.results"))
    calls = tmp_path / "calls.txt"
    units = [Unit(f"x={x}", (str(calls), x)) for x in range(2)]
    run_units(_counting, units, resume_dir=resume_dir("t", Config.for_profile("smoke")), progress=False)
    run_units(_counting, units, resume_dir=resume_dir("t", Config.for_profile("smoke", max_epochs=4)), progress=False)
    assert _calls(calls) == [0, 1, 0, 1]
    run_units(_counting, units, resume_dir=resume_dir("t", Config.for_profile("smoke", max_epochs=4)), progress=False)
    assert _calls(calls) == [0, 1, 0, 1]


def test_stop_env_must_be_a_number(monkeypatch):
    monkeypatch.setenv(parallel.STOP_ENV, "one")
    with pytest.raises(ParameterError, match=parallel.STOP_ENV):
        run_units(_square, [Unit("a", (1,))], progress=False)


def test_every_chapter_names_the_knobs_workers_and_threads():
    import importlib

    for mod in ("sahu2018", "latif2020", "ahn", "leow", "pereira2018"):
        cfg = importlib.import_module(f"serlib.experiments.{mod}").Config
        ref = cfg.reference()
        for knob in ("workers", "threads"):
            assert knob in ref.index, (mod, knob)
            assert ref.loc[knob, "paper's value"] == "not in the paper"
            assert ref.loc[knob, "meaning"]
        assert not {"n_jobs", "torch_threads"} & set(ref.index), mod
    root = Path(__file__).resolve().parents[1]
    for nb in sorted((root / "notebooks").glob("0[1-5]_*.py")):
        text = nb.read_text()
        assert "\nworkers = None" in text and "\nthreads = None" in text, nb.name
        assert "n_jobs" not in text and "torch_threads" not in text, nb.name


def test_serbook_run_keeps_the_units_of_a_failed_run(tmp_path, monkeypatch):
    """A failed notebook leaves <stem>.results/.units in place; a successful one removes it."""
    import nbformat

    from serlib.run import NotebookFailed, execute

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("fail = False", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(
            "import os, pathlib\n"
            "d = pathlib.Path(os.environ['SERBOOK_RESULTS_DIR']) / '.units' / 'ns-key'\n"
            "d.mkdir(parents=True, exist_ok=True)\n"
            "(d / 'u.pkl').write_bytes(b'x')\n"
            "assert not fail, 'stopped'\n"),
    ]
    src = tmp_path / "nb_units.ipynb"
    nbformat.write(nb, src)
    out = tmp_path / "out"
    with pytest.raises(NotebookFailed):
        execute(src, {"fail": True}, output_dir=out, progress=False)
    assert (out / "nb_units.results" / ".units" / "ns-key" / "u.pkl").exists()
    execute(src, {"fail": False}, output_dir=out, progress=False)
    assert not (out / "nb_units.results" / ".units").exists()


# ------------------------------------------------------------------ a chapter run, killed and resumed
@pytest.mark.slow
def test_a_stopped_chapter_run_resumes_to_the_tables_of_an_uninterrupted_run(tmp_path, monkeypatch, smoke_chapters):
    """Chapter 4 (smoke: 5 folds) stopped after its first fold's trainings, then run again with
    the same parameters into the same folder, ends with the tables of a run never stopped (the
    session's smoke run of chapter 4, which its own smoke test and the strict book use too: the
    same notebook and parameters, executed on this machine by this process's settings)."""
    from serlib.experiments import leow
    from serlib.run import NotebookFailed, execute

    root = Path(__file__).resolve().parents[1]
    nb = root / "notebooks" / "04_leow_speaker_adversarial.py"
    params = {"profile": "smoke"}
    cfg = leow.Config.for_profile("smoke")
    per_fold = len(leow.running._rows_to_run(cfg)) * len(cfg.seeds)  # units (rows x seeds) of one fold
    uninterrupted = smoke_chapters.results(nb.stem)  # before the stop is asked for below
    assert uninterrupted.is_dir() and not (uninterrupted / parallel.UNITS_FOLDER).exists()
    out = tmp_path / "resumed"
    results = out / f"{nb.stem}.results"

    monkeypatch.setenv(parallel.STOP_ENV, str(per_fold))
    with pytest.raises(NotebookFailed, match="RunStopped"):
        execute(nb, params, output_dir=out, progress=False)
    [units] = list((results / parallel.UNITS_FOLDER).iterdir())
    kept = sorted(p.name for p in units.glob("*.pkl"))
    assert len(kept) == per_fold and all(name.startswith("fold=") for name in kept)
    assert len({name.split("_seed")[0] for name in kept}) == 1  # one fold's units

    monkeypatch.delenv(parallel.STOP_ENV)
    resumed = execute(nb, params, output_dir=out, progress=False)
    assert f"{per_fold} of {5 * per_fold} units already finished" in resumed.read_text()
    assert not (results / parallel.UNITS_FOLDER).exists()  # removed after success

    timing = ("seconds", "minutes", "time")
    names = sorted(p.name for p in results.glob("*.csv"))
    assert names == sorted(p.name for p in uninterrupted.glob("*.csv")) and len(names) > 5
    for name in names:
        a = pd.read_csv(results / name, index_col=0)
        b = pd.read_csv(uninterrupted / name, index_col=0)
        drop = [c for c in a.columns if any(t in str(c).lower() for t in timing)]
        pd.testing.assert_frame_equal(a.drop(columns=drop), b.drop(columns=drop), check_exact=True, obj=name)


def test_a_sweep_point_that_failed_keeps_its_units_for_the_next_sweep(tmp_path):
    """Re-running a sweep replaces its folder but hands each unfinished combination its units back."""
    import nbformat

    from serlib.run import sweep

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(
            "import os, pathlib\n"
            "import pandas as pd\n"
            "results = pathlib.Path(os.environ['SERBOOK_RESULTS_DIR'])\n"
            "unit = results / '.units' / 'ns-key' / 'u.pkl'\n"
            "found = unit.exists()\n"
            "unit.parent.mkdir(parents=True, exist_ok=True)\n"
            "unit.write_bytes(str(x).encode())\n"
            "assert x != 2 or found, 'x=2 stops before its second unit'\n"
            "pd.DataFrame({'found': [found]}).to_csv(results / 'seen.csv')\n"),
    ]
    src = tmp_path / "nb_sweep.ipynb"
    nbformat.write(nb, src)
    first = sweep(src, {"x": [1, 2]}, output_dir=tmp_path / "out", jobs=1, progress=False)
    assert [r["ok"] for r in first.runs] == [True, False]
    second = sweep(src, {"x": [1, 2]}, output_dir=tmp_path / "out", jobs=1, progress=False)
    assert [r["ok"] for r in second.runs] == [True, True]
    # x=1 had finished (its units were removed), x=2 found the unit its failed run had saved
    assert second["seen"]["found"].tolist() == [False, True]
    assert not list((tmp_path / "out").glob(".*units*"))


def test_a_unit_file_that_names_other_code_is_refused_and_redone(tmp_path, caplog):
    import hashlib
    import pickle

    calls = tmp_path / "calls.txt"
    folder = tmp_path / "units"
    units = [Unit("x=1", (str(calls), 1))]
    run_units(_counting, units, resume_dir=folder, progress=False)
    victim = parallel._unit_path(folder, "x=1")
    evil = pickle.dumps({"key": "x=1", "result": os.system})  # a valid checksum, but code, not data
    victim.write_bytes(evil)
    victim.with_name(victim.name + ".sha256").write_text(hashlib.sha256(evil).hexdigest())
    with caplog.at_level(logging.WARNING, logger="serlib.parallel"):
        assert run_units(_counting, units, resume_dir=folder, progress=False) == [10]
    assert _calls(calls) == [1, 1]
    assert any("posix.system" in r.getMessage() or "os.system" in r.getMessage() for r in caplog.records)


def test_apply_threads_sets_torch_threads_and_none_keeps_the_default():
    import torch

    from serlib.config import ParameterError
    from serlib.parallel import apply_threads

    before = torch.get_num_threads()
    try:
        apply_threads(1)
        assert torch.get_num_threads() == 1
        apply_threads(None)
        assert torch.get_num_threads() == 1
        with pytest.raises(ParameterError, match="threads=0"):
            apply_threads(0)
    finally:
        torch.set_num_threads(before)


# ---------------------------------------------------------------------------------------------
# The code version hashes the code units run, and nothing else
# ---------------------------------------------------------------------------------------------
def _serlib_copy(tmp_path: Path) -> Path:
    """A copy of the repository's serlib and bench folders under ``tmp_path``; its serlib folder."""
    import shutil

    real = Path(parallel.__file__).resolve().parent
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(real, tmp_path / "serlib", ignore=ignore)
    shutil.copytree(real.parent / "bench", tmp_path / "bench", ignore=ignore)
    return tmp_path / "serlib"


def _append(path: Path, text: str = "\n# edited\n") -> None:
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


@pytest.fixture
def copied_code_version(tmp_path, monkeypatch):
    """:func:`parallel.code_version` computed over a copy of serlib (fresh at every call)."""
    root = _serlib_copy(tmp_path)
    monkeypatch.setattr(parallel, "__file__", str(root / "parallel.py"))

    def version() -> str:
        parallel.code_version.cache_clear()
        return parallel.code_version()

    yield root, version
    parallel.code_version.cache_clear()


def test_code_version_ignores_the_benchmarks_and_the_modules_no_unit_runs(copied_code_version):
    root, version = copied_code_version
    before = version()
    assert before == version() and len(before) == 16
    for path in sorted((root.parent / "bench").glob("*.py")):  # make bench's measurements and the reference loops
        _append(path)
    assert version() == before
    for name in parallel.NOT_UNIT_CODE:  # the serbook command, the notebook runner, the back matter...
        _append(root / name)
    assert version() == before


@pytest.mark.parametrize("module", ["models/gan.py", "experiments/leow/running.py", "features.py", "data/synthetic.py"])
def test_code_version_changes_with_the_code_a_unit_runs(copied_code_version, module):
    root, version = copied_code_version
    before = version()
    _append(root / module)
    assert version() != before


def test_code_version_counts_a_new_module(copied_code_version):
    root, version = copied_code_version
    before = version()
    (root / "models" / "new_network.py").write_text("WIDTH = 3\n", encoding="utf-8")
    assert version() != before


def _serlib_imports(path: Path, root: Path) -> set[str]:
    """The serlib modules ``path`` (a module under ``root``, serlib's folder) imports, at any depth
    of its code (imports inside functions included), relative imports resolved."""
    import ast

    package = ["serlib", *path.relative_to(root).parent.parts]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            found.add(module)
            found.update(f"{module}.{a.name}" for a in node.names)
    return {m for m in found if m == "serlib" or m.startswith("serlib.")}


def test_no_hashed_module_imports_one_left_out_of_the_code_version():
    """Leaving a module out of the code version is safe only while no unit can reach it."""
    root = Path(parallel.__file__).resolve().parent
    left_out = {f"serlib.{name.removesuffix('.py')}" for name in parallel.NOT_UNIT_CODE}
    assert all((root / name).is_file() for name in parallel.NOT_UNIT_CODE)
    sources = parallel.unit_sources()
    assert root / "parallel.py" in sources and root / "models" / "gan.py" in sources
    assert not {root / name for name in parallel.NOT_UNIT_CODE} & set(sources)
    # the check sees a function's own imports, relative ones resolved (serbook run reads saved tables)
    assert {"serlib.results", "serlib.parallel", "serlib.data.coverage"} <= _serlib_imports(root / "run.py", root)
    reached = {str(path.relative_to(root)): _serlib_imports(path, root) & left_out for path in sources}
    assert {name: mods for name, mods in reached.items() if mods} == {}


def test_the_library_holds_no_benchmarks():
    root = Path(parallel.__file__).resolve().parent
    assert not sorted(root.rglob("bench*.py"))
    assert (root.parent / "bench" / "reference_loops.py").is_file()


def test_run_chapter_units_uses_the_chapter_knobs_and_threads_only_on_a_cpu(monkeypatch, tmp_path):
    from types import SimpleNamespace

    seen = {}

    def fake_run_units(fn, units, **kw):
        seen.update(kw)
        return ["done"]

    monkeypatch.setattr(parallel, "run_units", fake_run_units)
    cfg = SimpleNamespace(workers=3, threads=2, as_dict=lambda: {"a": 1, "workers": 3, "threads": 2})
    monkeypatch.setenv("SERBOOK_RESULTS_DIR", str(tmp_path))
    assert parallel.run_chapter_units("ch.run", print, [], cfg, device="cpu", data=([1, 2],)) == ["done"]
    assert (seen["workers"], seen["threads"]) == (3, 2)
    assert seen["resume_dir"] == parallel.resume_dir("ch.run", cfg, [1, 2], device="cpu")
    parallel.run_chapter_units("ch.run", print, [], cfg, device="cuda:0", resume=False)
    assert (seen["threads"], seen["resume_dir"]) == (None, None)
