"""A small, safe on-disk cache: content-keyed files, atomic writes, corrupt entries rebuilt.

Entries are ``.npz`` (arrays) or ``.pkl``/``.pt`` payloads written to a temporary file in the
same folder and moved into place with :func:`os.replace`, so a crash or Ctrl-C never leaves a
half-written entry. Each entry carries a sha256 of its bytes in a sidecar ``.sha256`` file; an
entry whose checksum does not match is logged, deleted and rebuilt, never trusted.

Long extractions (one result per utterance of a large corpus) go through :func:`cached_chunks`:
the utterances are processed in chunks, each chunk is saved as it finishes, and a run that is
interrupted resumes from the chunks already saved instead of starting again.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from .config import ParameterError, cache_dir, get_logger

__all__ = ["CHUNK_SIZE", "atomic_write_bytes", "cache_key", "cached", "cached_chunks",
           "checksum_file", "load_verified", "read_verified_bytes", "remove_verified", "save_verified", "write_verified_bytes"]

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


CHUNK_SIZE = 100
"""Items (utterances) per saved chunk of :func:`cached_chunks` unless a caller asks otherwise.

A smaller chunk loses less work to an interruption but writes more files; at a tenth of a second
per utterance, a chunk of 100 is about ten seconds of extraction, and saving it costs a few
milliseconds. The chunk size never changes a result, only how it is computed."""


def cached_chunks(
    namespace: str,
    key: str,
    items: Sequence[Any] | Callable[[], Sequence[Any]],
    build_chunk: Callable[[Sequence[Any]], Sequence[Any]],
    combine: Callable[[list[Any]], T],
    *,
    chunk_size: int = CHUNK_SIZE,
    progress: bool = True,
    desc: str = "",
    overwrite: bool = False,
) -> T:
    """Return the entry ``namespace/key``, building it a chunk of items at a time if needed.

    The entry is the same file :func:`cached` would write under the same namespace and key, so a
    warm cache is read exactly as before. Building it goes like this:

    1. ``items`` (one per utterance, say; a function returning them is called only when the
       entry has to be built) are cut into consecutive chunks of ``chunk_size``.
    2. ``build_chunk(chunk)`` returns one result per item of a chunk; each chunk's results are
       saved as soon as they exist, with a checksum and an atomic write (:func:`save_verified`),
       in the folder ``<key>.chunks`` beside the entry.
    3. When every chunk is there, ``combine(results)`` (all the items' results, in item order)
       gives the entry, which is saved; then the chunk folder is removed.

    A run that is stopped (a kill, Ctrl-C, a full disk) leaves its finished chunks behind; the
    next run loads them instead of computing them again and builds only the rest, so the entry
    is the same as an uninterrupted run's as long as ``build_chunk`` gives each item the same
    result whenever it is computed. A saved chunk that fails its checksum, cannot be read, or
    holds other items than the ones it is meant for is logged by name and computed again. The
    chunk size is part of each chunk file's name: chunks saved with another size are never
    mixed in (they are ignored, and removed with the folder at the end).

    Parameters
    ----------
    namespace, key
        Where the entry lives: ``$SERLIB_CACHE/<namespace>/<key>.pkl``.
    items
        The work to do, in order, or a function returning it.
    build_chunk
        Computes one chunk: a sequence of items in, a sequence of as many results out.
    combine
        Builds the entry from the list of every item's result, in the order of ``items``.
    chunk_size
        Items per chunk (:data:`CHUNK_SIZE` by default). It does not change the result.
    progress
        Show a progress bar over items, the ones restored from saved chunks counted from the start.
    desc
        The progress bar's label.
    overwrite
        Build the entry again even if it is cached, discarding saved chunks too.
    """
    path = cache_dir(namespace) / f"{key}.pkl"
    folder = path.with_name(f"{key}.chunks")
    if not overwrite:
        hit = load_verified(path)
        if hit is not None:
            if folder.exists():  # left by a run stopped between saving the entry and removing its chunks
                shutil.rmtree(folder, ignore_errors=True)
            return hit  # type: ignore[no-any-return]
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ParameterError(f"chunk_size={chunk_size!r} is not a positive whole number of items: give e.g. "
                             f"chunk_size={CHUNK_SIZE}")
    if overwrite and folder.exists():
        shutil.rmtree(folder)
    todo = list(items() if callable(items) else items)
    n = len(todo)
    spans = [(start, min(start + chunk_size, n)) for start in range(0, n, chunk_size)]
    digests = [cache_key(items=todo[a:b]) for a, b in spans]
    results: list[list[Any] | None] = [
        _load_chunk(_chunk_path(folder, chunk_size, j), a, b, digests[j]) for j, (a, b) in enumerate(spans)]
    restored = sum(b - a for (a, b), r in zip(spans, results) if r is not None)
    if folder.exists():
        others = [p.name for p in folder.glob("*.pkl") if not p.name.startswith(f"size{chunk_size}-")]
        if others:
            log.info("%s: %d chunk file(s) saved with another chunk size are not used", folder, len(others))
    if restored:
        log.info("%s: %d of %d items restored from saved chunks; computing the other %d", folder, restored, n,
                 n - restored)
    from tqdm.auto import tqdm

    bar = tqdm(total=n, initial=restored, desc=desc, disable=not progress, leave=False)
    try:
        for j, (a, b) in enumerate(spans):
            if results[j] is not None:
                continue
            values = list(build_chunk(todo[a:b]))
            if len(values) != b - a:
                raise ValueError(f"build_chunk gave {len(values)} results for the {b - a} items {a}..{b - 1} of "
                                 f"{path}: it must return one result per item")
            save_verified(_chunk_path(folder, chunk_size, j),
                          {"start": a, "stop": b, "items": digests[j], "values": values})
            results[j] = values
            bar.update(b - a)
    finally:
        bar.close()
    value = combine([v for r in results for v in r])  # type: ignore[union-attr]
    save_verified(path, value)
    shutil.rmtree(folder, ignore_errors=True)
    return value


def _chunk_path(folder: Path, chunk_size: int, index: int) -> Path:
    return folder / f"size{chunk_size}-{index:06d}.pkl"


def _load_chunk(path: Path, start: int, stop: int, digest: str) -> list[Any] | None:
    """The results saved in chunk file ``path`` for items ``start..stop-1``, or ``None`` when it is
    absent or must not be used (then it is logged by name and removed)."""
    data, why = read_verified_bytes(path)
    if data is None:
        if why is not None:
            log.warning("chunk %s %s; computing it again", path, why)
            remove_verified(path)
        return None
    try:
        saved = pickle.loads(data)
        same = (saved["start"], saved["stop"], saved["items"]) == (start, stop, digest)
        values = list(saved["values"])
    except Exception as exc:  # a checksum-valid but unreadable pickle (e.g. version skew)
        log.warning("chunk %s cannot be read (%s); computing it again", path, exc)
        remove_verified(path)
        return None
    if not same or len(values) != stop - start:
        log.warning("chunk %s holds other items than items %d..%d of its entry; computing it again", path, start,
                    stop - 1)
        remove_verified(path)
        return None
    return values

