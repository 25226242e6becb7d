"""The chapters' smoke tables, pinned: each chapter's notebook test compares the CSV tables its
smoke run saved with the copies under ``tests/pins/<chapter>/``, so that moving code (a training
loop into the shared engine, a feature into :mod:`serlib.features`) cannot change a number unseen.

Tolerance: a value matches when it is within 2 % of the pinned one or 0.02 of it in absolute terms
(``numpy.isclose(rtol=0.02, atol=0.02)``): the smoke runs are deterministic on one machine, and the
margin absorbs the last-bit differences of another CPU's math kernels, which a few training steps
can amplify. Tables and columns that measure time are not compared. Text columns must be equal.

To re-pin after an intended change (say so in the commit), run the notebook tests with
``SERBOOK_WRITE_PINS=1``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

PINS = Path(__file__).parent / "pins"
RTOL = ATOL = 0.02
_TIME_WORDS = ("second", "time", "elapsed", "duration_s")


def _compared(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[[c for c in frame.columns if not any(w in str(c).lower() for w in _TIME_WORDS)]]


def check_pins(chapter: str, results: Path) -> list[str]:
    """Compare every CSV of ``results`` with its pin; returns the names compared (never empty)."""
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
    problems = []
    for name in tables:
        ours = _compared(pd.read_csv(Path(results) / name))
        pin = _compared(pd.read_csv(pin_dir / name))
        if list(ours.columns) != list(pin.columns) or ours.shape != pin.shape:
            problems.append(f"{name}: shape/columns {ours.shape} {list(ours.columns)} != {pin.shape} {list(pin.columns)}")
            continue
        for col in pin.columns:
            a, b = ours[col], pin[col]
            if pd.api.types.is_numeric_dtype(b) and pd.api.types.is_numeric_dtype(a):
                same = np.isclose(a.to_numpy(float), b.to_numpy(float), rtol=RTOL, atol=ATOL, equal_nan=True)
                if not same.all():
                    i = int(np.flatnonzero(~same)[0])
                    problems.append(f"{name}[{col}] row {i}: {a.iloc[i]!r} != pinned {b.iloc[i]!r}")
            elif not (a.fillna("").astype(str) == b.fillna("").astype(str)).all():
                problems.append(f"{name}[{col}]: text differs from the pin")
    assert not problems, f"{chapter} smoke tables moved from their pins:\n" + "\n".join(problems)
    return tables
