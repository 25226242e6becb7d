"""``make bench``: the speed and memory targets, measured (never asserted in timed tests).

Measures on this machine and writes ``bench/results.json`` (and prints a table):

* embedded corpus generation, ``tiny`` and ``default``, into an empty cache (targets: < 15 s, < 120 s);
* IS10 extraction speed in times real time (target >= 30x) and the cached re-run speed-up (>= 50x);
* the chunked extraction (saved every :data:`serlib.cache.CHUNK_SIZE` utterances, resumable) against
  the one-shot extraction it replaced (:mod:`bench.reference_features`), IS10 functionals and
  padded MFCCs on a few hundred utterances of the embedded corpus, in this one run: seconds of each
  and the chunked overhead (target <= 5 %);
* each chapter's ``smoke`` and ``book`` run time and peak memory, read from the ``run.json`` that
  ``serbook run`` wrote beside the executed notebooks (``--run-chapters PROFILE`` executes them first);
* every chapter's networks at the papers' sizes (:mod:`bench.models`): mini-batches per
  second and seconds per paper-sized epoch, on the CPU and on the GPU when one is present;
* the training engine against the loops it replaced (chapters 1-3), on the CPU at the same
  number of epochs, in this one run: seconds of each and their ratio (target <= 1.05).

    python -m bench [--skip-generation] [--run-chapters smoke|book] [--model-steps N] [--ratio-epochs N]
                           [--overhead-utterances N]
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

from serlib.config import project_root

TARGETS = {
    "generate_tiny_s": ("<", 15.0),
    "generate_default_s": ("<", 120.0),
    "is10_realtime_factor": (">", 30.0),
    "is10_cached_speedup": (">", 50.0),
    "chapter_book_s": ("<", 600.0),
    "chapter_smoke_s": ("<", 90.0),
    "book_peak_rss_mib": ("<", 4096.0),
    "engine_vs_loop_max_ratio": ("<", 1.05),
    "chunked_overhead_max": ("<", 0.05),
}


def _generation(size: str) -> float:
    from serlib.data import load_corpus

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
    from serlib.data import load_corpus
    from serlib.features import functionals

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


def _in_empty_cache(fn: Any) -> tuple[float, Any]:
    """Seconds ``fn()`` takes with ``$SERLIB_CACHE`` pointing at a new, empty folder, and its value."""
    old = os.environ.get("SERLIB_CACHE")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SERLIB_CACHE"] = tmp
        try:
            t0 = time.perf_counter()
            value = fn()
            return time.perf_counter() - t0, value
        finally:
            if old is None:
                os.environ.pop("SERLIB_CACHE", None)
            else:
                os.environ["SERLIB_CACHE"] = old


def _chunked_overhead(n_utterances: int = 300, repeats: int = 2, *, size: str = "default",
                      chunk_size: int | None = None) -> dict[str, Any]:
    """The chunked, resumable extraction against the one-shot extraction it replaced.

    IS10 functionals and padded MFCCs of the first ``n_utterances`` of the embedded corpus of
    ``size``, each into an empty cache: the one-shot copies of :mod:`bench.reference_features`
    saving their result once, as the extractors used to, and the extractors themselves saving a
    chunk every ``chunk_size`` utterances (:data:`~serlib.cache.CHUNK_SIZE`, what the book uses,
    unless given). Runs alternate (one-shot, chunked,
    chunked, one-shot, ...) after a warm-up on three utterances, and the fastest of ``repeats``
    runs of each counts. ``overhead`` is chunked / one-shot - 1; ``identical`` says whether both
    gave the same numbers, bit for bit.
    """
    import numpy as np
    import pandas as pd

    from serlib.cache import CHUNK_SIZE, cached
    from serlib.data import load_corpus
    from serlib.features import functionals, padded_mfcc, padded_mfcc_frames

    from .reference_features import functionals_one_shot, padded_mfcc_one_shot

    chunk_size = CHUNK_SIZE if chunk_size is None else chunk_size
    full = load_corpus("embedded", size=size, progress=False)
    corpus = full.subset(np.arange(min(n_utterances, len(full))), name="bench")

    def is10_one_shot(c: Any) -> Any:
        return cached("features", "one-shot-is10", lambda: functionals_one_shot(c, "is10"))

    def is10_chunked(c: Any) -> Any:
        return functionals(c, "is10", progress=False, chunk_size=chunk_size)

    def mfcc_one_shot(c: Any) -> Any:
        m, f = padded_mfcc_one_shot(c)
        cached("features", "one-shot-padded-frames", lambda: f)
        return cached("features", "one-shot-padded-mfcc", lambda: m), f

    def mfcc_chunked(c: Any) -> Any:
        return (padded_mfcc(c, progress=False, chunk_size=chunk_size),
                padded_mfcc_frames(c, progress=False, chunk_size=chunk_size))

    def same(a: Any, b: Any) -> bool:
        if isinstance(a, pd.DataFrame):
            try:
                pd.testing.assert_frame_equal(a, b, check_exact=True)
                return True
            except AssertionError:
                return False
        return all(x.dtype == y.dtype and np.array_equal(x, y) for x, y in zip(a, b, strict=True))

    out: dict[str, Any] = {"utterances": len(corpus), "audio_s": float(corpus.table["duration"].sum()),
                           "chunk_size": chunk_size, "repeats": repeats}
    warm = corpus.subset(np.arange(min(3, len(corpus))))
    for name, one_shot, chunked in (("is10", is10_one_shot, is10_chunked),
                                    ("padded_mfcc", mfcc_one_shot, mfcc_chunked)):
        _in_empty_cache(lambda a=one_shot, b=chunked: (a(warm), b(warm)))  # libraries loaded, numba code compiled
        times: dict[str, list[float]] = {"one_shot": [], "chunked": []}
        values: dict[str, Any] = {}
        for r in range(repeats):
            order = (("one_shot", one_shot), ("chunked", chunked))
            for label, fn in order if r % 2 == 0 else order[::-1]:
                seconds, values[label] = _in_empty_cache(lambda fn=fn: fn(corpus))
                times[label].append(seconds)
        first, second = min(times["one_shot"]), min(times["chunked"])
        out[name] = {"one_shot_s": first, "chunked_s": second, "overhead": second / first - 1,
                     "identical": same(values["one_shot"], values["chunked"])}
    return out


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
    ap = argparse.ArgumentParser(prog="python -m bench")
    ap.add_argument("--skip-generation", action="store_true", help="do not time corpus generation")
    ap.add_argument("--run-chapters", choices=["smoke", "book"], default=None,
                    help="execute every chapter with this profile before collecting timings")
    ap.add_argument("--model-steps", type=int, default=3,
                    help="timed mini-batches per network for the model throughput rows (0 skips them)")
    ap.add_argument("--ratio-epochs", type=int, default=2,
                    help="epochs of each engine-vs-loop timing (chapters 1-3, CPU; 0 skips them)")
    ap.add_argument("--overhead-utterances", type=int, default=300,
                    help="utterances of the chunked-vs-one-shot extraction timing (0 skips it)")
    args = ap.parse_args(argv)

    res: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "gpu": _gpu()},
                           "when": time.strftime("%Y-%m-%d %H:%M:%S")}
    if not args.skip_generation:
        res["generate_tiny_s"] = _generation("tiny")
        res["generate_default_s"] = _generation("default")
    res.update(_is10())
    if args.overhead_utterances > 0:
        res["chunked_extraction"] = _chunked_overhead(args.overhead_utterances)
        res["chunked_overhead_max"] = max(res["chunked_extraction"][k]["overhead"] for k in ("is10", "padded_mfcc"))
    if args.run_chapters:
        from serlib.run import execute, toc_notebooks

        for src in toc_notebooks():
            execute(src, {"profile": args.run_chapters}, progress=False)
    res["chapters"] = _chapter_runs()
    book_peaks = [rec["peak_rss_mib"] for name, rec in res["chapters"].items()
                  if "[book]" in name and isinstance(rec.get("peak_rss_mib"), (int, float))]
    if book_peaks:  # each chapter's kernel measures its own peak; the book needs the largest
        res["book_peak_rss_mib"] = max(book_peaks)
    if args.model_steps > 0:
        import torch

        from .models import run_all

        res["models"] = run_all(["cpu"] + (["cuda"] if torch.cuda.is_available() else []), args.model_steps)
    if args.ratio_epochs > 0:
        from .models import engine_ratios

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
