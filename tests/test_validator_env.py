"""`pip install .[validator]` gives a working validator without torch: build that environment
and run a real verification in it (a resolver's proof over evidence it gathers from every source)."""

from __future__ import annotations

import json
import subprocess
import venv

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow

SCRIPT = """
import json, sys
sys.path = [p for p in sys.path if p != '']
from markets.feeds import load_source
from markets.spec import MarketSpec
from oracle.bundle import ProofBundle
from oracle.eip712 import Domain
from oracle.signer import LocalSigner
from oracle.store import ArtifactStore
from validators.validator import Validator
spec = MarketSpec.parse(json.load(open(sys.argv[2])))
bundle = ProofBundle.from_json(json.load(open(sys.argv[3])))
v = Validator(LocalSigner.create(), ArtifactStore(sys.argv[1]), Domain(1, "0x" + "11" * 20), load_source)
review = v.review(spec, bundle)
try:
    import torch
    has_torch = True
except ImportError:
    has_torch = False
print(json.dumps({"signed": review.signed, "checks": review.checks, "torch": has_torch,
                  "off_median": sorted({d["source"] for x in v.deviations for d in x["sources"]}),
                  "refusal": review.refusal.to_json() if review.refusal else None}))
"""


def test_validator_extra_installs_without_torch_and_verifies(tmp_path, store, spec, bundle):
    env = tmp_path / "validator-env"
    venv.EnvBuilder(with_pip=True).create(env)
    py = env / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "--quiet", f"{ROOT}[validator]"], check=True,
                   capture_output=True, cwd=tmp_path)
    listed = subprocess.run([str(py), "-m", "pip", "list", "--format=json"], check=True, capture_output=True,
                            text=True).stdout
    names = {p["name"].lower() for p in json.loads(listed)}
    assert "torch" not in names and "onnx" not in names and "ezkl" in names

    (tmp_path / "spec.json").write_text(json.dumps(spec.to_json()))
    (tmp_path / "bundle.json").write_text(json.dumps(bundle.to_json()))
    (tmp_path / "check.py").write_text(SCRIPT)
    done = subprocess.run([str(py), str(tmp_path / "check.py"), str(store.root), str(tmp_path / "spec.json"),
                           str(tmp_path / "bundle.json")], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["torch"] is False
    assert result["signed"] is True, result["refusal"]
    assert "proof" in result["checks"] and "inputs" in result["checks"]
    # it read the evidence from every provider itself: Yahoo's March 2019 close is off the median
    assert result["off_median"] == ["bundled:btc_usd_daily.csv"]
