"""The ``serbook`` command.

    serbook run NOTEBOOK [-p key=value ...]     execute one chapter with parameters
    serbook book [--profile smoke|book|paper]   execute every chapter and build the HTML book
    serbook data check NAME ROOT                check a corpus folder file by file
    serbook data generate [--size S] [--variant V]   generate the embedded corpus into the cache
    serbook data list                           the corpora serlib knows, with licences
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main"]


def _cmd_run(args: argparse.Namespace) -> int:
    from .run import execute, parse_params

    out = execute(args.notebook, parse_params(args.param), output_dir=args.output_dir,
                  progress=not args.quiet)
    print(out)
    return 0


def _cmd_book(args: argparse.Namespace) -> int:
    from .run import build_book

    html = build_book(args.profile, execute_notebooks=not args.no_execute, strict=not args.no_strict,
                      only=args.only)
    print(f"book built: {html / 'index.html'}")
    return 0


def _cmd_data_check(args: argparse.Namespace) -> int:
    from .data import validate_layout
    from .data._common import format_report

    problems = validate_layout(args.name, args.root)
    print(format_report(args.name, args.root, problems))
    return 1 if any(p.severity == "error" for p in problems) else 0


def _cmd_data_generate(args: argparse.Namespace) -> int:
    from .data import load_corpus

    for part in ("labelled", "unlabelled"):
        c = load_corpus("embedded", size=args.size, variant=args.variant, part=part)
        print(c)
    return 0


def _cmd_data_list(args: argparse.Namespace) -> int:
    from .data import available_corpora

    for key, spec in available_corpora().items():
        print(f"{key:12s} {spec.title} — {spec.licence}; folder $SERLIB_DATA/{spec.default_subdir}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="serbook", description="Run and build the serbook study book.")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="execute one notebook with parameters")
    r.add_argument("notebook", help="notebooks/NN_name.py (or .ipynb)")
    r.add_argument("-p", "--param", action="append", metavar="KEY=VALUE",
                   help="a parameter (YAML value), repeatable: -p profile=smoke -p seeds=[0,1]")
    r.add_argument("--output-dir", default=None, help="where the executed notebook goes (default book/chapters)")
    r.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    r.set_defaults(func=_cmd_run)

    b = sub.add_parser("book", help="execute every chapter and build the HTML book")
    b.add_argument("--profile", default="book", choices=["smoke", "book", "paper"])
    b.add_argument("--no-execute", action="store_true", help="render the notebooks already executed")
    b.add_argument("--no-strict", action="store_true", help="do not turn warnings into errors")
    b.add_argument("--only", nargs="*", help="execute only these notebook stems")
    b.set_defaults(func=_cmd_book)

    d = sub.add_parser("data", help="corpora: check, generate, list")
    dsub = d.add_subparsers(dest="data_command", required=True)
    c = dsub.add_parser("check", help="check a corpus folder file by file")
    c.add_argument("name")
    c.add_argument("root")
    c.set_defaults(func=_cmd_data_check)
    g = dsub.add_parser("generate", help="generate the embedded corpus into the cache")
    g.add_argument("--size", default="default", choices=["tiny", "default", "large"])
    g.add_argument("--variant", default="main", choices=["main", "cross"])
    g.set_defaults(func=_cmd_data_generate)
    ls = dsub.add_parser("list", help="list known corpora")
    ls.set_defaults(func=_cmd_data_list)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .config import ParameterError
    from .data.corpus import CorpusError

    try:
        return int(args.func(args))
    except (ParameterError, CorpusError, FileNotFoundError) as exc:
        print(f"serbook: error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:  # NotebookFailed, book build failure
        print(f"serbook: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
