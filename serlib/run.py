"""Execute the book's notebooks: jupytext source -> papermill -> executed notebook + results.

``serbook run notebooks/01_sahu2018_gan.py -p profile=smoke -p seeds=[0]`` reads the
py:percent source, injects the parameters after the cell tagged ``parameters``, executes it
with the ``python3`` kernel in the notebooks folder, and writes

* ``book/chapters/01_sahu2018_gan.ipynb`` — the executed notebook (what the book renders);
* ``book/chapters/01_sahu2018_gan.results/`` — the tables the notebook saved, plus
  ``run.json`` with the parameters, timings, peak memory and package versions.

A failed run keeps its partial notebook as ``<name>.failed.ipynb`` and never replaces a good
earlier output.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .cache import atomic_write_bytes
from .config import PROFILES, ParameterError, cache_dir, get_logger, project_root

__all__ = ["BOOK_CHAPTERS", "NotebookFailed", "build_book", "execute", "parse_params", "toc_notebooks", "versions"]

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


def execute(notebook: str | Path, parameters: Mapping[str, Any] | None = None, *,
            output_dir: str | Path | None = None, kernel: str = "python3", progress: bool = True,
            timeout: int | None = None) -> Path:
    """Execute ``notebook`` (a jupytext ``.py`` or an ``.ipynb``) with ``parameters``.

    Unknown parameter names are refused before anything runs (papermill would only warn).
    Returns the path of the executed notebook.
    """
    import jupytext
    import nbformat
    import papermill as pm

    root = project_root()
    src = Path(notebook)
    if not src.is_absolute():
        src = (Path.cwd() / src) if (Path.cwd() / src).exists() else root / src
    if not src.exists():
        raise FileNotFoundError(f"notebook {notebook} not found (looked in {Path.cwd()} and {root})")
    params = dict(parameters or {})
    nb = jupytext.read(src)
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": "Python 3", "language": "python"}
    nb.metadata.setdefault("language_info", {"name": "python"})
    declared = _declared_parameters(nb)
    if declared is None:
        raise ParameterError(f"{src}: no cell tagged 'parameters'; papermill cannot inject parameters")
    unknown = sorted(set(params) - declared)
    if unknown:
        raise ParameterError(f"{src.name}: unknown parameter(s) {unknown}; this notebook takes {sorted(declared)}")
    if "profile" in params and params["profile"] not in PROFILES:
        raise ParameterError(f"profile={params['profile']!r} is not one of {list(PROFILES)}")

    out_dir = Path(output_dir) if output_dir else root / BOOK_CHAPTERS
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = src.stem
    final = out_dir / f"{stem}.ipynb"
    results = out_dir / f"{stem}.results"
    results.mkdir(parents=True, exist_ok=True)
    failed = out_dir / f"{stem}.failed.ipynb"

    with tempfile.TemporaryDirectory() as tmp:
        tmp_in = Path(tmp) / f"{stem}.ipynb"
        tmp_out = Path(tmp) / f"{stem}.out.ipynb"
        nbformat.write(nb, tmp_in)
        env_before = os.environ.get("SERBOOK_RESULTS_DIR")
        os.environ["SERBOOK_RESULTS_DIR"] = str(results)
        # numba's on-disk cache of librosa's kernels: keep it with serlib's other rebuildable
        # files rather than inside site-packages, where concurrent writers can corrupt it
        os.environ.setdefault("NUMBA_CACHE_DIR", str(cache_dir("numba")))
        t0 = time.time()
        try:
            pm.execute_notebook(str(tmp_in), str(tmp_out), parameters=params, kernel_name=kernel,
                                cwd=str(src.parent), progress_bar=progress, execution_timeout=timeout,
                                log_output=False)
        except pm.PapermillExecutionError as exc:
            if tmp_out.exists():
                atomic_write_bytes(failed, tmp_out.read_bytes())
            raise NotebookFailed(
                f"{src.name} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue}\n"
                f"The partial notebook is {failed}."
            ) from None
        except Exception as exc:  # the kernel died (segfault, out of memory) or timed out
            if tmp_out.exists():
                atomic_write_bytes(failed, tmp_out.read_bytes())
            raise NotebookFailed(f"{src.name}: execution stopped: {type(exc).__name__}: {exc}. "
                                 f"The partial notebook (if any) is {failed}.") from exc
        finally:
            if env_before is None:
                os.environ.pop("SERBOOK_RESULTS_DIR", None)
            else:
                os.environ["SERBOOK_RESULTS_DIR"] = env_before
        elapsed = time.time() - t0
        atomic_write_bytes(final, tmp_out.read_bytes())
    failed.unlink(missing_ok=True)
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # MiB (Linux: KiB)
    record = {"notebook": str(src.relative_to(root)) if src.is_relative_to(root) else str(src),
              "parameters": params, "seconds": round(elapsed, 1), "peak_child_rss_mib": round(children, 1),
              "finished": time.strftime("%Y-%m-%d %H:%M:%S"), "versions": versions()}
    atomic_write_bytes(results / "run.json", json.dumps(record, indent=2, default=str).encode())
    log.info("%s done in %.1f s -> %s", src.name, elapsed, final)
    return final


def toc_notebooks(toc: str | Path | None = None) -> list[Path]:
    """The notebook sources (``notebooks/<stem>.py``) behind every ``book/chapters/<stem>`` in ``_toc.yml``."""
    import yaml

    root = project_root()
    data = yaml.safe_load(Path(toc or root / "_toc.yml").read_text())
    files: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "file" in node:
                files.append(str(node["file"]))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(data)
    out = []
    for f in files:
        p = Path(f)
        if p.parent == BOOK_CHAPTERS:
            srcp = root / "notebooks" / f"{p.stem}.py"
            if not srcp.exists():
                raise FileNotFoundError(f"_toc.yml lists {f} but its source {srcp} does not exist")
            out.append(srcp)
    return out


def build_book(profile: str = "book", *, execute_notebooks: bool = True, strict: bool = True,
               only: list[str] | None = None, extra_params: Mapping[str, Any] | None = None) -> Path:
    """Execute every notebook in ``_toc.yml`` with ``profile`` and build the HTML book.

    Returns the ``_build/html`` folder. ``strict`` turns Sphinx warnings into errors.
    """
    if profile not in PROFILES:
        raise ParameterError(f"profile={profile!r} is not one of {list(PROFILES)}")
    root = project_root()
    if execute_notebooks:
        for src in toc_notebooks():
            if only and src.stem not in only:
                continue
            log.info("executing %s (profile=%s)", src.name, profile)
            execute(src, {"profile": profile, **dict(extra_params or {})})
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
    return root / "_build" / "html"
