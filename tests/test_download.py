"""``serbook data download`` against a local HTTP server started by the tests.

The server (``http.server`` on 127.0.0.1, in a thread) serves archives built from the fixture
trees of ``serlib.data.fixtures``; the tests publish them with test-only sizes and checksums in
place of the real ones. It honours ``Range`` requests and can drop the connection half-way.
"""

from __future__ import annotations

import dataclasses
import errno
import gzip
import hashlib
import io
import os
import shutil
import socket
import tarfile
import threading
import zipfile
import zlib
from collections import namedtuple
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from serlib.cli import main
from serlib.config import ParameterError
from serlib.data import downloads as dl
from serlib.data import load_corpus
from serlib.data.downloads import MARKER, SOURCES, ConfirmationNeeded, DownloadError, download
from serlib.data.fixtures import make_fixture
from serlib.data.registry import available_corpora

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- the server
class _State:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.drop_after: dict[str, int] = {}  # path -> bytes sent before the connection drops (once)
        self.ranges = True
        self.range_start: int | None = None  # answer a Range request from this byte instead (a faulty server)


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        st: _State = self.server.state  # type: ignore[attr-defined]
        rng = self.headers.get("Range")
        st.requests.append((self.path, rng))
        data = st.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        start = 0
        if rng and st.ranges:
            start = int(rng.split("=", 1)[1].split("-", 1)[0])
            if st.range_start is not None:
                start = st.range_start
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        cut = st.drop_after.pop(self.path, None)
        self.wfile.write(body if cut is None else body[:cut])
        self.wfile.flush()
        self.close_connection = True  # HTTP/1.0: the socket closes, short of Content-Length if cut

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.state = _State()  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"  # type: ignore[attr-defined]
    yield httpd
    httpd.shutdown()
    httpd.server_close()


# --------------------------------------------------------------------------- archives
def zip_bytes(base: Path, prefix: str = "", only=lambda p: True, extra: dict[str, bytes] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(base.rglob("*")):
            if p.is_file() and only(p):
                zf.write(p, prefix + p.relative_to(base).as_posix())
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return buf.getvalue()


def tar_bytes(base: Path, members: list[Path]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for p in members:
            tf.add(p, arcname=p.relative_to(base).as_posix())
    return buf.getvalue()


def publish(monkeypatch, server, name: str, payloads: dict[str, bytes], **changes) -> None:
    """Serve ``payloads`` (archive key -> bytes) and put test-only sizes and md5 sums in the table."""
    source = SOURCES[name]
    archives = []
    for a in source.archives:
        if a.key in payloads:
            data = payloads[a.key]
            fields = {"size": len(data), "algorithm": "md5", "checksum": hashlib.md5(data).hexdigest(),
                      "provenance": "test-only checksum", **changes}
            a = dataclasses.replace(a, **fields)
            server.state.files[f"/{name}/{a.filename}"] = data
        archives.append(a)
    monkeypatch.setitem(SOURCES, name, dataclasses.replace(source, archives=tuple(archives)))


@pytest.fixture
def emodb_zip(tmp_path_factory):
    """Emo-DB's download.zip as the authors serve it: wav/ (and the label folders) at the top."""
    src = make_fixture("emodb", tmp_path_factory.mktemp("emodb_src"))
    return zip_bytes(src, extra={"erklaerung.txt": b"Erklaerung der Dateinamen\n"})


class _TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(root: Path, server, name: str = "emodb", **kw) -> tuple[int, str]:
    lines: list[str] = []
    code = download(name, root, yes=kw.pop("yes", True), mirror=server.url, progress=False, out=lines.append, **kw)
    return code, "\n".join(lines)


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file())


# --------------------------------------------------------------------------- the real table
def test_the_real_table_has_every_field_for_every_archive():
    registry = available_corpora()
    assert set(SOURCES) == {"emodb", "ravdess", "librispeech", "tess"}
    digest_len = {"md5": 32, "sha1": 40, "sha256": 64}
    for name, source in SOURCES.items():
        assert name in registry and source.name == name
        for text in (source.title, source.homepage, source.licence, source.licence_url, source.citation,
                     source.redistribution):
            assert isinstance(text, str) and len(text) >= 5, (name, text)
        assert source.default and all(source.archive(k) for k in source.default)
        for a in source.archives:
            assert a.url.startswith(("https://", "http://")) and a.filename and a.fmt in ("zip", "tar.gz")
            assert a.provenance and len(a.provenance) > 20
            assert a.size is None or (isinstance(a.size, int) and a.size > 1_000_000)
            if a.checksum is None:
                # a missing number is said to be missing, and why
                assert a.algorithm is None and a.provenance.startswith("none published"), a
            else:
                assert a.algorithm in digest_len and len(a.checksum) == digest_len[a.algorithm]
                int(a.checksum, 16)
                assert a.size is not None, a
    # the licences agree with the loaders' own
    for name in ("ravdess", "librispeech", "tess"):
        assert SOURCES[name].licence == registry[name].licence
    assert SOURCES["ravdess"].archive("speech").checksum == "bc696df654c87fed845eb13823edef8a"
    assert {a.key for a in SOURCES["librispeech"].archives} == {
        "dev-clean", "dev-other", "test-clean", "test-other", "train-clean-100", "train-clean-360",
        "train-other-500"}


def test_options_are_checked():
    assert [a.key for a in dl.select_archives("ravdess")] == ["speech"]
    assert [a.key for a in dl.select_archives("ravdess", song=True)] == ["speech", "song"]
    assert [a.key for a in dl.select_archives("librispeech")] == ["dev-clean"]
    assert [a.key for a in dl.select_archives("librispeech", subsets=["test-clean", "dev-other"])] == [
        "test-clean", "dev-other"]
    with pytest.raises(ParameterError, match="train-clean-999"):
        dl.select_archives("librispeech", subsets=["train-clean-999"])
    with pytest.raises(ParameterError, match="RAVDESS option"):
        dl.select_archives("emodb", song=True)
    with pytest.raises(ParameterError, match="LibriSpeech option"):
        dl.select_archives("tess", subsets=["dev-clean"])
    with pytest.raises(ParameterError, match="cannot be downloaded"):
        dl.select_archives("iemocap")
    assert main(["data", "download", "iemocap", "--yes"]) == 2


# --------------------------------------------------------------------------- emodb end to end
def test_full_download_unpacks_the_loader_layout_and_passes_the_check(tmp_path, server, monkeypatch, emodb_zip):
    publish(monkeypatch, server, "emodb", {"all": emodb_zip})
    root = tmp_path / "data" / "emodb"
    code, said = run(root, server)
    assert code == 3  # the fixture is a partial copy: 70 of 535 files
    assert "PARTIAL: loads 70 utterances" in said and "Burkhardt" in said and "Unpacked 1 archive(s)" in said
    assert len(list((root / "wav").glob("*.wav"))) == 70 and (root / "erklaerung.txt").is_file()
    assert len(load_corpus("emodb", root)) == 70
    assert dl.check_report("emodb", root)[1] == 3
    # nothing left beside the corpus, no archive kept or copied anywhere
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["emodb"]
    assert not [p for p in tmp_path.rglob("*") if p.suffix in (".zip", ".part", ".gz")]
    assert (root / MARKER).is_file()
    assert server.state.requests == [("/emodb/download.zip", None)]


def test_a_second_call_finds_the_corpus_and_does_nothing(tmp_path, server, monkeypatch, emodb_zip):
    publish(monkeypatch, server, "emodb", {"all": emodb_zip})
    root = tmp_path / "emodb"
    run(root, server)
    before = {p: p.stat().st_mtime_ns for p in files_under(root)}
    server.state.requests.clear()
    code, said = run(root, server, yes=False, stdin=io.StringIO(""))  # not even asked
    assert code == 3 and "already in" in said and "nothing was downloaded" in said
    assert server.state.requests == []
    assert {p: p.stat().st_mtime_ns for p in files_under(root)} == before


def test_a_complete_copy_from_elsewhere_is_left_alone(tmp_path, server, monkeypatch):
    # a tree not made by the command counts as present when the loader's full-release check passes
    root = make_fixture("emodb", tmp_path)
    monkeypatch.setattr("serlib.data.emodb.FULL_COUNTS", {lab: 10 for lab in
                                                          ("anger", "boredom", "disgust", "fear", "happiness",
                                                           "sadness", "neutral")})
    code, said = run(root, server)
    assert "already in" in said and server.state.requests == []
    assert code == 3


def test_an_interrupted_download_keeps_a_part_file_and_resumes(tmp_path, server, monkeypatch, emodb_zip):
    publish(monkeypatch, server, "emodb", {"all": emodb_zip})
    half = len(emodb_zip) // 2
    server.state.drop_after["/emodb/download.zip"] = half
    root = tmp_path / "emodb"
    with pytest.raises(DownloadError, match="broke off") as err:
        run(root, server)
    assert "resumes" in str(err.value)
    part = tmp_path / ".emodb.download" / "download.zip.part"
    assert part.stat().st_size == half
    assert not root.exists()  # no unpacked tree
    code, _ = run(root, server)
    assert code == 3 and len(load_corpus("emodb", root)) == 70
    assert server.state.requests == [("/emodb/download.zip", None), ("/emodb/download.zip", f"bytes={half}-")]
    assert not (tmp_path / ".emodb.download").exists()


def test_a_server_that_ignores_range_restarts_the_download(tmp_path, server, monkeypatch, emodb_zip):
    publish(monkeypatch, server, "emodb", {"all": emodb_zip})
    server.state.drop_after["/emodb/download.zip"] = 1000
    server.state.ranges = False
    root = tmp_path / "emodb"
    with pytest.raises(DownloadError):
        run(root, server)
    code, _ = run(root, server)
    assert code == 3 and len(load_corpus("emodb", root)) == 70


def test_a_checksum_mismatch_names_the_file_and_sum_and_touches_nothing(tmp_path, server, monkeypatch, emodb_zip):
    publish(monkeypatch, server, "emodb", {"all": emodb_zip}, checksum="0" * 32)
    root = tmp_path / "emodb"
    (root / "wav").mkdir(parents=True)
    mine = root / "wav" / "my_notes.txt"
    mine.write_text("the reader's own file")
    with pytest.raises(DownloadError) as err:
        run(root, server)
    msg = str(err.value)
    assert "download.zip" in msg and "md5" in msg and "0" * 32 in msg
    assert hashlib.md5(emodb_zip).hexdigest() in msg and "Delete it" in msg and "test-only checksum" in msg
    assert files_under(root) == [mine] and mine.read_text() == "the reader's own file"
    assert (tmp_path / ".emodb.download" / "download.zip.mismatch").stat().st_size == len(emodb_zip)


def test_a_size_mismatch_stops_before_unpacking(tmp_path, server, monkeypatch, emodb_zip):
    publish(monkeypatch, server, "emodb", {"all": emodb_zip}, size=len(emodb_zip) + 1)
    root = tmp_path / "emodb"
    with pytest.raises(DownloadError, match="published size"):
        run(root, server)
    assert not root.exists()


def test_a_server_that_is_down_is_one_clear_line(tmp_path, monkeypatch, emodb_zip):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("SERLIB_DOWNLOAD_MIRROR", f"http://127.0.0.1:{port}")
    root = tmp_path / "emodb"
    with pytest.raises(DownloadError) as err:
        download("emodb", root, yes=True, progress=False, out=lambda s: None, timeout=5)
    msg = str(err.value)
    assert "\n" not in msg
    assert f"http://127.0.0.1:{port}/emodb/download.zip" in msg and "data_root" in msg and "another machine" in msg
    assert not root.exists() and list(tmp_path.iterdir()) == []


def test_the_licence_prompt(tmp_path, server, monkeypatch, emodb_zip, capsys):
    publish(monkeypatch, server, "emodb", {"all": emodb_zip})
    root = tmp_path / "emodb"
    # no terminal and no --yes: refused, nothing fetched
    with pytest.raises(ConfirmationNeeded, match="--yes"):
        run(root, server, yes=False, stdin=io.StringIO("y\n"))
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    assert main(["data", "download", "emodb", "--root", str(root), "--mirror", server.url, "-q"]) == 2
    err = capsys.readouterr()
    assert "--yes" in err.err and "Burkhardt" in err.out and "licence" in err.out
    # a terminal: "n" declines
    code, said = run(root, server, yes=False, stdin=_TTY("n\n"))
    assert code == 1 and "Nothing was downloaded" in said and "[y/N]" in said
    assert server.state.requests == [] and not root.exists()
    # "y" accepts
    code, said = run(root, server, yes=False, stdin=_TTY("y\n"))
    assert code == 3 and len(load_corpus("emodb", root)) == 70


def test_the_command_line(tmp_path, server, monkeypatch, emodb_zip, capsys):
    publish(monkeypatch, server, "emodb", {"all": emodb_zip})
    root = tmp_path / "emodb"
    assert main(["data", "download", "emodb", "--root", str(root), "--yes", "--mirror", server.url, "-q"]) == 3
    out = capsys.readouterr().out
    assert "serbook data check emodb" in out and "PARTIAL: loads 70 utterances" in out
    assert main(["data", "download", "emodb", "--song", "--yes"]) == 2
    monkeypatch.setenv("SERLIB_DOWNLOAD_MIRROR", server.url)
    server.state.requests.clear()
    assert main(["data", "download", "emodb", "--root", str(root), "--yes"]) == 3
    assert "already in" in capsys.readouterr().out and server.state.requests == []
    monkeypatch.setenv("SERLIB_DATA", str(tmp_path / "elsewhere"))
    assert main(["data", "download", "emodb", "--yes", "-q"]) == 3  # default root
    assert len(load_corpus("emodb")) == 70
    assert main(["data", "list"]) == 0
    listing = capsys.readouterr().out
    assert "tess" in listing and "serbook data download tess" in listing


# --------------------------------------------------------------------------- unsafe archives
def test_an_archive_reaching_outside_its_folder_is_refused(tmp_path, server, monkeypatch):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("wav/03a01Fa.wav", b"RIFF")
        zf.writestr("../../escaped.txt", b"outside")
    publish(monkeypatch, server, "emodb", {"all": buf.getvalue()})
    root = tmp_path / "data" / "emodb"
    with pytest.raises(DownloadError, match="outside"):
        run(root, server)
    assert not root.exists() and not list(tmp_path.rglob("escaped.txt"))


def test_a_tar_with_a_link_is_refused(tmp_path, server, monkeypatch):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        link = tarfile.TarInfo("LibriSpeech/dev-clean/evil")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(link)
    publish(monkeypatch, server, "librispeech", {"dev-clean": buf.getvalue()})
    with pytest.raises(DownloadError, match="not a plain file"):
        run(tmp_path / "librispeech", server, "librispeech")
    assert not (tmp_path / "librispeech").exists()


# --------------------------------------------------------------------------- the other corpora
def test_librispeech_subsets_arrive_one_by_one_and_merge(tmp_path, server, monkeypatch):
    src = make_fixture("librispeech", tmp_path / "src")  # .../LibriSpeech
    top = src.parent
    meta = [src / "SPEAKERS.TXT"]
    tars = {s: tar_bytes(top, meta + sorted((src / s).rglob("*"))) for s in ("dev-clean", "train-clean-100")}
    publish(monkeypatch, server, "librispeech", tars)
    root = tmp_path / "librispeech"
    code, said = run(root, server, "librispeech")  # default: dev-clean
    assert code == 3 and len(load_corpus("librispeech", root)) == 9
    code, said = run(root, server, "librispeech", subsets=["train-clean-100"])
    assert code == 3 and "1 file(s) already there were kept" in said  # SPEAKERS.TXT
    assert len(load_corpus("librispeech", root)) == 11
    server.state.requests.clear()
    _, said = run(root, server, "librispeech", subsets=["dev-clean", "train-clean-100"])
    assert "already in" in said and server.state.requests == []


def test_ravdess_speech_and_song(tmp_path, server, monkeypatch):
    src = make_fixture("ravdess", tmp_path / "src")  # .../RAVDESS/Actor_NN
    speech = zip_bytes(src, only=lambda p: p.name.startswith("03-01"))
    song = zip_bytes(src, prefix="Audio_Song_Actors_01-24/", only=lambda p: p.name.startswith("03-02"))
    publish(monkeypatch, server, "ravdess", {"speech": speech, "song": song})
    root = tmp_path / "ravdess"
    assert run(root, server, "ravdess")[0] == 3
    assert len(load_corpus("ravdess", root)) == 48
    server.state.requests.clear()
    code, said = run(root, server, "ravdess", song=True)
    assert code == 3 and "CC BY-NC-SA 4.0" in said and "Livingstone" in said
    # the speech archive is already unpacked there: only the song archive is fetched
    assert server.state.requests == [("/ravdess/Audio_Song_Actors_01-24.zip", None)]
    assert len(load_corpus("ravdess", root, vocal_channel="both")) == 50
    # an archive carrying its own top folder is not nested twice
    assert (root / "Audio_Song_Actors_01-24" / "Actor_01").is_dir()


def test_tess_flat_dataverse_zip(tmp_path, server, monkeypatch):
    src = make_fixture("tess", tmp_path / "src")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:  # the Dataverse bulk zip: every file at the top, plus a manifest
        for p in sorted(src.rglob("*.wav")):
            zf.write(p, p.name)
        zf.writestr("MANIFEST.TXT", "Files of doi:10.5683/SP2/E8H2MF\n")
    publish(monkeypatch, server, "tess", {"all": buf.getvalue()})
    root = tmp_path / "tess"
    code, said = run(root, server, "tess")
    assert code == 3 and "CC BY-NC-ND 4.0" in said and "Dupuis" in said
    assert len(load_corpus("tess", root)) == 28


# --------------------------------------------------------------------------- a chapter on it
@pytest.mark.slow
def test_chapter_4_runs_in_the_smoke_profile_on_a_downloaded_emodb(tmp_path, server, monkeypatch, emodb_zip,
                                                                  tmp_cache, kernel_session):
    import pandas as pd

    from serlib.run import execute

    publish(monkeypatch, server, "emodb", {"all": emodb_zip})
    root = tmp_path / "emodb"
    assert main(["data", "download", "emodb", "--root", str(root), "--yes", "--mirror", server.url, "-q"]) == 3
    nb = ROOT / "notebooks" / "04_leow_speaker_adversarial.py"
    execute(nb, {"profile": "smoke", "corpus": "emodb", "data_root": str(root)}, output_dir=tmp_path / "out",
            progress=False, session=kernel_session)
    res = tmp_path / "out" / f"{nb.stem}.results"
    t1 = pd.read_csv(res / "table1.csv", index_col=0)
    assert t1["ours accuracy (%)"].dropna().between(0, 100).all() and len(t1["ours accuracy (%)"].dropna())


# --------------------------------------------------------------------------- licences
def test_every_licence_and_citation_says_where_it_was_read():
    for name, source in SOURCES.items():
        assert len(source.licence_source) > 40, name
    # what could not be verified is said to be so, not guessed
    assert "could not" in SOURCES["emodb"].licence_source and "no licence" in SOURCES["emodb"].licence
    assert "10.21437/Interspeech.2005-446" in SOURCES["emodb"].citation
    tess = SOURCES["tess"]
    assert "could not" in tess.licence_source and "10.5683/SP2/E8H2MF" in tess.licence_source
    assert "Borealis, V1" in tess.citation and "Pichora-Fuller" in tess.citation
    # per-file checksums are a field of the table; none are bundled, and the provenance says so
    assert tess.archive("all").member_checksums == () and "not bundled" in tess.archive("all").provenance


# --------------------------------------------------------------------------- disk space
_Usage = namedtuple("_Usage", "total used free")


def test_too_little_disk_space_refuses_before_fetching(tmp_path, server, monkeypatch, emodb_zip):
    publish(monkeypatch, server, "emodb", {"all": emodb_zip})
    monkeypatch.setattr(shutil, "disk_usage", lambda p: _Usage(10**9, 10**9 - 1000, 1000))
    root = tmp_path / "emodb"
    with pytest.raises(DownloadError) as err:
        run(root, server)
    msg = str(err.value)
    assert msg.startswith(f"disk full at {tmp_path}: ") and "needed" in msg and "1.0 kB free" in msg
    assert server.state.requests == [] and list(tmp_path.iterdir()) == []


def test_too_little_space_to_unpack_keeps_the_verified_archive(tmp_path, server, monkeypatch, emodb_zip):
    publish(monkeypatch, server, "emodb", {"all": emodb_zip})
    archive = tmp_path / ".emodb.download" / "download.zip"
    real = shutil.disk_usage
    # the disk fills up while the archive arrives: room before, none once it is there
    monkeypatch.setattr(shutil, "disk_usage", lambda p: _Usage(10**12, 0, 10**12 if not archive.exists() else 10))
    root = tmp_path / "emodb"
    with pytest.raises(DownloadError) as err:
        run(root, server)
    msg = str(err.value)
    assert msg.startswith("disk full at") and "member headers" in msg and "damaged" not in msg
    unpacked = sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(emodb_zip)).infolist())
    assert dl._human(unpacked) in msg
    assert archive.stat().st_size == len(emodb_zip) and not root.exists()
    monkeypatch.setattr(shutil, "disk_usage", real)
    server.state.requests.clear()
    code, _ = run(root, server)
    assert code == 3 and len(load_corpus("emodb", root)) == 70 and server.state.requests == []


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_a_full_disk_while_unpacking_is_not_called_a_damaged_archive(tmp_path, server, monkeypatch, emodb_zip,
                                                                      code):
    publish(monkeypatch, server, "emodb", {"all": emodb_zip})

    def full(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(shutil, "copyfileobj", full)  # what zipfile writes each member with
    root = tmp_path / "emodb"
    with pytest.raises(DownloadError) as err:
        run(root, server)
    msg = str(err.value)
    assert msg.startswith(f"disk full at {tmp_path}") and "needed" in msg
    assert "damaged" not in msg and "Delete" not in msg and "is kept" in msg
    archive = tmp_path / ".emodb.download" / "download.zip"
    assert archive.stat().st_size == len(emodb_zip)  # the verified archive is still there
    assert not [p for p in tmp_path.rglob("*.wav")]
    monkeypatch.undo()
    publish(monkeypatch, server, "emodb", {"all": emodb_zip})
    server.state.requests.clear()
    code3, _ = run(root, server)
    assert code3 == 3 and len(load_corpus("emodb", root)) == 70 and server.state.requests == []


def test_damaged_archive_is_still_called_damaged(tmp_path, server, monkeypatch, emodb_zip):
    bad = bytearray(emodb_zip)
    info = zipfile.ZipFile(io.BytesIO(emodb_zip)).infolist()[0]
    bad[info.header_offset + 30 + len(info.filename.encode()) + 5] ^= 0xFF  # a byte of the first member's data
    publish(monkeypatch, server, "emodb", {"all": bytes(bad)})
    with pytest.raises(DownloadError, match="damaged. Delete it"):
        run(tmp_path / "emodb", server)


class _FullAfter:
    """A file that takes ``room`` bytes, then fails as a full disk does."""

    def __init__(self, f, room: int) -> None:
        self.f, self.room = f, room

    def write(self, data: bytes) -> int:
        if len(data) > self.room:
            self.f.write(data[:self.room])
            self.room = 0
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= len(data)
        return self.f.write(data)

    def __getattr__(self, name):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.f.close()


def test_a_full_disk_while_fetching_keeps_the_part_file_for_resuming(tmp_path, server, monkeypatch, emodb_zip):
    publish(monkeypatch, server, "emodb", {"all": emodb_zip})
    half = len(emodb_zip) // 2

    def opener(path, mode="r", *args, **kwargs):
        f = open(path, mode, *args, **kwargs)
        return _FullAfter(f, half) if str(path).endswith(".part") else f

    monkeypatch.setattr(dl, "open", opener, raising=False)
    root = tmp_path / "emodb"
    with pytest.raises(DownloadError) as err:
        run(root, server)
    msg = str(err.value)
    assert msg.startswith(f"disk full at {tmp_path / '.emodb.download'}") and "more needed" in msg
    assert "resumes" in msg and "broke off" not in msg
    part = tmp_path / ".emodb.download" / "download.zip.part"
    assert part.stat().st_size == half
    monkeypatch.delattr(dl, "open")
    code, _ = run(root, server)
    assert code == 3 and server.state.requests[-1] == ("/emodb/download.zip", f"bytes={half}-")


# --------------------------------------------------------------------------- repair and --force
def test_deleted_files_are_downloaded_again_and_the_rest_kept(tmp_path, server, monkeypatch, emodb_zip):
    publish(monkeypatch, server, "emodb", {"all": emodb_zip})
    root = tmp_path / "emodb"
    run(root, server)
    wavs = sorted((root / "wav").glob("*.wav"))
    for p in wavs[:5]:
        p.unlink()
    untouched = {p: p.stat().st_mtime_ns for p in wavs[5:]}
    (root / "wav" / "my_notes.txt").write_text("mine")
    assert dl.check_report("emodb", root)[1] == 3
    server.state.requests.clear()
    code, said = run(root, server)
    assert "5 of the" in said and "missing" in said and "already in" not in said
    assert server.state.requests == [("/emodb/download.zip", None)]  # no archive was kept: fetched again
    assert code == 3 and len(list((root / "wav").glob("*.wav"))) == 70
    assert {p: p.stat().st_mtime_ns for p in wavs[5:]} == untouched
    assert (root / "wav" / "my_notes.txt").read_text() == "mine"


def test_a_kept_archive_restores_deleted_files_without_downloading(tmp_path, server, monkeypatch, emodb_zip):
    publish(monkeypatch, server, "emodb", {"all": emodb_zip})
    root = tmp_path / "emodb"
    run(root, server, keep_archives=True)
    victim = sorted((root / "wav").glob("*.wav"))[0]
    original = victim.read_bytes()
    victim.unlink()
    server.state.requests.clear()
    code, said = run(root, server, keep_archives=True)
    assert "unpack the kept" in said and server.state.requests == []
    assert code == 3 and victim.read_bytes() == original


def test_force_fetches_and_replaces_what_the_archive_brings(tmp_path, server, monkeypatch, emodb_zip, capsys):
    publish(monkeypatch, server, "emodb", {"all": emodb_zip})
    root = tmp_path / "emodb"
    run(root, server, keep_archives=True)
    victim = sorted((root / "wav").glob("*.wav"))[0]
    original = victim.read_bytes()
    victim.write_bytes(b"not audio")
    mine = root / "wav" / "my_notes.txt"
    mine.write_text("mine")
    server.state.requests.clear()
    args = ["data", "download", "emodb", "--root", str(root), "--yes", "--mirror", server.url, "-q",
            "--keep-archives"]
    assert main(args) == 3 and "already in" in capsys.readouterr().out and server.state.requests == []
    assert main(args + ["--force"]) == 3
    assert server.state.requests == [("/emodb/download.zip", None)]  # the kept archive is fetched anew
    assert victim.read_bytes() == original and mine.read_text() == "mine"


def test_ravdess_song_after_a_speech_copy_from_elsewhere_fetches_only_the_song(tmp_path, server, monkeypatch):
    src = make_fixture("ravdess", tmp_path / "src")
    speech = zip_bytes(src, only=lambda p: p.name.startswith("03-01"))
    song = zip_bytes(src, prefix="Audio_Song_Actors_01-24/", only=lambda p: p.name.startswith("03-02"))
    publish(monkeypatch, server, "ravdess", {"speech": speech, "song": song})
    root = tmp_path / "ravdess"
    shutil.copytree(src, root, ignore=lambda d, names: [n for n in names if n.startswith("03-02")])
    counts = load_corpus("ravdess", root).table["emotion"].value_counts().to_dict()
    from serlib.data import ravdess
    monkeypatch.setitem(ravdess.FULL_COUNTS, "speech", {lab: counts.get(lab, 0) for lab in ravdess.LABELS})
    code, said = run(root, server, "ravdess", song=True)
    assert server.state.requests == [("/ravdess/Audio_Song_Actors_01-24.zip", None)]
    assert not (root / "Audio_Speech_Actors_01-24").exists()  # no second copy of the speech
    assert len(load_corpus("ravdess", root, vocal_channel="both")) == 50


# --------------------------------------------------------------------------- transfers
def test_a_resumed_reply_starting_elsewhere_restarts_the_download(tmp_path, server, monkeypatch, emodb_zip):
    publish(monkeypatch, server, "emodb", {"all": emodb_zip})
    half = len(emodb_zip) // 2
    server.state.drop_after["/emodb/download.zip"] = half
    root = tmp_path / "emodb"
    with pytest.raises(DownloadError, match="broke off"):
        run(root, server)
    server.state.range_start = 0  # 206 with Content-Range bytes 0-..., whatever was asked
    code, said = run(root, server)
    assert "resumed at byte 0 instead of" in said
    assert code == 3 and len(load_corpus("emodb", root)) == 70
    assert server.state.requests == [("/emodb/download.zip", None), ("/emodb/download.zip", f"bytes={half}-"),
                                     ("/emodb/download.zip", None)]


def test_a_corpus_folder_on_another_file_system_is_copied_into_place(tmp_path, server, monkeypatch, emodb_zip):
    publish(monkeypatch, server, "emodb", {"all": emodb_zip})
    real = os.replace

    def cross_device(src, dst):
        if "unpack-" in str(src):  # out of the staging folder: another file system
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", cross_device)
    for root in (tmp_path / "new" / "emodb", tmp_path / "old" / "emodb"):
        if "old" in root.parts:
            (root / "wav").mkdir(parents=True)
            (root / "wav" / "my_notes.txt").write_text("mine")
        code, _ = run(root, server)
        assert code == 3 and len(list((root / "wav").glob("*.wav"))) == 70
        assert not list(root.rglob("*.serlib-copy")) and not (root.parent / ".emodb.download").exists()
    assert (tmp_path / "old" / "emodb" / "wav" / "my_notes.txt").read_text() == "mine"


def test_a_tar_gz_is_decompressed_once(tmp_path, server, monkeypatch):
    src = make_fixture("librispeech", tmp_path / "src")
    data = tar_bytes(src.parent, [src / "SPEAKERS.TXT"] + sorted((src / "dev-clean").rglob("*")))
    publish(monkeypatch, server, "librispeech", {"dev-clean": data})
    out = {"bytes": 0}
    real = zlib.decompressobj

    class Counting:
        def __init__(self, *args, **kwargs) -> None:
            self.d = real(*args, **kwargs)

        def decompress(self, *args):
            got = self.d.decompress(*args)
            out["bytes"] += len(got)
            return got

        def __getattr__(self, name):
            return getattr(self.d, name)

    monkeypatch.setattr(zlib, "decompressobj", Counting)
    code, _ = run(tmp_path / "librispeech", server, "librispeech")
    monkeypatch.undo()
    assert code == 3 and len(load_corpus("librispeech", tmp_path / "librispeech")) == 9
    raw = len(gzip.decompress(data))
    members = sum(p.stat().st_size for p in (src / "dev-clean").rglob("*") if p.is_file())
    assert members < out["bytes"] <= raw  # every member passed once, the stream at most once


# --------------------------------------------------------------------------- TESS from the Dataverse
def _tess_bulk_zip(src: Path, skip: set[str]) -> bytes:
    """A Dataverse bulk zip of TESS: its files under the dataset's folder names, and a MANIFEST.TXT
    that lists each file, those over the server's limit marked as skipped (and absent from the zip)."""
    top = "TESS Toronto emotional speech set data"
    buf = io.BytesIO()
    lines = []
    with zipfile.ZipFile(buf, "w") as zf:
        for p in sorted(src.rglob("*.wav")):
            name = f"{top}/{p.parent.name}/{p.name}"
            if p.name in skip:
                lines.append(f"{name} (audio/wav)  skipped: the zip would be larger than this server allows "
                             f"(limit 1000 bytes).")
            else:
                zf.write(p, name)
                lines.append(f"{name} (audio/wav) {p.stat().st_size} bytes.")
        zf.writestr("MANIFEST.TXT", "Files of doi:10.5683/SP2/E8H2MF, as zipped on request\n\n" + "\n".join(lines))
    return buf.getvalue()


def test_tess_files_left_out_by_the_server_are_named_not_reported_as_success(tmp_path, server, monkeypatch):
    src = make_fixture("tess", tmp_path / "src")
    skip = {"OAF_back_fear.wav", "YAF_bar_sad.wav"}
    assert all(list(src.rglob(n)) for n in skip)
    publish(monkeypatch, server, "tess", {"all": _tess_bulk_zip(src, skip)})
    root = tmp_path / "tess"
    with pytest.raises(DownloadError) as err:
        run(root, server, "tess")
    msg = str(err.value)
    assert "left 2 file(s) out" in msg and "MANIFEST.TXT" in msg and "https://doi.org/10.5683/SP2/E8H2MF" in msg
    assert "OAF_angry" not in msg.split(": ", 1)[1].split(". The files")[0]  # only the skipped ones are named
    for n in skip:
        assert n in msg
    assert len(load_corpus("tess", root)) == 26  # what arrived is in place
    # run again: nothing to fetch, but the missing files are named again and it is not a success
    server.state.requests.clear()
    code, said = run(root, server, "tess")
    assert server.state.requests == [] and code != 0 and all(n in said for n in skip)
    # the reader fetches them one by one: then the corpus is whole
    for n in skip:
        found = next(src.rglob(n))
        shutil.copy(found, root / "TESS Toronto emotional speech set data" / found.parent.name / n)
    code, said = run(root, server, "tess")
    assert code == 3 and "server left" not in said and len(load_corpus("tess", root)) == 28


def test_published_per_file_checksums_are_checked(tmp_path, server, monkeypatch):
    src = make_fixture("tess", tmp_path / "src")
    wavs = sorted(src.rglob("*.wav"))
    sums = ((wavs[0].name, hashlib.md5(wavs[0].read_bytes()).hexdigest()), (wavs[1].name, "0" * 32))
    publish(monkeypatch, server, "tess", {"all": _tess_bulk_zip(src, set())}, member_algorithm="md5",
            member_checksums=sums)
    root = tmp_path / "tess"
    with pytest.raises(DownloadError) as err:
        run(root, server, "tess")
    assert wavs[1].name in str(err.value) and wavs[0].name not in str(err.value)
    assert not list(tmp_path.glob("tess/**/*.wav"))
