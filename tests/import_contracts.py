"""An import-linter contract type: no import cycle between the modules of a package, at any depth.

Registered in ``pyproject.toml`` (``contract_types``) and run by ``lint-imports``. Every import counts,
those inside functions and under ``TYPE_CHECKING`` included: a cycle a reader has to follow is a cycle,
whether Python meets it at import time or not. A broken contract names each cycle, import by import.

import-linter's own ``acyclic_siblings`` contract checks packages against their siblings; this one
checks modules, so it also sees a cycle through a package's ``__init__`` (a module importing its own
package, which imports it back).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from itertools import pairwise
from typing import cast

import grimp
from importlinter.application import output
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck
from importlinter.domain.imports import Module
from rich.markup import escape

__all__ = ["AcyclicModulesContract", "Cycle", "Link", "find_cycles"]


@dataclass(frozen=True, slots=True)
class Link:
    """One import of a cycle: who imports whom, and where (the first such import in the importer)."""

    importer: str
    imported: str
    line_number: int | None
    line_contents: str


@dataclass(frozen=True, slots=True)
class Cycle:
    """Modules that all import each other, directly or not (a strongly connected component), and the
    shortest cycle through the first of them."""

    modules: tuple[str, ...]
    links: tuple[Link, ...]

    def describe(self) -> str:
        """``a -> b -> a``: the cycle's modules in import order."""
        return " -> ".join([*(link.importer for link in self.links), self.links[0].importer])


def find_cycles(graph: grimp.ImportGraph, containers: Collection[str]) -> list[Cycle]:
    """Every import cycle through a module of ``containers`` (package names), one per group of modules."""
    cycles: list[Cycle] = []
    seen: set[str] = set()
    for module in sorted(graph.modules):
        if module in seen or not any(module == name or module.startswith(name + ".") for name in containers):
            continue
        component = {module} | (graph.find_upstream_modules(module) & graph.find_downstream_modules(module))
        seen |= component
        if len(component) > 1:
            cycles.append(Cycle(tuple(sorted(component)), _shortest_cycle(graph, module, component)))
    return cycles


def _shortest_cycle(graph: grimp.ImportGraph, start: str, component: set[str]) -> tuple[Link, ...]:
    chains = [
        chain
        for imported in sorted(graph.find_modules_directly_imported_by(start) & component)
        if (chain := graph.find_shortest_chain(importer=imported, imported=start)) is not None
    ]
    path = (start, *min(chains, key=len))
    return tuple(_link(graph, importer, imported) for importer, imported in pairwise(path))


def _link(graph: grimp.ImportGraph, importer: str, imported: str) -> Link:
    details = graph.get_import_details(importer=importer, imported=imported)
    if not details:
        return Link(importer, imported, None, "")
    first = min(details, key=lambda item: item["line_number"])
    return Link(importer, imported, first["line_number"], first["line_contents"])


class AcyclicModulesContract(Contract):
    """No module of ``containers`` is part of an import cycle.

    Configuration options:

        - containers: the packages whose modules are checked (every module below them, at any depth).
    """

    type_name = "acyclic_modules"

    containers = fields.ListField(subfield=fields.ModuleField())

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        """Kept when no module of the containers imports itself back through other modules."""
        names = [module.name for module in cast("list[Module]", self.containers)]
        output.verbose_print(verbose, f"Searching for import cycles in {', '.join(names)}...")
        cycles = find_cycles(graph, names)
        return ContractCheck(kept=not cycles, metadata={"cycles": cycles})

    def render_broken_contract(self, check: ContractCheck) -> None:
        """Print each cycle: its modules, then each import that closes it, with its line."""
        cycles: list[Cycle] = check.metadata["cycles"]
        for cycle in cycles:
            output.print_error(f"Import cycle: {cycle.describe()}")
            if len(cycle.modules) > len(cycle.links):
                output.print_error(f"(one of the cycles among {', '.join(cycle.modules)})", bold=False)
            for link in cycle.links:
                where = "" if link.line_number is None else f" (l.{link.line_number}: {escape(link.line_contents)})"
                output.indent_cursor()
                output.print_error(f"{link.importer} -> {link.imported}{where}", bold=False)
            output.new_line()
        output.print(
            "Break a cycle by design: move the shared piece to a module both can import, pass ids or small "
            "records across packages, or have the lower module declare what it needs as a Protocol."
        )
