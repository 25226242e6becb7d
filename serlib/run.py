"""Execute the book's notebooks: jupytext source -> papermill -> executed notebook + results.

``serbook run notebooks/01_sahu2018_gan.py -p profile=smoke -p seeds=[0]`` reads the
py:percent source, injects the parameters after the cell tagged ``parameters``, executes it
with the ``python3`` kernel in the notebooks folder, and writes

* ``book/chapters/01_sahu2018_gan.ipynb`` — the executed notebook (what the book renders);
* ``book/chapters/01_sahu2018_gan.results/`` — the tables the notebook saved, plus
  ``run.json`` with the parameters, timings, the kernel's own peak memory, package versions and
  provenance: every corpus the kernel loaded (fingerprint, coverage against the full release),
  ``allow_partial``, the git commit and whether the tree was dirty, and the device used.

A failed run keeps its partial notebook as ``<name>.failed.ipynb`` and never replaces a good
earlier output. It also keeps ``<name>.results/.units/``, the units (fold x grid point x seed)
that :mod:`serlib.parallel` finished: running the same notebook with the same parameters into
the same output folder computes only the others and ends with the same tables. A successful
run removes ``.units``.

Parameters may also come from a YAML file (``serbook run NB -f params.yaml``; ``-p`` wins), and a
value list (``-p gamma=1.25,2.5,3.33``, or a ``sweep:`` mapping in the file) runs one execution per
combination, in parallel, into ``<output-dir>/<name>.sweep/<param=value,...>/``; :func:`sweep`
then concatenates the tables every run saved into ``<name>.sweep/<table>.csv``.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from .cache import atomic_write_bytes
from .config import PROFILES, ParameterError, cache_dir, get_logger, project_root
from .parallel import UNITS_FOLDER

__all__ = ["BOOK_CHAPTERS", "KERNEL_FILE", "KernelSession", "NotebookFailed", "SweepResult", "build_book",
           "check_parameters", "execute", "expand_grid", "git_state", "load_params_file", "merge_params",
           "parse_params", "parse_sweep_params", "split_values", "sweep", "toc_entries", "toc_notebooks", "versions"]

log = get_logger("run")

BOOK_CHAPTERS = Path("book") / "chapters"
"""Where executed notebooks land (relative to the project root); ``_toc.yml`` points here."""


class NotebookFailed(RuntimeError):
    """A notebook raised; the message names the notebook, the cell and the error."""


def parse_value(text: str) -> Any:
    """A ``-p`` value as YAML (``3``, ``1e-3``, ``[0, 1]``, ``true``, ``null``) or as a string."""
    import yaml

    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str):  # YAML 1.1 reads "1e-3" as a string; a reader means a number
        try:
            return float(value)
        except ValueError:
            return value
    return value


def parse_params(items: list[str] | None) -> dict[str, Any]:
    """``["epochs=3", "seeds=[0,1]"]`` -> ``{"epochs": 3, "seeds": [0, 1]}``."""
    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise ParameterError(f"parameter {item!r} must be written key=value")
        key, value = item.split("=", 1)
        out[key.strip()] = parse_value(value.strip())
    return out


def versions() -> dict[str, str]:
    """Versions of Python, the key packages, and the project's git commit."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in ("serbook", "torch", "numpy", "pandas", "scikit-learn", "opensmile", "librosa", "papermill",
                "jupyter-book", "espeakng-loader"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    try:
        out["git_commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=project_root(),
                                           capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        out["git_commit"] = ""
    return out


KERNEL_FILE = "kernel.json"
"""What the kernel reports about itself at the end of a run (peak memory, device), in the results folder."""

_FOOTER_TAG = "serbook-footer"
_FOOTER = f"""\
def _serbook_footer():
    # written by serbook run and removed from the saved notebook: the kernel's own peak memory and device
    import json, os, resource, sys
    # Linux: VmHWM is this process's own high-water mark; ru_maxrss would also carry the peak of
    # the process that forked the kernel (it survives fork and exec), so it is only the fallback.
    peak = None
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    peak = int(line.split()[1]) / 1024  # KiB -> MiB
    except OSError:
        pass
    if peak is None:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        peak = peak / 1024 / 1024 if sys.platform == "darwin" else peak / 1024  # MiB (Linux: KiB, macOS: bytes)
    device = "cpu"
    torch = sys.modules.get("torch")
    try:
        if torch is not None and torch.cuda.is_initialized():
            i = torch.cuda.current_device()
            device = f"cuda:{{i}} ({{torch.cuda.get_device_name(i)}})"
    except Exception:
        pass
    kernels = None
    try:
        if torch is not None:
            kernels = torch.backends.cpu.get_cpu_capability()
    except Exception:
        pass
    ap = globals().get("allow_partial")
    record = {{"peak_rss_mib": round(peak, 1), "device": device, "cpu_kernels": kernels,
               "allow_partial": ap if isinstance(ap, bool) else None}}
    folder = os.environ.get("SERBOOK_RESULTS_DIR")
    if folder:
        with open(os.path.join(folder, "{KERNEL_FILE}"), "w") as f:
            json.dump(record, f)
_serbook_footer()
del _serbook_footer
"""


def _add_footer(nb: Any) -> None:
    """Append the cell that makes the kernel report its own peak memory and device."""
    import nbformat

    nb.cells.append(nbformat.v4.new_code_cell(_FOOTER, metadata={"tags": [_FOOTER_TAG]}))


_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _without_progress_widgets(nb: Any) -> None:
    """Drop the outputs that are only a widget's view: the progress bars of a run (tqdm draws one
    per loop in a notebook). A saved notebook keeps no widget state, so on a page each would be an
    empty box; a reader running the notebook sees the bars live."""
    for c in nb.cells:
        if c.get("cell_type") != "code":
            continue
        c["outputs"] = [o for o in c.get("outputs", [])
                        if not (o.get("output_type") in ("display_data", "execute_result")
                                and _WIDGET_VIEW in o.get("data", {})
                                and set(o.get("data", {})) <= {_WIDGET_VIEW, "text/plain"})]


def _without_footer(path: Path) -> bytes:
    """The executed notebook at ``path`` without the footer cell, as bytes; the cell papermill
    injected with the run's parameters is tagged ``remove-cell``, so the book's page does not
    show it (the chapter shows its parameters as a table), while the notebook keeps it; the
    exercises' solutions are tagged to render collapsed (:func:`serlib.exercises.collapse_solutions`);
    progress bars are dropped (:func:`_without_progress_widgets`)."""
    import nbformat

    from .exercises import collapse_solutions

    nb = nbformat.read(path, as_version=4)
    collapse_solutions(nb)
    _without_progress_widgets(nb)
    nb.cells = [c for c in nb.cells if _FOOTER_TAG not in c.get("metadata", {}).get("tags", [])]
    for c in nb.cells:
        tags = c.setdefault("metadata", {}).setdefault("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")
    return nbformat.writes(nb).encode()


def git_state() -> dict[str, Any]:
    """The project's git commit and whether tracked files differ from it (``None`` outside git)."""
    root = project_root()
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                check=False, timeout=30)
        if commit.returncode != 0:
            return {"commit": None, "dirty": None}
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                                capture_output=True, text=True, check=False, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    dirty = bool(status.stdout.strip()) if status.returncode == 0 else None
    return {"commit": commit.stdout.strip() or None, "dirty": dirty}


def _declared_parameters(nb: Any) -> set[str] | None:
    """Names assigned in the cell tagged ``parameters`` (None if the notebook has none)."""
    import ast

    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            names = set()
            for node in ast.parse(cell.source).body:
                targets = node.targets if isinstance(node, ast.Assign) else (
                    [node.target] if isinstance(node, ast.AnnAssign) else [])
                names |= {t.id for t in targets if isinstance(t, ast.Name)}
            return names
    return None


def notebook_source(notebook: str | Path) -> Path:
    """The notebook file: ``notebook`` as given, else relative to the cwd, else to the project root."""
    root = project_root()
    src = Path(notebook)
    if not src.is_absolute():
        src = (Path.cwd() / src) if (Path.cwd() / src).exists() else root / src
    if not src.exists():
        raise FileNotFoundError(f"notebook {notebook} not found (looked in {Path.cwd()} and {root})")
    return src


def _check_parameters(src: Path, nb: Any, params: Mapping[str, Any], origin: str = "") -> None:
    """Refuse parameter names the ``parameters`` cell does not declare, and unknown profiles."""
    declared = _declared_parameters(nb)
    if declared is None:
        raise ParameterError(f"{src}: no cell tagged 'parameters'; papermill cannot inject parameters")
    unknown = sorted(set(params) - declared)
    if unknown:
        raise ParameterError(f"{src.name}: unknown parameter(s) {unknown}; this notebook takes {sorted(declared)}"
                             + (f" ({origin})" if origin else ""))
    if "profile" in params and params["profile"] not in PROFILES:
        raise ParameterError(f"profile={params['profile']!r} is not one of {list(PROFILES)}")
    if "allow_partial" in params:
        from .data.coverage import check_allow_partial

        check_allow_partial(params["allow_partial"])


def check_parameters(notebook: str | Path, params: Mapping[str, Any], origin: str = "") -> Path:
    """Check ``params`` against the notebook's ``parameters`` cell before anything runs; returns its path.

    The error is the one :func:`execute` raises; ``origin`` (e.g. ``"from params.yaml"``) is appended.
    """
    import jupytext

    src = notebook_source(notebook)
    _check_parameters(src, jupytext.read(src), params, origin)
    return src


KERNEL_START_TRIES = 3
"""Kernels a run starts before it gives up on one that never answers. Two kernels started at the
same moment (a sweep's parallel runs, or any other Jupyter process) can be handed the same local
port; the one that finds its port taken never answers, and a new kernel gets other ports. No cell
has run in a kernel that never started, so starting another one is safe."""


IMPORT_TIME_ENV = ("ATEN_", "ONEDNN_", "DNNL_", "MKL_", "OMP_", "OPENBLAS_", "KMP_", "CUDA_", "PYTORCH_",
                   "TORCH_", "PYTHON", "LD_", "NUMBA_", "MPL")
"""Prefixes of the environment variables a kernel reads when a library is imported or when it
starts (the CPU kernels and thread pools of torch and the BLAS libraries, Python's own): a
:class:`KernelSession` starts a fresh kernel when one of them changes, rather than pass it on."""

_SESSION_RESET = """\
def _serbook_session_reset(cwd, env, removed):
    # before each notebook of a serbook KernelSession: the kernel as a fresh one would start it
    import os, sys, types
    state = sys.modules.get("_serbook_session")
    if state is None:  # the session's first notebook: remember the kernel's own start
        state = sys.modules["_serbook_session"] = types.ModuleType("_serbook_session")
        state.environ = dict(os.environ)
        try:
            import torch
            state.torch_threads = torch.get_num_threads()
        except ImportError:
            state.torch_threads = None
    ip = get_ipython()
    ip.run_line_magic("reset", "-f")
    ip.execution_count = 1
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(state.environ)
    os.environ.update(env)
    for name in removed:
        os.environ.pop(name, None)
    if state.torch_threads is not None:
        sys.modules["torch"].set_num_threads(state.torch_threads)
    import logging
    if logging.getLogger("serlib").handlers:  # serlib's log level, as its first logger would set it
        logging.getLogger("serlib").setLevel(os.environ.get("SERLIB_LOGLEVEL", "INFO"))
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
    try:  # Linux: the peak-memory mark (VmHWM) starts again from the current size
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
"""


def _tracking_kernel_manager(kernel: str) -> Any:
    """A jupyter_client kernel manager for ``kernel`` that keeps the clients it makes
    (``serbook_clients``), so that a :class:`KernelSession` can close them after each run. It is the
    asynchronous manager nbclient makes for itself: nbclient waits on its clients' messages in an
    event loop, where a blocking client's wait would stop it noticing that the kernel died."""
    from jupyter_client import AsyncKernelManager

    class TrackingKernelManager(AsyncKernelManager):
        def client(self, **kwargs: Any) -> Any:
            kc = super().client(**kwargs)
            self.serbook_clients.append(kc)
            return kc

    km = TrackingKernelManager(kernel_name=kernel)
    km.serbook_clients = []
    return km


class KernelSession:
    """One kernel that executes several notebooks in turn (``execute(..., session=...)``), so that
    starting a kernel and importing torch, pandas and matplotlib is paid once, not once per notebook.

    Before each notebook the kernel is set as a fresh one would start: its namespace emptied and
    its execution count reset, the working folder the notebook's own, the environment its start's
    plus this process's changes since, torch's thread count its start's, every figure closed, and
    the peak-memory mark (Linux) reset, so that ``run.json`` records each run's own peak. What stays
    is what a kernel keeps across a notebook re-run: imported modules and their caches. A change to
    an environment variable read at import (:data:`IMPORT_TIME_ENV`) or a kernel that died starts a
    new kernel. ``serbook run`` and the book build use a fresh kernel per notebook; a session is for
    many short runs of the same code (the chapter matrix of the tests).
    """

    def __init__(self, kernel: str = "python3") -> None:
        self.kernel = kernel
        self.km: Any = None
        self.env: dict[str, str] = {}
        self.started = 0
        """How many kernels the session has started."""

    def __enter__(self) -> KernelSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Shut the kernel down (the session starts a new one if used again)."""
        from jupyter_core.utils import run_sync

        if self.km is not None:
            try:
                run_sync(self.km.shutdown_kernel)(now=True)
            except Exception as exc:  # already dead: nothing left to stop
                log.debug("kernel session: shutting down: %s", exc)
            self.km = None

    def _changed_at_import(self) -> list[str]:
        names = set(self.env) | set(os.environ)
        return sorted(n for n in names if n.startswith(IMPORT_TIME_ENV) and self.env.get(n) != os.environ.get(n))

    @contextmanager
    def lend(self, cwd: Path) -> Iterator[dict[str, Any]]:
        """papermill's arguments for running one notebook in ``cwd`` on the session's kernel (started,
        or started anew, and reset); afterwards the channels the run's clients opened are stopped
        (nbclient leaves them open on a kernel it did not start)."""
        km = self._prepare(cwd)
        try:
            yield {"km": km}
        finally:
            for kc in km.serbook_clients:
                kc.stop_channels()  # an asynchronous client's stop is a plain call
            km.serbook_clients.clear()

    def _prepare(self, cwd: Path) -> Any:
        """The session's kernel manager, its kernel started (or started anew) and reset for a notebook
        that runs in ``cwd``."""
        from jupyter_client import BlockingKernelClient
        from jupyter_core.utils import run_sync

        changed = self._changed_at_import() if self.km is not None else []
        if changed:
            log.info("kernel session: %s changed; starting a new kernel", ", ".join(changed))
        if self.km is not None and (changed or not run_sync(self.km.is_alive)()):
            self.close()
        if self.km is None:
            self.km = _tracking_kernel_manager(self.kernel)
            run_sync(self.km.start_kernel)(cwd=str(cwd))
            self.env = dict(os.environ)
            self.started += 1
        env = {k: v for k, v in os.environ.items() if self.env.get(k) != v}
        removed = sorted(set(self.env) - set(os.environ))
        code = _SESSION_RESET + f"_serbook_session_reset({str(cwd)!r}, {env!r}, {removed!r})\n"
        kc = BlockingKernelClient()
        kc.load_connection_info(self.km.get_connection_info())
        kc.start_channels(iopub=False, stdin=False, hb=False)
        try:
            kc.wait_for_ready(timeout=120)
            msg_id = kc.execute(code, silent=True, store_history=False)
            reply = kc.get_shell_msg(timeout=120)
            while reply["parent_header"].get("msg_id") != msg_id:
                reply = kc.get_shell_msg(timeout=120)
        finally:
            kc.stop_channels()
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"kernel session: resetting the kernel failed: {reply['content'].get('evalue')}")
        return self.km


def _kernel_never_started(exc: BaseException) -> bool:
    """Whether ``exc`` says the kernel never came up (rather than dying while a cell ran)."""
    text = str(exc)
    return "Kernel didn't respond" in text or "Kernel died before replying to kernel_info" in text


def execute(notebook: str | Path, parameters: Mapping[str, Any] | None = None, *,
            output_dir: str | Path | None = None, kernel: str = "python3", progress: bool = True,
            timeout: int | None = None, session: KernelSession | None = None) -> Path:
    """Execute ``notebook`` (a jupytext ``.py`` or an ``.ipynb``) with ``parameters``.

    Unknown parameter names are refused before anything runs (papermill would only warn). Each
    run starts its own kernel, unless ``session`` (a :class:`KernelSession`) lends one.
    Returns the path of the executed notebook.
    """
    import jupytext
    import nbformat
    import papermill as pm

    root = project_root()
    src = notebook_source(notebook)
    params = dict(parameters or {})
    nb = jupytext.read(src)
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": "Python 3", "language": "python"}
    nb.metadata.setdefault("language_info", {"name": "python"})
    _check_parameters(src, nb, params)

    out_dir = Path(output_dir) if output_dir else root / BOOK_CHAPTERS
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = src.stem
    final = out_dir / f"{stem}.ipynb"
    results = out_dir / f"{stem}.results"
    results.mkdir(parents=True, exist_ok=True)
    failed = out_dir / f"{stem}.failed.ipynb"

    from .data.provenance import RECORD_FILE, read_records

    for stale in (RECORD_FILE, KERNEL_FILE):  # left by an earlier run into the same folder
        (results / stale).unlink(missing_ok=True)
    _add_footer(nb)
    git = git_state()  # the code the run starts from (the tree may change while it runs)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_in = Path(tmp) / f"{stem}.ipynb"
        tmp_out = Path(tmp) / f"{stem}.out.ipynb"
        nbformat.write(nb, tmp_in)
        env_before = os.environ.get("SERBOOK_RESULTS_DIR")
        os.environ["SERBOOK_RESULTS_DIR"] = str(results)
        # numba's on-disk cache of librosa's kernels: keep it with serlib's other rebuildable
        # files rather than inside site-packages, where concurrent writers can corrupt it
        os.environ.setdefault("NUMBA_CACHE_DIR", str(cache_dir("numba")))
        try:
            for attempt in range(1, KERNEL_START_TRIES + 1):
                t0 = time.time()
                try:
                    with nullcontext({}) if session is None else session.lend(src.parent) as lent:
                        pm.execute_notebook(str(tmp_in), str(tmp_out), parameters=params, kernel_name=kernel,
                                            cwd=str(src.parent), progress_bar=progress, execution_timeout=timeout,
                                            log_output=False, **lent)
                    break
                except pm.PapermillExecutionError as exc:
                    if tmp_out.exists():
                        atomic_write_bytes(failed, _without_footer(tmp_out))
                    raise NotebookFailed(
                        f"{src.name} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue}\n"
                        f"The partial notebook is {failed}."
                    ) from None
                except Exception as exc:  # the kernel did not start, died (segfault, out of memory) or timed out
                    if _kernel_never_started(exc) and attempt < KERNEL_START_TRIES:
                        log.warning("%s: the kernel did not start (%s); starting a new one (%d of %d)", src.name,
                                    exc, attempt + 1, KERNEL_START_TRIES)
                        continue
                    if tmp_out.exists():
                        atomic_write_bytes(failed, _without_footer(tmp_out))
                    raise NotebookFailed(f"{src.name}: execution stopped: {type(exc).__name__}: {exc}. "
                                         f"The partial notebook (if any) is {failed}.") from exc
        finally:
            if env_before is None:
                os.environ.pop("SERBOOK_RESULTS_DIR", None)
            else:
                os.environ["SERBOOK_RESULTS_DIR"] = env_before
        elapsed = time.time() - t0
        atomic_write_bytes(final, _without_footer(tmp_out))
    failed.unlink(missing_ok=True)
    kernel: dict[str, Any] = {}
    try:
        kernel = json.loads((results / KERNEL_FILE).read_text())
    except (OSError, ValueError):
        log.warning("%s: the kernel wrote no %s; peak memory and device are not recorded", src.name, KERNEL_FILE)
    allow_partial = kernel.get("allow_partial")
    if not isinstance(allow_partial, bool):
        allow_partial = params.get("allow_partial", False) is True
    record = {"notebook": str(src.relative_to(root)) if src.is_relative_to(root) else str(src),
              "parameters": params, "seconds": round(elapsed, 1), "peak_rss_mib": kernel.get("peak_rss_mib"),
              "finished": time.strftime("%Y-%m-%d %H:%M:%S"), "versions": versions(),
              "corpora": read_records(results), "allow_partial": allow_partial, "git": git,
              "device": kernel.get("device"), "cpu_kernels": kernel.get("cpu_kernels")}
    atomic_write_bytes(results / "run.json", json.dumps(record, indent=2, default=str).encode())
    for done in (RECORD_FILE, KERNEL_FILE):
        (results / done).unlink(missing_ok=True)
    # the finished units of serlib.parallel served a resume; the run is complete, so they go
    shutil.rmtree(results / UNITS_FOLDER, ignore_errors=True)
    log.info("%s done in %.1f s -> %s", src.name, elapsed, final)
    return final


def toc_entries(toc: Any, keys: tuple[str, ...] = ("root", "file")) -> list[str]:
    """The values of ``keys`` in every entry of a read ``_toc.yml``, in reading order (an entry's
    ``root`` before its ``file``)."""
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            out.extend(str(node[key]) for key in keys if key in node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(toc)
    return out


def toc_notebooks(toc: str | Path | None = None) -> list[Path]:
    """The notebook sources (``notebooks/<stem>.py``) behind every ``book/chapters/<stem>`` in ``_toc.yml``."""
    import yaml

    root = project_root()
    data = yaml.safe_load(Path(toc or root / "_toc.yml").read_text())
    out = []
    for f in toc_entries(data, ("file",)):
        p = Path(f)
        if p.parent == BOOK_CHAPTERS:
            srcp = root / "notebooks" / f"{p.stem}.py"
            if not srcp.exists():
                raise FileNotFoundError(f"_toc.yml lists {f} but its source {srcp} does not exist")
            out.append(srcp)
    return out


def build_book(profile: str = "book", *, execute_notebooks: bool = True, strict: bool = True,
               only: list[str] | None = None, extra_params: Mapping[str, Any] | None = None,
               page_check: bool = True) -> Path:
    """Execute every notebook in ``_toc.yml`` with ``profile`` and build the HTML book.

    After the build, ``page_check`` reads every chapter's page and the other pages' tables
    (:func:`serlib.pagecheck.check_pages`) and raises :class:`~serlib.pagecheck.PageProblems` naming
    each spot a reader should not see (an object's repr, a log line, a machine path, an empty
    output, a ``NaN`` or empty cell, text cut short, a code-name header, a figure without caption).

    The chapters run with ``SERLIB_LOGLEVEL=WARNING`` unless the environment sets it, so their
    pages show no progress messages. Returns the ``_build/html`` folder. ``strict`` turns Sphinx
    warnings into errors.
    """
    if profile not in PROFILES:
        raise ParameterError(f"profile={profile!r} is not one of {list(PROFILES)}")
    root = project_root()
    if execute_notebooks:
        # the pages are for reading: the chapters' progress messages (INFO) stay out of them,
        # warnings stay in; SERLIB_LOGLEVEL set by the reader wins
        level_before = os.environ.get("SERLIB_LOGLEVEL")
        os.environ.setdefault("SERLIB_LOGLEVEL", "WARNING")
        try:
            for src in toc_notebooks():
                if only and src.stem not in only:
                    continue
                log.info("executing %s (profile=%s)", src.name, profile)
                execute(src, {"profile": profile, **dict(extra_params or {})})
        finally:
            if level_before is None:
                os.environ.pop("SERLIB_LOGLEVEL", None)
    else:
        missing = [src for src in toc_notebooks() if not (root / BOOK_CHAPTERS / f"{src.stem}.ipynb").exists()]
        if missing:
            names = ", ".join(src.name for src in missing)
            raise FileNotFoundError(
                f"not executed yet: {names} (no {BOOK_CHAPTERS}/<chapter>.ipynb); run "
                f"`serbook run notebooks/<chapter>.py -p profile={profile}` for each, or build without --no-execute")
    cmd = [sys.executable, "-m", "jupyter_book", "build", str(root), "--builder", "html"]
    if strict:
        cmd += ["-W", "-n", "--keep-going"]
    jb = Path(sys.executable).with_name("jupyter-book")
    if jb.exists():
        cmd = [str(jb)] + cmd[3:]
    log.info("building the book: %s", " ".join(cmd))
    proc = subprocess.run(cmd, cwd=root, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"jupyter-book build failed (exit {proc.returncode}); see the messages above")
    html = root / "_build" / "html"
    if page_check:
        from .pagecheck import PageProblems, check_pages

        problems = check_pages(html)
        if problems:
            raise PageProblems(problems)
    return html


# ---------------------------------------------------------------------------------------------
# Parameter files and sweeps
# ---------------------------------------------------------------------------------------------
SWEEP_KEY = "sweep"
"""The top-level key of a parameter file that holds value lists to sweep over."""


def split_values(text: str) -> list[str]:
    """Split a ``-p`` value on the commas that separate a value list.

    ``1.25,2.5,3.33`` -> ``["1.25", "2.5", "3.33"]``. A comma inside brackets (``[0,1]``,
    ``{a: 1, b: 2}``) or inside a quoted YAML string (``"a, b"``, ``'a, b'``) does not split, so
    ``[0],[0,1]`` is two list values and ``'"a, b"'`` one string. A value without such a comma
    comes back whole.
    """
    parts: list[str] = []
    buf: list[str] = []
    depth, quote, escaped, prev = 0, "", False, ""
    for ch in text:
        buf.append(ch)
        if quote:  # inside a quoted string: only its closing quote matters
            if escaped:
                escaped = False
            elif ch == "\\" and quote == '"':
                escaped = True
            elif ch == quote:
                quote, prev = "", ch
            continue
        if ch in "'\"" and prev in ("", "[", "{", "(", ",", ":"):  # YAML quotes only open a scalar
            quote = ch
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth = max(depth - 1, 0)
        elif ch == "," and depth == 0:
            parts.append("".join(buf[:-1]))
            buf, prev = [], ""
            continue
        if not ch.isspace():
            prev = ch
    parts.append("".join(buf))
    return parts


def _label(value: Any) -> str:
    """A value as written on the command line: ``1.25``, ``true``, ``null``, ``smoke``, ``[0, 1]``."""
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)


def _check_values(name: str, values: Any, where: str) -> list[Any]:
    """A non-empty list of distinct values to sweep ``name`` over, else a ParameterError naming ``where``."""
    if isinstance(values, (str, bytes, Mapping)) or not hasattr(values, "__iter__"):
        raise ParameterError(f"{where}: the values of {name} must be a list, e.g. {name}: [1, 2]; got {values!r}")
    values = list(values)
    if not values:
        raise ParameterError(f"{where}: {name} has an empty list of values to sweep over")
    seen: set[str] = set()
    for v in values:
        if _label(v) in seen:
            raise ParameterError(f"{where}: {name} lists {_label(v)} more than once")
        seen.add(_label(v))
    return values


def parse_sweep_params(items: list[str] | None) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """``-p`` items -> (single values, value lists to sweep over).

    ``["profile=smoke", "gamma=1.25,2.5"]`` -> ``({"profile": "smoke"}, {"gamma": [1.25, 2.5]})``.
    A value that :func:`split_values` leaves whole is parsed exactly as :func:`parse_params` does;
    each item of a value list is parsed the same way. A later ``-p`` of the same name wins.
    """
    single: dict[str, Any] = {}
    grid: dict[str, list[Any]] = {}
    for item in items or []:
        if "=" not in item:
            raise ParameterError(f"parameter {item!r} must be written key=value")
        key, value = item.split("=", 1)
        key, value = key.strip(), value.strip()
        pieces = split_values(value)
        if len(pieces) == 1:
            grid.pop(key, None)
            single[key] = parse_value(value)
            continue
        single.pop(key, None)
        if any(not piece.strip() for piece in pieces):
            raise ParameterError(
                f"-p {item}: empty item in the comma-separated value list; write a value between every two "
                f"commas, and quote a string that itself contains a comma: -p '{key}=\"a, b\"'")
        grid[key] = _check_values(key, [parse_value(piece.strip()) for piece in pieces], f"-p {item}")
    return single, grid


def _params_loader() -> Any:
    """A safe YAML loader that also reads ``1e-3`` (no dot) as a number, like ``-p`` does."""
    import re

    import yaml

    class ParamsLoader(yaml.SafeLoader):
        pass

    ParamsLoader.add_implicit_resolver(
        "tag:yaml.org,2002:float", re.compile(r"^[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)[eE][-+]?[0-9]+$"),
        list("-+0123456789."))
    return ParamsLoader


def load_params_file(path: str | Path) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """Read a YAML parameter file -> (single values, value lists to sweep over).

    The file is a mapping of parameter: value; an optional top-level ``sweep:`` mapping gives
    parameter: [value, ...] lists whose cartesian product is run::

        profile: smoke
        seeds: [0, 1]        # one value (a list), not a sweep
        sweep:
          gamma: [1.25, 2.5, 3.33]
    """
    import yaml

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"parameter file {path} not found")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_params_loader())  # noqa: S506 (a SafeLoader)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ParameterError(f"{path}: not a valid YAML parameter file: {exc}") from None
    if not isinstance(data, dict):
        got = "an empty file" if data is None else f"a {type(data).__name__}"
        raise ParameterError(f"{path}: expected a mapping of parameter: value (e.g. 'profile: smoke'), got {got}")
    names = [k for k in data if not isinstance(k, str)]
    if names:
        raise ParameterError(f"{path}: parameter names must be strings; got {names}")
    params = dict(data)
    grid: dict[str, list[Any]] = {}
    if SWEEP_KEY in params:
        spec = params.pop(SWEEP_KEY)
        if not isinstance(spec, dict) or not spec:
            raise ParameterError(f"{path}: '{SWEEP_KEY}' must be a mapping of parameter: [value, value, ...]")
        for key, values in spec.items():
            if not isinstance(key, str):
                raise ParameterError(f"{path}: parameter names under '{SWEEP_KEY}' must be strings; got {key!r}")
            if key in params:
                raise ParameterError(f"{path}: {key} is given both as a value and under '{SWEEP_KEY}'; keep one")
            if not isinstance(values, list):
                raise ParameterError(f"{path}: {SWEEP_KEY}.{key} must be a list of values, e.g. {key}: [1, 2]; "
                                     f"got {values!r}")
            grid[key] = _check_values(key, values, str(path))
    return params, grid


def merge_params(file_params: Mapping[str, Any], file_grid: Mapping[str, list[Any]],
                 cli_params: Mapping[str, Any], cli_grid: Mapping[str, list[Any]]
                 ) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """The parameter file overridden by ``-p``: a ``-p`` name replaces the file's value or value list."""
    params, grid = dict(file_params), {k: list(v) for k, v in file_grid.items()}
    for key, value in cli_params.items():
        params[key] = value
        grid.pop(key, None)
    for key, values in cli_grid.items():
        grid[key] = list(values)
        params.pop(key, None)
    return params, grid


def expand_grid(grid: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every combination of the value lists (cartesian product, first parameter varying slowest)."""
    import itertools

    keys = list(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(list(grid[k]) for k in keys))]


def run_label(combo: Mapping[str, Any]) -> str:
    """The folder name of one combination: ``gamma=1.25,size=tiny`` (unsafe characters become ``_``)."""
    import hashlib
    import re

    def text(v: Any) -> str:
        if isinstance(v, (list, tuple)):
            return "+".join(text(x) for x in v)
        return re.sub(r"[^A-Za-z0-9._+-]", "_", _label(v))

    label = ",".join(f"{re.sub(r'[^A-Za-z0-9_]', '_', k)}={text(v)}" for k, v in combo.items())
    if len(label) > 120:
        label = label[:110] + "_" + hashlib.sha1(label.encode()).hexdigest()[:8]
    return label


def _unique_labels(combos: list[dict[str, Any]]) -> list[str]:
    labels: list[str] = []
    for combo in combos:
        label, k = run_label(combo), 2
        while label in labels:
            label, k = f"{run_label(combo)}__{k}", k + 1
        labels.append(label)
    return labels


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _sweep_worker_init(threads: int) -> None:
    """A sweep worker: quiet per-run log lines (the parent shows a progress bar) and share the cores."""
    import logging

    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, str(threads))
    get_logger("run").setLevel(logging.WARNING)


def _sweep_run(src: str, params: dict[str, Any], folder: str, kernel: str, timeout: int | None) -> dict[str, Any]:
    """One combination of a sweep; never raises, so one failure cannot lose the other runs."""
    t0 = time.time()
    try:
        execute(src, params, output_dir=folder, kernel=kernel, progress=False, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 (reported with its combination)
        error = str(exc) if isinstance(exc, (NotebookFailed, ParameterError)) else f"{type(exc).__name__}: {exc}"
        return {"ok": False, "error": error, "seconds": round(time.time() - t0, 1)}
    return {"ok": True, "error": "", "seconds": round(time.time() - t0, 1)}


class SweepResult(dict):
    """The collected tables of a sweep, ``{name: DataFrame}``, with the runs beside them.

    ``runs``: one dict per combination (``label``, ``parameters``, ``folder``, ``ok``, ``error``,
    ``seconds``); ``failed``: those that failed; ``folder``: ``<output-dir>/<stem>.sweep``;
    ``skipped``: table names that some successful runs did not save (so not collected).
    """

    def __init__(self, tables: Mapping[str, Any], *, notebook: Path, folder: Path, grid: Mapping[str, list[Any]],
                 runs: list[dict[str, Any]], jobs: int, skipped: list[str]) -> None:
        super().__init__(tables)
        self.notebook, self.folder, self.grid, self.runs, self.jobs, self.skipped = (
            notebook, folder, dict(grid), runs, jobs, skipped)

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.runs if not r["ok"]]

    def summary(self) -> str:
        """A few lines: how many runs, which failed (combination, cell, error), what was collected."""
        over = ", ".join(f"{k} ({len(v)} values)" for k, v in self.grid.items())
        ok = len(self.runs) - len(self.failed)
        lines = [f"sweep of {self.notebook.name} over {over}: {len(self.runs)} runs, {self.jobs} at a time; "
                 f"{ok} succeeded, {len(self.failed)} failed"]
        for r in self.failed:
            lines.append(f"  FAILED {r['label']}: " + r["error"].replace("\n", "\n    "))
        if self:
            lines.append(f"collected tables (one column per swept parameter) in {self.folder}:")
            for name, table in self.items():
                lines.append(f"  {name}.csv: {len(table)} rows x {table.shape[1]} columns")
                lines.append("    " + table.to_string(max_rows=10, max_cols=8).replace("\n", "\n    "))
        elif ok:
            lines.append("no table was saved by every successful run; nothing collected")
        if self.skipped:
            lines.append(f"not collected (missing from some runs): {', '.join(self.skipped)}")
        return "\n".join(lines)


def _collect(stem: str, runs: list[dict[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    """Concatenate each results table present in every successful run, with the swept parameters."""
    import pandas as pd

    from .results import load_table

    ok = [r for r in runs if r["ok"]]
    names = [{p.stem for p in (Path(r["folder"]) / f"{stem}.results").glob("*.csv")} for r in ok]
    common = set.intersection(*names) if names else set()
    skipped = sorted(set().union(*names) - common)
    tables = {}
    for name in sorted(common):
        frames = []
        for r in ok:
            df = load_table(Path(r["folder"]) / f"{stem}.results" / f"{name}.csv")
            for pos, (key, value) in enumerate(r["parameters"].items()):
                column = key if key not in df.columns else f"swept_{key}"
                df.insert(pos, column, [value] * len(df))
            frames.append(df)
        tables[name] = pd.concat(frames)
    return tables, skipped


def sweep(notebook: str | Path, grid: Mapping[str, Any], base_params: Mapping[str, Any] | None = None, *,
          jobs: int | None = None, output_dir: str | Path | None = None, kernel: str = "python3",
          progress: bool = True, timeout: int | None = None) -> SweepResult:
    """Execute ``notebook`` once per combination of ``grid``'s value lists, ``jobs`` runs at a time.

    ``grid`` maps parameter -> list of values (``{"gamma": [1.25, 2.5]}``; several parameters give
    their cartesian product); ``base_params`` are passed to every run. Each run goes through
    :func:`execute` into ``<output_dir>/<stem>.sweep/<param=value,...>/`` (``output_dir`` defaults to
    ``book/chapters``). Every name is checked before anything runs. A run that fails is recorded with
    its combination, cell and error; the others go on. Then each results table that every successful
    run saved is concatenated, with one column per swept parameter (``swept_<name>`` if the table
    already has a column of that name), into ``<stem>.sweep/<table>.csv``. ``sweep.json`` there
    lists the runs. Re-running replaces the ``<stem>.sweep`` folder, except the finished units
    (:mod:`serlib.parallel`) of runs that did not finish: a combination run again with the same
    parameters resumes from them.

    ``jobs`` defaults to the number of cores; each run is a separate process, and the kernels share
    the cores (``OMP_NUM_THREADS`` = cores // jobs unless already set).
    """
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    import jupytext
    from tqdm.auto import tqdm

    base = dict(base_params or {})
    grid = {k: _check_values(k, v, "sweep grid") for k, v in grid.items()}
    if not grid:
        raise ParameterError("a sweep needs at least one parameter with a list of values, e.g. {'gamma': [1.25, 2.5]}")
    both = sorted(set(base) & set(grid))
    if both:
        raise ParameterError(f"{both} given both as a base parameter and in the sweep grid; keep one")
    src = notebook_source(notebook)
    nb = jupytext.read(src)
    combos = expand_grid(grid)
    for combo in combos:
        _check_parameters(src, nb, {**base, **combo})
    if jobs is None:
        jobs = _cores()
    if not isinstance(jobs, int) or jobs < 1:
        raise ParameterError(f"jobs={jobs!r}: expected a whole number of parallel runs, at least 1")
    jobs = min(jobs, len(combos))

    out_dir = Path(output_dir) if output_dir else project_root() / BOOK_CHAPTERS
    folder = out_dir / f"{src.stem}.sweep"
    manifest = folder / "sweep.json"
    labels = _unique_labels(combos)
    units = out_dir / f".{src.stem}.sweep.units"
    if folder.exists():
        if not manifest.exists():
            raise FileExistsError(f"{folder} exists but holds no sweep.json, so no sweep wrote it; move it away "
                                  f"or choose another --output-dir")
        # a run of the same combination resumes from the units an interrupted one finished
        # (their keys hash the parameters, so units of other parameters are never reused)
        shutil.rmtree(units, ignore_errors=True)
        for label in labels:
            kept = folder / label / f"{src.stem}.results" / UNITS_FOLDER
            if kept.is_dir():
                units.mkdir(parents=True, exist_ok=True)
                os.replace(kept, units / label)
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    if units.is_dir():
        for kept in units.iterdir():
            target = folder / kept.name / f"{src.stem}.results"
            target.mkdir(parents=True, exist_ok=True)
            os.replace(kept, target / UNITS_FOLDER)
        shutil.rmtree(units, ignore_errors=True)
    runs = [{"label": label, "parameters": combo, "folder": str(folder / label), "ok": False,
             "error": "not run", "seconds": None} for label, combo in zip(labels, combos)]

    def write_manifest(status: str, tables: Sequence[str] = (), skipped: Sequence[str] = ()) -> None:
        record = {"notebook": str(src), "status": status, "grid": grid, "base_parameters": base, "jobs": jobs,
                  "runs": runs, "tables": list(tables), "not_collected": list(skipped),
                  "finished": time.strftime("%Y-%m-%d %H:%M:%S") if status == "finished" else None}
        atomic_write_bytes(manifest, json.dumps(record, indent=2, default=str).encode())

    write_manifest("running")
    tasks = [(str(src), {**base, **r["parameters"]}, r["folder"], kernel, timeout) for r in runs]
    bar = tqdm(total=len(tasks), desc=f"sweep {src.stem}", unit="run", disable=not progress)

    def record(i: int, outcome: dict[str, Any]) -> None:
        runs[i].update(outcome)
        bar.update(1)
        if not outcome["ok"]:
            bar.write(f"failed: {runs[i]['label']}: {outcome['error'].splitlines()[0]}", file=sys.stderr)

    log.info("sweep of %s: %d runs over %s, %d at a time -> %s", src.name, len(tasks), list(grid), jobs, folder)
    t0 = time.time()
    try:
        if jobs == 1:
            for i, task in enumerate(tasks):
                record(i, _sweep_run(*task))
        else:
            with ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn"), initializer=_sweep_worker_init,
                                     initargs=(max(1, _cores() // jobs),)) as pool:
                futures = {pool.submit(_sweep_run, *task): i for i, task in enumerate(tasks)}
                for fut in as_completed(futures):
                    try:
                        outcome = fut.result()
                    except Exception as exc:  # noqa: BLE001 (the worker process itself died)
                        outcome = {"ok": False, "error": f"worker process failed: {type(exc).__name__}: {exc}",
                                   "seconds": None}
                    record(futures[fut], outcome)
    except BaseException:
        write_manifest("interrupted")
        raise
    finally:
        bar.close()
    tables, skipped = _collect(src.stem, runs)
    for name, table in tables.items():
        atomic_write_bytes(folder / f"{name}.csv", table.to_csv().encode())
    write_manifest("finished", sorted(tables), skipped)
    log.info("sweep of %s done in %.1f s: %d of %d runs succeeded", src.name, time.time() - t0,
             sum(r["ok"] for r in runs), len(runs))
    return SweepResult(tables, notebook=src, folder=folder, grid=grid, runs=runs, jobs=jobs, skipped=skipped)
