"""ezkl's Solidity verifier for a circuit, compiled with the project's pinned solc-js.

`ezkl.create_evm_verifier` writes the Solidity file and then fails trying to download solc
(no network): we keep the file and compile it with `contracts/compile.mjs` (solc 0.8.37,
EVM prague). Needs Node.js and `npm ci` on the prover/operator machine, for this step only.
The compiled artifact goes into the content-addressed store.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import ezkl

from oracle.errors import ProvingError
from oracle.store import ArtifactStore

from .circuit import CompiledModel

ROOT = Path(__file__).resolve().parent.parent
EIP170_LIMIT = 24_576


def evm_verifier(model: CompiledModel, store: ArtifactStore, batch: int = 1) -> tuple[str, dict]:
    """(artifact id, {abi, bytecode, ...}) of the model's Halo2 verifier for one batch size."""
    circuit = model.record.circuit(batch)
    cached = model.directories[batch] / "verifier.json"
    if not cached.exists():
        if shutil.which("node") is None or not (ROOT / "node_modules" / "solc").exists():
            raise ProvingError("compiling the EVM verifier needs Node.js and the pinned solc (npm ci)")
        with tempfile.TemporaryDirectory(prefix="oracle-evm-") as tmp:
            sol = Path(tmp) / "Halo2Verifier.sol"

            async def write() -> None:
                await ezkl.create_evm_verifier(str(store.path(circuit.vk)), str(store.path(circuit.settings)),
                                               str(sol), str(Path(tmp) / "abi.json"), str(store.path(circuit.srs)))

            try:
                asyncio.run(write())
            except BaseException as e:  # it writes the file, then fails fetching solc
                if isinstance(e, (KeyboardInterrupt, SystemExit)) or not sol.exists():
                    raise ProvingError(f"ezkl create_evm_verifier: {e}") from None
            done = subprocess.run(["node", str(ROOT / "contracts" / "compile.mjs"), "--source", str(sol),
                                   "--out", tmp], capture_output=True, text=True, cwd=ROOT)
            if done.returncode != 0:
                raise ProvingError(f"solc failed on the generated verifier: {done.stderr[-500:]}")
            art = json.loads((Path(tmp) / "Halo2Verifier.json").read_text())
        size = (len(art["deployedBytecode"]) - 2) // 2
        if size > EIP170_LIMIT:
            raise ProvingError(f"verifier is {size} bytes, over the {EIP170_LIMIT}-byte contract limit")
        cached.write_text(json.dumps(art))
    art = json.loads(cached.read_text())
    return store.put_json(art), art
