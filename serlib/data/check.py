"""``serbook data check``: the report on a corpus folder and an exit code that says what it found.

=====  ====================================================================================
code   meaning
=====  ====================================================================================
0      complete and loadable: no error, no warning, and the copy holds the full release
       (or the corpus has no fixed release to compare with)
3      loadable but partial (fewer files than the full release, a label file that disagrees
       with the audio present), or warnings only (skipped, blank or resampled files)
4      errors, or nothing loadable (this includes a folder that does not exist)
2      usage error (unknown corpus name, missing argument)
=====  ====================================================================================

:func:`check_corpus` returns the report text and the code, so other commands (a download) can
end with the same report.
"""

from __future__ import annotations

from pathlib import Path

from ..config import ParameterError
from ._common import format_report
from .corpus import CorpusError
from .loading import load_corpus
from .registry import validate_layout

__all__ = ["EXIT_COMPLETE", "EXIT_ERRORS", "EXIT_PARTIAL", "EXIT_USAGE", "check_corpus"]

EXIT_COMPLETE = 0
EXIT_PARTIAL = 3
EXIT_ERRORS = 4
EXIT_USAGE = 2


def check_corpus(name: str, root: str | Path | None = None) -> tuple[str, int]:
    """Check corpus ``name`` at ``root`` file by file, load it, and measure its coverage.

    Returns ``(report, code)`` with the codes of the module docstring. The report lists every
    finding with its fix, a ``Coverage:`` line against the full release, and a last line
    starting ``OK``, ``PARTIAL``, ``WARNINGS`` or ``NOT LOADABLE``.
    """
    problems = validate_layout(name, root)
    shown_root = root if root is not None else "(default folder)"
    if any(p.severity == "error" for p in problems):
        return format_report(name, shown_root, problems), EXIT_ERRORS
    try:
        corpus = load_corpus(name, root)
    except (CorpusError, ParameterError) as exc:
        text = format_report(name, shown_root, problems, n_utterances=0)
        lines = text.splitlines()[:-1] + [f"NOT LOADABLE: {exc}"]
        return "\n".join(lines), EXIT_ERRORS
    text = format_report(name, shown_root, problems, n_utterances=len(corpus))
    lines = text.splitlines()[:-1]
    cov = corpus.meta.get("coverage", {})
    n = len(corpus)
    n_skipped = len(corpus.meta.get("skipped", ()))
    lines.append(f"Coverage: {cov.get('summary', 'not measured')}")
    warnings = [p for p in problems if p.severity != "error"]
    if cov.get("complete") is False:
        lines.append(
            f"PARTIAL: loads {n} utterances, but this copy is not the full release (see Coverage). A chapter "
            f"in the paper profile refuses it unless run with -p allow_partial=true; restore the missing "
            f"files to compare with the paper.")
        return "\n".join(lines), EXIT_PARTIAL
    if warnings or n_skipped:
        skipped = f" ({n_skipped} skipped)" if n_skipped else ""
        lines.append(f"WARNINGS: loads {n} utterances{skipped}; see the warnings above.")
        return "\n".join(lines), EXIT_PARTIAL
    done = "complete" if cov.get("complete") else "no fixed release to compare with"
    lines.append(f"OK: loads {n} utterances ({done}).")
    return "\n".join(lines), EXIT_COMPLETE
