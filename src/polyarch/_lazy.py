"""Lazy re-exports for package ``__init__`` modules (PEP 562 module ``__getattr__``).

A CLI call imports only what its command uses: ``polyarch --version`` must not import
httpx, and ``polyarch inspect`` must not import the build pipeline. So the packages
(``polyarch``, ``polyarch.operations``, ...) name their public objects and the module each
lives in, and import that module on first attribute access. Static type checkers see
the same names through ``if TYPE_CHECKING:`` imports; ``tests/unit/test_package.py``
checks that both lists agree.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    namespace: dict[str, Any], exports: Mapping[str, tuple[str, ...]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Build a module ``__getattr__`` and ``__dir__`` that import exports on demand.

    Parameters:
        namespace: the package's ``globals()``: resolved names are cached there, so later
            look-ups are plain attribute reads.
        exports: module path -> the public names it defines, e.g.
            ``{"polyarch.operations.copy": ("CopyRequest", "copy_image")}``.

    Returns:
        ``(__getattr__, __dir__)`` to assign in the package. ``__getattr__`` raises
        :class:`AttributeError` for a name that is not exported, as a module does.
    """
    where = {name: module for module, names in exports.items() for name in names}
    package = namespace["__name__"]
    # Some exports share their name with the submodule defining them (operations.verify is
    # the function verify, in the module operations/verify.py). Importing a submodule binds
    # it as an attribute of its package; an eager ``from .verify import verify`` rebound the
    # name to the function right after, so the package keeps the function here as well.
    shadowed = {name for name, module in where.items() if module == f"{package}.{name}"}
    if shadowed:
        sys.modules[package].__class__ = _keeping(frozenset(shadowed), package)

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *where})

    return __getattr__, __dir__


def _keeping(names: frozenset[str], package: str) -> type[types.ModuleType]:
    """A module class that does not let the import system bind submodules ``names``."""

    class Package(types.ModuleType):
        def __setattr__(self, name: str, value: Any) -> None:
            is_submodule = isinstance(value, types.ModuleType)
            if name in names and is_submodule and value.__name__ == f"{package}.{name}":
                return  # the export of that name (a function) stays, resolved lazily
            super().__setattr__(name, value)

    return Package
