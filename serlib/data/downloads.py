"""Download the free corpora from their publishers: ``serbook data download NAME``.

Emo-DB, RAVDESS, LibriSpeech and TESS may be fetched by anyone for research. This module
keeps, as data, where each publisher serves its archives, their published sizes and checksums
(with where each number comes from, or why there is none), the licence and the citation, and
does the download so that nothing is ever half-done:

1. Each archive is judged on its own. One this command unpacked is in place while every file it
   brought is still there (the marker file ``.serlib-download.json`` lists them); one from
   elsewhere is in place when the loader's full-release check passes for what it brings. An
   archive in place is not fetched again (RAVDESS speech, then ``--song``: only the song
   archive). If files it brought were deleted, it is unpacked again from the kept archive
   (``keep_archives``) or fetched again, and only the missing files are added. ``force=True``
   (``--force``) fetches and unpacks everything selected again, replacing the files the
   archives bring; the reader's own other files are left alone.
2. The licence and citation are printed and the reader confirms once (``yes=True`` /
   ``--yes`` for scripts; without a terminal and without ``--yes`` the command refuses).
3. Free space is checked before fetching (what is still to fetch, plus the content, taken as
   at least as large as the archives) and before unpacking (a zip's unpacked size from its
   member headers), on the staging and the corpus file systems; too little refuses early with
   "disk full at PATH: N needed, M free". A disk that fills up anyway is reported as a full
   disk, never as a damaged archive: the partial download is kept for resuming and a verified
   archive is kept for unpacking; only a real corruption (bad CRC, truncated stream) is called
   damaged.
4. Each archive is fetched into ``<root>/../.<root name>.download/<file>.part``, resuming
   with an HTTP ``Range`` request after an interruption (a resumed reply must start where the
   part file ends, else the file is fetched whole again), then its size and checksum are
   checked against the published ones. A mismatch stops everything before anything is
   unpacked; the bad file is kept beside (``.mismatch``) and named in the error.
5. Every archive is unpacked into a temporary folder next to the corpus folder (members that
   would land outside it, links and devices are refused; a ``.tar.gz`` is checked and unpacked
   in one pass over its stream, with tarfile's ``data`` filter, Python >= 3.11.4), then moved
   into place by renaming (copying, when the corpus folder is on another file system); files
   the reader already had are never overwritten. A Dataverse zip's ``MANIFEST.TXT`` is read:
   files the server left out (its size limit) are named in an error with how to fetch them one
   by one. Where a publisher's per-file checksums are bundled (``Archive.member_checksums``),
   each unpacked file is checked against them.
6. The archives are deleted (``keep_archives`` keeps them) and the data check report ends
   the run. No archive is copied, re-packed or cached anywhere else.

``SERLIB_DOWNLOAD_MIRROR`` (or ``mirror=``) replaces every publisher URL by
``<mirror>/<corpus>/<file name>``, for a local mirror of the same files (and for the tests).
Without network (the normal case on many clusters) the command fails with one line that names
the URL and the manual alternative: fetch the archive elsewhere, unpack it, and point
``data_root`` at the folder.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import http.client
import json
import os
import re
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

    ``member_checksums`` holds, where a publisher lists one per file, pairs of ``(file name,
    digest)`` with the algorithm in ``member_algorithm``; each unpacked file of that name is
    checked against it before anything is moved into place. It is empty where none are
    bundled here, and the provenance then says so.
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
    member_algorithm: str | None = None
    member_checksums: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Source:
    """A downloadable corpus: its archives, licence and citation.

    ``licence_source`` says where the licence and citation statements were read, and which
    of them could not be checked against the publisher's own pages.
    """

    name: str
    title: str
    homepage: str
    licence: str
    licence_url: str
    citation: str
    redistribution: str
    archives: tuple[Archive, ...]
    default: tuple[str, ...]
    licence_source: str = ""
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
        licence="no licence text found on the authors' pages; offered by them as a download, with the request "
        "that research using it cite the paper below",
        licence_url="http://emodb.bilderbar.info/docu/",
        citation="Burkhardt, F., Paeschke, A., Rolfes, M., Sendlmeier, W. F., & Weiss, B. (2005). A database of "
        "German emotional speech. Proc. Interspeech 2005, 1517-1520. https://doi.org/10.21437/Interspeech.2005-446",
        licence_source="read on the authors' documentation page http://emodb.bilderbar.info/docu/ and their page "
        "http://database.syntheticspeech.de/ (which asks research users to cite the paper), and the citation with its "
        "DOI on the ISCA archive page https://www.isca-speech.org/archive/interspeech_2005/burkhardt05b_interspeech.html; "
        "a licence statement (Creative Commons or other) could not be found or verified on the publisher's pages: if "
        "you need one, ask the authors",
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
        licence_source="licence, citation and data DOI as stated on Zenodo record 1188976 "
        "(https://zenodo.org/records/1188976) when this table was written; not re-read since",
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
        licence_source="licence and citation as stated on OpenSLR's page https://www.openslr.org/12 when this "
        "table was written; not re-read since",
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
        citation="Pichora-Fuller, M. Kathleen; Dupuis, Kate, 2020, \"Toronto emotional speech set (TESS)\", "
        "https://doi.org/10.5683/SP2/E8H2MF, Borealis, V1 (recorded 2010 at the University of Toronto)",
        redistribution="allowed unchanged, non-commercially, with attribution; no derivatives: never re-packed",
        licence_source="the citation follows the form Borealis gives for the dataset; its DOI, its publication on "
        "Borealis on 2020-02-13 and its version 1 were checked against the file records Borealis exports for the "
        "dataset, but the wording and author order of the citation line and the licence CC BY-NC-ND 4.0 could not "
        "be re-read on the Borealis page itself here: check both at https://doi.org/10.5683/SP2/E8H2MF",
        archives=(Archive(
            key="all",
            url="https://borealisdata.ca/api/access/dataset/:persistentId/?persistentId=doi:10.5683/SP2/E8H2MF",
            filename="TESS.zip",
            size=None, algorithm=None, checksum=None,
            provenance="none published for the archive: this zip of all files is assembled by the Dataverse on "
            "request; every member's CRC is checked while unpacking, the zip's MANIFEST.TXT is read for files the "
            "server left out, and the data check counts the recordings. Borealis lists an MD5 for each of the 2800 "
            "WAV files; they are not bundled here (member_checksums is empty), as they could not be read from "
            "Borealis when this table was written",
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


# --------------------------------------------------------------------------- disk space
_DISK_FULL = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})


def _disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` says a file system is full or a disk quota is used up."""
    return isinstance(exc, OSError) and exc.errno in _DISK_FULL


def _existing(path: Path) -> Path:
    """``path`` or its nearest existing parent folder: where free space can be measured."""
    path = Path(path)
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _space_needs(staging: Path, target: Path, *, fetch: int, unpack: int) -> dict[Path, int]:
    """Bytes needed on each file system: ``fetch`` more archive bytes and ``unpack`` bytes of content.

    The content is unpacked beside the archives (in the staging folder) and renamed into
    place; only where the corpus folder lies on another file system is it copied there too.
    """
    needs = {staging: fetch + unpack}
    if _existing(staging).stat().st_dev != _existing(target).stat().st_dev:
        needs[target] = unpack
    return needs


def _check_space(needs: dict[Path, int], what: str) -> None:
    """Refuse early, deleting nothing, when a file system has less free space than ``needs`` says."""
    for path, n in needs.items():
        where = _existing(path)
        free = shutil.disk_usage(where).free
        if n > 0 and free < n:
            raise DownloadError(
                f"disk full at {where}: {_human(n)} needed, {_human(free)} free ({what}). Nothing was deleted; free "
                f"space there, or pass --root on a disk with room, and run the command again.")


def _unpacked_size(path: Path, fmt: str) -> int | None:
    """The unpacked size of a zip from its member headers; ``None`` for a tar (known only by reading it)."""
    if fmt != "zip":
        return None
    try:
        with zipfile.ZipFile(path) as zf:
            return sum(i.file_size for i in zf.infolist() if not i.filename.startswith("__MACOSX/"))
    except (zipfile.BadZipFile, OSError):
        return None  # unpacking says what is wrong


# --------------------------------------------------------------------------- fetching
def _range_start(header: str | None) -> int | None:
    """The first byte of a ``Content-Range: bytes START-END/TOTAL`` header, or ``None``."""
    m = re.fullmatch(r"\s*bytes\s+(\d+)-\d+/(\d+|\*)\s*", header or "")
    return int(m.group(1)) if m else None


def _fetch(url: str, part: Path, size: int | None, *, name: str, root: Path, progress: bool,
           timeout: float, space: Callable[[int], None] | None = None,
           say: Callable[[str], None] | None = None) -> None:
    """Fetch ``url`` into ``part``, resuming from what ``part`` already holds.

    A resumed reply (206) must start at the byte the part file ends at, as its
    ``Content-Range`` header says; otherwise the part file is discarded and the whole file is
    fetched again. ``space`` is told how many bytes the reply will bring before any is
    written (it refuses when the disk lacks room).
    """
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
        if have and resp.status == 206:
            start = _range_start(resp.headers.get("Content-Range"))
            if start != have:
                resp.close()
                (say or (lambda s: None))(
                    f"{url} resumed at byte {start if start is not None else '(not stated)'} instead of {have}: the "
                    f"partial file {part.name} is discarded and the whole file is fetched again.")
                part.unlink()
                return _fetch(url, part, size, name=name, root=root, progress=progress, timeout=timeout,
                              space=space, say=say)
        if have and resp.status != 206:
            have = 0  # the server ignored the Range request: start over
        length = resp.headers.get("Content-Length")
        total = have + int(length) if length and length.isdigit() else size
        if space is not None and total is not None:
            space(total - have)
        got = have
        broke: BaseException | None = None
        try:
            with open(part, "ab" if have else "wb") as out, tqdm(
                    total=total, initial=have, unit="B", unit_scale=True, desc=part.name.removesuffix(".part"),
                    disable=not progress, file=sys.stderr) as bar:
                while True:
                    try:
                        chunk = resp.read(_CHUNK)
                    except (OSError, http.client.HTTPException) as exc:
                        broke = exc
                        break
                    if not chunk:
                        break
                    out.write(chunk)
                    got += len(chunk)
                    bar.update(len(chunk))
        except OSError as exc:  # writing the part file
            if _disk_full(exc):
                more = f"{_human(total - got)} more needed" if total is not None else "more room needed"
                raise DownloadError(
                    f"disk full at {part.parent}, {more} to finish {part.name} ({got} bytes written). The partial "
                    f"file is kept and the next run resumes from it: free space there and run the command again."
                ) from exc
            raise DownloadError(f"cannot write {part} ({exc}); the partial file is kept and the next run resumes "
                                "from it.") from exc
    if broke is not None:
        raise DownloadError(
            f"the download of {url} broke off after {got} of {total or '?'} bytes ({broke!r}); the partial "
            f"file {part} is kept and the next run resumes from it.") from broke
    if total is not None and got < total:
        raise DownloadError(f"the download of {url} broke off after {got} of {total} bytes; the partial file {part} "
                            "is kept and the next run resumes from it.")
    return None


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


# --------------------------------------------------------------------------- unpacking
_DAMAGED = (zipfile.BadZipFile, tarfile.TarError, zlib.error, EOFError, gzip.BadGzipFile)
"""What a damaged archive raises (a CRC mismatch is a ``BadZipFile``); any other ``OSError`` is
the file system's, never the archive's."""


def _safe_name(name: str, archive: Path) -> PurePosixPath:
    p = PurePosixPath(name.replace("\\", "/"))
    if p.is_absolute() or ".." in p.parts or (p.parts and ":" in p.parts[0]):
        raise DownloadError(f"{archive} holds the member {name!r}, which would land outside the folder it is "
                            "unpacked into; nothing was unpacked. The archive is not the published one: delete it.")
    return p


def _extract_zip(path: Path, dest: Path) -> None:
    with zipfile.ZipFile(path) as zf:
        members = []
        for info in zf.infolist():
            _safe_name(info.filename, path)
            if ((info.external_attr >> 16) & 0o170000) == 0o120000:
                raise DownloadError(f"{path} holds a symbolic link {info.filename!r}; nothing was unpacked.")
            if not info.filename.startswith("__MACOSX/"):
                members.append(info)
        zf.extractall(dest, members=members)


def _extract_tar(path: Path, dest: Path) -> None:
    """Check and unpack each member as the compressed stream passes: it is decompressed once."""
    if not hasattr(tarfile, "data_filter"):
        raise DownloadError(f"unpacking {path} safely needs tarfile's extraction filters, which came with Python "
                            f"3.11.4; this is Python {sys.version.split()[0]}. Upgrade Python (serbook requires "
                            ">= 3.11.4) and run the command again; the archive is kept.")
    with open(path, "rb") as f, tarfile.open(fileobj=f, mode="r|gz") as tf:
        for m in tf:
            _safe_name(m.name, path)
            if not (m.isfile() or m.isdir()):
                raise DownloadError(f"{path} holds {m.name!r}, which is not a plain file or folder; nothing was "
                                    "unpacked.")
            tf.extract(m, dest, filter="data")


def _extract(path: Path, fmt: str, dest: Path, need: int | None = None) -> None:
    """Unpack ``path`` into ``dest``, refusing members outside it, links and devices.

    A damaged archive (bad CRC, truncated or corrupt stream) is reported as such; a full disk
    is reported as a full disk, and the archive, which was verified, is kept.
    """
    try:
        (_extract_zip if fmt == "zip" else _extract_tar)(path, dest)
    except DownloadError:
        raise
    except _DAMAGED as exc:
        raise DownloadError(f"{path} cannot be unpacked ({exc}); it is damaged. Delete it and run the command "
                            "again.") from exc
    except OSError as exc:
        if _disk_full(exc):
            size = f"{_human(need)} needed to unpack it" if need else "more room needed to unpack it"
            raise DownloadError(
                f"disk full at {dest.parent}, {size} ({exc.strerror}). The archive {path} is intact and is kept: "
                "free space there and run the command again; it is unpacked from there without downloading."
            ) from exc
        raise DownloadError(f"cannot unpack {path} into {dest} ({exc}); the archive is kept.") from exc


_MANIFEST_LINE = re.compile(r"^(?P<name>.+?)\s+\((?P<type>[^()]*)\)\s*(?P<rest>.*)$")


def _left_out(content: Path) -> list[str]:
    """Files a Dataverse bulk zip's ``MANIFEST.TXT`` says were skipped (a size limit of the server).

    The manifest lists one file a line, ``name (media type) ...``; a file left out of the zip
    has the word "skipped" on its line. Looked for at the top of the content and one level down.
    """
    places = [content] + [d for d in content.iterdir() if d.is_dir()]
    out: list[str] = []
    for folder in places:
        for f in folder.iterdir():
            if f.name.lower() != "manifest.txt" or not f.is_file():
                continue
            for line in f.read_text(errors="replace").splitlines():
                line = line.strip()
                if "skipped" not in line.lower():
                    continue
                m = _MANIFEST_LINE.match(line)
                out.append(m["name"] if m else line[:line.lower().index("skipped")].strip())
    return [n for n in out if n]


def _check_members(content: Path, archive: Archive, path: Path, root: Path) -> list[str]:
    """Each unpacked file with a published per-file checksum against it; returns those absent."""
    if not archive.member_checksums or not archive.member_algorithm:
        return []
    want = {name: digest.lower() for name, digest in archive.member_checksums}
    found = {f.name: f for f in content.rglob("*") if f.is_file() and f.name in want}
    bad = sorted(n for n, f in found.items() if _digest(f, archive.member_algorithm) != want[n])
    if bad:
        raise DownloadError(
            f"{len(bad)} file(s) unpacked from {path.name} differ from their published {archive.member_algorithm} "
            f"sums: {', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''}. Nothing of it was moved into {root}; the "
            f"archive is kept at {path}. Delete it and run the command again.")
    return sorted(set(want) - set(found))


def _renamed(src: Path, dst: Path) -> bool:
    """Rename ``src`` to ``dst``; ``False``, with nothing done, when they are on different file
    systems (EXDEV), where the caller copies instead. Any other error is raised."""
    try:
        os.replace(src, dst)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        return False
    return True


def _move_file(src: Path, dst: Path) -> None:
    """Rename ``src`` to ``dst``; across file systems, copy to a temporary name beside ``dst`` first."""
    if _renamed(src, dst):
        return
    tmp = dst.with_name(f".{dst.name}.serlib-copy")
    try:
        shutil.copy2(src, tmp)
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)  # never leave a half-copied file under its real name
        raise
    src.unlink()


def _merge(src: Path, dst: Path, overwrite: bool = False) -> int:
    """Move ``src``'s content into ``dst``; existing files are kept unless ``overwrite``. Returns their count.

    Moves are renames; where ``dst`` is on another file system, files are copied.
    """
    kept = 0
    for entry in sorted(src.iterdir()):
        target = dst / entry.name
        exists = target.exists() or target.is_symlink()
        if entry.is_dir():
            if not exists:
                if _renamed(entry, target):
                    continue
                target.mkdir()
            if target.is_dir():
                kept += _merge(entry, target, overwrite)
            else:
                kept += 1
        elif not exists or (overwrite and target.is_file() and not target.is_symlink()):
            _move_file(entry, target)
        else:
            kept += 1
    return kept


def _place(content: Path, dest: Path, overwrite: bool) -> int:
    """Move the unpacked ``content`` to ``dest`` (renamed whole when ``dest`` is new); returns files kept."""
    if not dest.exists() and not dest.is_symlink():
        dest.parent.mkdir(parents=True, exist_ok=True)
        if _renamed(content, dest):
            return 0
        dest.mkdir()
    return _merge(content, dest, overwrite)


# --------------------------------------------------------------------------- what is there
def _read_marker(root: Path) -> dict[str, Any]:
    try:
        return json.loads((root / MARKER).read_text())
    except (OSError, ValueError):
        return {}


def _complete(name: str, root: Path, archive: Archive) -> bool:
    """Whether ``root`` holds the full release of what ``archive`` brings (the loader's full-release check)."""
    from .loading import load_corpus

    try:
        if name == "librispeech":
            return (root / "LibriSpeech" / archive.key).is_dir() or (root / archive.key).is_dir()
        if name == "ravdess":
            load_corpus(name, root, vocal_channel=archive.key, expect_full=True)
        else:
            load_corpus(name, root, expect_full=True)
    except (CorpusError, ParameterError):
        return False
    return True


def _still_needed(name: str, root: Path, archives: Sequence[Archive], *,
                  force: bool = False) -> list[tuple[Archive, str]]:
    """The archives of ``archives`` that ``root`` still lacks, each with the reason; none when in place.

    Each archive is judged on its own. One this command unpacked there is in place while every
    file it brought is still there (the marker file lists them); if some were deleted, it is
    needed again to restore them. One the marker does not list (a tree from elsewhere, or a
    marker without a file list) is in place when the loader's full-release check passes for
    what it brings. ``force`` needs them all.
    """
    if force:
        return [(a, "--force: fetched and unpacked again, replacing the files it brings") for a in archives]
    if not root.is_dir():
        return [(a, "") for a in archives]
    done = _read_marker(root).get("archives", {})
    todo: list[tuple[Archive, str]] = []
    for a in archives:
        entry = done.get(a.filename)
        files = entry.get("files") if isinstance(entry, dict) else None
        if isinstance(files, list):
            missing = [f for f in files if not (root / f).exists()]
            if missing:
                todo.append((a, f"{len(missing)} of the {len(files)} files it brought are missing (such as "
                                f"{missing[0]}); they are restored and the files present are kept"))
        elif not _complete(name, root, a):
            todo.append((a, "" if entry is None else "the data check finds its part incomplete; what is missing "
                                                      "is restored and the files present are kept"))
    return todo


def _left_out_message(source: Source, root: Path, left: list[tuple[str, list[str]]]) -> str:
    names = [n for _, ns in left for n in ns]
    shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
    return (f"{source.title} is incomplete: the server left {len(names)} file(s) out of "
            f"{' and '.join(f for f, _ in left)} (its MANIFEST.TXT lists them as skipped, a size limit of the "
            f"server's bulk download): {shown}. The files that arrived are unpacked into {root}. Download each "
            f"missing file on its own from the dataset page {source.homepage} (the file list offers every file "
            f"separately), put it into {root}, and run `serbook data check {source.name} {root}`.")


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


def _write_marker(target: Path, filename: str, record: dict[str, Any]) -> None:
    marker = _read_marker(target)
    marker.setdefault("archives", {})[filename] = record
    tmp = target / (MARKER + ".tmp")
    tmp.write_text(json.dumps(marker, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, target / MARKER)


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
    force: bool = False,
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
        Keep the downloaded archives in ``<root>/../.<root name>.download/``; a later repair
        unpacks them again instead of downloading.
    force
        Fetch and unpack every selected archive again, even one in place or kept, replacing the
        files it brings; the reader's other files are left alone.
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
        (3 partial or warnings, 4 errors).

    Raises
    ------
    DownloadError
        No network, an interrupted download (resumable), too little disk space (nothing
        verified is deleted), a size or checksum mismatch, a damaged or unsafe archive, files
        the server left out of its zip; :class:`ConfirmationNeeded` without a terminal and ``yes``.
    """
    from .registry import resolve_root

    say = out or (lambda s: print(s, flush=True))
    source = _source(name)
    archives = select_archives(source.name, song=song, subsets=subsets)
    target = Path(os.path.abspath(resolve_root(source.name, root)))
    mirror = mirror if mirror is not None else os.environ.get(MIRROR_ENV) or None
    staging = target.parent / f".{target.name}.download"

    needed = _still_needed(source.name, target, archives, force=force)
    if not needed:
        say(f"{source.title} is already in {target} (every file its archives brought is there, or the data check "
            "finds the full release); nothing was downloaded.")
        text, code = check_report(source.name, target)
        say(text)
        recorded = _read_marker(target).get("archives", {})
        left = [(a.filename, [n for n in recorded.get(a.filename, {}).get("left_out", [])
                              if not list(target.rglob(PurePosixPath(n).name))]) for a in archives]
        left = [(f, ns) for f, ns in left if ns]
        if left:
            say(_left_out_message(source, target, left))
            return code or 3
        return code
    archives = [a for a, _ in needed]

    if force:  # nothing kept from before is reused
        for a in archives:
            for stale in (staging / a.filename, staging / (a.filename + ".part")):
                stale.unlink(missing_ok=True)

    total = sum(a.size or 0 for a in archives)
    lines = [f"{source.title}", f"  licence:  {source.licence} ({source.licence_url})",
             f"  cite:     {source.citation}", f"  redistribution: {source.redistribution}",
             f"  into:     {target}"]
    for a, why in needed:
        kept_archive = (staging / a.filename).exists()
        how = f"unpack the kept {staging / a.filename}" if kept_archive else f"fetch {_url(source, a, mirror)}"
        lines.append(f"  {how} ({_human(a.size)}; "
                     + (f"{a.algorithm} {a.checksum}" if a.checksum else "no published checksum") + ")"
                     + (f"\n            {why}" if why else ""))
    say("\n".join(lines))

    # Room for what is still to fetch and for the unpacked content: a zip already here knows its
    # unpacked size; otherwise the content is taken as at least as large as its archive (audio
    # barely compresses), so the check refuses only what cannot fit.
    fetch = unpack = 0
    for a in archives:
        final, part = staging / a.filename, staging / (a.filename + ".part")
        if final.exists():
            unpack += _unpacked_size(final, a.fmt) or final.stat().st_size
        elif a.size is not None:
            fetch += max(a.size - (part.stat().st_size if part.exists() else 0), 0)
            unpack += a.size
    _check_space(_space_needs(staging, target, fetch=fetch, unpack=unpack),
                 "the archives still to fetch, plus their content, taken as at least as large as the archives")

    if not yes and not _ask(f"Accept the licence and download {_human(total) if total else 'the archive'}?",
                            stdin, say):
        say("Nothing was downloaded.")
        return 1

    staging.mkdir(parents=True, exist_ok=True)
    done: list[tuple[Archive, Path]] = []
    try:
        for a in archives:
            final = staging / a.filename
            if not final.exists():
                part = staging / (a.filename + ".part")
                url = _url(source, a, mirror)

                def space(n: int, a: Archive = a) -> None:
                    _check_space(_space_needs(staging, target, fetch=n, unpack=a.size or n),
                                 f"the rest of {a.filename}, plus its content, taken as at least as large")

                _fetch(url, part, a.size, name=source.name, root=target, progress=progress, timeout=timeout,
                       space=space, say=say)
                _verify(part, a, source, target)
                os.replace(part, final)
            else:
                _verify(final, a, source, target)
            done.append((a, final))
    except DownloadError:
        if staging.is_dir() and not any(staging.iterdir()):
            staging.rmdir()  # nothing fetched: leave no trace
        raise

    kept = 0
    left: list[tuple[str, list[str]]] = []
    for a, path in done:
        size = _unpacked_size(path, a.fmt)
        _check_space(_space_needs(staging, target, fetch=0, unpack=size or path.stat().st_size),
                     f"the content of {path.name}, " + ("from its member headers" if size is not None else
                                                        "taken as at least as large as the archive"))
        tmp = staging / f"unpack-{a.key}"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        try:
            _extract(path, a.fmt, tmp, need=size)
            content = tmp
            entries = list(tmp.iterdir())
            if (a.place and len(entries) == 1 and entries[0].is_dir()
                    and entries[0].name.lower() == a.place.lower()):
                content = entries[0]  # the archive carries its own top folder
            missing = _left_out(content) + _check_members(content, a, path, target)
            prefix = PurePosixPath(a.place) if a.place else PurePosixPath()
            files = sorted((prefix / p.relative_to(content).as_posix()).as_posix()
                           for p in content.rglob("*") if p.is_file())
            dest = target / a.place if a.place else target
            try:
                kept += _place(content, dest, overwrite=force)
                _write_marker(target, a.filename, {
                    "url": _url(source, a, mirror), "size": path.stat().st_size,
                    "checksum": f"{a.algorithm}:{a.checksum}" if a.checksum else None,
                    "files": files, "left_out": missing})
            except OSError as exc:
                if _disk_full(exc):
                    raise DownloadError(
                        f"disk full at {target}, {_human(size or path.stat().st_size)} needed to move the content "
                        f"of {path.name} into place. The archive {path} is intact and is kept, and the files "
                        "already moved stay: free space there and run the command again; it restores the rest "
                        "from the kept archive.") from exc
                raise DownloadError(f"cannot move the content of {path.name} into {target} ({exc}); the archive "
                                    f"{path} is kept.") from exc
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        if missing:
            left.append((a.filename, missing))

    if not keep_archives:
        for _, path in done:
            path.unlink(missing_ok=True)
        if not any(staging.iterdir()):
            staging.rmdir()
    say(f"Unpacked {len(done)} archive(s) into {target}"
        + (f"; {kept} file(s) already there were kept as they were." if kept else "."))
    text, code = check_report(source.name, target)
    say(text)
    if left:
        raise DownloadError(_left_out_message(source, target, left))
    return code
