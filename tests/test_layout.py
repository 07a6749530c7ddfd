"""Which module may import which: the layering a maintainer relies on, read from the source.

Every import counts, including those inside functions: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "syndicate"
FEATURES = ("articles", "feeds", "linkedin", "mail", "posts", "sharing", "webhooks", "api")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imports_of(module: str) -> set[str]:
    """The syndicate modules `module` imports (`from a import b` counts as a.b when b is one)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(MODULES[module].read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module
            if node.level:
                package = (
                    module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
                )
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{base}"
            submodules = {f"{base}.{alias.name}" for alias in node.names} & MODULES.keys()
            found |= submodules or {base}
    return {name for name in found if name in MODULES and name != module}


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def cycles(modules: set[str]) -> list[set[str]]:
    """Groups of modules that import each other, directly or around a loop (Tarjan)."""
    graph = {m: imports_of(m) & modules for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_settings_import_no_other_syndicate_module():
    assert imports_of("syndicate.config") == set()


def test_the_product_imports_the_sandbox_only_to_mount_and_serve_it():
    importers = {
        module
        for module in MODULES
        if not within(module, "syndicate.linkedin_sandbox")
        and any(within(name, "syndicate.linkedin_sandbox") for name in imports_of(module))
    }
    assert importers == {"syndicate", "syndicate.cli"}


def test_web_depends_on_no_feature_but_sign_in():
    # Features hand web/ what it shows (gauges on /metrics through metrics.register_gauges);
    # web/ reaches into staff only for the signed-in user every page needs.
    reached = {
        name
        for module in MODULES
        if within(module, "syndicate.web")
        for name in imports_of(module)
        if any(within(name, f"syndicate.{feature}") for feature in (*FEATURES, "outbox"))
    }
    assert reached == set()


def test_the_api_package_has_no_import_cycle():
    assert cycles({module for module in MODULES if within(module, "syndicate.api")}) == []
