"""environment.yml mirrors pyproject.toml; the toc's notebooks exist; the CI runs README's command;
README stays short and points into the book's "Using serbook" part."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _name(req: str) -> str:
    return re.split(r"[<>=!~ \[]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_mirrors_pyproject():
    pp = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(pp["dependencies"]) + list(pp["optional-dependencies"]["book"]) + list(pp["optional-dependencies"]["test"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    pip = [p for p in pip if not p.startswith("-e")]
    assert {_name(r): r.replace(" ", "") for r in reqs} == {_name(p): p.replace(" ", "") for p in pip}


def test_torch_and_jupyter_book_pins():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    allreqs = deps["dependencies"] + deps["optional-dependencies"]["book"]
    assert "torch==2.13.0" in allreqs
    jb = next(r for r in allreqs if _name(r) == "jupyter-book")
    assert jb.split("==")[1].startswith("1.")


def test_ci_runs_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()


README_MAX_LINES = 150
"""README says what serbook is and how to start; the rest lives in the book, where its readers find it."""

LINK = re.compile(r"\]\(([^)\s]+)\)")


def readme_problems(readme: str, root: Path) -> list[str]:
    """What is wrong with a README text against the book in ``root``: too long, a relative link to a
    path that does not exist, a link to a book page that ``_toc.yml`` does not list (so the online
    book would not have it), a page of the "Using serbook" part that README does not link."""
    from serlib.run import toc_entries
    from tests._book import USING_PART, part_files

    problems = []
    lines = readme.count("\n") + (not readme.endswith("\n"))
    if lines > README_MAX_LINES:
        problems.append(f"README.md has {lines} lines, more than {README_MAX_LINES}: move the detail into the "
                        f"book's {USING_PART} pages (book/using/) and link them")
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    in_toc = set(toc_entries(toc))
    linked = set()
    for target in LINK.findall(readme):
        path = target.split("#", 1)[0]
        if re.match(r"[a-z][a-z0-9+.-]*:", path) or not path:
            continue  # an address on the web, or an anchor of README itself
        if not (root / path).exists():
            problems.append(f"README.md links {target}, which does not exist")
        elif path.startswith("book/") and path.endswith(".md"):
            page = path.removesuffix(".md")
            linked.add(page)
            if page not in in_toc:
                problems.append(f"README.md links {target}, which _toc.yml does not list: the online book lacks it")
    problems += [f"README.md does not link {page}.md, a page of the book's {USING_PART} part"
                 for page in part_files(toc, USING_PART) if page not in linked]
    if not part_files(toc, USING_PART):
        problems.append(f'_toc.yml has no part "{USING_PART}"')
    return problems


def test_readme_is_short_and_links_the_using_pages_of_the_toc():
    assert readme_problems((ROOT / "README.md").read_text(), ROOT) == []


def test_readme_check_catches_a_long_readme_and_bad_links(tmp_path):
    toc = {"format": "jb-book", "root": "book/intro",
           "parts": [{"caption": "Using serbook", "chapters": [{"file": "book/using/running"}]}]}
    (tmp_path / "_toc.yml").write_text(yaml.safe_dump(toc))
    for page in ("book/intro.md", "book/using/running.md", "book/using/draft.md"):
        (tmp_path / page).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / page).write_text("# A page\n")
    good = "# x\n\n[Running](book/using/running.md), [web](https://example.org/a.md), [here](#x)\n"
    assert readme_problems(good, tmp_path) == []
    assert any("more than 150" in p for p in readme_problems(good + "more\n" * 150, tmp_path))
    assert readme_problems(good + "[x](book/using/nothing.md)\n", tmp_path) == \
        ["README.md links book/using/nothing.md, which does not exist"]
    assert readme_problems(good + "[x](book/using/draft.md)\n", tmp_path) == \
        ["README.md links book/using/draft.md, which _toc.yml does not list: the online book lacks it"]
    assert readme_problems("# x\n", tmp_path) == \
        ["README.md does not link book/using/running.md, a page of the book's Using serbook part"]


def test_toc_notebooks_exist():
    from serlib.run import toc_notebooks

    srcs = toc_notebooks()
    assert srcs and all(s.exists() for s in srcs)


def test_the_package_ships_serlib_and_not_the_benchmarks():
    """pyproject's package discovery, as setuptools runs it when building the wheel."""
    from setuptools import find_namespace_packages

    find = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    packages = find_namespace_packages(where=str(ROOT), include=find.get("include", ["*"]), exclude=find.get("exclude", ()))
    assert {"serlib", "serlib.models", "serlib.data", "serlib.experiments", "serlib.papers"} <= set(packages)
    assert [p for p in packages if p.split(".")[0] != "serlib"] == []
    assert (ROOT / "bench" / "__init__.py").is_file()  # bench is a package: only the include keeps it out
