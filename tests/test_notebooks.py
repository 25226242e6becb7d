"""The corpora chapter executes end to end in the smoke profile, and its saved results are sane."""

import pandas as pd
import pytest

from serlib.config import project_root
from tests._pins import check_pins

ROOT = project_root()


@pytest.fixture(scope="module")
def corpora_run(smoke_chapters):
    """The session's smoke run of chapter 0 (the one the strict book shows)."""
    return smoke_chapters.run("00_corpora"), smoke_chapters.results("00_corpora")


def test_corpora_chapter_smoke(corpora_run):
    nb, res = corpora_run
    # chapter 0 trains no network: its counts and eGeMAPS + SVM baselines are kernel-free
    check_pins("00_corpora", res, exact={t: ["*"] for t in ("baseline_folds.csv", "baseline_summary.csv",
                                                             "counts_by_speaker.csv")})
    import nbformat

    book = nbformat.read(nb, as_version=4)
    errors = [o for c in book.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    images = [o for c in book.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if "image/png" in o.get("data", {})]
    assert len(images) >= 4  # counts, examples, distributions, confusion matrices
    summary = pd.read_csv(res / "baseline_summary.csv", index_col=0)
    assert set(summary.index) == {"EGEMAPS + RBF-SVM", "EGEMAPS + RBF-SVM (speaker-adaptive norm.)"}
    folds = pd.read_csv(res / "baseline_folds.csv")
    assert folds["fold"].nunique() == 5
    # the baseline learns: both SVMs are well above the 4-class chance level on average
    assert (folds.groupby("method")["uar"].mean() > 0.4).all(), folds.groupby("method")["uar"].mean()
    # the closing claims: word headers, a verdict read from each interval, and no missing cell
    claims_t = pd.read_csv(res / "claims.csv", index_col=0)
    assert claims_t.index.name == "What the paper claims"
    assert list(claims_t.columns) == ["Paper", "This run (mean ± std, 95 % interval)", "Verdict"]
    assert not claims_t.isna().any().any() and set(claims_t["Verdict"]) <= {"held", "not held", "inconclusive"}
    assert claims_t["Verdict"].iloc[0] == "held"  # the plain yardstick's folds all lie well above chance


def _heading_levels(markdown: str) -> list[tuple[int, str]]:
    """The (level, text) of each heading in a markdown cell, skipping fenced code blocks."""
    out, fence = [], None
    for line in markdown.splitlines():
        stripped = line.lstrip()
        if stripped.startswith(("```", "~~~")):
            mark = stripped[:3]
            fence = None if fence == mark else (fence or mark)
            continue
        if fence is None and stripped.startswith("#"):
            hashes = len(stripped) - len(stripped.lstrip("#"))
            if hashes <= 6 and stripped[hashes:hashes + 1] == " ":
                out.append((hashes, stripped[hashes + 1:].strip()))
    return out


def test_heading_levels_never_skip_one():
    """Sphinx warns (and the -W book build fails) when a heading jumps a level, e.g. H1 to H3."""
    import jupytext

    assert _heading_levels("# a\n```bash\n# a comment\n```\n### b") == [(1, "a"), (3, "b")]
    problems = []
    for path in sorted((ROOT / "notebooks").glob("*.py")):
        previous = 0
        for cell in jupytext.read(path).cells:
            if cell.cell_type != "markdown":
                continue
            for level, text in _heading_levels(cell.source):
                if previous and level > previous + 1:
                    problems.append(f"{path.name}: H{previous} -> H{level} at {text!r}")
                previous = level
    assert not problems, "\n".join(problems)


def heading_problems(name: str, markdown: str) -> list[str]:
    """A prose page's heading faults: it does not open with an H1, or a heading jumps a level."""
    levels = _heading_levels(markdown)
    problems = [] if levels and levels[0][0] == 1 else [f"{name}: the first heading is not an H1"]
    for (before, _), (level, text) in zip(levels, levels[1:]):
        if level > before + 1:
            problems.append(f"{name}: H{before} -> H{level} at {text!r}")
    return problems


def test_prose_pages_open_with_h1_and_never_skip_a_level():
    """The book's markdown pages (the "Using serbook" part among them) obey the same rule as the chapters."""
    import yaml

    from serlib.run import toc_entries

    assert heading_problems("p.md", "# a\n## b\n```bash\n# not a heading\n```\n### c\n## d\n") == []
    assert heading_problems("p.md", "# a\n### b\n") == ["p.md: H1 -> H3 at 'b'"]
    assert heading_problems("p.md", "## a\n") == ["p.md: the first heading is not an H1"]
    pages = [ROOT / f"{f}.md" for f in toc_entries(yaml.safe_load((ROOT / "_toc.yml").read_text()))
             if (ROOT / f"{f}.md").exists()]
    assert any("using" in p.parts for p in pages) and len(pages) >= 10
    problems = [p for page in pages for p in heading_problems(page.relative_to(ROOT).as_posix(), page.read_text())]
    assert not problems, "\n".join(problems)
