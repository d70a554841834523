"""The import-linter contract that keeps import cycles out (tests/import_contracts.py)."""

from __future__ import annotations

import grimp
import pytest

from tests.import_contracts import AcyclicModulesContract, Cycle, Link, find_cycles


def _graph(*imports: tuple[str, str]) -> grimp.ImportGraph:
    graph = grimp.ImportGraph()
    for importer, imported in imports:
        graph.add_import(importer=importer, imported=imported, line_number=3, line_contents=f"import {imported}")
    return graph


def _contract(*containers: str) -> AcyclicModulesContract:
    return AcyclicModulesContract(
        name="no import cycle", session_options={"root_packages": ["pkg"]}, contract_options={"containers": containers}
    )


def test_a_cycle_is_named_import_by_import() -> None:
    graph = _graph(("pkg.a", "pkg.b"), ("pkg.b", "pkg.c"), ("pkg.c", "pkg.a"), ("pkg.d", "pkg.a"))
    [cycle] = find_cycles(graph, ["pkg"])
    assert cycle == Cycle(
        modules=("pkg.a", "pkg.b", "pkg.c"),
        links=(
            Link("pkg.a", "pkg.b", 3, "import pkg.b"),
            Link("pkg.b", "pkg.c", 3, "import pkg.c"),
            Link("pkg.c", "pkg.a", 3, "import pkg.a"),
        ),
    )
    assert cycle.describe() == "pkg.a -> pkg.b -> pkg.c -> pkg.a"


def test_the_shortest_cycle_of_a_group_is_shown() -> None:
    graph = _graph(("pkg.a", "pkg.b"), ("pkg.b", "pkg.c"), ("pkg.c", "pkg.a"), ("pkg.b", "pkg.a"))
    [cycle] = find_cycles(graph, ["pkg"])
    assert cycle.modules == ("pkg.a", "pkg.b", "pkg.c")
    assert cycle.describe() == "pkg.a -> pkg.b -> pkg.a"


def test_a_cycle_through_a_package_init_counts() -> None:
    graph = _graph(("pkg", "pkg.sub"), ("pkg.sub", "pkg.sub.leaf"), ("pkg.sub.leaf", "pkg"))
    assert [cycle.describe() for cycle in find_cycles(graph, ["pkg"])] == ["pkg -> pkg.sub -> pkg.sub.leaf -> pkg"]


def test_only_cycles_through_the_containers_are_reported() -> None:
    graph = _graph(("other.x", "other.y"), ("other.y", "other.x"), ("pkg.a", "other.x"))
    assert find_cycles(graph, ["pkg"]) == []
    assert [cycle.modules for cycle in find_cycles(graph, ["other"])] == [("other.x", "other.y")]


def test_the_contract_breaks_and_prints_each_cycle(capsys: pytest.CaptureFixture[str]) -> None:
    contract = _contract("pkg")
    graph = _graph(("pkg.a", "pkg.b"), ("pkg.b", "pkg.a"), ("pkg.c", "pkg.d"), ("pkg.d", "pkg.c"))
    check = contract.check(graph, verbose=False)
    assert not check.kept
    contract.render_broken_contract(check)
    printed = capsys.readouterr().out
    assert "Import cycle: pkg.a -> pkg.b -> pkg.a" in printed
    assert "Import cycle: pkg.c -> pkg.d -> pkg.c" in printed
    assert "pkg.b -> pkg.a (l.3: import pkg.a)" in printed


def test_the_contract_is_kept_without_cycles() -> None:
    graph = _graph(("pkg.a", "pkg.b"), ("pkg.b", "pkg.c"), ("pkg", "pkg.a"))
    assert _contract("pkg").check(graph, verbose=False).kept
