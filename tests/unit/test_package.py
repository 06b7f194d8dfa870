"""Package-level promises: public names, layering, typing marker."""

from __future__ import annotations

import ast
from pathlib import Path

import polyarch

SRC = Path(polyarch.__file__).parent

DOMAIN = {
    "files",
    "_version",
    "_lazy",
    "errors",
    "digest",
    "mediatype",
    "reference",
    "location",
    "platform",
    "descriptor",
    "manifest",
}
# Which top-level parts each layer may import (besides itself and the domain).
ALLOWED = {
    "domain": set(),
    "transport": set(),
    "storage": {"transport"},
    "operations": {"transport", "storage"},
    "pipeline": {"transport", "storage", "operations"},
    "cli": {"transport", "storage", "operations", "pipeline", "__init__"},
}


def test_all_is_complete_and_exported() -> None:
    for name in polyarch.__all__:
        assert hasattr(polyarch, name), name
        obj = getattr(polyarch, name)
        if name != "__version__":
            assert obj.__doc__, f"{name} has no docstring"
    assert sorted(polyarch.__all__) == polyarch.__all__


def test_py_typed() -> None:
    assert (SRC / "py.typed").exists()


def _layer(module: str) -> str:
    first = module.split(".", maxsplit=1)[0].removesuffix(".py")
    if first == "__main__":
        return "cli"
    return "domain" if first in DOMAIN else first


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "polyarch":
            # "from polyarch import mediatype" imports a submodule, or a root re-export.
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
    violations = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC)
        if rel.name == "__init__.py" and rel.parent == Path("."):
            continue
        layer = _layer(str(rel.parts[0]).removesuffix(".py"))
        for module in _imports(path):
            parts = module.split(".")
            target = "__init__" if len(parts) == 1 else _layer(parts[1])
            if target in ("domain", layer):
                continue
            if target not in ALLOWED.get(layer, set()):
                violations.append(f"{rel} ({layer}) imports {module} ({target})")
    assert not violations, "\n".join(violations)
