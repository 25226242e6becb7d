"""``serbook data download`` against a local HTTP server started by the tests.

The server (``http.server`` on 127.0.0.1, in a thread) serves archives built from the fixture
trees of ``serlib.data.fixtures``; the tests publish them with test-only sizes and checksums in
place of the real ones. It honours ``Range`` requests and can drop the connection half-way.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import socket
import tarfile
import threading
import zipfile
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
                                                                  tmp_cache):
    import pandas as pd

    from serlib.run import execute

    publish(monkeypatch, server, "emodb", {"all": emodb_zip})
    root = tmp_path / "emodb"
    assert main(["data", "download", "emodb", "--root", str(root), "--yes", "--mirror", server.url, "-q"]) == 3
    nb = ROOT / "notebooks" / "04_leow_speaker_adversarial.py"
    execute(nb, {"profile": "smoke", "corpus": "emodb", "data_root": str(root)}, output_dir=tmp_path / "out",
            progress=False)
    res = tmp_path / "out" / f"{nb.stem}.results"
    t1 = pd.read_csv(res / "table1.csv", index_col=0)
    assert t1["ours accuracy (%)"].dropna().between(0, 100).all() and len(t1["ours accuracy (%)"].dropna())
