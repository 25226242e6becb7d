"""The smoke pins hold under other CPU kernels: two chapters' smoke runs, each under ATen's
portable and AVX2 kernels (with oneDNN and MKL capped to match), checked against the same pins
and learning properties as the run under the machine's own kernels (``test_notebook_smoke`` of
each chapter). See ``tests/_pins.py`` for what is pinned exactly and what as a distribution."""

from __future__ import annotations

import importlib
import json

import pytest

from serlib.config import project_root
from tests._pins import KERNEL_CHOICES, cpu_has

ROOT = project_root()
CHAPTERS = {"01_sahu2018_gan": "tests.test_sahu2018", "05_pereira2018_began": "tests.test_pereira2018"}


@pytest.mark.parametrize("choice", [c for c in KERNEL_CHOICES if c != "native"])
@pytest.mark.parametrize("chapter", sorted(CHAPTERS))
def test_smoke_pins_hold_under_other_cpu_kernels(chapter, choice, tmp_path, monkeypatch):
    if choice == "avx2" and not cpu_has("avx2"):
        pytest.skip("this CPU has no AVX2, so ATen cannot be asked for its AVX2 kernels")
    from serlib.run import execute

    for var, value in KERNEL_CHOICES[choice].items():
        monkeypatch.setenv(var, value)
    nb = execute(ROOT / "notebooks" / f"{chapter}.py", {"profile": "smoke"}, output_dir=tmp_path, progress=False)
    res = tmp_path / f"{chapter}.results"
    # the kernel really ran on the kernels asked for
    assert json.loads((res / "run.json").read_text())["cpu_kernels"] == KERNEL_CHOICES[choice]["ATEN_CPU_CAPABILITY"].upper()
    importlib.import_module(CHAPTERS[chapter]).check_smoke(res, nb)
