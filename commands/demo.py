"""`oracle demo`: the composition lives in `network.demo.run_demo`; this parses and renders."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from .home import check_quorum
from .render import JsonOption, emit, err, handles_errors, out, progress, srs_label


@handles_errors
def demo(
    as_json: bool = JsonOption,
    validators: int = typer.Option(5, min=1, max=64, help="Number of validators (each its own key)."),
    threshold: int = typer.Option(4, min=1, help="Signatures needed to settle (t of n)."),
) -> None:
    """Resolve real markets of every shape from several providers' post-event data on the embedded chain."""
    check_quorum(threshold, validators)
    from network.demo import run_demo

    if as_json:
        result = run_demo(n_validators=validators, threshold=threshold, log=lambda m: err.print(m))
    else:  # a spinner on a terminal; piped, one line per step (never minutes of silence)
        with progress("demo") as log:
            result = run_demo(n_validators=validators, threshold=threshold, log=log)
    emit(result, as_json, _render)


def _render(result: dict[str, Any]) -> None:
    chain = result["chain"]
    out.print(f"\nEmbedded chain {chain['chain_id']} · QuorumOracle {chain['contracts']['QuorumOracle']} · "
              f"{result['validators']} validators, t = {result['threshold']}")
    model = result["model"]
    out.print(f"Resolver {model['model_id'][:18]}… ({model['name']}, logrows {model['logrows']}, "
              f"SRS: {srs_label(model['srs_kind'])}) · forecaster {result['forecaster']['name']} · "
              f"replay from {chain['replay_start']}")
    out.print(f"A bet after trading closed: {result['late_bet']}\n")
    table = Table(title="Markets resolved from post-event evidence", show_lines=True)
    for col in ("market", "question", "shape", "forecast P(first)", "resolution", "what the data shows", "off median",
                "signed", "on-chain", "payout (ETH)", "tx"):
        table.add_column(col, overflow="fold")
    for m in result["markets"]:
        posted = [f["probability"] for f in m.get("forecasts", []) if f["probability"] is not None]
        off = m["evidence"]["off_median"]
        table.add_row(
            m["market_id"][:10] + "…",
            m["question"],
            m["shape"],
            " → ".join(f"{p:.2f}" for p in posted) or "-",
            (m["outcome"] or "-") + ("" if m["proof_verified"] else " [red](proof refused)[/red]"),
            m["actual_outcome"] or "?",
            "; ".join(f"{d['source'].split(':')[-1]} {float(d['value']):,.2f}" for d in off) or "-",
            f"{m['validators_signed']}/{m['validators']} (t={m['quorum']})",
            m["onchain_outcome"] or "-",
            f"{m['payout_wei'] / 1e18:.4f}",
            (m["tx_hash"] or "-")[:12] + "…",
        )
    out.print(table)
    t = result["timings"]
    out.print(f"prove {t['prove_s']:.2f} s/market · verify {t['verify_s_median'] * 1000:.1f} ms median · "
              f"end to end {t['end_to_end_s']:.1f} s")
