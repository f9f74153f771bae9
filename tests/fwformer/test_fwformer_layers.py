"""Imports inside `fwformer` flow one way, from the layers of `fwformer.LAYERS` upwards, and the code
outside it uses the public names of the packages whose modules are theirs to move.

Every import counts, a function's lazy one included: a lazy import that climbs back is the same
dependency, only later. (`tests/test_layers.py` keeps fwformer below space, search and benchmarks.)"""
from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import fwformer

from import_graph import REPO, imports_of, module_name, python_files

PACKAGES = [name for name in fwformer.LAYERS if (REPO / "fwformer" / name / "__init__.py").is_file()]
#: Packages whose unit tests, and whose users in space/ and search/, reach into modules on purpose (the
#: filter banks, the frame cache, the mixer registry's helpers): what they import from the package
#: itself must be public all the same.
INTERNALS_USED = ("data", "energy", "mixers")


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "fwformer" and parts[1] in fwformer.LAYERS else None


def layer_violation(importer: str, imported: str) -> str | None:
    """Why `importer` (a module of fwformer) may not import `imported`, or None."""
    layer_from, layer_to = layer_of(importer), layer_of(imported)
    if layer_from is None or layer_to is None:
        return None
    if fwformer.LAYERS.index(layer_to) > fwformer.LAYERS.index(layer_from):
        return f"fwformer.{layer_from} is below fwformer.{layer_to} (fwformer.LAYERS)"
    if layer_to == layer_from and imported == f"fwformer.{layer_from}" and importer != imported:
        # The package's __init__ imports its modules: a module importing it back is a cycle.
        return f"a module of fwformer.{layer_from} imports its own package; import the module itself"
    return None


def test_the_layer_rule_catches_an_import_that_climbs_back():
    assert layer_violation("fwformer.data.base", "fwformer.train") is not None  # data is below train
    assert layer_violation("fwformer.mixers.ssa", "fwformer.config") is not None
    assert layer_violation("fwformer.cli.errors", "fwformer.layers.neurons") is not None
    assert layer_violation("fwformer.layers.sps", "fwformer.layers") is not None  # its own package
    assert layer_violation("fwformer.train.loop", "fwformer.data") is None
    assert layer_violation("fwformer.layers.sps", "fwformer.layers.neurons") is None
    assert layer_violation("fwformer.summary", "fwformer.train") is None


def test_every_fwformer_package_and_module_is_a_layer():
    top = REPO / "fwformer"
    packages = {p.name for p in top.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    modules = {p.stem for p in top.glob("*.py") if p.stem != "__init__"}
    assert packages | modules == set(fwformer.LAYERS)
    assert len(set(fwformer.LAYERS)) == len(fwformer.LAYERS)


def test_imports_inside_fwformer_flow_one_way():
    bad = []
    for path in python_files("fwformer"):
        importer = module_name(path)
        for line, imported, _ in imports_of(path):
            why = layer_violation(importer, imported)
            if why:
                bad.append(f"{path.relative_to(REPO)}:{line} imports {imported}: {why}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("folder", ["space", "search", "benchmarks", "tests"])
def test_code_outside_fwformer_uses_public_names(folder):
    """`from fwformer.supernet import Supernet`, never `fwformer.supernet.supernet`: a package's modules may move."""
    bad = []
    for path in python_files(folder):
        for line, imported, names in imports_of(path):
            parts = imported.split(".")
            if parts[0] != "fwformer" or len(parts) < 2 or parts[1] not in PACKAGES:
                continue
            if len(parts) > 2:
                if parts[1] not in INTERNALS_USED:
                    bad.append(f"{path.relative_to(REPO)}:{line} imports the module {imported}")
            else:
                public = set(importlib.import_module(imported).__all__)
                bad += [f"{path.relative_to(REPO)}:{line} imports {imported}.{n}, not in its __all__"
                        for n in names if n not in public]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("package", PACKAGES)
def test_every_package_documents_itself_and_its_public_names_exist(package):
    module = importlib.import_module(f"fwformer.{package}")
    assert module.__doc__ and module.__doc__.strip(), f"fwformer.{package} has no docstring"
    assert module.__all__, f"fwformer.{package} declares no public names"
    for name in module.__all__:
        assert getattr(module, name) is not None


@pytest.mark.parametrize("command", ["train", "evaluate", "summary"])
def test_every_command_module_builds_its_parser(command):
    parser = importlib.import_module(f"fwformer.{command}").build_parser()
    assert parser.prog == f"python -m fwformer.{command}"


def test_importing_fwformer_its_config_and_its_errors_loads_no_torch():
    """Spaces, studies and every command line read configs first: that must not wait for torch."""
    code = ("import sys, fwformer, fwformer.config\n"
            "from fwformer.cli import ConfigError, exit_on_user_error, merge_structured\n"
            "print(sorted(m for m in ('torch', 'spikingjelly') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert done.stdout.strip() == "[]"
