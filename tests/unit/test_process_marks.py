"""A test that starts the real `python -m ats.cli` is marked `process`: it is about the
process (a kill at a given moment, signals, two at once, start-up, the demo as a person
runs it). Every other command a test runs is forked from the tests' fork server
(`tests/forked_cli.py`), which is faster; this check keeps the two kinds apart and the
slow kind visible (`pytest -m process`, `pytest -m "not process"`).

A test starts the real process when its body, a helper or fixture of its module it uses
(directly or through another), or a helper it imports from another test module names
`ats.cli` as a command.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
NOT_THE_REAL_PROCESS = {"forked_cli.py", "cli_preload.py"}


def _names_the_module(node: ast.AST) -> bool:
    """Whether `node` names `ats.cli` in a string (a command line, a `python -c` script),
    docstrings aside."""
    docstrings = {
        id(body[0].value)
        for n in ast.walk(node)
        if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef)
        and (body := n.body)
        and isinstance(body[0], ast.Expr)
    }
    return any(
        isinstance(n, ast.Constant)
        and isinstance(n.value, str)
        and "ats.cli" in n.value
        and id(n) not in docstrings
        for n in ast.walk(node)
    )


@functools.cache
def _parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def _starting_helpers(path: Path, tree: ast.Module, depth: int = 0) -> set[str]:
    """Names of the module's functions and classes (and the helpers it imports from other
    test modules) that start the real process."""
    units: dict[str, ast.AST] = {
        node.name: node
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and not node.name.startswith("test_")
    }
    starting = {name for name, node in units.items() if _names_the_module(node)}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tests."):
            source = TESTS.parent / (node.module.replace(".", "/") + ".py")
            if source.name in NOT_THE_REAL_PROCESS or not source.exists() or depth > 3:
                continue
            theirs = _helpers_of(source, depth + 1)
            starting |= {alias.asname or alias.name for alias in node.names if alias.name in theirs}
    uses = {name: _used(node) for name, node in units.items()}
    changed = True
    while changed:
        changed = False
        for name in units:
            if name not in starting and uses[name] & starting:
                starting.add(name)
                changed = True
    return starting


@functools.cache
def _helpers_of(path: Path, depth: int) -> set[str]:
    return _starting_helpers(path, _parsed(path), depth)


def _used(node: ast.AST) -> set[str]:
    """The names a function or class uses, and a function's fixtures (its parameters)."""
    used = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    if isinstance(node, ast.FunctionDef):
        used |= {a.arg for a in node.args.args}
    return used


def _uses(node: ast.AST, names: set[str]) -> bool:
    return bool(_used(node) & names)


def _marked(node: ast.FunctionDef, module_marks: set[str]) -> bool:
    marks = set(module_marks)
    for decorator in node.decorator_list:
        marks |= {n.attr for n in ast.walk(decorator) if isinstance(n, ast.Attribute)}
    return "process" in marks


def starting_tests() -> dict[str, bool]:
    """Every test that starts the real process, with whether it is marked `process`."""
    found: dict[str, bool] = {}
    for path in sorted(TESTS.rglob("test_*.py")):
        if path == Path(__file__).resolve():
            continue  # its own example names the module
        tree = _parsed(path)
        module_marks = {
            n.attr
            for node in tree.body
            if isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets)
            for n in ast.walk(node)
            if isinstance(n, ast.Attribute)
        }
        starting = _starting_helpers(path, tree)
        for node in tree.body:
            if not (isinstance(node, ast.FunctionDef) and node.name.startswith("test_")):
                continue
            if _names_the_module(node) or _uses(node, starting):
                found[f"{path.relative_to(TESTS)}::{node.name}"] = _marked(node, module_marks)
    return found


def test_the_tests_that_start_the_real_process_are_marked() -> None:
    found = starting_tests()
    assert found, "no test starts the real process: the check has lost its way"
    unmarked = sorted(name for name, marked in found.items() if not marked)
    assert not unmarked, "start `python -m ats.cli` but are not marked `process`:\n" + "\n".join(
        unmarked
    )


def test_the_check_sees_a_helper_and_a_fixture(tmp_path: Path) -> None:
    source = """
import subprocess, sys
import pytest

def start(config):
    return subprocess.Popen([sys.executable, "-m", "ats.cli", "--config", config])

@pytest.fixture
def watcher():
    yield start("x")

def test_by_helper():
    start("x")

def test_by_fixture(watcher):
    pass

def test_neither(tmp_path):
    pass
"""
    tree = ast.parse(source)
    starting = _starting_helpers(tmp_path / "test_x.py", tree)
    tests = {
        node.name: _uses(node, starting)
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    }
    assert tests == {"test_by_helper": True, "test_by_fixture": True, "test_neither": False}
