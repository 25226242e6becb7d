"""One job runner for every chapter: independent units in worker processes, resumable runs.

A chapter's work splits into *units* (a fold x grid point x seed, a protocol step, a point of a
learning curve) that do not depend on each other and seed themselves. :func:`run_units` runs
them one after the other in this process (``workers=1``) or in ``workers`` spawned processes,
with ``threads`` torch (and BLAS) threads each, shows one progress bar, and returns the results
in the units' order, so the results do not depend on ``workers``, ``threads`` or the order in
which units finish.

Two knobs, the same name in every chapter's configuration:

``workers``
    worker processes; ``0`` or ``None`` = one per CPU core (at most one per unit); ``1`` = in
    this process, no pool. A run on a GPU always uses one.
``threads``
    torch and BLAS threads in each unit; ``None`` = torch's default in this process, and
    ``cores // workers`` in each worker process.

Resume. With a ``resume_dir`` every finished unit's result is written there at once,
atomically, with a sha256 sidecar (the conventions of :mod:`serlib.cache`); a later run with
the same ``resume_dir`` loads the finished units instead of computing them again and computes
only the others. A unit file whose checksum does not match, that has no checksum (a write cut
short) or that cannot be read is logged, naming the file, and the unit is computed again (the
new result replaces the file). :func:`resume_dir` gives the folder of a ``serbook run``:
``<output-dir>/<stem>.results/.units/<namespace>-<key>/``, where the key hashes the chapter's
configuration (every parameter except ``workers`` and ``threads``), the data the units read,
the device, and the code version (a hash of the serlib sources a unit can run and the
torch/numpy versions: :func:`code_version`), so units of a run with other parameters or other
code are never reused. ``serbook run`` removes ``.units`` once the notebook has finished
successfully; a failed or killed run keeps it.

Unit results are the chapters' own plain data (dicts and dataclasses of numpy arrays,
DataFrames and numbers); they are stored as pickles in the run's own results folder and read
back only after their checksum matches, by an unpickler that refuses every class and function
outside numpy, pandas, serlib, pyarrow's array rebuilders (pandas' arrow-backed strings) and a
few builtins (:data:`ALLOWED_MODULES`), so a unit file can hold data but cannot run other code.

Testing and debugging aid: ``SERBOOK_STOP_AFTER_UNITS=N`` in the environment makes
:func:`run_units` raise :class:`RunStopped` once ``N`` units have been newly computed (and
saved) in this call, as if the run had been killed there.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from .cache import atomic_write_bytes, read_verified_bytes, write_verified_bytes
from .config import ParameterError, get_logger

__all__ = ["ALLOWED_BUILTINS", "ALLOWED_MODULES", "KNOBS", "NOT_UNIT_CODE", "STOP_ENV", "UNITS_FOLDER", "RunStopped", "Unit",
           "apply_threads", "code_version", "default_threads", "default_workers", "fingerprint", "resume_dir", "run_chapter_units", "run_units",
           "sources_hash", "threads_param", "unit_sources", "workers_param"]

log = get_logger("parallel")

STOP_ENV = "SERBOOK_STOP_AFTER_UNITS"
"""Environment variable: stop :func:`run_units` after this many newly computed units (testing aid)."""

UNITS_FOLDER = ".units"
"""The folder of finished units inside a ``serbook run``'s ``<stem>.results`` folder."""

KNOBS = ("workers", "threads")
"""The configuration fields that decide how units run but not what they compute."""


class RunStopped(RuntimeError):
    """Raised when ``SERBOOK_STOP_AFTER_UNITS`` units have been computed (the run can be resumed)."""


@dataclass(frozen=True)
class Unit:
    """One independent piece of work.

    ``key`` names it stably across runs (built from its fold, grid point and seed, e.g.
    ``"fold=Ses01/seed=0"``); the function of :func:`run_units` is called with ``args`` and
    ``kwargs``; ``weight`` is its share of the progress bar (e.g. the networks it trains).
    """

    key: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    weight: int = 1


# ---------------------------------------------------------------------------------------------
# Knobs
# ---------------------------------------------------------------------------------------------
def workers_param(default: int | None, *, units: str = "units", **profiles: Any) -> Any:
    """The ``workers`` field of a chapter's :class:`~serlib.params.ChapterConfig` (same meaning
    everywhere); ``units`` says what the chapter's units are, ``profiles`` gives ``smoke``/``paper``."""
    from .params import param

    return param(default, low=0, paper_value="not in the paper", **profiles,
                 help=f"CPU processes running the {units}; 0 or None = one per core, 1 = in this process "
                      "(a GPU run uses 1); the results do not depend on it")


def threads_param(default: int | None, *, unit: str = "unit", why: str = "", **profiles: Any) -> Any:
    """The ``threads`` field of a chapter's configuration (same meaning everywhere)."""
    from .params import param

    return param(default, low=1, paper_value="not in the paper", **profiles,
                 help=f"torch and BLAS CPU threads of each {unit} (None = torch's default in this process, "
                      f"cores // workers in worker processes){'; ' + why if why else ''}")


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _device_type(device: Any) -> str:
    if device is None:
        return "cpu"
    return str(getattr(device, "type", device)).split(":")[0]


def default_workers(workers: int | None, n_units: int, device: Any = None) -> int:
    """The worker processes :func:`run_units` uses: 1 on a GPU; ``workers`` (0 or ``None`` = one
    per CPU core) on a CPU; never more than there are units."""
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 0):
        raise ParameterError(f"workers={workers!r}: expected 0 (one per core), 1 (in this process) or more")
    if _device_type(device) not in ("cpu", "auto"):
        if workers and workers > 1:
            log.info("%s: the units run one after the other (workers=%d is for CPU runs)", device, workers)
        return 1
    n = workers if workers else _cores()
    return max(1, min(n, max(1, n_units)))


def default_threads(threads: int | None, workers: int) -> int | None:
    """Threads per unit: ``threads``, or (``None``) torch's default in this process and
    ``cores // workers`` in each of ``workers`` > 1 processes."""
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ParameterError(f"threads={threads!r}: expected a whole number >= 1, or None")
    if threads:
        return int(threads)
    return None if workers <= 1 else max(1, _cores() // workers)


def apply_threads(threads: int | None) -> None:
    """Set this process's torch CPU threads to a chapter's ``threads`` parameter; ``None`` keeps
    torch's default. A notebook calls it once, after reading its configuration (on a busy
    machine one thread avoids the slowdown of oversubscribed cores; a GPU run is not affected)."""
    threads = default_threads(threads, 1)
    if threads:
        import torch

        torch.set_num_threads(threads)


class _Threads:
    """Set torch's and the BLAS libraries' thread counts for a block; restore them after."""

    def __init__(self, threads: int | None) -> None:
        self.threads = threads
        self.before: int | None = None
        self.limits: Any = None

    def __enter__(self) -> _Threads:  # noqa: PYI034
        if self.threads:
            import torch
            from threadpoolctl import threadpool_limits

            self.before = torch.get_num_threads()
            torch.set_num_threads(self.threads)
            self.limits = threadpool_limits(limits=self.threads)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.limits is not None:  # first: it resets OpenMP, which torch's count follows
            self.limits.restore_original_limits()
        if self.before is not None:
            import torch

            torch.set_num_threads(self.before)


# ---------------------------------------------------------------------------------------------
# Keys
# ---------------------------------------------------------------------------------------------
NOT_UNIT_CODE = ("cli.py", "diagrams.py", "exercises.py", "frame.py", "overview.py", "pagecheck.py", "pdf.py",
                 "recorded.py", "results.py", "run.py", "tables.py")
"""serlib's modules that no unit runs, left out of :func:`code_version`: the ``serbook`` command,
the notebook runner, the exercise editions, the chapters' opening boxes and model diagrams,
the back matter, the PDF edition, the page check and the tables as pages show them, the recorded real-corpus results and
the saving of result tables. They run around the chapters, never inside a unit, so editing them
does not make a resumed run compute its finished units again. (The measurements of ``make
bench`` live outside serlib, in the repository's ``bench`` folder, and count neither.)"""


def unit_sources(root: Path | None = None) -> list[Path]:
    """The Python sources under ``root`` (serlib's folder by default) that :func:`code_version`
    hashes: every module except :data:`NOT_UNIT_CODE`, sorted."""
    root = Path(__file__).resolve().parent if root is None else Path(root)
    skip = {root / name for name in NOT_UNIT_CODE}
    return [path for path in sorted(root.rglob("*.py")) if path not in skip]


def sources_hash(root: Path | None = None) -> str:
    """The sha256 of :func:`unit_sources` under ``root``: each file's path relative to ``root``
    and its bytes, in order."""
    root = Path(__file__).resolve().parent if root is None else Path(root)
    h = hashlib.sha256()
    for path in unit_sources(root):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


@lru_cache(maxsize=1)
def code_version() -> str:
    """A hash of the serlib sources a unit can run (:func:`unit_sources`) and the numpy, torch,
    scikit-learn and pandas versions.

    Any change to the code that computes a unit changes it, so a resumed run never mixes units
    of two versions of the code; a change to code no unit runs (the ``serbook`` command, the
    notebook runner, the benchmarks outside serlib) leaves it as it was.
    """
    from importlib.metadata import PackageNotFoundError, version

    h = hashlib.sha256()
    h.update(sources_hash().encode())
    for pkg in ("numpy", "torch", "scikit-learn", "pandas"):
        try:
            h.update(f"{pkg}={version(pkg)}".encode())
        except PackageNotFoundError:
            h.update(f"{pkg}=none".encode())
    return h.hexdigest()[:16]


def _feed(h: Any, obj: Any) -> None:
    import numpy as np
    import pandas as pd

    if isinstance(obj, np.ndarray):
        h.update(f"nd{obj.dtype.str}{obj.shape}".encode())
        h.update(np.ascontiguousarray(obj).tobytes() if obj.dtype != object else repr(obj.tolist()).encode())
    elif isinstance(obj, pd.DataFrame):
        h.update(f"df{list(map(str, obj.columns))}".encode())
        h.update(pd.util.hash_pandas_object(obj, index=True).to_numpy().tobytes())
    elif isinstance(obj, pd.Series):
        h.update(f"s{obj.name}".encode())
        h.update(pd.util.hash_pandas_object(obj, index=True).to_numpy().tobytes())
    elif isinstance(obj, Mapping):
        h.update(b"{")
        for k in sorted(obj, key=str):
            h.update(str(k).encode())
            _feed(h, obj[k])
        h.update(b"}")
    elif isinstance(obj, (list, tuple)):
        h.update(b"[")
        for item in obj:
            _feed(h, item)
        h.update(b"]")
    elif is_dataclass(obj) and not isinstance(obj, type):
        h.update(type(obj).__name__.encode())
        _feed(h, {f.name: getattr(obj, f.name) for f in fields(obj)})
    elif obj is None or isinstance(obj, (str, int, float, bool, np.generic, Path)):
        h.update(f"{type(obj).__name__}:{obj!r}".encode())
    else:
        raise TypeError(f"fingerprint: cannot hash a {type(obj).__name__}; pass its arrays or tables instead")


def fingerprint(*parts: Any) -> str:
    """A 16-hex-digit hash of numpy arrays, DataFrames, dataclasses, mappings, sequences and scalars."""
    h = hashlib.sha256()
    for p in parts:
        _feed(h, p)
    return h.hexdigest()[:16]


def resume_dir(namespace: str, cfg: Any, *data: Any, device: Any = None) -> Path | None:
    """The folder of ``namespace``'s finished units in the current ``serbook run``, or ``None``.

    ``None`` outside ``serbook run`` (no ``SERBOOK_RESULTS_DIR`` in the environment): an
    interactive run is not resumed. Otherwise ``<results>/.units/<namespace>-<key>`` with the
    key a hash of ``cfg``'s parameters (without :data:`KNOBS`), ``data`` (what the units read:
    folds, input arrays, tables; see :func:`fingerprint`), the device and :func:`code_version`.
    """
    folder = os.environ.get("SERBOOK_RESULTS_DIR")
    if not folder:
        return None
    values = cfg.as_dict() if hasattr(cfg, "as_dict") else dict(cfg)
    values = {k: v for k, v in values.items() if k not in KNOBS}
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", namespace)
    key = fingerprint(namespace, values, str(device), code_version(), list(data))
    path = Path(folder) / UNITS_FOLDER / f"{safe}-{key}"
    if not (path / "about.json").exists():
        about = {"namespace": namespace, "code_version": code_version(), "device": str(device),
                 "parameters": values}
        atomic_write_bytes(path / "about.json", json.dumps(about, indent=2, default=str).encode())
    return path


# ---------------------------------------------------------------------------------------------
# Unit files
# ---------------------------------------------------------------------------------------------
def _unit_path(folder: Path, key: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.=-]+", "_", key)[:80]
    return folder / f"{safe}-{hashlib.sha256(key.encode()).hexdigest()[:10]}.pkl"


def _save_unit(folder: Path, key: str, result: Any) -> None:
    path = _unit_path(folder, key)
    data = pickle.dumps({"key": key, "result": result}, protocol=pickle.HIGHEST_PROTOCOL)
    try:
        _loads(data)
    except pickle.UnpicklingError as exc:
        log.warning("unit %r: its result cannot be resumed (%s); a resumed run computes it again", key, exc)
    write_verified_bytes(path, data)


_MISSING = object()

ALLOWED_MODULES = ("numpy", "pandas", "serlib", "collections", "datetime")
"""Top-level packages whose classes a unit file may name (plus :data:`ALLOWED_BUILTINS`)."""

ALLOWED_BUILTINS = frozenset({"complex", "set", "frozenset", "slice", "range", "bytearray", "list", "dict", "tuple",
                              "int", "float", "str", "bytes", "bool", "object"})


_ARROW_NAMES = frozenset({"_restore_array", "type_for_alias", "py_buffer", "chunked_array", "string", "large_string"})
"""What pandas' arrow-backed string columns name when pickled."""


class _DataUnpickler(pickle.Unpickler):
    """An unpickler for data: classes of :data:`ALLOWED_MODULES` and a few builtins only."""

    def find_class(self, module: str, name: str) -> Any:
        allowed = module.split(".")[0] in ALLOWED_MODULES and not module.startswith(
            ("numpy.testing", "numpy.f2py", "numpy.distutils"))
        allowed |= module == "builtins" and name in ALLOWED_BUILTINS
        allowed |= module == "copyreg" and name == "_reconstructor"
        allowed |= module == "pyarrow.lib" and name in _ARROW_NAMES
        if allowed:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"a unit file may not name {module}.{name}")


def _loads(data: bytes) -> Any:
    import io

    return _DataUnpickler(io.BytesIO(data)).load()


def _load_unit(folder: Path, key: str) -> Any:
    """The saved result of ``key``, or ``_MISSING`` (absent, or unusable: logged, then redone)."""
    path = _unit_path(folder, key)
    data, why = read_verified_bytes(path)
    if data is None:
        if why is not None:
            log.warning("unit file %s %s; computing the unit again", path, why)
        return _MISSING
    try:
        payload = _loads(data)
    except Exception as exc:  # noqa: BLE001 (checksum-valid but unreadable: version skew)
        log.warning("unit file %s cannot be read (%s: %s); computing the unit again", path, type(exc).__name__, exc)
        return _MISSING
    if not isinstance(payload, dict) or payload.get("key") != key:
        log.warning("unit file %s holds another unit (%r); computing %r again", path,
                    payload.get("key") if isinstance(payload, dict) else type(payload).__name__, key)
        return _MISSING
    return payload["result"]


# ---------------------------------------------------------------------------------------------
# Workers
# ---------------------------------------------------------------------------------------------
_STATE: dict[str, Any] = {}


def _init_worker(context: Any, has_context: bool, threads: int | None) -> None:
    """Worker-process initialiser: keep the shared context once per process; set the threads."""
    if threads:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ[var] = str(threads)
        import torch
        from threadpoolctl import threadpool_limits

        torch.set_num_threads(threads)
        _STATE["limits"] = threadpool_limits(limits=threads)
    _STATE.update(context=context, has_context=has_context)


def _call(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
    if _STATE.get("has_context"):
        return fn(_STATE["context"], *args, **kwargs)
    return fn(*args, **kwargs)


def _stop_after() -> int | None:
    text = os.environ.get(STOP_ENV, "").strip()
    if not text:
        return None
    try:
        n = int(text)
    except ValueError:
        raise ParameterError(f"{STOP_ENV}={text!r}: expected a whole number of units") from None
    return n if n > 0 else None


def run_chapter_units(namespace: str, fn: Callable[..., Any], units: Sequence[Unit], cfg: Any, *, device: Any,
                      data: Sequence[Any] = (), context: Any = None, progress: bool = True, desc: str = "units",
                      resume: bool = True) -> list[Any]:
    """Run a chapter's units the way every chapter does: :func:`run_units` with the chapter's
    ``cfg.workers`` processes and, on a CPU, ``cfg.threads`` threads each (on a GPU one after the
    other), resumable inside ``serbook run``.

    ``namespace`` and ``data`` (what the units read: folds, input arrays, tables) name the
    folder of finished units with ``cfg`` and ``device`` (:func:`resume_dir`); ``resume=False``
    keeps none. ``context`` is sent once to each worker process and handed to ``fn`` first.
    """
    folder = resume_dir(namespace, cfg, *data, device=device) if resume else None
    threads = cfg.threads if _device_type(device) == "cpu" else None
    return run_units(fn, units, workers=cfg.workers, threads=threads, context=context, device=device,
                     progress=progress, desc=desc, resume_dir=folder)


def run_units(fn: Callable[..., Any], units: Sequence[Unit], *, workers: int | None = 1, threads: int | None = None,
              context: Any = None, device: Any = None, resume_dir: str | Path | None = None, progress: bool = True,
              desc: str = "units") -> list[Any]:
    """Run ``fn`` on every unit and return the results in the order of ``units``.

    Parameters
    ----------
    fn
        A module-level function (worker processes import it by name). It is called as
        ``fn(*unit.args, **unit.kwargs)``, or ``fn(context, *unit.args, **unit.kwargs)`` when a
        ``context`` is given. Every unit must seed itself: the results may not depend on which
        process computes it or on what ran before.
    units
        The units; their keys must be unique.
    workers, threads
        See the module docstring (:func:`default_workers`, :func:`default_threads`).
    context
        Data every unit reads (input arrays, folds): sent once to each worker process instead
        of once per unit.
    device
        The torch device the units train on; a GPU runs them one after the other.
    resume_dir
        Folder of finished units (see :func:`resume_dir`); ``None`` keeps nothing.
    progress, desc
        One progress bar, weighted by ``Unit.weight``.

    Raises
    ------
    RunStopped
        When ``SERBOOK_STOP_AFTER_UNITS`` units have been computed (they are saved first).
    """
    from tqdm.auto import tqdm

    units = list(units)
    keys = [u.key for u in units]
    if len(set(keys)) != len(keys):
        dup = sorted({k for k in keys if keys.count(k) > 1})
        raise ValueError(f"run_units: unit keys must be unique; repeated: {dup[:5]}")
    folder = Path(resume_dir) if resume_dir is not None else None
    results: list[Any] = [_MISSING] * len(units)
    if folder is not None:
        for i, u in enumerate(units):
            results[i] = _load_unit(folder, u.key)
    todo = [i for i, r in enumerate(results) if r is _MISSING]
    done = len(units) - len(todo)
    if done:
        log.info("%s: %d of %d units already finished in %s; computing the other %d", desc, done, len(units),
                 folder, len(todo))
    n_workers = default_workers(workers, len(todo), device)
    n_threads = default_threads(threads, n_workers)
    stop = _stop_after()
    total = sum(u.weight for u in units)
    pending_set = set(todo)
    bar = tqdm(total=total, initial=sum(u.weight for i, u in enumerate(units) if i not in pending_set),
               desc=desc, disable=not progress, leave=False)
    computed = 0

    def finish(i: int, result: Any) -> None:
        nonlocal computed
        results[i] = result
        if folder is not None:
            _save_unit(folder, units[i].key, result)
        computed += 1
        bar.update(units[i].weight)
        if stop is not None and computed >= stop:
            raise RunStopped(f"{desc}: stopped after {computed} newly computed unit(s) ({STOP_ENV}={stop}); "
                             f"a run with the same parameters resumes from {folder}")

    try:
        if not todo:
            pass
        elif n_workers == 1:
            saved = dict(_STATE)
            _STATE.clear()
            _STATE.update(context=context, has_context=context is not None)
            try:
                with _Threads(n_threads):
                    for i in todo:
                        finish(i, _call(fn, units[i].args, units[i].kwargs))
            finally:
                _STATE.clear()
                _STATE.update(saved)
        else:
            import multiprocessing as mp
            from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

            pool = ProcessPoolExecutor(n_workers, mp_context=mp.get_context("spawn"), initializer=_init_worker,
                                       initargs=(context, context is not None, n_threads))
            try:
                pending = {pool.submit(_call, fn, units[i].args, units[i].kwargs): i for i in todo}
                while pending:
                    ready, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in sorted(ready, key=lambda f: pending[f]):
                        finish(pending.pop(fut), fut.result())
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
            pool.shutdown(wait=True)
    finally:
        bar.close()
    return results
