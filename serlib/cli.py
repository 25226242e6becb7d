"""The ``serbook`` command.

    serbook run NOTEBOOK [-f params.yaml] [-p key=value ...] [--jobs N]
                                                execute one chapter with parameters (value lists: a sweep)
    serbook book [--profile smoke|book|paper]   execute every chapter and build the HTML book
    serbook pdf [--no-strict] [--output PDF]    the executed book as one PDF (_build/pdf/serbook.pdf),
                                                printed by headless Chromium
    serbook data check NAME ROOT                check a corpus folder file by file; exit 0 complete,
                                                3 partial or warnings, 4 errors / not loadable
    serbook data download NAME [--root DIR] [--yes] [--song] [--subset S ...] [--force]
                                                fetch, verify and unpack a free corpus (emodb, ravdess,
                                                librispeech, tess), then check it
    serbook data generate [--size S] [--variant V]   generate the embedded corpus into the cache
    serbook data list                           the corpora serlib knows, with licences
    serbook edition student|instructor [--output-dir DIR]   the chapters without / with the exercises' solutions
    serbook results add RUN_DIR                 record a real-corpus run's tables and provenance in book/results/
    serbook cache-key [--prefix P]              the CI cache key of $SERLIB_CACHE (generator + feature versions)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]


def _cmd_run(args: argparse.Namespace) -> int:
    from .run import check_parameters, execute, load_params_file, merge_params, parse_sweep_params, sweep

    file_params, file_grid = load_params_file(args.params_file) if args.params_file else ({}, {})
    if args.params_file:
        check_parameters(args.notebook, {**file_params, **file_grid}, origin=f"set in {args.params_file}")
    cli_params, cli_grid = parse_sweep_params(args.param)
    params, grid = merge_params(file_params, file_grid, cli_params, cli_grid)
    if not grid:
        out = execute(args.notebook, params, output_dir=args.output_dir, progress=not args.quiet)
        print(out)
        return 0
    result = sweep(args.notebook, grid, params, jobs=args.jobs, output_dir=args.output_dir, progress=not args.quiet)
    print(result.summary())
    return 1 if result.failed else 0


def _cmd_book(args: argparse.Namespace) -> int:
    from .run import build_book

    html = build_book(args.profile, execute_notebooks=not args.no_execute, strict=not args.no_strict,
                      only=args.only, page_check=not args.no_page_check)
    print(f"book built: {html / 'index.html'}")
    return 0


def _cmd_check_pages(args: argparse.Namespace) -> int:
    from .config import project_root
    from .pagecheck import check_pages, format_problems

    html = Path(args.html) if args.html else project_root() / "_build" / "html"
    problems = check_pages(html)
    print(format_problems(problems), file=sys.stderr if problems else sys.stdout)
    return 1 if problems else 0


def _cmd_pdf(args: argparse.Namespace) -> int:
    from .pdf import PdfError, build_pdf

    try:
        pdf = build_pdf(strict=not args.no_strict, output=args.output)
    except PdfError as exc:
        print(f"serbook: error: {exc}", file=sys.stderr)
        return 1
    print(f"book printed: {pdf}")
    return 0


def _cmd_data_check(args: argparse.Namespace) -> int:
    from .data.check import check_corpus

    text, code = check_corpus(args.name, args.root)
    print(text)
    return code


def _cmd_data_download(args: argparse.Namespace) -> int:
    from .data.downloads import ConfirmationNeeded, DownloadError, download

    try:
        return download(args.name, args.root, song=args.song, subsets=args.subset, yes=args.yes,
                        mirror=args.mirror, keep_archives=args.keep_archives, force=args.force,
                        progress=not args.quiet)
    except ConfirmationNeeded as exc:
        print(f"serbook: error: {exc}", file=sys.stderr)
        return 2
    except DownloadError as exc:
        print(f"serbook: error: {exc}", file=sys.stderr)
        return 1


def _cmd_data_generate(args: argparse.Namespace) -> int:
    from .data import load_corpus

    for part in ("labelled", "unlabelled"):
        c = load_corpus("embedded", size=args.size, variant=args.variant, part=part)
        print(c)
    return 0


def _cmd_data_list(args: argparse.Namespace) -> int:
    from .data import available_corpora
    from .data.downloads import SOURCES

    for key, spec in available_corpora().items():
        how = f"; `serbook data download {key}`" if key in SOURCES else ""
        print(f"{key:12s} {spec.title} — {spec.licence}; folder $SERLIB_DATA/{spec.default_subdir}{how}")
    return 0


def _cmd_edition(args: argparse.Namespace) -> int:
    from .exercises import ExerciseError, build_edition

    try:
        written = build_edition(args.edition, output_dir=args.output_dir)
    except ExerciseError as exc:
        print(f"serbook: error: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(path)
    return 0


def _cmd_results_add(args: argparse.Namespace) -> int:
    from .recorded import RecordRefused, add_run

    try:
        dest = add_run(args.run_dir, results_root=args.results_root)
    except RecordRefused as exc:
        print(f"serbook: refused: {exc}", file=sys.stderr)
        return 1
    print(f"recorded {args.run_dir} -> {dest}")
    print("commit that folder and rebuild the book to show the tables in the chapter and the results overview")
    return 0


def _cmd_cache_key(args: argparse.Namespace) -> int:
    from .versions import cache_versions, ci_cache_key

    if args.json:
        import json

        print(json.dumps(cache_versions(), indent=2, sort_keys=True))
    else:
        print(ci_cache_key(args.prefix))
    return 0


_RUN_EPILOG = """\
parameter file (-f):
  profile: smoke
  seeds: [0, 1]          # a YAML list is one value
  sweep:                 # optional: value lists; every combination runs
    gamma: [1.25, 2.5, 3.33]

sweeps: a -p value is split on commas into a value list, -p gamma=1.25,2.5,3.33; with several
lists every combination (cartesian product) runs, N at a time (--jobs), each into
<output-dir>/<notebook>.sweep/<param=value,...>/. A comma inside brackets or inside a quoted
YAML string does not split: -p seeds=[0,1] is one value, -p seeds=[0],[0,1] two, and a string
containing a comma is quoted: -p 'title="a, b"'. Afterwards every results table saved by all
runs is concatenated, with one column per swept parameter, into <notebook>.sweep/<table>.csv.
A failed run is reported (combination, cell, error) and the others are kept; the exit status
is then 1. Re-running a sweep replaces its <notebook>.sweep folder.
"""


_CHECK_EPILOG = """\
exit status:
  0  complete and loadable (the full release, or a corpus without a fixed release), no warnings
  3  loadable but partial (fewer files than the full release, audio the label file does not
     list), or warnings only (skipped, blank or resampled files)
  4  errors, or nothing loadable (includes a folder that does not exist)
  2  usage error (unknown corpus name, missing argument)
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="serbook", description="Run and build the serbook study book.")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="execute one notebook with parameters", epilog=_RUN_EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("notebook", help="notebooks/NN_name.py (or .ipynb)")
    r.add_argument("-p", "--param", action="append", metavar="KEY=VALUE",
                   help="a parameter (YAML value), repeatable: -p profile=smoke -p seeds=[0,1]; "
                        "a comma-separated value list (-p gamma=1.25,2.5) runs a sweep, see below")
    r.add_argument("-f", "--params-file", default=None, metavar="PARAMS.yaml",
                   help="a YAML mapping of parameter: value, with an optional 'sweep:' mapping of "
                        "parameter: [values]; -p overrides it")
    r.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="sweeps: runs executed in parallel (default: the number of cores)")
    r.add_argument("--output-dir", default=None, help="where the executed notebook goes (default book/chapters)")
    r.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    r.set_defaults(func=_cmd_run)

    b = sub.add_parser("book", help="execute every chapter and build the HTML book")
    b.add_argument("--profile", default="book", choices=["smoke", "book", "paper"])
    b.add_argument("--no-execute", action="store_true", help="render the notebooks already executed")
    b.add_argument("--no-strict", action="store_true", help="do not turn warnings into errors")
    b.add_argument("--only", nargs="*", help="execute only these notebook stems")
    b.add_argument("--no-page-check", action="store_true",
                   help="do not fail the build on what a reader should not see (see serbook check-pages)")
    b.set_defaults(func=_cmd_book)

    cp = sub.add_parser(
        "check-pages", help="check a built book's pages for what a reader should not see",
        description="Read every executed chapter's page of a built book and name each object repr, log line, "
        "machine path, empty output, shown parameters cell, NaN/None/.../empty cell, text cut short, code-name "
        "header and uncaptioned figure; on the book's other pages, read the tables only (serlib.pagecheck). "
        "`serbook book` runs the same check. Exit status 1 when it finds any.")
    cp.add_argument("html", nargs="?", default=None, help="the built book's HTML folder (default _build/html)")
    cp.set_defaults(func=_cmd_check_pages)

    pdf = sub.add_parser(
        "pdf", help="print the executed book to one PDF with headless Chromium",
        description="Render the chapters that `serbook book` executed (it runs none) as a single HTML page and "
        "print it with headless Chromium, maths typeset by the book's own MathJax, to _build/pdf/serbook.pdf; "
        "when the HTML book is built, the PDF is also copied to _build/html/serbook.pdf, where its pages link it. "
        "Needs chromium, chromium-browser or google-chrome on PATH. Exit status 1 when the book is not "
        "executed yet, Chromium is missing or the printing fails.")
    pdf.add_argument("--no-strict", action="store_true", help="do not turn warnings into errors")
    pdf.add_argument("--output", default=None, metavar="PDF", help="where the PDF goes (default _build/pdf/serbook.pdf)")
    pdf.set_defaults(func=_cmd_pdf)

    d = sub.add_parser("data", help="corpora: check, download, generate, list")
    dsub = d.add_subparsers(dest="data_command", required=True)
    c = dsub.add_parser("check", help="check a corpus folder file by file and report its coverage",
                        description="Check a corpus folder file by file (without reading audio samples), "
                                    "load it, and report its coverage against the full release.",
                        epilog=_CHECK_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("name", help="corpus name (serbook data list)")
    c.add_argument("root", help="the corpus folder")
    c.set_defaults(func=_cmd_data_check)
    dl = dsub.add_parser(
        "download", help="fetch, verify and unpack a free corpus (emodb, ravdess, librispeech, tess)",
        description="Print the corpus's licence and citation, ask once, download its archives from the publisher "
        "(resuming after an interruption), check their published sizes and checksums, unpack them into the "
        "folder the loader reads and end with the data check report. A corpus already in place is left alone; files "
        "deleted from it since are restored (from a kept archive, or by downloading again). "
        "Exit status: the data check's (0 loads, 3 warnings, 4 errors); 1 when a download or check fails; "
        "2 for a usage error or a missing confirmation.")
    dl.add_argument("name", help="emodb, ravdess, librispeech or tess")
    dl.add_argument("--root", default=None, help="the corpus folder (default $SERLIB_DATA/<corpus>)")
    dl.add_argument("--yes", action="store_true", help="accept the licence without asking (scripts, CI)")
    dl.add_argument("--song", action="store_true", help="ravdess: also the song recordings")
    dl.add_argument("--subset", action="append", default=None, metavar="NAME",
                    help="librispeech: a subset to fetch, repeatable (default dev-clean)")
    dl.add_argument("--mirror", default=None, metavar="URL",
                    help="fetch <URL>/<corpus>/<file> instead of the publisher's URL (default $SERLIB_DOWNLOAD_MIRROR)")
    dl.add_argument("--keep-archives", action="store_true",
                    help="keep the archives after unpacking (a later repair unpacks them instead of downloading)")
    dl.add_argument("--force", action="store_true",
                    help="fetch and unpack again even what is in place, replacing the files the archives bring "
                    "(the reader's other files are left alone)")
    dl.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    dl.set_defaults(func=_cmd_data_download)
    g = dsub.add_parser("generate", help="generate the embedded corpus into the cache")
    g.add_argument("--size", default="default", choices=["tiny", "default", "large"])
    g.add_argument("--variant", default="main", choices=["main", "cross"])
    g.set_defaults(func=_cmd_data_generate)
    ls = dsub.add_parser("list", help="list known corpora")
    ls.set_defaults(func=_cmd_data_list)

    e = sub.add_parser("edition", help="write the student (solutions removed) or instructor edition of every chapter")
    e.add_argument("edition", choices=["student", "instructor"])
    e.add_argument("--output-dir", default=None, help="where the .ipynb + .py files go (default _build/<edition>)")
    e.set_defaults(func=_cmd_edition)

    res = sub.add_parser("results", help="results on real corpora, recorded for the book")
    rsub = res.add_subparsers(dest="results_command", required=True)
    ra = rsub.add_parser("add", help="copy a real-corpus run's result tables and run.json provenance into "
                                     "book/results/<chapter>/<corpus>/ (never audio, features or utterance ids)",
                         description="Record a chapter's run on a real corpus so that the book shows it. Refuses "
                                     "(exit 1) a run whose run.json lacks the corpus provenance or that read only "
                                     "the embedded corpus.")
    ra.add_argument("run_dir", help="the <chapter>.results/ folder written by `serbook run` (or the executed .ipynb)")
    ra.add_argument("--results-root", default=None,
                    help="where records go (default book/results, or $SERBOOK_RECORDED_DIR)")
    ra.set_defaults(func=_cmd_results_add)

    ck = sub.add_parser("cache-key", help="print the key under which CI caches $SERLIB_CACHE")
    ck.add_argument("--prefix", default="serlib", help="the key's first word (default serlib)")
    ck.add_argument("--json", action="store_true", help="print the versions the key is computed from instead")
    ck.set_defaults(func=_cmd_cache_key)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .config import ParameterError

    try:
        return int(args.func(args))
    except Exception as exc:
        # a corpus error can only come from a command that loaded the corpus module: looked up
        # here rather than imported, so that light commands (cache-key) never load pandas
        corpus = sys.modules.get("serlib.data.corpus")
        usage = (ParameterError, FileNotFoundError, FileExistsError) + ((corpus.CorpusError,) if corpus else ())
        if isinstance(exc, usage):
            print(f"serbook: error: {exc}", file=sys.stderr)
            return 2
        if isinstance(exc, RuntimeError):  # NotebookFailed, book build failure
            print(f"serbook: {exc}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
