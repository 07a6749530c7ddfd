"""Every package that syndicate/ imports is declared in pyproject.toml, so that a fresh
install (pip install .) has it even when no other dependency happens to pull it in."""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
# Standard modules whose data may come from a package: zoneinfo needs tzdata where the
# system has no time zone database (Windows, slim containers).
DATA_PACKAGES = {"zoneinfo": "tzdata"}


def _imported_modules() -> set[str]:
    """Top-level modules imported by syndicate/, except under `if TYPE_CHECKING:`."""
    modules: set[str] = set()
    for path in (ROOT / "syndicate").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        typing_only = {
            id(node)
            for block in ast.walk(tree)
            if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
            for statement in block.body
            for node in ast.walk(statement)
        }
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.Import):
                modules |= {alias.name.partition(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.partition(".")[0])
    return modules - {"syndicate"}


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {Requirement(line).name.lower().replace("_", "-") for line in project["dependencies"]}


def test_every_imported_package_is_a_declared_dependency():
    distributions = packages_distributions()
    declared = _declared()
    missing = {}
    for module in sorted(_imported_modules()):
        if module in sys.stdlib_module_names:
            needed = [DATA_PACKAGES[module]] if module in DATA_PACKAGES else []
        else:
            needed = distributions.get(module, [module])
        for name in needed:
            if name.lower().replace("_", "-") not in declared:
                missing[module] = name
    assert missing == {}, f"imported by syndicate/ but not in pyproject.toml: {missing}"
