"""Download the free corpora from their publishers: ``serbook data download NAME``.

Emo-DB, RAVDESS, LibriSpeech and TESS may be fetched by anyone for research. This module
keeps, as data, where each publisher serves its archives, their published sizes and checksums
(with where each number comes from, or why there is none), the licence and the citation, and
does the download so that nothing is ever half-done:

1. If the corpus is already in place (the data check finds no error and either this command
   unpacked the same archives there, or the loader's full-release check passes), nothing is
   downloaded and the command says so. Of several archives (RAVDESS speech and song,
   LibriSpeech subsets) only those not yet unpacked there are fetched.
2. The licence and citation are printed and the reader confirms once (``yes=True`` /
   ``--yes`` for scripts; without a terminal and without ``--yes`` the command refuses).
3. Each archive is fetched into ``<root>/../.<root name>.download/<file>.part``, resuming
   with an HTTP ``Range`` request after an interruption, then its size and checksum are
   checked against the published ones. A mismatch stops everything before anything is
   unpacked; the bad file is kept beside (``.mismatch``) and named in the error.
4. Every archive is unpacked into a temporary folder next to the corpus folder (members that
   would land outside it, links and devices are refused), then moved into place by renaming;
   files the reader already had are never overwritten.
5. The archives are deleted (``keep_archives`` keeps them) and the data check report ends
   the run. No archive is copied, re-packed or cached anywhere else.

``SERLIB_DOWNLOAD_MIRROR`` (or ``mirror=``) replaces every publisher URL by
``<mirror>/<corpus>/<file name>``, for a local mirror of the same files (and for the tests).
Without network (the normal case on many clusters) the command fails with one line that names
the URL and the manual alternative: fetch the archive elsewhere, unpack it, and point
``data_root`` at the folder.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import sys
import tarfile
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

from ..config import ParameterError
from .corpus import CorpusError

__all__ = [
    "MIRROR_ENV",
    "SOURCES",
    "Archive",
    "ConfirmationNeeded",
    "DownloadError",
    "Source",
    "check_report",
    "download",
    "select_archives",
]

MIRROR_ENV = "SERLIB_DOWNLOAD_MIRROR"
MARKER = ".serlib-download.json"
_CHUNK = 1 << 20


# --------------------------------------------------------------------------- the table
@dataclass(frozen=True)
class Archive:
    """One file a publisher serves.

    ``size`` (bytes), ``algorithm`` and ``checksum`` are the published values, or ``None``
    where the publisher gives none; ``provenance`` says where each number comes from, or why
    there is none. ``place`` is the folder under the corpus root that receives the archive's
    content (``""``: the root itself); ``fmt`` is ``"zip"`` or ``"tar.gz"``.
    """

    key: str
    url: str
    filename: str
    size: int | None
    algorithm: str | None
    checksum: str | None
    provenance: str
    place: str = ""
    fmt: str = "zip"


@dataclass(frozen=True)
class Source:
    """A downloadable corpus: its archives, licence and citation."""

    name: str
    title: str
    homepage: str
    licence: str
    licence_url: str
    citation: str
    redistribution: str
    archives: tuple[Archive, ...]
    default: tuple[str, ...]
    options: dict[str, str] = field(default_factory=dict)

    def archive(self, key: str) -> Archive:
        for a in self.archives:
            if a.key == key:
                return a
        raise ParameterError(f"{self.name}: no archive {key!r}; it has {[a.key for a in self.archives]}")


_LIBRI_MD5 = "md5 from OpenSLR's https://www.openslr.org/resources/12/md5sum.txt"
_LIBRI_SIZE = ("size in bytes as listed for the final release in Kaldi's "
               "egs/librispeech/s5/local/download_and_untar.sh (OpenSLR's page rounds it)")
_LIBRI = (  # subset, bytes, md5
    ("dev-clean", 337926286, "42e2234ba48799c1f50f24a7926300a1"),
    ("dev-other", 314305928, "c8d0bcc9cca99d4f8b62fcc847357931"),
    ("test-clean", 346663984, "32fa31d27d2e1cad72775fee3f4849a9"),
    ("test-other", 328757843, "fb5a50374b501bb3bac4815ee91d3135"),
    ("train-clean-100", 6387309499, "2a93770f6d5c6c964bc36631d331a522"),
    ("train-clean-360", 23049477885, "c0e676e450a7ff2f54aeade5171606fa"),
    ("train-other-500", 30593501606, "d1a0fd59409feb2c614ce4d30c387708"),
)

SOURCES: dict[str, Source] = {
    "emodb": Source(
        name="emodb",
        title="Emo-DB (Berlin Database of Emotional Speech)",
        homepage="http://emodb.bilderbar.info/",
        licence="no licence text; offered by its authors as a free download for research",
        licence_url="http://emodb.bilderbar.info/",
        citation="Burkhardt, F., Paeschke, A., Rolfes, M., Sendlmeier, W. F., & Weiss, B. (2005). A database of "
        "German emotional speech. Proc. Interspeech 2005, 1517-1520.",
        redistribution="not granted: fetch it from the authors' site only; never re-packed or cached elsewhere",
        archives=(Archive(
            key="all",
            url="http://emodb.bilderbar.info/download/download.zip",
            filename="download.zip",
            size=None, algorithm=None, checksum=None,
            provenance="none published: the corpus site gives neither size nor checksum for download.zip; every "
            "member's CRC is checked while unpacking and the data check names any missing recording",
        ),),
        default=("all",),
    ),
    "ravdess": Source(
        name="ravdess",
        title="RAVDESS (Ryerson Audio-Visual Database of Emotional Speech and Song)",
        homepage="https://zenodo.org/records/1188976",
        licence="CC BY-NC-SA 4.0",
        licence_url="https://creativecommons.org/licenses/by-nc-sa/4.0/",
        citation="Livingstone, S. R., & Russo, F. A. (2018). The Ryerson Audio-Visual Database of Emotional Speech "
        "and Song (RAVDESS): A dynamic, multimodal set of facial and vocal expressions in North American English. "
        "PLoS ONE 13(5): e0196391. https://doi.org/10.1371/journal.pone.0196391 (data: "
        "https://doi.org/10.5281/zenodo.1188976)",
        redistribution="allowed non-commercially under the same licence, with attribution",
        archives=(
            Archive(
                key="speech",
                url="https://zenodo.org/records/1188976/files/Audio_Speech_Actors_01-24.zip",
                filename="Audio_Speech_Actors_01-24.zip",
                size=208468073, algorithm="md5", checksum="bc696df654c87fed845eb13823edef8a",
                provenance="md5 and size as published with the file on Zenodo record 1188976",
                place="Audio_Speech_Actors_01-24",
            ),
            Archive(
                key="song",
                url="https://zenodo.org/records/1188976/files/Audio_Song_Actors_01-24.zip",
                filename="Audio_Song_Actors_01-24.zip",
                size=225505317, algorithm="md5", checksum="5411230427d67a21e18aa4d466e6d1b9",
                provenance="md5 and size as published with the file on Zenodo record 1188976",
                place="Audio_Song_Actors_01-24",
            ),
        ),
        default=("speech",),
        options={"song": "also the song recordings (Audio_Song_Actors_01-24.zip, 226 MB)"},
    ),
    "librispeech": Source(
        name="librispeech",
        title="LibriSpeech ASR corpus (OpenSLR 12)",
        homepage="https://www.openslr.org/12",
        licence="CC BY 4.0",
        licence_url="https://creativecommons.org/licenses/by/4.0/",
        citation="Panayotov, V., Chen, G., Povey, D., & Khudanpur, S. (2015). LibriSpeech: an ASR corpus based on "
        "public domain audio books. Proc. ICASSP 2015, 5206-5210.",
        redistribution="allowed with attribution",
        archives=tuple(
            Archive(key=subset, url=f"https://www.openslr.org/resources/12/{subset}.tar.gz",
                    filename=f"{subset}.tar.gz", size=size, algorithm="md5", checksum=md5,
                    provenance=f"{_LIBRI_MD5}; {_LIBRI_SIZE}", fmt="tar.gz")
            for subset, size, md5 in _LIBRI
        ),
        default=("dev-clean",),
        options={"subsets": "one or several subsets (default dev-clean, 338 MB)"},
    ),
    "tess": Source(
        name="tess",
        title="TESS (Toronto Emotional Speech Set)",
        homepage="https://doi.org/10.5683/SP2/E8H2MF",
        licence="CC BY-NC-ND 4.0",
        licence_url="https://creativecommons.org/licenses/by-nc-nd/4.0/",
        citation="Dupuis, K., & Pichora-Fuller, M. K. (2010). Toronto emotional speech set (TESS). University of "
        "Toronto, Psychology Department. Borealis, https://doi.org/10.5683/SP2/E8H2MF",
        redistribution="allowed unchanged, non-commercially, with attribution; no derivatives: never re-packed",
        archives=(Archive(
            key="all",
            url="https://borealisdata.ca/api/access/dataset/:persistentId/?persistentId=doi:10.5683/SP2/E8H2MF",
            filename="TESS.zip",
            size=None, algorithm=None, checksum=None,
            provenance="none published for the archive: Borealis lists an MD5 for each of the 2800 WAV files, but "
            "this zip of all of them is assembled by the Dataverse on request; every member's CRC is checked while "
            "unpacking and the data check counts the recordings",
        ),),
        default=("all",),
    ),
}
"""Registry name -> what to fetch. Every publisher URL, size and checksum of this module."""


def select_archives(name: str, *, song: bool = False, subsets: Sequence[str] | None = None) -> list[Archive]:
    """The archives of corpus ``name`` for the given options.

    ``song`` adds RAVDESS's song recordings to its speech; ``subsets`` names LibriSpeech
    subsets (default ``dev-clean``). An option the corpus does not take is an error.
    """
    source = _source(name)
    if song and source.name != "ravdess":
        raise ParameterError(f"--song is a RAVDESS option; {source.name} has no song recordings.")
    if subsets and source.name != "librispeech":
        raise ParameterError(f"--subset is a LibriSpeech option; {source.name} is downloaded whole.")
    if source.name == "librispeech" and subsets:
        known = [a.key for a in source.archives]
        unknown = [s for s in subsets if s not in known]
        if unknown:
            raise ParameterError(f"librispeech: unknown subset(s) {unknown}; choose from {known}.")
        keys: tuple[str, ...] = tuple(dict.fromkeys(subsets))
    else:
        keys = source.default + (("song",) if song else ())
    return [source.archive(k) for k in keys]


def _source(name: str) -> Source:
    key = name.strip().lower().replace("-", "_")
    key = {"emo_db": "emodb"}.get(key, key)
    if key not in SOURCES:
        raise ParameterError(f"{name!r} cannot be downloaded; serbook downloads {sorted(SOURCES)}. The other corpora "
                             "are obtained from their publishers (see `serbook data list`).")
    return SOURCES[key]


# --------------------------------------------------------------------------- errors
class DownloadError(RuntimeError):
    """A download, check or unpacking step failed; the message says what to do."""


class ConfirmationNeeded(DownloadError):
    """No terminal to ask on and no ``--yes``."""


# --------------------------------------------------------------------------- helpers
def _human(n: int | None) -> str:
    if n is None:
        return "size not published"
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n = n / 1000  # type: ignore[assignment]
    return f"{n} B"


def _manual(url: str, name: str, root: Path) -> str:
    return (f"Without network access here, fetch {url} on another machine, unpack it into {root} (or any folder "
            f"and pass data_root=/that/folder), or run `serbook data download {name} --root DIR` there and copy DIR.")


def _url(source: Source, archive: Archive, mirror: str | None) -> str:
    if mirror:
        return f"{mirror.rstrip('/')}/{source.name}/{archive.filename}"
    return archive.url


def _fetch(url: str, part: Path, size: int | None, *, name: str, root: Path, progress: bool,
           timeout: float) -> None:
    """Fetch ``url`` into ``part``, resuming from what ``part`` already holds."""
    from tqdm.auto import tqdm

    from .. import __version__

    have = part.stat().st_size if part.exists() else 0
    if size is not None and have >= size:
        return  # complete (or too long: the check that follows says so)
    headers = {"User-Agent": f"serlib/{__version__} (+serbook data download)"}
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        resp = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:
            return  # the server has nothing past what we hold; the check decides
        raise DownloadError(f"{url} answered HTTP {exc.code} ({exc.reason}). {_manual(url, name, root)}") from exc
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(f"cannot reach {url} ({reason}). {_manual(url, name, root)}") from exc
    with resp:
        if have and resp.status != 206:
            have = 0  # the server ignored the Range request: start over
        length = resp.headers.get("Content-Length")
        total = have + int(length) if length and length.isdigit() else size
        got = have
        with open(part, "ab" if have else "wb") as out, tqdm(
                total=total, initial=have, unit="B", unit_scale=True, desc=part.name.removesuffix(".part"),
                disable=not progress, file=sys.stderr) as bar:
            try:
                while chunk := resp.read(_CHUNK):
                    out.write(chunk)
                    got += len(chunk)
                    bar.update(len(chunk))
            except (OSError, http.client.HTTPException) as exc:
                out.flush()
                raise DownloadError(
                    f"the download of {url} broke off after {got} of {total or '?'} bytes ({exc!r}); the partial "
                    f"file {part} is kept and the next run resumes from it.") from exc
    if total is not None and got < total:
        raise DownloadError(f"the download of {url} broke off after {got} of {total} bytes; the partial file {part} "
                            "is kept and the next run resumes from it.")


def _digest(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _verify(path: Path, archive: Archive, source: Source, root: Path) -> None:
    """Size and checksum against the published values; a mismatch keeps the file as ``.mismatch``."""
    size = path.stat().st_size
    problem = None
    if archive.size is not None and size != archive.size:
        problem = f"is {size} bytes, but the published size is {archive.size}"
    elif archive.checksum and archive.algorithm:
        got = _digest(path, archive.algorithm)
        if got != archive.checksum.lower():
            problem = f"has {archive.algorithm} {got}, but the published {archive.algorithm} is {archive.checksum}"
    if problem is None:
        return
    bad = path.with_name(archive.filename + ".mismatch")
    os.replace(path, bad)
    raise DownloadError(
        f"{archive.filename} {problem} ({archive.provenance}). Nothing was unpacked and {root} is unchanged; the "
        f"file is kept as {bad}. Delete it and run the command again to fetch it afresh; if the sums differ again, "
        f"the publisher's file has changed: fetch it by hand from {source.homepage}, check it, unpack it into "
        f"{root} and run `serbook data check {source.name} {root}`.")


def _safe_name(name: str, archive: Path) -> PurePosixPath:
    p = PurePosixPath(name.replace("\\", "/"))
    if p.is_absolute() or ".." in p.parts or (p.parts and ":" in p.parts[0]):
        raise DownloadError(f"{archive} holds the member {name!r}, which would land outside the folder it is "
                            "unpacked into; nothing was unpacked. The archive is not the published one: delete it.")
    return p


def _extract(path: Path, fmt: str, dest: Path) -> None:
    """Unpack ``path`` into ``dest``, refusing members outside it, links and devices."""
    try:
        if fmt == "zip":
            with zipfile.ZipFile(path) as zf:
                members = []
                for info in zf.infolist():
                    _safe_name(info.filename, path)
                    if ((info.external_attr >> 16) & 0o170000) == 0o120000:
                        raise DownloadError(f"{path} holds a symbolic link {info.filename!r}; nothing was unpacked.")
                    if not info.filename.startswith("__MACOSX/"):
                        members.append(info)
                zf.extractall(dest, members=members)
        else:
            with tarfile.open(path, "r:*") as tf:
                members = []
                for m in tf.getmembers():
                    _safe_name(m.name, path)
                    if not (m.isfile() or m.isdir()):
                        raise DownloadError(f"{path} holds {m.name!r}, which is not a plain file or folder; "
                                            "nothing was unpacked.")
                    members.append(m)
                tf.extractall(dest, members=members, filter="data")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise DownloadError(f"{path} cannot be unpacked ({exc}); it is damaged. Delete it and run the command "
                            "again.") from exc


def _merge(src: Path, dst: Path) -> int:
    """Move ``src``'s content into ``dst`` by renaming; existing files are kept. Returns their count."""
    kept = 0
    for entry in sorted(src.iterdir()):
        target = dst / entry.name
        if not target.exists() and not target.is_symlink():
            os.replace(entry, target)
        elif entry.is_dir() and target.is_dir():
            kept += _merge(entry, target)
        else:
            kept += 1
    return kept


def _read_marker(root: Path) -> dict[str, Any]:
    try:
        return json.loads((root / MARKER).read_text())
    except (OSError, ValueError):
        return {}


def _complete(name: str, root: Path, archives: Sequence[Archive]) -> bool:
    """Whether a tree not made by this command holds what ``archives`` would bring."""
    from .registry import load_corpus

    keys = {a.key for a in archives}
    try:
        if name == "librispeech":
            return all((root / "LibriSpeech" / k).is_dir() or (root / k).is_dir() for k in keys)
        if name == "ravdess":
            load_corpus(name, root, vocal_channel="both" if "song" in keys else "speech", expect_full=True)
        else:
            load_corpus(name, root, expect_full=True)
    except (CorpusError, ParameterError):
        return False
    return True


def _still_needed(name: str, root: Path, archives: Sequence[Archive]) -> list[Archive]:
    """The archives of ``archives`` that ``root`` still lacks; none when the corpus is in place.

    A folder with errors in the data check needs everything. Otherwise an archive this command
    already unpacked there is not needed again, and a tree from elsewhere that passes the
    loader's full-release check needs nothing.
    """
    from .registry import validate_layout

    if not root.is_dir() or any(p.severity == "error" for p in validate_layout(name, root)):
        return list(archives)
    done = _read_marker(root).get("archives", {})
    todo = [a for a in archives if a.filename not in done]
    if todo and _complete(name, root, archives):
        return []
    return todo


def check_report(name: str, root: str | os.PathLike[str]) -> tuple[str, int]:
    """The data check of ``root`` as ``(report text, exit code)``: :func:`serlib.data.check.check_corpus`.

    The download command's closing check is made here and nowhere else; its exit codes are the
    data check's (0 complete, 3 partial or warnings only, 4 errors or nothing loadable).
    """
    from .check import check_corpus

    return check_corpus(name, root)


def _ask(question: str, stdin: IO[str] | None, out: Callable[[str], None]) -> bool:
    stdin = stdin if stdin is not None else sys.stdin
    if stdin is None or not stdin.isatty():
        raise ConfirmationNeeded("refusing to download without confirmation: there is no terminal to ask on. Read "
                                 "the licence above and pass --yes to accept it.")
    out(f"{question} [y/N] ")
    return stdin.readline().strip().lower() in ("y", "yes")


# --------------------------------------------------------------------------- the command
def download(
    name: str,
    root: str | os.PathLike[str] | None = None,
    *,
    song: bool = False,
    subsets: Sequence[str] | None = None,
    yes: bool = False,
    mirror: str | None = None,
    keep_archives: bool = False,
    progress: bool = True,
    timeout: float = 60.0,
    stdin: IO[str] | None = None,
    out: Callable[[str], None] | None = None,
) -> int:
    """Download, verify and unpack corpus ``name`` into ``root``; return the data check's exit code.

    Parameters
    ----------
    name
        ``emodb``, ``ravdess``, ``librispeech`` or ``tess``.
    root
        The corpus folder (default ``$SERLIB_DATA/<default_subdir>``).
    song
        RAVDESS: also the song recordings.
    subsets
        LibriSpeech: the subsets to fetch (default ``dev-clean``).
    yes
        Accept the licence without asking (scripts, CI).
    mirror
        Base URL replacing the publishers' (default ``$SERLIB_DOWNLOAD_MIRROR``); files are
        fetched from ``<mirror>/<name>/<file name>``.
    keep_archives
        Keep the downloaded archives in ``<root>/../.<root name>.download/``.
    progress
        Show a progress bar per archive.
    timeout
        Seconds to wait for the server before giving up (the partial file is kept).
    stdin, out
        Where the confirmation is read and the messages are written (default: the terminal).

    Returns
    -------
    int
        0 when the corpus is present or was unpacked and loads, else the data check's code
        (3 warnings, 4 errors).

    Raises
    ------
    DownloadError
        No network, an interrupted download (resumable), a size or checksum mismatch, a
        damaged or unsafe archive; :class:`ConfirmationNeeded` without a terminal and ``yes``.
    """
    from .registry import resolve_root

    say = out or (lambda s: print(s, flush=True))
    source = _source(name)
    archives = select_archives(source.name, song=song, subsets=subsets)
    target = Path(os.path.abspath(resolve_root(source.name, root)))
    mirror = mirror if mirror is not None else os.environ.get(MIRROR_ENV) or None

    todo = _still_needed(source.name, target, archives)
    if not todo:
        say(f"{source.title} is already in {target} (the data check passes); nothing was downloaded.")
        text, code = check_report(source.name, target)
        say(text)
        return code
    archives = todo

    total = sum(a.size or 0 for a in archives)
    lines = [f"{source.title}", f"  licence:  {source.licence} ({source.licence_url})",
             f"  cite:     {source.citation}", f"  redistribution: {source.redistribution}",
             f"  into:     {target}"]
    for a in archives:
        lines.append(f"  fetch:    {_url(source, a, mirror)} ({_human(a.size)}; "
                     + (f"{a.algorithm} {a.checksum}" if a.checksum else "no published checksum") + ")")
    say("\n".join(lines))
    if not yes and not _ask(f"Accept the licence and download {_human(total) if total else 'the archive'}?",
                            stdin, say):
        say("Nothing was downloaded.")
        return 1

    staging = target.parent / f".{target.name}.download"
    staging.mkdir(parents=True, exist_ok=True)
    done: list[tuple[Archive, Path]] = []
    try:
        for a in archives:
            final = staging / a.filename
            if not final.exists():
                part = staging / (a.filename + ".part")
                url = _url(source, a, mirror)
                _fetch(url, part, a.size, name=source.name, root=target, progress=progress, timeout=timeout)
                _verify(part, a, source, target)
                os.replace(part, final)
            else:
                _verify(final, a, source, target)
            done.append((a, final))
    except DownloadError:
        if not any(staging.iterdir()):
            staging.rmdir()  # nothing fetched: leave no trace
        raise

    kept = 0
    for a, path in done:
        tmp = staging / f"unpack-{a.key}"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        try:
            _extract(path, a.fmt, tmp)
        except DownloadError:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        content = tmp
        entries = [p for p in tmp.iterdir()]
        if a.place and len(entries) == 1 and entries[0].is_dir() and entries[0].name.lower() == a.place.lower():
            content = entries[0]  # the archive carries its own top folder
        dest = target / a.place if a.place else target
        if not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(content, dest)
        else:
            kept += _merge(content, dest)
        shutil.rmtree(tmp, ignore_errors=True)

    marker = _read_marker(target)
    marker.setdefault("archives", {}).update(
        {a.filename: {"url": _url(source, a, mirror), "size": path.stat().st_size,
                      "checksum": f"{a.algorithm}:{a.checksum}" if a.checksum else None} for a, path in done})
    (target / MARKER).write_text(json.dumps(marker, indent=1, sort_keys=True) + "\n")
    if not keep_archives:
        for _, path in done:
            path.unlink(missing_ok=True)
        if not any(staging.iterdir()):
            staging.rmdir()
    say(f"Unpacked {len(done)} archive(s) into {target}"
        + (f"; {kept} file(s) already there were kept as they were." if kept else "."))
    text, code = check_report(source.name, target)
    say(text)
    return code
