"""The committed ABI + bytecode are exactly what the pinned solc makes of contracts/*.sol."""

import json
import shutil
import subprocess

import pytest

from conftest import ROOT


def test_artifacts_are_fresh(tmp_path):
    if shutil.which("node") is None or not (ROOT / "node_modules" / "solc").exists():
        pytest.fail("node and the pinned solc (npm ci) are required to check the contract artifacts")
    subprocess.run(["node", str(ROOT / "contracts" / "compile.mjs"), "--out", str(tmp_path)],
                   check=True, capture_output=True, cwd=ROOT)
    fresh = sorted(p.name for p in tmp_path.glob("*.json"))
    committed = sorted(p.name for p in (ROOT / "oracle" / "contracts").glob("*.json"))
    assert fresh == committed, "artifact set differs: run `npm run compile`"
    for name in fresh:
        a = json.loads((tmp_path / name).read_text())
        b = json.loads((ROOT / "oracle" / "contracts" / name).read_text())
        assert a == b, f"{name} is stale: run `npm run compile` and commit"


def test_pinned_compiler_and_evm():
    pkg = json.loads((ROOT / "package.json").read_text())
    assert pkg["devDependencies"]["solc"] == "0.8.37"
    art = json.loads((ROOT / "oracle" / "contracts" / "QuorumOracle.json").read_text())
    assert art["compiler"].startswith("0.8.37")
    assert art["settings"]["evmVersion"] == "prague"


def test_every_contract_fits_the_eip170_size_limit():
    """A contract over 24,576 bytes of runtime code cannot be deployed on any mainnet-rules chain
    (QuorumOracle is the one near it)."""
    sizes = {p.stem: (len(json.loads(p.read_text())["deployedBytecode"]) - 2) // 2
             for p in (ROOT / "oracle" / "contracts").glob("*.json")}
    assert sizes["QuorumOracle"] > 0 and sizes["MarketRegistry"] > 0
    assert {name: size for name, size in sizes.items() if size >= 24_576} == {}


def _abi_type(p: dict) -> str:
    """A parameter's full ABI type, tuple components spelled out with their names: the wire is
    positional, so two neighbours of one type swapped in a mirror would decode each other's value."""
    t = p["type"]
    if t.startswith("tuple"):
        return "(" + ",".join(f"{_abi_type(c)} {c['name']}" for c in p["components"]) + ")" + t[len("tuple"):]
    return t


# each reads-only interface a contract declares beside itself, and the contract whose answers it decodes
MIRRORS = {"IMarketRegistryReads": "MarketRegistry", "IQuorumOracleReads": "QuorumOracle", "ICourtReads": "DisputeCourt"}


@pytest.mark.parametrize("interface", sorted(MIRRORS))
def test_reads_interfaces_decode_what_their_contracts_return(interface):
    """A mirror struct one field short decodes the wrong words silently (all-static tuples carry no
    lengths): every function of a reads interface takes and returns exactly the types of the
    contract's own function of that name."""
    def functions(name: str) -> dict:
        abi = json.loads((ROOT / "oracle" / "contracts" / f"{name}.json").read_text())["abi"]
        return {f["name"]: ([_abi_type(i) for i in f["inputs"]], [_abi_type(o) for o in f["outputs"]])
                for f in abi if f["type"] == "function"}

    mine, theirs = functions(interface), functions(MIRRORS[interface])
    assert mine, f"{interface} declares no functions"
    for name, sig in mine.items():
        assert name in theirs, f"{interface}.{name} is not a function of {MIRRORS[interface]}"
        assert sig == theirs[name], f"{interface}.{name} decodes {sig}, {MIRRORS[interface]} returns {theirs[name]}"
