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
from .render import JsonOption, emit, handles_errors, out

app = typer.Typer(no_args_is_help=True, help="A local anvil node started from this home (up, down), and the "
                  "contract set deployed onto any JSON-RPC node (deploy).")


def _anvil_file() -> Path:
    return config.home() / "anvil.json"


@app.command("up")
@handles_errors
def up(port: int = typer.Option(0, help="Port on 127.0.0.1 (0: a free one).")) -> None:
    """Start anvil (pinned npm @foundry-rs/anvil) on 127.0.0.1; prints its URL."""
    from oracle.anvil import AnvilNode, start_anvil

    f = _anvil_file()
    if f.exists():
        doc = json.loads(f.read_text())
        running = AnvilNode(**{**doc, "log": Path(doc["log"])})
        if running.alive():
            out.print(running.url)
            return
    node = start_anvil(port=port or None, log_dir=config.home() / "logs")
    f.write_text(json.dumps(node.to_json()))
    out.print(node.url)


@app.command("down")
@handles_errors
def down() -> None:
    """Stop the anvil this home started (by PID and process group)."""
    from oracle.anvil import AnvilNode

    f = _anvil_file()
    if not f.exists():
        raise NotFound("no anvil started from this ORACLE_HOME")
    d = json.loads(f.read_text())
    AnvilNode(d["pid"], d["port"], Path(d["log"])).stop()
    f.unlink()
    out.print("stopped")


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
