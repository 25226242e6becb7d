"""The catalogue of deliberate bugs (``tests/mutants.py``) follows the code: every original text
occurs exactly once in its file, every mutated file still parses, and every test it names
exists. (Running the mutants themselves is ``make mutants``, not part of the test suite.)"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.mutants import MUTANTS, ROOT, occurrences


def _functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}


def test_catalogue_covers_the_chapters_splits_and_metrics():
    assert len(MUTANTS) >= 12
    names = [m.name for m in MUTANTS]
    assert len(set(names)) == len(names)
    files = {m.file for m in MUTANTS}
    for needed in ("serlib/splits.py", "serlib/metrics.py", "serlib/features.py", "serlib/train.py",
                   "serlib/models/aae.py", "serlib/models/gan.py", "serlib/models/mixup_gan.py",
                   "serlib/models/infogan.py", "serlib/models/sier.py", "serlib/models/began.py"):
        assert needed in files


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_original_text_occurs_once_and_the_mutant_parses(mutant):
    assert mutant.original != mutant.replacement and mutant.why and mutant.tests
    assert occurrences(mutant) == 1, f"{mutant.name}: update the catalogue to the code of {mutant.file}"
    text = (ROOT / mutant.file).read_text(encoding="utf-8")
    ast.parse(text.replace(mutant.original, mutant.replacement))  # a mutant is a bug, not a syntax error


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_every_named_test_exists(mutant):
    for node in mutant.tests:
        path, _, name = node.partition("::")
        assert name and (ROOT / path).is_file(), node
        assert name.split("[")[0] in _functions(ROOT / path), f"{node} does not exist"
