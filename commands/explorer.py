"""`oracle explorer`: a read-only web page over this home's node, or its devnet. No key needed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from oracle import config
from oracle.errors import NotFound

from .render import handles_errors, out


def _sources(home: Path, rpc_url: Optional[str]) -> tuple[str, Path, list[Path], Optional[Path]]:
    """(rpc url, deployments dir, store dirs, node state or None) for a node home, or a devnet under it
    (`$ORACLE_HOME/devnet`: the creator's deployment, the provers' stores, the scheduler's state)."""
    if (home / "node.json").exists():
        from network.node.config import NodeConfig

        cfg = NodeConfig.load(home)
        return rpc_url or cfg.rpc_url, home / "deployments", [home / "store"], home / "state.sqlite"
    devnet = home / "devnet" / "devnet.json"
    if devnet.exists():
        doc = json.loads(devnet.read_text())
        roles = {r["name"]: Path(r["home"]) for r in doc.get("roles", [])}
        provers = [roles[n] for n in sorted(roles) if n.startswith("prover")]
        url = rpc_url or f"http://127.0.0.1:{doc['anvil']['port']}"
        stores = [p / "store" for p in provers] + ([roles["scheduler"] / "store"] if "scheduler" in roles else [])
        state = roles["scheduler"] / "state.sqlite" if "scheduler" in roles else None
        return url, home / "devnet" / "creator" / "deployments", stores, state
    if rpc_url is None:
        raise NotFound(f"no node (node.json) or devnet in {home}: pass --rpc-url, or run `oracle node init` "
                       "or `oracle devnet up`")
    return rpc_url, home / "deployments", [home / "store"], None


def open_explorer(home: Path, rpc_url: Optional[str] = None):
    """The explorer's data over `home`'s node or devnet (or `rpc_url` with this home's deployment)."""
    from markets.feeds import load_source
    from network.explorer import ExplorerData
    from oracle.chain import Chain
    from oracle.deployment import Deployment
    from oracle.state import LocalState
    from oracle.store import ArtifactStore

    url, deployments, store_dirs, state_path = _sources(home, rpc_url)
    chain = Chain.rpc(url)
    dep = Deployment.load(chain, deployments)
    state = LocalState(state_path) if state_path is not None and state_path.exists() else None
    stores = [ArtifactStore(d) for d in store_dirs if d.exists()] or [ArtifactStore(store_dirs[0])]
    return ExplorerData(dep, stores[0], more_stores=stores[1:], state=state,
                        load_data=lambda source: load_source(source, chain=chain))


@handles_errors
def explorer(
    port: int = typer.Option(8700, "--port", help="Port on 127.0.0.1 (0: any free port)."),
    rpc_url: Optional[str] = typer.Option(None, "--rpc-url", help="Default: this home's node, or its devnet."),
) -> None:
    """Serve a read-only web page of every market (state, evidence, forecasts, proof and its
    re-verification, signers, payouts), model and validator, updating live. No key needed."""
    from network.explorer import ExplorerServer

    if not 0 <= port <= 65535:
        raise typer.BadParameter("must be 0..65535", param_hint="--port")
    data = open_explorer(config.home(), rpc_url)
    ExplorerServer(data, port=port).run(
        on_ready=lambda u: out.print(f"explorer at {u} (chain {data.chain.chain_id}, read-only; Ctrl-C stops)",
                                     highlight=False, soft_wrap=True))
