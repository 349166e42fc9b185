"""No import cycle between the product's modules, imports made only for type checking included.

import-linter keeps the layers one way; this keeps each layer's modules from leaning on
one another in a circle, which a `TYPE_CHECKING` block or a function-level import would
otherwise hide from Python itself. The graph is grimp's, the library import-linter uses.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Set

import grimp

PACKAGES = ("ats", "bot", "bridge", "devtools", "membership", "policies", "provisioning")


def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, exclude_type_checking_imports=False, cache_dir=None)


def cycles(edges: Mapping[str, Set[str]]) -> Iterator[frozenset[str]]:
    """Each set of two or more modules that import one another in a circle (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()

    def visit(module: str) -> Iterator[frozenset[str]]:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(edges.get(module, ())):
            if imported not in index:
                yield from visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == module:
                    break
            if len(component) > 1:
                yield frozenset(component)

    for module in sorted(edges):
        if module not in index:
            yield from visit(module)


def described(found: grimp.ImportGraph, component: frozenset[str]) -> str:
    """One circle through `component`, as `a -> b -> ... -> a` with each import's line."""
    start = min(component)
    step = min(m for m in found.find_modules_directly_imported_by(start) if m in component)
    chain = (start, *(found.find_shortest_chain(importer=step, imported=start) or ()))
    lines = []
    for importer, imported in zip(chain, chain[1:], strict=False):
        details = found.get_import_details(importer=importer, imported=imported)
        where = f" (line {details[0]['line_number']})" if details else ""
        lines.append(f"{importer} -> {imported}{where}")
    return "; ".join(lines)


def test_the_cycle_finder_finds_a_circle_and_only_a_circle() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"d"}}
    assert list(cycles(edges)) == [frozenset({"a", "b", "c"})]
    assert list(cycles({"a": {"b"}, "b": set()})) == []


def test_no_import_cycle_between_modules() -> None:
    found = graph()
    edges = {m: found.find_modules_directly_imported_by(m) for m in found.modules}
    assert "policies.tomlcheck" in edges, "the graph does not hold the product's modules"
    found_cycles = [described(found, c) for c in cycles(edges)]
    assert not found_cycles, "import cycles:\n" + "\n".join(found_cycles)
