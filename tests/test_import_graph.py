"""Dependency direction: validators never import torch or provers; oracle imports none of the roles."""

from __future__ import annotations

import ast
import subprocess
import sys

from conftest import ROOT


def _imports(package: str) -> set[str]:
    found = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return found


def test_static_import_direction():
    assert not _imports("validators") & {"torch", "provers", "onnx"}
    assert not _imports("oracle") & {"torch", "provers", "validators", "markets", "onnx"}
    assert not _imports("markets") & {"torch", "provers", "validators", "onnx"}


def test_validator_runs_with_torch_unimportable():
    """Import every validator module with torch and provers blocked at the import system."""
    code = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('torch', 'provers', 'onnx'):
            raise ImportError('blocked: ' + name)
sys.meta_path.insert(0, Block())
import validators.validator, validators.aggregator, validators.verifier
import markets.spec, markets.feeds, markets.features, markets.rules
import oracle.chain, oracle.deployment, oracle.pipeline, oracle.bundle, oracle.models
assert 'torch' not in sys.modules
print('ok')
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
