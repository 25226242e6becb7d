"""A small, safe on-disk cache: content-keyed files, atomic writes, corrupt entries rebuilt.

Entries are ``.npz`` (arrays) or ``.pkl``/``.pt`` payloads written to a temporary file in the
same folder and moved into place with :func:`os.replace`, so a crash or Ctrl-C never leaves a
half-written entry. Each entry carries a sha256 of its bytes in a sidecar ``.sha256`` file; an
entry whose checksum does not match is logged, deleted and rebuilt, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from .config import cache_dir, get_logger

__all__ = ["atomic_write_bytes", "cache_key", "cache_versions", "cached", "checksum_file", "ci_cache_key",
           "load_verified", "read_verified_bytes", "remove_verified", "save_verified", "write_verified_bytes"]

T = TypeVar("T")
log = get_logger("cache")


def cache_key(**parts: Any) -> str:
    """A stable 20-hex-digit key from JSON-serialisable parts (sorted)."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:20]


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary sibling and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def checksum_file(path: Path) -> Path:
    """The sha256 sidecar of ``path``."""
    return path.with_name(path.name + ".sha256")


def write_verified_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, then its sha256 sidecar: the sidecar is removed
    first and written last, so it never vouches for a file it was not computed from."""
    side = checksum_file(path)
    side.unlink(missing_ok=True)
    atomic_write_bytes(path, data)
    atomic_write_bytes(side, hashlib.sha256(data).hexdigest().encode())


def read_verified_bytes(path: Path) -> tuple[bytes | None, str | None]:
    """The bytes of a file written by :func:`write_verified_bytes`.

    Returns ``(data, None)`` when the file is whole, ``(None, None)`` when it is absent, and
    ``(None, why)`` when it must not be trusted (``why`` completes "the file ...").
    """
    if not path.exists():
        return None, None
    side = checksum_file(path)
    if not side.exists():
        return None, "has no checksum file (its write was cut short)"
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != side.read_text().strip():
        return None, "is corrupt (its checksum does not match)"
    return data, None


def remove_verified(path: Path) -> None:
    """Remove a file written by :func:`write_verified_bytes` and its sidecar, if present."""
    path.unlink(missing_ok=True)
    checksum_file(path).unlink(missing_ok=True)


def save_verified(path: Path, obj: Any) -> None:
    """Pickle ``obj`` to ``path`` atomically, with a checksum sidecar written last."""
    write_verified_bytes(path, pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))


def load_verified(path: Path) -> Any | None:
    """Load an entry written by :func:`save_verified`; ``None`` if absent or corrupt (then removed)."""
    side = path.with_name(path.name + ".sha256")
    if not path.exists() or not side.exists():
        return None
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != side.read_text().strip():
        log.warning("cache entry %s is corrupt (checksum mismatch); rebuilding it", path)
        path.unlink(missing_ok=True)
        side.unlink(missing_ok=True)
        return None
    try:
        return pickle.loads(data)
    except Exception as exc:  # a checksum-valid but unreadable pickle (e.g. version skew)
        log.warning("cache entry %s cannot be read (%s); rebuilding it", path, exc)
        path.unlink(missing_ok=True)
        side.unlink(missing_ok=True)
        return None


def cached(namespace: str, key: str, build: Callable[[], T], *, overwrite: bool = False) -> T:
    """Return the entry ``namespace/key`` from the cache, building and saving it if needed."""
    path = cache_dir(namespace) / f"{key}.pkl"
    if not overwrite:
        hit = load_verified(path)
        if hit is not None:
            return hit  # type: ignore[no-any-return]
    value = build()
    save_verified(path, value)
    return value


def cache_versions() -> dict[str, Any]:
    """What decides whether the serlib cache's entries are still valid: the embedded corpus
    generator's version, the feature extraction's version and configuration, the versions of the
    cached spectrograms and pretrained encoders of chapter 5, and the packages that compute them."""
    from importlib.metadata import PackageNotFoundError, version

    from .data.synthetic import GENERATOR_VERSION, SIZES, VARIANTS
    from .experiments.pereira2018 import MODEL_VERSION
    from .features import FEATURE_VERSION, FRAME_KINDS, FUNCTIONAL_SETS, SPECTRO_VERSION

    out: dict[str, Any] = {"generator": GENERATOR_VERSION, "sizes": sorted(SIZES), "variants": sorted(VARIANTS),
                           "features": FEATURE_VERSION, "functional_sets": FUNCTIONAL_SETS,
                           "frame_kinds": list(FRAME_KINDS), "spectrograms": SPECTRO_VERSION,
                           "encoders": MODEL_VERSION}
    for pkg in ("espeakng-loader", "opensmile", "librosa", "torch"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def ci_cache_key(prefix: str = "serlib") -> str:
    """A key for a CI cache of ``$SERLIB_CACHE``: ``<prefix>-gen<G>-feat<F>-<hash of cache_versions()>``.

    It changes whenever :func:`cache_versions` does, so a CI job never restores entries that
    this serlib would not write (those would be detected and rebuilt anyway, at a cost).
    ``serbook cache-key`` prints it.
    """
    v = cache_versions()
    return f"{prefix}-gen{v['generator']}-feat{v['features']}-{cache_key(**v)}"
