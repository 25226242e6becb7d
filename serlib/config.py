"""Paths, devices, seeds, profiles and parameter checks shared by every chapter.

Environment variables
---------------------
SERLIB_DATA
    Folder under which real corpora live (``$SERLIB_DATA/iemocap``, ``$SERLIB_DATA/emodb`` ...).
    Default: ``~/serlib_data``. A notebook's ``data_root`` parameter overrides it.
SERLIB_CACHE
    Folder for everything serlib computes and may recompute: the embedded corpus audio,
    feature matrices, trained encoders. Default: ``~/.cache/serlib``.
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "PROFILES",
    "ParameterError",
    "cache_dir",
    "check_choice",
    "check_positive",
    "check_range",
    "data_dir",
    "get_device",
    "get_logger",
    "plain_values",
    "project_root",
    "seed_everything",
]

PROFILES: tuple[str, ...] = ("smoke", "book", "paper")
"""Execution profiles: ``smoke`` checks the wiring in seconds, ``book`` is what the rendered
book shows (embedded corpus, minutes on a CPU), ``paper`` is the paper's protocol on a real
corpus (meant for a GPU)."""


class ParameterError(ValueError):
    """A parameter is unknown or out of range; the message names the parameter and the fix."""


def get_logger(name: str) -> logging.Logger:
    """Return a logger under the ``serlib`` namespace that prints to stderr once configured."""
    logger = logging.getLogger(name if name.startswith("serlib") else f"serlib.{name}")
    root = logging.getLogger("serlib")
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("[%(name)s] %(levelname)s: %(message)s"))
        root.addHandler(handler)
        root.setLevel(os.environ.get("SERLIB_LOGLEVEL", "INFO"))
    return logger


def project_root() -> Path:
    """The repository root (the folder holding ``pyproject.toml``), independent of the cwd."""
    here = Path(__file__).resolve().parent.parent
    if (here / "pyproject.toml").exists():
        return here
    return Path.cwd()


def data_dir(root: str | os.PathLike[str] | None = None) -> Path:
    """Where real corpora live: ``root`` if given, else ``$SERLIB_DATA``, else ``~/serlib_data``."""
    if root:
        return Path(root).expanduser()
    return Path(os.environ.get("SERLIB_DATA", "~/serlib_data")).expanduser()


def cache_dir(*parts: str) -> Path:
    """A folder under ``$SERLIB_CACHE`` (default ``~/.cache/serlib``), created on demand."""
    base = Path(os.environ.get("SERLIB_CACHE", "~/.cache/serlib")).expanduser()
    path = base.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def get_device(device: str = "auto") -> Any:
    """Resolve ``device`` (``auto`` | ``cpu`` | ``cuda`` | ``cuda:N`` | ``mps``) to a torch.device.

    ``auto`` takes the GPU when one is present. Asking for ``cuda`` on a machine without one is
    an error rather than a silent fall-back to the CPU.
    """
    import torch

    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ParameterError(
            f"device={device!r} was asked for but torch sees no CUDA GPU here; "
            "use device='auto' or device='cpu'."
        )
    return dev


def seed_everything(seed: int, deterministic: bool = True) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA); make cuDNN deterministic if asked."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    os.environ["PYTHONHASHSEED"] = str(seed)
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a hard dependency
        return
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    if deterministic:
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``choices``, else raise a ParameterError naming them."""
    options: Sequence[Any] = list(choices)
    if value not in options:
        raise ParameterError(f"{name}={value!r} is not one of {options}.")
    return value


def check_range(
    name: str,
    value: float,
    low: float | None = None,
    high: float | None = None,
    *,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> float:
    """Return ``value`` if it lies in the interval, else raise a ParameterError saying where."""
    ok = True
    if low is not None:
        ok &= value >= low if low_inclusive else value > low
    if high is not None:
        ok &= value <= high if high_inclusive else value < high
    if not ok:
        lo = "-inf" if low is None else f"{low}"
        hi = "inf" if high is None else f"{high}"
        lb = "[" if low_inclusive else "("
        hb = "]" if high_inclusive else ")"
        raise ParameterError(f"{name}={value!r} is out of range; expected a value in {lb}{lo}, {hi}{hb}.")
    return value


def check_positive(name: str, value: float) -> float:
    """Return ``value`` if it is > 0."""
    return check_range(name, value, 0, None, low_inclusive=False)


def plain_values(value: Any) -> Any:
    """``value`` made of JSON- and ``torch.load(weights_only=True)``-safe parts: mappings as dicts
    with string keys, tuples as lists, numbers, strings, bools and ``None`` as they are, anything
    else as its text."""
    if isinstance(value, Mapping):
        return {str(k): plain_values(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_values(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
