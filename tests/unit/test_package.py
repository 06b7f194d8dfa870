"""Package-level promises: public names, layering, typing marker."""

from __future__ import annotations

import ast
from pathlib import Path

import polyarch

SRC = Path(polyarch.__file__).parent

# The floors, lowest first (docs/architecture.md). A module may import its own floor and
# any floor below it; the two on floor 2 (transport and engine) never import each other.
FLOORS: dict[str, int] = {
    "domain": 1,  # polyarch/domain/, plus the modules at the package's root below
    "transport": 2,
    "engine": 2,
    "storage": 3,
    "content": 4,
    "operations": 5,
    "pipeline": 6,
    "cli": 7,
}
# Modules at the package's root that belong to the domain floor (no I/O of the network).
ROOT_DOMAIN = {"errors", "files", "pipes", "_version"}


def test_all_is_complete_and_exported() -> None:
    for name in polyarch.__all__:
        assert hasattr(polyarch, name), name
        obj = getattr(polyarch, name)
        if name != "__version__":
            assert obj.__doc__, f"{name} has no docstring"
    assert sorted(polyarch.__all__) == polyarch.__all__


def test_py_typed() -> None:
    assert (SRC / "py.typed").exists()


def _layer(first: str) -> str:
    """The floor of a module, from its first name under ``polyarch``."""
    first = first.removesuffix(".py")
    if first == "__main__":
        return "cli"
    if first in ROOT_DOMAIN:
        return "domain"
    return first


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "polyarch":
            # "from polyarch.domain import mediatype" imports a submodule, or a root re-export.
            found.update(
                f"polyarch.{a.name}"
                if (SRC / f"{a.name}.py").exists() or (SRC / a.name).is_dir()
                else "polyarch"
                for a in node.names
            )
        elif (
            isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("polyarch")
        ):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("polyarch"))
    return found


def test_lower_layers_never_import_higher_ones() -> None:
    assert {
        p.name.removesuffix(".py") for p in SRC.iterdir() if not p.name.startswith(("_", "."))
    } <= (set(FLOORS) | ROOT_DOMAIN | {"py.typed"}), (
        "a new top-level package needs its floor in FLOORS and docs/architecture.md"
    )
    violations = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC)
        if rel.name == "__init__.py" and rel.parent == Path("."):
            continue  # the root face re-exports every floor, lazily
        layer = _layer(rel.parts[0])
        for module in _imports(path):
            parts = module.split(".")
            if len(parts) == 1:
                violations.append(f"{rel} ({layer}) imports the root face {module}")
                continue
            target = _layer(parts[1])
            ok = target == layer or FLOORS[target] < FLOORS[layer]
            if not ok:
                violations.append(f"{rel} ({layer}) imports {module} ({target})")
    assert not violations, "\n".join(violations)
