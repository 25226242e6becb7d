"""``make bench``: the speed and memory targets, measured (never asserted in timed tests).

Measures on this machine and writes ``bench/results.json`` (and prints a table):

* embedded corpus generation, ``tiny`` and ``default``, into an empty cache (targets: < 15 s, < 120 s);
* IS10 extraction speed in times real time (target >= 30x) and the cached re-run speed-up (>= 50x);
* each chapter's ``smoke`` and ``book`` run time and peak memory, read from the ``run.json`` that
  ``serbook run`` wrote beside the executed notebooks (``--run-chapters PROFILE`` executes them first);
* every chapter's networks at the papers' sizes (:mod:`serlib.bench_models`): mini-batches per
  second and seconds per paper-sized epoch, on the CPU and on the GPU when one is present;
* the training engine against the loops it replaced (chapters 1-3), on the CPU at the same
  number of epochs, in this one run: seconds of each and their ratio (target <= 1.05).

    python -m serlib.bench [--skip-generation] [--run-chapters smoke|book] [--model-steps N] [--ratio-epochs N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from typing import Any

from .config import project_root

TARGETS = {
    "generate_tiny_s": ("<", 15.0),
    "generate_default_s": ("<", 120.0),
    "is10_realtime_factor": (">", 30.0),
    "is10_cached_speedup": (">", 50.0),
    "chapter_book_s": ("<", 600.0),
    "chapter_smoke_s": ("<", 90.0),
    "book_peak_rss_mib": ("<", 4096.0),
    "engine_vs_loop_max_ratio": ("<", 1.05),
}


def _generation(size: str) -> float:
    from .data import load_corpus

    old = os.environ.get("SERLIB_CACHE")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SERLIB_CACHE"] = tmp
        try:
            t0 = time.perf_counter()
            load_corpus("embedded", size=size, part="all")
            return time.perf_counter() - t0
        finally:
            if old is None:
                os.environ.pop("SERLIB_CACHE", None)
            else:
                os.environ["SERLIB_CACHE"] = old


def _is10() -> dict[str, float]:
    from .data import load_corpus
    from .features import functionals

    old = os.environ.get("SERLIB_CACHE")
    corpus = load_corpus("embedded", size="tiny")
    audio_s = float(corpus.table["duration"].sum())
    with tempfile.TemporaryDirectory() as tmp:
        # features into an empty cache; the corpus itself stays where it is
        os.environ["SERLIB_CACHE"] = tmp
        try:
            t0 = time.perf_counter()
            functionals(corpus, "is10", progress=False)
            first = time.perf_counter() - t0
            t0 = time.perf_counter()
            functionals(corpus, "is10", progress=False)
            second = time.perf_counter() - t0
        finally:
            if old is None:
                os.environ.pop("SERLIB_CACHE", None)
            else:
                os.environ["SERLIB_CACHE"] = old
    return {"is10_audio_s": audio_s, "is10_first_s": first, "is10_cached_s": second,
            "is10_realtime_factor": audio_s / first, "is10_cached_speedup": first / max(second, 1e-9)}


def _chapter_runs() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for run in sorted((project_root() / "book" / "chapters").glob("*.results/run.json")):
        rec = json.loads(run.read_text())
        prof = rec.get("parameters", {}).get("profile", "book")
        out[f"{run.parent.name.removesuffix('.results')}[{prof}]"] = {
            "seconds": rec["seconds"], "peak_rss_mib": rec.get("peak_rss_mib"),
            "finished": rec.get("finished"), "device": rec.get("device", "")}
    return out


def _gpu() -> str:
    try:
        import torch

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    except Exception:  # noqa: BLE001 - a GPU whose name cannot be read is reported as none
        return "none"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m serlib.bench")
    ap.add_argument("--skip-generation", action="store_true", help="do not time corpus generation")
    ap.add_argument("--run-chapters", choices=["smoke", "book"], default=None,
                    help="execute every chapter with this profile before collecting timings")
    ap.add_argument("--model-steps", type=int, default=3,
                    help="timed mini-batches per network for the model throughput rows (0 skips them)")
    ap.add_argument("--ratio-epochs", type=int, default=2,
                    help="epochs of each engine-vs-loop timing (chapters 1-3, CPU; 0 skips them)")
    args = ap.parse_args(argv)

    res: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "gpu": _gpu()},
                           "when": time.strftime("%Y-%m-%d %H:%M:%S")}
    if not args.skip_generation:
        res["generate_tiny_s"] = _generation("tiny")
        res["generate_default_s"] = _generation("default")
    res.update(_is10())
    if args.run_chapters:
        from .run import execute, toc_notebooks

        for src in toc_notebooks():
            execute(src, {"profile": args.run_chapters}, progress=False)
    res["chapters"] = _chapter_runs()
    book_peaks = [rec["peak_rss_mib"] for name, rec in res["chapters"].items()
                  if "[book]" in name and isinstance(rec.get("peak_rss_mib"), (int, float))]
    if book_peaks:  # each chapter's kernel measures its own peak; the book needs the largest
        res["book_peak_rss_mib"] = max(book_peaks)
    if args.model_steps > 0:
        import torch

        from .bench_models import run_all

        res["models"] = run_all(["cpu"] + (["cuda"] if torch.cuda.is_available() else []), args.model_steps)
    if args.ratio_epochs > 0:
        from .bench_models import engine_ratios

        res["engine_vs_loop"] = engine_ratios(args.ratio_epochs)
        res["engine_vs_loop_max_ratio"] = max(r["ratio"] for r in res["engine_vs_loop"])

    rows = []
    for key, (op, target) in TARGETS.items():
        if key in res:
            v = res[key]
            ok = v < target if op == "<" else v > target
            rows.append((key, f"{v:.2f}", f"{op} {target:g}", "ok" if ok else "MISSED"))
    for name, rec in res["chapters"].items():
        key = "chapter_smoke_s" if "[smoke]" in name else "chapter_book_s"
        op, target = TARGETS[key]
        ok = rec["seconds"] < target
        rows.append((f"{name} time (s)", f"{rec['seconds']:.1f}", f"< {target:g}", "ok" if ok else "MISSED"))
    width = max(len(r[0]) for r in rows) if rows else 10
    for r in rows:
        print(f"{r[0]:<{width}}  {r[1]:>10}  {r[2]:>8}  {r[3]}")
    out = project_root() / "bench" / "results.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(res, indent=2))
    print(f"written {out}")
    if shutil.which("nvidia-smi") is None:
        print("no GPU here: GPU timings are recorded when the benchmark runs on a machine with one")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
