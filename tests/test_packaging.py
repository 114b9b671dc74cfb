"""pyproject.toml declares what ships: every package folder, the package data, one version, honest extras."""

from __future__ import annotations

import fnmatch
import os
import re

import pytest
import wattprint

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
with open(os.path.join(ROOT, "pyproject.toml"), "rb") as _f:
    PYPROJECT = tomllib.load(_f)
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]
PROJECT = PYPROJECT["project"]


def _folder_of(package: str) -> str:
    """The source folder of a dotted package name, through the package-dir mapping (longest prefix)."""
    mapping = SETUPTOOLS["package-dir"]
    best = max((p for p in mapping if package == p or package.startswith(p + ".")), key=len)
    rest = package[len(best):].lstrip(".")
    return os.path.join(ROOT, mapping[best], *rest.split(".")) if rest else os.path.join(ROOT, mapping[best])


def _package_folders() -> dict:
    """Every folder with an ``__init__.py`` under the three package folders, as its installed name."""
    found = {}
    for folder, name in {"tracker": "wattprint", "exporters": "wattprint.exporters", "integrations": "wattprint.integrations"}.items():
        top = os.path.join(ROOT, folder)
        for dirpath, dirs, files in os.walk(top):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            if "__init__.py" in files:
                rel = os.path.relpath(dirpath, top)
                found[name if rel == "." else name + "." + rel.replace(os.sep, ".")] = dirpath
    return found


def test_every_package_folder_is_listed():
    listed = set(SETUPTOOLS["packages"])
    missing = sorted(set(_package_folders()) - listed)
    assert not missing, f"add to [tool.setuptools] packages in pyproject.toml: {missing}"


def test_every_listed_package_exists_where_package_dir_says():
    for package in SETUPTOOLS["packages"]:
        assert os.path.isfile(os.path.join(_folder_of(package), "__init__.py")), package


def test_no_stray_modules_in_data_folders():
    """Data folders are not packages: a .py file there would not ship."""
    for folder in _package_folders().values():
        for dirpath, dirs, files in os.walk(folder):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            if dirpath != folder and "__init__.py" not in files:
                assert not [f for f in files if f.endswith(".py")], dirpath


def _declared_data(package: str) -> list:
    return list(SETUPTOOLS.get("package-data", {}).get(package, []))


def _data_files() -> dict:
    """Non-Python files inside the package folders, by owning package, as paths relative to it."""
    out: dict = {}
    for package, folder in _package_folders().items():
        for dirpath, dirs, files in os.walk(folder):
            dirs[:] = [d for d in dirs if d != "__pycache__" and not os.path.isfile(os.path.join(dirpath, d, "__init__.py"))]
            for f in files:
                if not f.endswith((".py", ".pyc")):
                    out.setdefault(package, []).append(os.path.relpath(os.path.join(dirpath, f), folder).replace(os.sep, "/"))
    return out


def test_package_data_is_declared():
    for package, files in _data_files().items():
        patterns = _declared_data(package)
        undeclared = [f for f in files if not any(fnmatch.fnmatch(f, p) for p in patterns)]
        assert not undeclared, f"declare in [tool.setuptools.package-data] {package!r}: {undeclared}"


def test_the_bundled_data_schema_and_marker_are_covered():
    data = _data_files()
    assert "py.typed" in data["wattprint"]
    footprint = data["wattprint.footprint"]
    assert any(f.startswith("data/") and f.endswith(".csv") for f in footprint)
    assert "schemas/footprint.schema.json" in footprint
    assert SETUPTOOLS.get("include-package-data") is False  # exactly what package-data says, no warning


def test_the_version_lives_in_one_place():
    assert "version" not in PROJECT and "version" in PROJECT["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "wattprint._version.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+(\S*)", wattprint.__version__)


def test_extras_all_holds_every_optional_part_and_test_builds_on_it():
    extras = PROJECT["optional-dependencies"]
    parts = sorted(set(extras) - {"all", "test"})
    assert extras["all"] == [f"wattprint[{','.join(parts)}]"] or sorted(
        re.fullmatch(r"wattprint\[(.*)\]", extras["all"][0]).group(1).split(",")) == parts
    assert "mlflow" in parts
    assert "wattprint[all]" in extras["test"]
    requirement_names = {re.split(r"[<>=\[;! ]", r)[0].lower() for r in extras["test"] if not r.startswith("wattprint")}
    repeated = {re.split(r"[<>=\[;! ]", r)[0].lower() for p in parts for r in extras[p]} & requirement_names
    assert not repeated, f"test re-lists optional parts: {sorted(repeated)}"


def test_licence_is_a_pep639_expression():
    assert PROJECT["license"] == "Apache-2.0"
    requires = " ".join(PYPROJECT["build-system"]["requires"])
    m = re.search(r"setuptools>=(\d+)", requires)
    assert m and int(m.group(1)) >= 77, "PEP 639 licence expressions need setuptools >= 77"
