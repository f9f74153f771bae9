"""The import graph of the repository as the layer tests read it: every import of a file, at any
depth (a function's lazy one included), relative ones made absolute, `from pkg import module`
told apart from `from pkg import name`."""
from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, imported module, names) of every import in a file, at any depth; relative ones made absolute."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            names = [alias.name for alias in node.names]
            # `from fwformer.data import cifar` imports a module; `from search.report import compare`, a
            # public function that shares its module's name
            submodules = [n for n in names if _is_module(f"{module}.{n}") and n not in _public(module)]
            out += [(node.lineno, f"{module}.{n}", []) for n in submodules]
            if len(submodules) < len(names):
                out.append((node.lineno, module, [n for n in names if n not in submodules]))
    return out


def _public(package: str) -> tuple:
    import importlib

    try:
        return tuple(getattr(importlib.import_module(package), "__all__", ()))
    except ImportError:
        return ()


def _is_module(dotted: str) -> bool:
    path = REPO.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def python_files(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (REPO / folder).rglob("*.py"))
