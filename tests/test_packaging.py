"""environment.yml mirrors pyproject.toml; the toc's notebooks exist; the CI runs README's command."""

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
