"""The GitHub workflows: actionlint and zizmor (offline) report nothing, and the workflows call the
commands that README and the book's "Using serbook" pages document, in the order the page
"Publishing the book" gives, rather than a copy of what those commands do."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from serlib.config import project_root

ROOT = project_root()
WORKFLOWS = ROOT / ".github" / "workflows"
README = ROOT / "README.md"
PUBLISHING = ROOT / "book" / "using" / "publishing.md"


def documentation() -> dict[str, str]:
    """README and every page of the book's "Using serbook" part: path (relative to the root) -> text."""
    from tests._book import USING_PART, part_files

    pages = part_files(yaml.safe_load((ROOT / "_toc.yml").read_text()), USING_PART)
    assert pages, f'_toc.yml has no part "{USING_PART}"'
    return {"README.md": README.read_text(), **{f"{p}.md": (ROOT / f"{p}.md").read_text() for p in pages}}


# What a workflow's `run:` may call: the documented commands, never what they do inside.
COMMAND = re.compile(r"(?:^|\s|\$\()((?:bash )?\.ci/run|make [a-z-]+|\.venv/bin/serbook [a-z-]+)")
COPIES = ("pytest", "jupyter-book", "jupyter_book", "pip install", "serbook run", "serbook book", "papermill",
          "ghp-import", "apt-get")


def tool(name: str) -> str:
    """The linter from the `test` extra (next to this Python, else on PATH)."""
    here = Path(sys.executable).with_name(name)
    found = str(here) if here.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed; it is pinned in the `test` extra: pip install -e '.[test]'")
    return found


def workflows() -> dict[str, dict]:
    return {p.name: yaml.safe_load(p.read_text()) for p in sorted(WORKFLOWS.glob("*.yml"))}


def run_lines(workflow: dict) -> list[str]:
    """Every non-empty line of every `run:` step, in order of jobs and steps."""
    out = []
    for job in workflow["jobs"].values():
        for step in job.get("steps", []):
            out += [line.strip() for line in str(step.get("run", "")).splitlines() if line.strip()]
    return out


def test_there_are_a_test_and_a_book_workflow():
    assert set(workflows()) == {"test.yml", "book.yml"}


def test_actionlint_reports_nothing():
    files = [str(p) for p in sorted(WORKFLOWS.glob("*.yml"))]
    proc = subprocess.run([tool("actionlint"), "-no-color", *files], cwd=ROOT, capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0 and not proc.stdout.strip(), proc.stdout + proc.stderr


def test_zizmor_offline_reports_nothing():
    proc = subprocess.run([tool("zizmor"), "--offline", "--no-progress", "--format", "plain", str(WORKFLOWS)],
                          cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No findings to report" in proc.stdout, proc.stdout


def test_linters_catch_a_broken_workflow(tmp_path):
    """The two lints can fail: an unpinned action, a script injection and an unknown key are reported."""
    bad = tmp_path / ".github" / "workflows"
    bad.mkdir(parents=True)
    (bad / "bad.yml").write_text(
        "on: [pull_request_target]\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    timeout: 5\n    steps:\n"
        "      - uses: actions/checkout@v4\n      - run: echo \"${{ github.event.pull_request.title }}\"\n")
    lint = subprocess.run([tool("actionlint"), "-no-color", str(bad / "bad.yml")], cwd=tmp_path, capture_output=True,
                          text=True, check=False)
    assert lint.returncode != 0 and "timeout" in lint.stdout
    ziz = subprocess.run([tool("zizmor"), "--offline", "--no-progress", str(bad)], capture_output=True, text=True,
                         check=False)
    assert ziz.returncode != 0 and "template-injection" in ziz.stdout


def test_every_job_has_a_timeout_and_its_own_minimal_permissions():
    for name, wf in workflows().items():
        assert wf.get("permissions") == {}, f"{name}: the workflow grants no permission by default"
        for job_name, job in wf["jobs"].items():
            assert isinstance(job.get("timeout-minutes"), int), f"{name}:{job_name} has no timeout-minutes"
            perms = job.get("permissions")
            assert isinstance(perms, dict) and perms, f"{name}:{job_name} declares no permissions of its own"
            writes = {k for k, v in perms.items() if v == "write"}
            assert writes <= ({"pages", "id-token"} if job_name == "deploy" else set()), (name, job_name, writes)


def test_every_action_is_pinned_by_commit():
    for name, wf in workflows().items():
        for job in wf["jobs"].values():
            for step in job.get("steps", []):
                if "uses" in step:
                    assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", step["uses"]), (name, step["uses"])


def test_workflows_call_documented_commands_not_copies():
    docs = "\n".join(documentation().values())
    for name, wf in workflows().items():
        for line in run_lines(wf):
            commands = COMMAND.findall(line)
            assert commands, f"{name}: `{line}` calls none of the documented commands (make ..., .ci/run, serbook)"
            for cmd in commands:
                assert cmd.removeprefix("bash ") in docs, \
                    f"{name}: `{cmd}` is documented neither in README.md nor in the book's Using serbook pages"
            assert not any(c in line for c in COPIES), f"{name}: `{line}` copies what a documented command does"
    assert "bash .ci/run" in run_lines(workflows()["test.yml"])
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def _ci_run(tmp_path: Path, tools: dict[str, str]) -> subprocess.CompletedProcess:
    """``bash .ci/run`` with a PATH of only ``tools`` (name -> a real binary, or ``#!`` script text):
    no chromium, and no ``make``, so the suite itself can never start from here."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, what in tools.items():
        target = bin_dir / name
        if what.startswith("#!"):
            target.write_text(what)
            target.chmod(0o755)
        else:
            target.symlink_to(shutil.which(what))
    return subprocess.run([shutil.which("bash"), str(ROOT / ".ci" / "run")], capture_output=True, text=True,
                          env={"PATH": str(bin_dir), "HOME": str(tmp_path)}, timeout=60, check=False)


@pytest.mark.parametrize("case", ["no apt-get", "not root, no sudo", "apt-get fails"])
def test_ci_run_fails_with_the_reason_when_it_cannot_install_chromium(tmp_path, case):
    basics = {"dirname": "dirname", "mktemp": "mktemp", "tail": "tail", "sed": "sed", "rm": "rm", "env": "env"}
    apt = "#!/bin/sh\necho 'E: Unable to locate package chromium' >&2\nexit 100\n"
    tools = {"no apt-get": basics,
             "not root, no sudo": {**basics, "apt-get": apt, "id": "#!/bin/sh\necho 1000\n"},
             "apt-get fails": {**basics, "apt-get": apt, "id": "#!/bin/sh\necho 0\n"}}[case]
    proc = _ci_run(tmp_path, tools)
    said = proc.stdout + proc.stderr
    assert proc.returncode == 1, said
    assert "will be skipped" not in said and "make" not in proc.stderr.replace("make test", ""), said
    reason = {"no apt-get": "there is no apt-get", "not root, no sudo": "needs root",
              "apt-get fails": "could not be installed"}[case]
    assert reason in proc.stderr and "the browser test needs chromium" in proc.stderr, said
    if case == "apt-get fails":
        assert "Unable to locate package chromium" in proc.stderr  # apt-get's own last lines


def test_ci_run_runs_the_suite_under_ci_true():
    text = (ROOT / ".ci" / "run").read_text()
    assert "will be skipped" not in text
    assert text.index("export CI=true") < text.index("make test")


def publishing_commands() -> list[str]:
    """The make commands of the first bash block of the book's page "Publishing the book"."""
    text = PUBLISHING.read_text()
    section = text.split("# Publishing the book", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL).group(1)
    return [m.group(0) for line in block.splitlines() for m in [re.match(r"make [a-z-]+", line.strip())] if m]


def test_book_workflow_does_what_the_book_says_a_maintainer_does():
    by_hand = publishing_commands()
    assert by_hand[-1] == "make publish", "the page's list ends with publishing by hand"
    in_workflow = [c for line in run_lines(workflows()["book.yml"]) for c in COMMAND.findall(line)
                   if c.startswith("make ") and c != "make setup"]
    assert in_workflow == by_hand[:-1], (in_workflow, by_hand)
    book = workflows()["book.yml"]
    deploy = [s["uses"].split("@")[0] for s in book["jobs"]["deploy"]["steps"]]
    assert deploy == ["actions/deploy-pages"]
    uploads = [s.get("with", {}).get("path") for s in book["jobs"]["build"]["steps"]
               if "upload-pages-artifact" in s.get("uses", "")]
    assert uploads == ["_build/html/"]
    artifacts = {s["with"]["name"]: s["with"]["path"] for s in book["jobs"]["build"]["steps"]
                 if "actions/upload-artifact" in s.get("uses", "")}
    assert artifacts == {"book-pdf": "_build/pdf/serbook.pdf", "student-edition": "_build/student/",
                         "instructor-edition": "_build/instructor/"}


def test_book_workflow_prints_the_pdf_into_the_site_it_deploys():
    """`make pdf` runs after `make book` (it renders the executed chapters) and before the site is
    uploaded (it copies the PDF into _build/html/, where the pages link it); the PDF is also an artifact."""
    from serlib.pdf import PDF_NAME

    steps = workflows()["book.yml"]["jobs"]["build"]["steps"]

    def index(pred) -> int:
        found = [i for i, s in enumerate(steps) if pred(s)]
        assert len(found) == 1, found
        return found[0]

    book = index(lambda s: str(s.get("run", "")).strip() == "make book")
    pdf = index(lambda s: str(s.get("run", "")).strip() == "make pdf")
    pages = index(lambda s: "upload-pages-artifact" in s.get("uses", ""))
    artifact = index(lambda s: s.get("with", {}).get("name") == "book-pdf")
    assert book < pdf < pages and pdf < artifact, (book, pdf, pages, artifact)
    assert steps[artifact]["with"]["path"] == f"_build/pdf/{PDF_NAME}"
    assert steps[artifact]["with"]["if-no-files-found"] == "error"
    assert "make pdf" in PUBLISHING.read_text() and "\npdf: setup\n" in (ROOT / "Makefile").read_text()


def test_real_corpus_job_is_opt_in_and_feeds_the_build():
    book = workflows()["book.yml"]
    real = book["jobs"]["real-corpora"]
    assert real["if"] == "vars.SERBOOK_REAL_CORPORA == 'true'"
    assert any(line.startswith("make real-corpora") for line in run_lines({"jobs": {"r": real}}))
    build = book["jobs"]["build"]
    assert build["needs"] == "real-corpora" and "skipped" in build["if"] and "failure" not in build["if"]
    take = [s for s in build["steps"] if "download-artifact" in s.get("uses", "")]
    assert take and take[0]["with"] == {"name": "real-corpus-results", "path": "book/results/"}
    names = [s.get("name", s.get("uses", "")) for s in build["steps"]]
    assert names.index(take[0]["name"]) < next(i for i, n in enumerate(names) if "make book" in n)
    makefile = (ROOT / "Makefile").read_text()
    assert "serbook) data download $$corpus" in makefile.replace("$(SERBOOK)", "serbook)")
    assert "results add" in makefile


def test_cache_key_comes_from_serlib(capsys):
    from serlib.cli import main
    from serlib.versions import FEATURE_VERSION, GENERATOR_VERSION, ci_cache_key

    assert main(["cache-key", "--prefix", "serlib-test"]) == 0
    key = capsys.readouterr().out.strip()
    assert key == ci_cache_key("serlib-test")
    assert key.startswith(f"serlib-test-gen{GENERATOR_VERSION}-feat{FEATURE_VERSION}-")
    for name, wf in workflows().items():
        for job_name, job in wf["jobs"].items():
            caches = [s for s in job.get("steps", []) if s.get("uses", "").startswith("actions/cache@")]
            for c in caches:
                assert c["with"]["key"] == "${{ steps.serlib-cache.outputs.key }}", (name, job_name)
                assert any("serbook cache-key" in str(s.get("run", "")) for s in job["steps"])
