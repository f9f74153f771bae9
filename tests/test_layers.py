"""Imports flow one way: fwformer <- space <- search <- benchmarks, and inside `search` from the
layers of `search.LAYERS` upwards; benchmarks and tests use each search package's public names.

Every import counts, a function's lazy one included: a lazy import that climbs back is the same
dependency, only later."""
from __future__ import annotations

import pytest

import search
from import_graph import REPO, imports_of, module_name, python_files

TOP = ("fwformer", "space", "search", "benchmarks")  # each may import only those before it


def layer_violations(importer: str, imported: str) -> str | None:
    """Why `importer` may not import `imported`, or None."""
    top_from, top_to = importer.split(".")[0], imported.split(".")[0]
    if top_to in TOP and top_from in TOP and TOP.index(top_to) > TOP.index(top_from):
        return f"{top_from} is below {top_to}"
    if top_from == top_to == "search":
        parts_from, parts_to = importer.split("."), imported.split(".")
        if len(parts_from) > 1 and len(parts_to) > 1 and parts_to[1] in search.LAYERS:
            layer_from, layer_to = parts_from[1], parts_to[1]
            if layer_from in search.LAYERS and search.LAYERS.index(layer_to) > search.LAYERS.index(layer_from):
                return f"search.{layer_from} is below search.{layer_to} (search.LAYERS)"
    return None


def test_the_layer_rule_catches_an_import_that_climbs_back():
    assert layer_violations("search.records.attributes", "search.front") is not None
    assert layer_violations("fwformer.model", "search.study") is not None
    assert layer_violations("search.front.stored", "search.supernet.candidates") is not None
    assert layer_violations("search.run.plan", "search.study") is None
    assert layer_violations("search.front.front", "search.front.pareto") is None


def test_every_search_package_is_a_layer():
    packages = {p.name for p in (REPO / "search").iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    modules = {p.stem for p in (REPO / "search").glob("*.py") if p.stem != "__init__"}
    assert packages | modules == set(search.LAYERS)


@pytest.mark.parametrize("folder", TOP)
def test_imports_flow_one_way(folder):
    bad = []
    for path in python_files(folder):
        importer = module_name(path)
        for line, imported, _ in imports_of(path):
            why = layer_violations(importer, imported)
            if why:
                bad.append(f"{path.relative_to(REPO)}:{line} imports {imported}: {why}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("folder", ["benchmarks", "tests"])
def test_benchmarks_and_tests_use_public_names_only(folder):
    """`from search.front import Front`, never `search.front.front`: a package's modules may move."""
    import importlib

    bad = []
    for path in python_files(folder):
        for line, imported, names in imports_of(path):
            parts = imported.split(".")
            if parts[0] != "search":
                continue
            if len(parts) > 2:
                bad.append(f"{path.relative_to(REPO)}:{line} imports the module {imported}")
            elif len(parts) == 2 and names:
                public = set(importlib.import_module(imported).__all__)
                bad += [f"{path.relative_to(REPO)}:{line} imports {imported}.{n}, not in its __all__"
                        for n in names if n not in public]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("layer", [name for name in search.LAYERS if (REPO / "search" / name).is_dir()])
def test_every_public_name_exists(layer):
    import importlib

    package = importlib.import_module(f"search.{layer}")
    assert package.__all__, f"search.{layer} declares no public names"
    for name in package.__all__:
        assert getattr(package, name) is not None
