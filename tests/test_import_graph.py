"""Dependency direction: `cli.py` -> `network` -> `markets`, `provers`, `validators` -> `oracle`.

Validators never import torch or provers (nor provers validators: the two roles are siblings);
oracle imports none of the roles nor the network layer; and no module of the project imports
itself back through others: the module-level import graph (deferred imports inside functions
included) is acyclic."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

PACKAGES = ("oracle", "markets", "provers", "validators", "network", "commands")
SCRIPTS = ("cli.py", "node.py")


def _imports(package: str) -> set[str]:
    found = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return found


# ------------------------------------------------------------ the module graph
def _modules() -> dict[str, Path]:
    """Every module of the project by dotted name (a package by its own name, for its __init__)."""
    mods = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    for script in SCRIPTS:
        if (ROOT / script).exists():
            mods[script[:-3]] = ROOT / script
    return mods


def _import_graph() -> dict[str, set[str]]:
    """module -> the project's modules it imports, wherever in the file the import statement is."""
    mods = _modules()

    def known(name: str) -> str | None:  # `from a.b import c`: the module a.b.c, else a.b (c is a name in it)
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*anchor, *([base] if base else [])])
                targets = [f"{base}.{a.name}" if base else a.name for a in node.names]
            for t in targets:
                found = known(t)
                if found is not None and found != mod:
                    graph[mod].add(found)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (its modules in order, the first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                return path[path.index(n):] + [n]
            if n not in state and (found := visit(n)):
                return found
        path.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m)):
            return found
    return None


def _top_level_imports(package: str) -> set[str]:
    """The first component of every project module `package`'s modules import."""
    graph = _import_graph()
    return {t.split(".")[0] for m, ts in graph.items() if m == package or m.startswith(package + ".") for t in ts}


# -------------------------------------------------------------------- the tests
def test_static_import_direction():
    assert not _imports("validators") & {"torch", "provers", "onnx", "network"}
    assert not _imports("oracle") & {"torch", "provers", "validators", "markets", "network", "onnx"}
    assert not _imports("markets") & {"torch", "provers", "validators", "network", "onnx"}
    assert not _imports("provers") & {"validators", "network"}


def test_sibling_roles_do_not_import_each_other():
    """Relative imports included: neither role package reaches the other, nor the network layer above."""
    assert not _top_level_imports("provers") & {"validators", "network"}
    assert not _top_level_imports("validators") & {"provers", "network"}


def test_oracle_imports_no_role_and_no_network():
    assert _top_level_imports("oracle") <= {"oracle"}


def test_nothing_below_the_cli_imports_it():
    for package in ("network", "markets", "provers", "validators", "oracle"):
        assert not _top_level_imports(package) & {"cli", "commands"}, package


def test_the_import_graph_has_no_cycle():
    graph = _import_graph()
    assert {"oracle.chain", "network.transport", "network.roles.aggregator", "cli"} <= set(graph)
    assert "network.transport" in graph["network.roles.prover"]  # relative imports are resolved
    cycle = _cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_one():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_validator_runs_with_torch_unimportable():
    """Import every validator module with torch and provers blocked at the import system."""
    code = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('torch', 'provers', 'onnx'):
            raise ImportError('blocked: ' + name)
sys.meta_path.insert(0, Block())
import validators.validator, validators.aggregator, validators.verifier, validators.evidence
import markets.spec, markets.feeds, markets.features, markets.rules
import oracle.chain, oracle.deployment, oracle.pipeline, oracle.bundle, oracle.models
import network.transport, network.home, network.roles.validator, network.roles.aggregator
assert 'torch' not in sys.modules
print('ok')
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
