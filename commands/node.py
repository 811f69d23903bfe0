"""`oracle node ...`: this operator's node (every role in one home): provisioning and sources.

The node itself is `network.node`; each command imports it in one line."""

from __future__ import annotations

from typing import Optional

import typer

from oracle import config

from .home import check_quorum, password
from .render import JsonOption, emit, handles_errors, out, progress, say
from .roles import parse_eth

app = typer.Typer(no_args_is_help=True, help="This operator's node: configuration and sources.")


@app.command("init")
@handles_errors
def init(
    rpc_url: str = typer.Option(..., "--rpc-url", help="Any JSON-RPC URL (e.g. from `oracle chain up`)."),
    validators: int = typer.Option(4, min=1, max=64),
    threshold: int = typer.Option(3, min=1),
    fund: bool = typer.Option(True, help="Fund the node's keys from the node's unlocked dev account."),
    local_dir: Optional[str] = typer.Option(None, help="Folder of spec files to import."),
    polymarket: Optional[str] = typer.Option(None, help="Polymarket Gamma API base URL."),
    manifold: Optional[str] = typer.Option(None, help="Manifold API base URL."),
    pull_interval: float = typer.Option(5.0, help="Seconds between source pulls."),
    batch: list[int] = typer.Option([1], "--batch", help="Compiled batch sizes: due rounds share one proof."),
    bls: bool = typer.Option(False, "--bls", help="Give each validator a BLS key, registered on-chain with a "
                             "proof of possession (aggregate-signature settlement)."),
    ctf: Optional[str] = typer.Option(None, "--ctf", help="Link markets with a ctf_question_id to Gnosis "
                                      "Conditional Tokens at this address (or 'dev': deploy ConditionalTokensLite) "
                                      "through a CTFAdapter the node drives."),
    bond: Optional[str] = typer.Option(None, "--bond", help="ETH each validator bonds in ValidatorStaking, "
                                       "which then owns the set (open to join, slashable); default: a fixed set."),
) -> None:
    """Create missing keys, deploy the contracts, and write this node's configuration."""
    from network.provision import provision_node
    from network.node import NodeConfig
    from oracle.deployment import Deployment

    check_quorum(threshold, validators)
    wei = parse_eth(bond) if bond is not None else None
    pw = password(confirm=False)
    with progress("node init") as log:
        log(f"{validators + 4} encrypted keys (created if missing), funding, contract deployment")
        dep, _ = provision_node(config.home(), rpc_url, validators=validators, threshold=threshold,
                                password=pw, fund_keys=fund, bls=bls, ctf=ctf, bond=wei)
    if bls:
        out.print(f"registered {validators} BLS keys (proof of possession checked on-chain)")
    if wei is not None:
        out.print(f"{validators} validators bonded {bond} ETH each in ValidatorStaking, which owns the set")
    sources = {"registry": True, "local_dir": local_dir, "polymarket": polymarket, "manifold": manifold}
    NodeConfig(rpc_url=rpc_url, validators=[f"validator-{i}" for i in range(validators)], threshold=threshold,
               pull_interval_s=pull_interval, sources=sources, batches=sorted(set(batch))).save()
    out.print(f"deployed on chain {dep.chain.chain_id}: {dep.addresses} "
              f"({Deployment.file_for(config.home() / 'deployments', dep.chain.chain_id)})", highlight=False)


@app.command("pull")
@handles_errors
def pull(as_json: bool = JsonOption) -> None:
    """Read every configured source once (registry events, spec folder, Polymarket, Manifold)."""
    from network.node import Node

    node = Node(password=password())
    counts = node.pull()
    errors = "".join(f"\nerror: {e}" for e in counts["errors"])
    emit({**counts, "skipped_detail": node.state.skipped()}, as_json,
         say(f"{counts['new']} new market(s), {counts['skipped']} skipped, {len(counts['errors'])} source "
             f"error(s){errors}"))
