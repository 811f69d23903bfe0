"""`oracle chain ...`: a local anvil node started from this home, and contract deployments onto any
JSON-RPC node with this home's keys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from oracle import config
from oracle.errors import NotFound

from .home import check_quorum, deployments, keys, password
from .render import JsonOption, emit, err, handles_errors, out

app = typer.Typer(no_args_is_help=True, help="A local anvil node started from this home (up, down), and the "
                  "contract set deployed onto any JSON-RPC node (deploy).")


def _anvil_file() -> Path:
    return config.home() / "anvil.json"


def _state_file() -> Path:
    return config.home() / "anvil-state.json"


def _port_free(port: int) -> bool:
    import socket

    try:  # something listens there already (a bind test would also refuse a port in TIME_WAIT)
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return False
    except OSError:
        return True


@app.command("up")
@handles_errors
def up(port: int = typer.Option(0, help="Port on 127.0.0.1 (0: the port this home's chain ran on before, else a "
                                "free one).")) -> None:
    """Start anvil (pinned npm @foundry-rs/anvil) on 127.0.0.1; prints its URL. After `chain down` it
    resumes the same chain (its state is kept in this home) on the same port, so node.json stays valid."""
    from oracle.anvil import AnvilNode, start_anvil
    from oracle.errors import ChainError

    f = _anvil_file()
    doc = json.loads(f.read_text()) if f.exists() else {}
    if doc.get("pid"):
        running = AnvilNode(doc["pid"], doc["port"], Path(doc["log"]))
        if running.alive():
            out.print(running.url)
            return
    before = doc.get("port")
    if not port and before:
        if not _port_free(before):
            raise ChainError("connect", f"port {before}, where this home's chain ran, is taken: free it, or "
                             f"`oracle chain up --port N` (then node.json's rpc_url names the old port)")
        port = before
    resumed = _state_file().exists()
    node = start_anvil(port=port or None, log_dir=config.home() / "logs", state_file=_state_file())
    f.write_text(json.dumps({**node.to_json(), "state": str(_state_file())}))
    if resumed:
        err.print(f"resumed this home's chain from {_state_file()}"
                  + ("" if before in (None, node.port) else f" on a new port (it ran on {before})"), highlight=False)
    out.print(node.url)


@app.command("down")
@handles_errors
def down(reset: bool = typer.Option(False, "--reset", help="Also forget the chain's state and port.")) -> None:
    """Stop the anvil this home started (by PID and process group). Its state and port are kept for the
    next `chain up` (unless --reset)."""
    from oracle.anvil import AnvilNode

    f = _anvil_file()
    if not f.exists():
        raise NotFound("no anvil started from this ORACLE_HOME")
    d = json.loads(f.read_text())
    if not d.get("pid") and not reset:
        raise NotFound(f"no anvil running from this ORACLE_HOME (its chain is kept: `oracle chain up` resumes it "
                       f"on port {d['port']}; `chain down --reset` forgets it)")
    if d.get("pid"):
        AnvilNode(d["pid"], d["port"], Path(d["log"])).stop()
    if reset:
        f.unlink()
        _state_file().unlink(missing_ok=True)
        out.print("stopped; state and port forgotten")
        return
    f.write_text(json.dumps({**d, "pid": None}))
    out.print(f"stopped; `oracle chain up` resumes this chain on port {d['port']} (state: {_state_file()})",
              highlight=False)


@app.command("deploy")
@handles_errors
def deploy(
    rpc_url: str = typer.Option(..., "--rpc-url", help="Any JSON-RPC URL (e.g. from `oracle chain up`)."),
    validators: int = typer.Option(4, min=1, max=64, help="Validator set size n: keys validator-0..n-1."),
    threshold: int = typer.Option(3, min=1, help="Signatures needed to settle (t of n)."),
    fund: bool = typer.Option(True, help="Top up the deployer key from the node's unlocked dev account."),
    as_json: bool = JsonOption,
) -> None:
    """Deploy the contracts with this home's keys (deployer, validator-0..n-1, created if missing); record them.

    The addresses go to deployments/<chainId>.json, where every other command looks them up.
    """
    from network.provision import deploy as deploy_contracts, fund as fund_accounts
    from oracle.chain import Chain
    from oracle.deployment import Deployment

    check_quorum(threshold, validators)
    pw, ks = password(), keys()
    deployer = ks.ensure("deployer", pw)
    members = [ks.ensure(f"validator-{i}", pw) for i in range(validators)]
    chain = Chain.rpc(rpc_url)
    if fund:
        fund_accounts(chain, [deployer])
    dep = deploy_contracts(chain, deployer, members, threshold, save_to=[deployments()])
    doc = {"chain_id": chain.chain_id, "contracts": dep.addresses, "validators": dep.validators(),
           "threshold": dep.threshold(), "deployer": deployer.address,
           "deployment": str(Deployment.file_for(deployments(), chain.chain_id))}
    emit(doc, as_json, _render_deployment)


def _render_deployment(doc: dict[str, Any]) -> None:
    out.print(f"deployed on chain {doc['chain_id']} ({doc['deployment']})", highlight=False)
    for name, address in doc["contracts"].items():
        out.print(f"  {name}: {address}", highlight=False)
    out.print(f"  validators: {len(doc['validators'])}, threshold {doc['threshold']}", highlight=False)
