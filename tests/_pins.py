"""The chapters' smoke tables, pinned in a form that holds on every x86-64 CPU.

Each chapter's notebook test compares the CSV tables its smoke run saved with the copies under
``tests/pins/<chapter>/``, so that moving code (a training loop into the shared engine, a feature
into :mod:`serlib.features`) cannot change a number unseen. What is pinned, and how, depends on
what can move a value between two machines running the same code:

**Structure: pinned exactly.** Which tables exist, their columns, their number of rows, their row
labels, every text column (method names, folds, speakers) and which cells are empty. No math
kernel can move these; a refactor that drops a row, renames a column or leaves a cell empty can.

**Kernel-free numbers: pinned exactly** (``numpy.isclose(rtol=1e-6, atol=1e-9)``, room for the
CSV round trip only). Numbers that no floating-point kernel of torch touches: corpus counts,
fold sizes, the paper's published values, and the classical yardsticks (openSMILE functionals
and scikit-learn's SVM, whose code does not dispatch on the CPU's vector units). A chapter's test
names them (``exact=``); a whole table is named with ``"*"``.

**Model numbers: pinned as a distribution.** Everything a trained network produces (accuracies,
losses, chosen epochs, probe scores, GAN statistics). A smoke test set has 8-16 utterances, so
one prediction that flips after a last-bit difference in a GEMM or convolution kernel moves an
accuracy by 6-12 points, and a few training steps amplify such differences. Such a column is
compared by its mean over the table's rows, within ``MODEL_TOL`` of the largest pinned value
(20 %: a network that stops learning, or trains on the wrong labels, moves the mean by far more;
kernel jitter averaged over several runs does not), and only where the table has at least
``MODEL_MIN_ROWS`` values in it. Its empty cells are still pinned exactly. Text columns that
spell out model numbers (``"43.7 ± 2.1"``) or a choice made on them (the best grid row), and
numeric columns that are differences of two model numbers sitting near zero (where 20 % of the
largest value is less than one flipped prediction), are named ``model_text=`` and compared only
for which cells are empty.

That a method *learns* is asserted separately, in each chapter's test, with margins that hold on
every CPU (``tests/test_kernels.py`` runs two chapters under other kernel choices against the same
pins and checks). Bit-for-bit comparisons (resume, re-runs, ``workers`` and ``threads``) are made
within one machine and one kernel choice, never against a pin.

Tables and columns that measure time are not compared. To re-pin after an intended change (say
so in the commit), run the notebook tests with ``SERBOOK_WRITE_PINS=1``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

PINS = Path(__file__).parent / "pins"
EXACT_RTOL, EXACT_ATOL = 1e-6, 1e-9
MODEL_TOL = 0.20
MODEL_MIN_ROWS = 4
_TIME_WORDS = ("second", "time", "elapsed", "duration_s")

Spec = Mapping[str, Iterable[str]]


def _compared(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[[c for c in frame.columns if not any(w in str(c).lower() for w in _TIME_WORDS)]]


def _numeric(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)


def _names(spec: Spec | None, table: str) -> set[str]:
    return set((spec or {}).get(table, ()))


def compare_table(name: str, ours: pd.DataFrame, pin: pd.DataFrame, exact: set[str],
                  model_text: set[str]) -> list[str]:
    """The differences between one table and its pin, by the rules above (empty: it matches)."""
    ours, pin = _compared(ours), _compared(pin)
    if list(ours.columns) != list(pin.columns) or ours.shape != pin.shape:
        return [f"{name}: shape/columns {ours.shape} {list(ours.columns)} != {pin.shape} {list(pin.columns)}"]
    unknown = (exact | model_text) - set(pin.columns) - {"*"}
    if unknown:
        return [f"{name}: the pin spec names columns the table does not have: {sorted(unknown)}"]
    problems = []
    for col in pin.columns:
        a, b = ours[col], pin[col]
        if (a.isna().to_numpy() != b.isna().to_numpy()).any():
            i = int(np.flatnonzero(a.isna().to_numpy() != b.isna().to_numpy())[0])
            problems.append(f"{name}[{col}] row {i}: empty cells differ ({a.iloc[i]!r} vs pinned {b.iloc[i]!r})")
            continue
        if col in model_text:
            continue
        if not (_numeric(a) and _numeric(b)):
            if not (a.fillna("").astype(str) == b.fillna("").astype(str)).all():
                i = int(np.flatnonzero((a.fillna("").astype(str) != b.fillna("").astype(str)).to_numpy())[0])
                problems.append(f"{name}[{col}] row {i}: text {a.iloc[i]!r} != pinned {b.iloc[i]!r}")
            continue
        x, y = a.to_numpy(float), b.to_numpy(float)
        if col in exact or "*" in exact:
            same = np.isclose(x, y, rtol=EXACT_RTOL, atol=EXACT_ATOL, equal_nan=True)
            if not same.all():
                i = int(np.flatnonzero(~same)[0])
                problems.append(f"{name}[{col}] row {i}: {x[i]!r} != pinned {y[i]!r} (a kernel-free number)")
            continue
        ok = ~np.isnan(y)
        if not np.isfinite(x[ok]).all():
            problems.append(f"{name}[{col}]: a model number is not finite where the pin is")
            continue
        if ok.sum() >= MODEL_MIN_ROWS:
            scale = max(float(np.abs(y[ok]).max()), 1e-9)
            gap = abs(float(x[ok].mean()) - float(y[ok].mean()))
            if gap > MODEL_TOL * scale:
                problems.append(f"{name}[{col}]: mean {x[ok].mean():.4g} is {gap:.3g} from the pinned "
                                f"{y[ok].mean():.4g} (allowed {MODEL_TOL * scale:.3g}, a model number)")
    return problems


def check_pins(chapter: str, results: Path, *, exact: Spec | None = None, model_text: Spec | None = None) -> list[str]:
    """Compare every CSV of ``results`` with its pin; returns the names compared (never empty).

    ``exact`` maps a table's file name to its kernel-free numeric columns (``"*"``: all of them);
    ``model_text`` maps it to its text columns that hold model numbers. Every other numeric column
    is a model number, compared as a distribution (module docstring).
    """
    tables = sorted(p.name for p in Path(results).glob("*.csv") if "timing" not in p.name)
    assert tables, f"no CSV table in {results}"
    pin_dir = PINS / chapter
    if os.environ.get("SERBOOK_WRITE_PINS") == "1":
        shutil.rmtree(pin_dir, ignore_errors=True)
        pin_dir.mkdir(parents=True)
        for name in tables:
            shutil.copyfile(Path(results) / name, pin_dir / name)
        return tables
    pinned = sorted(p.name for p in pin_dir.glob("*.csv"))
    assert pinned, f"no pins in {pin_dir}; write them with SERBOOK_WRITE_PINS=1"
    assert tables == pinned, f"{chapter}: tables {tables} != pinned {pinned}"
    named = set(exact or {}) | set(model_text or {})
    assert named <= set(tables), f"{chapter}: the pin spec names tables the run did not save: {sorted(named - set(tables))}"
    problems = []
    for name in tables:
        problems += compare_table(name, pd.read_csv(Path(results) / name), pd.read_csv(pin_dir / name),
                                  _names(exact, name), _names(model_text, name))
    assert not problems, f"{chapter} smoke tables moved from their pins:\n" + "\n".join(problems)
    return tables


# The CPU kernel choices the smoke pins are checked under (tests/test_kernels.py). Each is set in
# the environment of the notebook's kernel before torch loads: ATen's vectorised kernels
# (``ATEN_CPU_CAPABILITY``), oneDNN's convolutions and recurrent layers (``ONEDNN_MAX_CPU_ISA``)
# and MKL's GEMM code path (``MKL_CBWR``). "native" is what the machine picks by itself.
KERNEL_CHOICES: dict[str, dict[str, str]] = {
    "native": {},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2"},
    "default": {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41", "MKL_CBWR": "COMPATIBLE"},
}


def cpu_has(flag: str) -> bool:
    """Whether this machine's CPU reports ``flag`` (e.g. ``avx2``) in /proc/cpuinfo."""
    try:
        return flag in Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
