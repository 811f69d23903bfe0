"""`oracle verify`: anyone re-checks a resolution from public data (validators.audit). No key, no torch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table

from oracle import config
from oracle.store import ArtifactStore

from .home import store
from .render import JsonOption, emit, handles_errors, out


@handles_errors
def verify(
    market: str = typer.Argument(..., help="Market id, or the hash of the transaction that resolved it."),
    rpc_url: Optional[str] = typer.Option(None, "--rpc-url", help="Default: this node's configured node."),
    deployment: Optional[Path] = typer.Option(None, "--deployment", help="The contracts' addresses: a deployments "
                                              "folder or its <chainId>.json (default: this home's, or its devnet's)."),
    public_store: Optional[list[Path]] = typer.Option(None, "--store", help="A public artifact store (any role's "
                                                      "store/ folder, or a copy): what the check needs is copied "
                                                      "into this home's store by hash. Repeat for several."),
    offline: bool = typer.Option(False, help="Do not consult the market's live data source."),
    as_json: bool = JsonOption,
) -> None:
    """Re-check a resolution from public data: chain, spec, snapshot, proof, rule, signatures. No key needed.
    From any home: the RPC URL, the deployment file, and a store holding the public artifacts."""
    from markets.feeds import load_source
    from oracle.canonical import is_bytes32
    from oracle.chain import Chain
    from oracle.errors import FieldError
    from validators.audit import Auditor

    if not is_bytes32(market):
        raise FieldError("MARKET_ID|TX_HASH", f"{market!r} is neither a market id nor a transaction hash "
                         "(0x and 64 hex digits)")
    market = market.lower()
    devnet = config.home() / "devnet"
    if rpc_url is None:
        from network.node.config import NodeConfig

        if not NodeConfig.path().exists() and (devnet / "devnet.json").exists():
            from network.devnet import Devnet

            rpc_url = Devnet(devnet).rpc_url
        else:
            rpc_url = NodeConfig.load().rpc_url
    chain = Chain.rpc(rpc_url)
    dep = _deployment(chain, deployment, devnet)
    here = store()
    sources = [ArtifactStore(p) for p in (public_store or [])] + _devnet_stores(devnet)
    if sources:
        market_id, _ = Auditor(dep, here).locate(market)
        _import_public(dep, market_id, sources, here)
    loader = None if offline else (lambda source: load_source(source, chain=chain))
    verdict = Auditor(dep, here, loader).verify(market).to_json()
    emit(verdict, as_json, _render)
    if not verdict["ok"]:
        raise typer.Exit(1)


def _devnet_stores(devnet: Path) -> list:
    """Every role's store of this home's devnet (the provers hold the bundles)."""
    if not (devnet / "devnet.json").exists():
        return []
    from network.devnet import Devnet

    roles = sorted(Devnet(devnet).roles.values(), key=lambda r: (r.role != "prover", r.name))
    return [ArtifactStore(r.home / "store") for r in roles if (r.home / "store").is_dir()]


def _deployment(chain, given: Optional[Path], devnet: Path):
    """The deployment named (folder or file), else this home's, else its devnet's creator's."""
    from oracle.deployment import Deployment
    from oracle.errors import FieldError

    if given is not None and given.is_file():
        doc = json.loads(given.read_text())
        if doc.get("chain_id") != chain.chain_id:
            raise FieldError("--deployment", f"{given} is for chain {doc.get('chain_id')}, the RPC node is chain "
                             f"{chain.chain_id}")
        return Deployment(chain, doc["contracts"], from_block=doc.get("from_block", 0))
    folders = [given] if given is not None else [config.home() / "deployments", devnet / "creator" / "deployments"]
    for folder in folders:
        if Deployment.file_for(folder, chain.chain_id).exists():
            return Deployment.load(chain, folder)
    return Deployment.load(chain, folders[0])  # says which file is missing


def _import_public(dep, market_id: str, sources: list, here) -> None:
    """Copy what verifying `market_id` reads (spec, model records and their files, the bundle its
    resolution names, the data snapshot) from public stores into this home's store. Every artifact is
    re-hashed on the way in and a model record must hash to its id: a public store is trusted for
    nothing. Which SRS is trusted stays this home's decision (`oracle model trust-srs`)."""
    from oracle.bundle import BUNDLE_BY_PROOF, ProofBundle, bundle_ref, publish_bundle
    from oracle.errors import ArtifactError, OracleError
    from oracle.models import load_model, publish_model

    def copy(aid: str) -> None:
        if here.has(aid):
            return
        for src in sources:
            if src.has(aid):
                if here.put(src.get(aid)) != aid:
                    raise ArtifactError(f"artifact {aid} in {src.root} does not hash to its name")
                return

    record = dep.get_market(market_id)
    copy(record.spec_hash)
    for model_id in {record.model_id, record.forecaster_id} - {"0x" + "00" * 32}:
        for src in sources:
            try:
                model = load_model(src, model_id)  # the record hashes to its id
            except OracleError:
                continue
            for c in model.circuits:
                for aid in (c.vk, c.settings, c.srs):
                    copy(aid)
            publish_model(here, model)
            break
    if not dep.is_resolved(market_id):
        return
    resolution = dep.resolution_of(market_id).resolution
    for src in sources:
        try:
            bundle = ProofBundle.from_json(src.get_json(src.ref(BUNDLE_BY_PROOF, bundle_ref(resolution.proof_hash,
                                                                                         market_id))))
        except OracleError:
            continue
        publish_bundle(here, bundle)
        copy(bundle.data_snapshot)
        return


def _render(verdict: dict[str, Any]) -> None:
    table = Table(title=f"Re-verification of {verdict['market_id']}")
    for col in ("check", "result", "detail"):
        table.add_column(col, overflow="fold")
    for c in verdict["checks"]:
        mark = {True: "[green]pass[/green]", False: "[red]FAIL[/red]", None: "[yellow]skip[/yellow]"}[c["ok"]]
        table.add_row(c["name"], mark, c["detail"])
    out.print(table)
    if verdict["ok"]:
        out.print("[bold green]VERIFIED[/bold green]")
    else:
        failed = next((c for c in verdict["checks"] if c["ok"] is False), {"name": "checks", "detail": "none ran"})
        out.print(f"[bold red]NOT VERIFIED[/bold red]: {failed['name']}: {failed['detail']}")
