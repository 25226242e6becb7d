"""The built book, read in headless Chromium: every page loads cleanly and its maths renders.

The book is the session's strict build (the ``strict_book`` fixture of ``tests/conftest.py``, made by
``tests/_book.py``: a temporary copy of its sources with every toc chapter executed in the ``smoke``
profile, built with ``-W -n``); this module only serves its ``_build/html`` on localhost and opens it
page by page in headless Chromium, driven through the DevTools protocol. A page fails on any console
error or uncaught exception, a failed or >= 400 request, an image that did not load, raw TeX left
outside MathJax (or a MathJax error), and any request to a host other than localhost. Every toc page
is saved as a PNG screenshot in ``_build/screenshots/``.

Needs a Chromium binary (``chromium``, ``chromium-browser`` or ``google-chrome``); without one the
tests are skipped, except under CI (``CI=true``), where a missing Chromium fails them. The strict
build itself is checked by ``tests/test_online.py`` whether or not Chromium is installed. On
Debian/Ubuntu: ``sudo apt-get install chromium``.

    python -m pytest tests/test_browser.py
"""

from __future__ import annotations

import base64
import functools
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlparse

import pytest

from serlib.config import project_root
from serlib.pdf import BROWSERS, find_chromium
from serlib.run import BOOK_CHAPTERS
from tests._book import book_pages, toc_files, toc_pages

ROOT = project_root()
SCREENSHOTS = ROOT / "_build" / "screenshots"
INSTALL_HINT = ("no Chromium binary found on PATH (looked for " + ", ".join(BROWSERS) + "); install one to run "
                "the browser test, e.g. `sudo apt-get install chromium` on Debian/Ubuntu")
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
VIEWPORT = {"width": 1280, "height": 900}
MAX_SHOT_HEIGHT = 16000  # px; Chromium's largest capture surface
META_REFRESH = re.compile(r"""<meta\s+http-equiv=["']refresh["']\s+content=["']\s*\d+\s*;\s*url=([^"']+)["']""", re.I)


def under_ci() -> bool:
    """True on a CI runner (``CI=true``, as GitHub Actions and ``.ci/run`` set it)."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def require_chromium() -> str:
    """The Chromium binary; skips the test without one, or fails it under CI."""
    binary = find_chromium()
    if binary is None:
        if under_ci():
            pytest.fail(f"CI=true and {INSTALL_HINT}", pytrace=False)
        pytest.skip(INSTALL_HINT)
    return binary


pytestmark = [pytest.mark.browser]


# --------------------------------------------------------------------------------------------
# Chromium over the DevTools protocol
# --------------------------------------------------------------------------------------------

class DevToolsError(RuntimeError):
    """A DevTools command failed or Chromium did not answer in time."""


class Chromium:
    """A headless Chromium and one page, driven over a single DevTools websocket.

    Every request to a host other than localhost goes to a closed local port (``--proxy-server``),
    so it fails at once, never leaves the machine, and is reported by :meth:`check_page`.
    """

    def __init__(self, binary: str, workdir: Path) -> None:
        try:
            import websocket  # websocket-client, pinned in the `test` extra
        except ImportError as exc:
            raise RuntimeError("the browser test needs websocket-client (the `test` extra): "
                               "pip install -e '.[test]'") from exc
        self._websocket = websocket
        self.binary = binary
        self.profile = workdir / "profile"
        self.profile.mkdir(parents=True)
        self.log_path = workdir / "chromium.log"
        self._dead_port = socket.socket()  # bound, never listening: connections to it are refused
        self._dead_port.bind(("127.0.0.1", 0))
        flags = ["--headless", "--disable-gpu", "--disable-quic", "--no-first-run", "--no-default-browser-check",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-extensions", "--disable-default-apps", "--mute-audio", "--hide-scrollbars",
                 "--disable-dev-shm-usage", f"--proxy-server=127.0.0.1:{self._dead_port.getsockname()[1]}",
                 f"--user-data-dir={self.profile}",
                 "--remote-debugging-port=0", f"--window-size={VIEWPORT['width']},{VIEWPORT['height']}"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            flags.append("--no-sandbox")  # Chromium refuses to sandbox itself as root
        self._log = open(self.log_path, "wb")
        # its own process group, so that closing it ends its renderers and helpers too
        self.proc = subprocess.Popen([binary, *flags, "about:blank"], stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            port, path = self._devtools_address(timeout=60)
            self.ws = websocket.create_connection(f"ws://127.0.0.1:{port}{path}", timeout=60, suppress_origin=True)
            self._next_id = 0
            self.events: list[dict[str, Any]] = []
            target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                self.call(f"{domain}.enable", session=self.session)
            self.call("Network.setCacheDisabled", {"cacheDisabled": True}, session=self.session)
            self.call("Emulation.setDeviceMetricsOverride",
                      {**VIEWPORT, "deviceScaleFactor": 1, "mobile": False}, session=self.session)
        except BaseException:
            self.close()
            raise

    # -- plumbing ------------------------------------------------------------------------------

    def _log_tail(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-2000:]

    def _devtools_address(self, timeout: float) -> tuple[int, str]:
        """Port and browser path from ``<user-data-dir>/DevToolsActivePort``."""
        active = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise DevToolsError(f"{self.binary} exited with code {self.proc.returncode} before opening "
                                    f"its DevTools port; its output:\n{self._log_tail()}")
            lines = active.read_text().split() if active.exists() else []
            if len(lines) >= 2:
                return int(lines[0]), lines[1]
            time.sleep(0.1)
        raise DevToolsError(f"{self.binary} wrote no {active} within {timeout:.0f} s; its output:\n{self._log_tail()}")

    def _receive(self, deadline: float) -> dict[str, Any] | None:
        """The next message, or None when ``deadline`` passes first."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        self.ws.settimeout(remaining)
        try:
            return json.loads(self.ws.recv())
        except self._websocket.WebSocketTimeoutException:
            return None

    def call(self, method: str, params: dict[str, Any] | None = None, *, session: str | None = None,
             timeout: float = 120) -> dict[str, Any]:
        """Send one command and return its result; events that arrive meanwhile go to ``self.events``."""
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.ws.send(json.dumps(msg))
        deadline = time.monotonic() + timeout
        while True:
            reply = self._receive(deadline)
            if reply is None:
                raise DevToolsError(f"Chromium did not answer {method} within {timeout:.0f} s")
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise DevToolsError(f"{method} failed: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def pump(self, until: float, stop=None) -> None:
        """Collect events until the monotonic time ``until``, or until ``stop(event)`` is true."""
        while True:
            event = self._receive(until)
            if event is None:
                return
            if "method" in event:
                self.events.append(event)
                if stop and stop(event):
                    return

    def evaluate(self, expression: str, timeout: float = 120) -> Any:
        result = self.call("Runtime.evaluate", {"expression": expression, "awaitPromise": True, "returnByValue": True},
                           session=self.session, timeout=timeout)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise DevToolsError(f"evaluating a page check failed: {details.get('exception', {}).get('description')}")
        return result["result"].get("value")

    def close(self) -> None:
        ws = getattr(self, "ws", None)
        if ws is not None:
            try:
                ws.close()
            except OSError:
                pass
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(timeout=20)
                break
            except subprocess.TimeoutExpired:
                continue
        self._log.close()
        self._dead_port.close()

    # -- one page --------------------------------------------------------------------------------

    def check_page(self, url: str, screenshot: Path | None = None, redirect_to: str | None = None) -> list[str]:
        """Open ``url``, wait for it and its maths, and return the problems found (empty when clean).

        ``redirect_to``: the URL that ``url`` forwards to (a ``<meta http-equiv="refresh">`` page);
        the checks then wait for, and run on, that page.
        """
        self.events.clear()
        nav = self.call("Page.navigate", {"url": url}, session=self.session)
        if nav.get("errorText"):
            return [f"navigation failed: {nav['errorText']}"]
        final = (redirect_to or url).split("#")[0]
        state = {"arrived": redirect_to is None, "loaded": False}

        def loaded(event: dict[str, Any]) -> bool:
            frame = event.get("params", {}).get("frame", {})
            if event["method"] == "Page.frameNavigated" and not frame.get("parentId"):
                state["arrived"] = state["arrived"] or frame.get("url", "").split("#")[0] == final
            state["loaded"] = state["arrived"] and event["method"] == "Page.loadEventFired"
            return state["loaded"]

        self.pump(time.monotonic() + 120, stop=loaded)
        if not state["loaded"]:
            return [f"{final} did not finish loading within 120 s", *self._event_problems()]
        problems = []
        mathjax = self.evaluate(WAIT_FOR_MATHJAX)
        if mathjax not in ("no-mathjax", "typeset"):
            problems.append(mathjax)
        problems += [f"image did not load: {src}" for src in self.evaluate(BROKEN_IMAGES)]
        self._settle()
        problems += [f"raw TeX outside MathJax: {text!r}" for text in self.evaluate(RAW_TEX)]
        problems += [f"MathJax error: {text}" for text in self.evaluate(MATHJAX_ERRORS)]
        if screenshot is not None:
            self._screenshot(screenshot)
            self._settle()
        problems += self._event_problems()
        return list(dict.fromkeys(problems))  # one line per distinct problem

    def _settle(self, quiet: float = 0.5, limit: float = 30) -> None:
        """Collect events until none has arrived for ``quiet`` seconds (late fonts, images, errors)."""
        end = time.monotonic() + limit
        while time.monotonic() < end:
            before = len(self.events)
            self.pump(min(end, time.monotonic() + quiet))
            if len(self.events) == before:
                return

    def _screenshot(self, path: Path) -> None:
        size = self.call("Page.getLayoutMetrics", session=self.session)["cssContentSize"]
        height = min(int(size["height"]) + 1, MAX_SHOT_HEIGHT)
        shot = self.call("Page.captureScreenshot",
                         {"format": "png", "captureBeyondViewport": True,
                          "clip": {"x": 0, "y": 0, "width": VIEWPORT["width"], "height": height, "scale": 1}},
                         session=self.session)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))

    def _event_problems(self) -> list[str]:
        problems: list[str] = []
        urls: dict[str, str] = {}
        probes: set[str] = set()
        for event in self.events:
            method, params = event["method"], event.get("params", {})
            if event.get("sessionId") != self.session:
                continue
            # the browser's own probe for /favicon.ico at the server root: no page asks for it
            if method == "Network.requestWillBeSent" and _is_favicon_probe(params["request"]["url"]):
                probes.add(params["requestId"])
            if params.get("requestId") in probes or (
                    method == "Log.entryAdded" and _is_favicon_probe(params["entry"].get("url", ""))):
                continue
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
                problems.append(f"console.{params['type']}: {text}")
            elif method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                text = details.get("exception", {}).get("description") or details.get("text", "")
                problems.append(f"uncaught exception: {text}")
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                entry = params["entry"]
                where = f" {entry['url']}" if entry.get("url") else ""
                problems.append(f"console error ({entry.get('source')}): {entry.get('text')}{where}")
            elif method == "Network.requestWillBeSent":
                url = params["request"]["url"]
                urls[params["requestId"]] = url
                parsed = urlparse(url)
                if parsed.scheme in ("http", "https", "ws", "wss") and parsed.hostname not in LOCAL_HOSTS:
                    problems.append(f"external request: {url}")
                elif parsed.scheme not in ("http", "https", "data", "blob", "about"):
                    problems.append(f"unexpected request: {url}")
            elif method == "Network.responseReceived" and params["response"].get("status", 0) >= 400:
                problems.append(f"HTTP {params['response']['status']}: {params['response']['url']}")
            elif method == "Network.loadingFailed":
                url = urls.get(params.get("requestId"), "?")
                problems.append(f"request failed ({params.get('errorText')}): {url}")
        return problems


def _is_favicon_probe(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.hostname in LOCAL_HOSTS and parsed.path == "/favicon.ico"


WAIT_FOR_MATHJAX = """(async () => {
  if (!document.querySelector('script[src*="mathjax" i]')) return 'no-mathjax';
  const deadline = Date.now() + 60000;
  while (!(window.MathJax && MathJax.startup && MathJax.startup.promise)) {
    if (Date.now() > deadline) return 'MathJax did not start within 60 s';
    await new Promise(r => setTimeout(r, 100));
  }
  await MathJax.startup.promise;
  if (document.fonts) await document.fonts.ready;
  return 'typeset';
})()"""

BROKEN_IMAGES = """(async () => {
  const images = [...document.images];
  images.forEach(img => { img.loading = 'eager'; });
  await Promise.all(images.map(img => img.complete ? null : new Promise(done => {
    img.addEventListener('load', done); img.addEventListener('error', done); setTimeout(done, 30000);
  })));
  return images.filter(img => !(img.complete && img.naturalWidth > 0))
               .map(img => (img.getAttribute('src') || '(no src)').slice(0, 120));
})()"""

RAW_TEX = r"""(() => {
  const skip = 'mjx-container, code, pre, script, style, kbd, samp, textarea, noscript';
  const patterns = [/\$\$/, /\\\(/, /\\\[/, /\\begin\{/, /\$[^$\n]*\\[A-Za-z]+[^$\n]*\$/];
  const hits = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest(skip)) continue;
    const text = node.textContent;
    if (patterns.some(p => p.test(text))) hits.push(text.trim().slice(0, 120));
  }
  return hits;
})()"""

MATHJAX_ERRORS = r"""[
  ...[...document.querySelectorAll('mjx-merror')]
     .map(e => (e.getAttribute('data-mjx-error') || e.textContent).slice(0, 120)),
  // MathJax's noundefined extension shows an unknown macro as red text instead of an error
  ...[...document.querySelectorAll('mjx-container mtext[mathcolor="red"]')]
     .filter(e => /^\\[A-Za-z]+$/.test(e.textContent.trim()))
     .map(e => 'undefined control sequence ' + e.textContent.trim()),
]"""


# --------------------------------------------------------------------------------------------
# serving
# --------------------------------------------------------------------------------------------

class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        pass


@pytest.fixture(scope="module")
def serve():
    """``serve(folder) -> base URL``: an http.server thread on a free localhost port per folder."""
    servers = []

    def start(folder: Path) -> str:
        handler = functools.partial(_QuietHandler, directory=str(folder))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def chromium(tmp_path_factory) -> Iterator[Chromium]:
    browser = Chromium(require_chromium(), tmp_path_factory.mktemp("chromium"))
    yield browser
    browser.close()


def check_book(browser: Chromium, html: Path, base_url: str, toc: Any, shots: Path | None) -> dict[str, list[str]]:
    """Problems per page (only pages that have some), checking every page; toc pages are screenshotted."""
    pages = book_pages(html)
    listed = toc_pages(toc)
    problems: dict[str, list[str]] = {}
    for page in listed:
        if page not in pages:
            problems[page] = [f"listed in _toc.yml but not built (no {html / page})"]
    for page in pages:
        shot = shots / f"{Path(page).stem}.png" if shots is not None and page in listed else None
        target = meta_refresh_target(html / page)
        redirect = urljoin(base_url + page, target) if target else None
        found = browser.check_page(base_url + page, shot, redirect_to=redirect)
        if found:
            problems[page if not target else f"{page} (forwards to {target})"] = found
    return problems


def meta_refresh_target(page: Path) -> str | None:
    """The URL a ``<meta http-equiv="refresh" content="0; url=...">`` page forwards to, if any."""
    match = META_REFRESH.search(page.read_text(errors="replace"))
    return match.group(1).strip() if match else None


def format_problems(problems: dict[str, list[str]]) -> str:
    return "\n".join(f"{page}:\n" + "\n".join(f"    {p}" for p in found) for page, found in problems.items())


class _ScreenshotNote:
    """Names the screenshot folder in pytest's closing summary."""

    def __init__(self, folder: Path, count: int) -> None:
        self.folder, self.count = folder, count

    def pytest_terminal_summary(self, terminalreporter) -> None:
        terminalreporter.write_line(f"browser test: {self.count} page screenshots in {self.folder}")


# --------------------------------------------------------------------------------------------
# the tests
# --------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_every_book_page_renders_cleanly(chromium, strict_book, serve, request):
    toc = strict_book.toc
    if SCREENSHOTS.exists():
        shutil.rmtree(SCREENSHOTS)
    problems = check_book(chromium, strict_book.html, serve(strict_book.html), toc, SCREENSHOTS)
    shots = sorted(SCREENSHOTS.glob("*.png"))
    if shots:
        request.config.pluginmanager.register(_ScreenshotNote(SCREENSHOTS, len(shots)), "serbook-screenshots")
    assert not problems, "the built book has problems in the browser:\n" + format_problems(problems)
    chapters = [Path(f).stem for f in toc_files(toc) if Path(f).parent == BOOK_CHAPTERS]
    missing = [c for c in chapters if not (SCREENSHOTS / f"{c}.png").exists()]
    assert not missing, f"no screenshot saved for chapter(s) {missing} in {SCREENSHOTS}"


def _png(width: int, height: int) -> bytes:
    """A plain grey PNG, written by hand."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


# Set up as Sphinx and MyST set up the book's pages: MathJax typesets only the elements of class
# ``math`` (and a few others) inside sections marked ``mathjax_ignore``.
PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title>
<script>window.MathJax = {{options: {{processHtmlClass: "tex2jax_process|mathjax_process|math|output_area"}}}};</script>
<script defer src="mathjax/tex-chtml.js"></script></head>
<body><section class="tex2jax_ignore mathjax_ignore"><h1>{title}</h1>{body}</section></body></html>"""


def test_checker_finds_each_kind_of_problem(chromium, serve, tmp_path):
    """Hand-made pages: a clean one passes, and a broken one is reported for each of its faults."""
    site = tmp_path / "site"
    site.mkdir()
    shutil.copytree(ROOT / "book" / "_static" / "mathjax", site / "mathjax")
    (site / "grey.png").write_bytes(_png(8, 6))
    (site / "clean.html").write_text(PAGE.format(title="clean", body=(
        '<p>Inline <span class="math notranslate nohighlight">\\(x^2 + \\alpha\\)</span> and display</p>'
        '<div class="math notranslate nohighlight">\\[\\begin{aligned} y &amp;= \\frac{1}{2} \\end{aligned}\\]</div>'
        '<img src="grey.png" alt="grey"><pre>$$ code may show TeX \\begin{x} $$</pre><p>Costs $5 and $6.</p>')))
    (site / "broken.html").write_text(PAGE.format(title="broken", body=(
        '<img src="missing.png" alt="missing"><img src="http://serbook-test.invalid/far.png" alt="far">'
        '<p>$$ E = mc^2 $$</p><p>left as \\begin{equation} x \\end{equation}</p>'
        '<span class="math notranslate nohighlight">\\(\\nosuchmacro{x}\\)</span>'
        '<div class="math notranslate nohighlight">\\[\\frac{1}\\]</div>'
        '<script>console.error("a console error"); throw new Error("an uncaught error");</script>')))
    (site / "forward.html").write_text('<meta http-equiv="Refresh" content="0; url=clean.html" />')
    base = serve(site)

    shot = tmp_path / "clean.png"
    assert chromium.check_page(base + "clean.html", shot) == []
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 1000

    found = "\n".join(chromium.check_page(base + "broken.html"))
    for expected in ("image did not load: missing.png", "HTTP 404: " + base + "missing.png",
                     "external request: http://serbook-test.invalid/far.png",
                     "raw TeX outside MathJax: '$$ E = mc^2 $$'", "raw TeX outside MathJax: 'left as \\\\begin",
                     "MathJax error: undefined control sequence \\nosuchmacro",
                     "MathJax error: Missing argument for \\frac",
                     "console.error: a console error", "uncaught exception: Error: an uncaught error"):
        assert expected in found, f"{expected!r} not reported; the checker said:\n{found}"

    problems = check_book(chromium, site, base, {"root": "clean", "chapters": [{"file": "broken"}]}, None)
    assert list(problems) == ["broken.html"]  # forward.html reaches clean.html and passes
    assert "broken.html:\n    " in format_problems(problems)


def test_missing_chromium_skips_locally_and_fails_under_ci(monkeypatch):
    monkeypatch.setitem(globals(), "find_chromium", lambda: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true and no Chromium binary found"):
        require_chromium()
    for value in (None, "", "false"):
        if value is None:
            monkeypatch.delenv("CI", raising=False)
        else:
            monkeypatch.setenv("CI", value)
        with pytest.raises(pytest.skip.Exception, match="no Chromium binary found"):
            require_chromium()
    monkeypatch.setitem(globals(), "find_chromium", lambda: "/usr/bin/chromium")
    monkeypatch.setenv("CI", "true")
    assert require_chromium() == "/usr/bin/chromium"
