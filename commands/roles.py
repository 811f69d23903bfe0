"""Network mode: `oracle prover serve`, `oracle validator serve`, `oracle aggregator serve` (and the
scheduler's `--role-home`), each role its own process serving its app from its own home."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import typer

from .home import password
from .render import JsonOption, emit, handles_errors, out

prover_app = typer.Typer(no_args_is_help=True, help="Network mode: the prover as its own process.")
validator_app = typer.Typer(no_args_is_help=True, help="Network mode: a validator as its own process.")
aggregator_app = typer.Typer(no_args_is_help=True, help="Network mode: an aggregator as its own process.")


def serve_role(role_home: Path, build: Callable) -> None:
    """Open the role's home and serve `build(home)` on its configured port until stopped."""
    from network.home import RoleHome
    from network.transport import serve

    home = RoleHome(role_home, password=password())
    serve(build(home), home.cfg["port"], home.log, role=home.role, address=home.key.address)


@prover_app.command("serve")
@handles_errors
def prover_serve(role_home: Path = typer.Option(..., "--role-home", help="This prover's home (role.json).")) -> None:
    """Prove rounds for a trusted scheduler over HTTP; serve bundles by hash."""
    from network.roles.prover import build_app

    serve_role(role_home, build_app)


@validator_app.command("serve")
@handles_errors
def validator_serve(role_home: Path = typer.Option(..., "--role-home", help="This validator's home.")) -> None:
    """Review bundles handed over by a trusted scheduler; sign and send votes to the aggregators."""
    from network.roles.validator import build_app

    serve_role(role_home, build_app)


@aggregator_app.command("serve")
@handles_errors
def aggregator_serve(role_home: Path = typer.Option(..., "--role-home", help="This aggregator's home.")) -> None:
    """Collect signed votes; settle once at quorum; keep equivocation evidence."""
    from network.roles.aggregator import build_app

    serve_role(role_home, build_app)


# ------------------------------------------------------------------ bonds (ValidatorStaking)
RoleHomeOption = typer.Option(..., "--role-home", help="This validator's home (its key and deployment).")


def _staking(role_home: Path):
    from network.home import RoleHome
    from oracle.staking import Staking

    home = RoleHome(role_home, password=password())
    return home, Staking.of(home.dep)


def parse_eth(text: str, field: str = "--bond") -> int:
    """'2', '0.5', '1e-3' ETH -> wei; anything else (negative, zero, finer than 1 wei, not a number)
    is refused naming the field."""
    from decimal import Decimal, InvalidOperation

    from oracle.errors import OracleError

    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise OracleError(f"{field}: {text!r} is not a number of ETH") from None
    wei = value * 10**18
    if not value.is_finite() or value <= 0 or wei != wei.to_integral_value():
        raise OracleError(f"{field}: {text!r} must be a positive amount of ETH, at most 18 decimals")
    return int(wei)


def _bond_line(b) -> str:
    when = f", withdrawable at {b.withdrawable_at}" if b.status == "unbonding" else ""
    return f"{b.address}: {b.status}, bond {b.bond / 10**18:g} ETH{when}"


@validator_app.command("join")
@handles_errors
def validator_join(role_home: Path = RoleHomeOption,
                   bond: str = typer.Option(..., "--bond", help="ETH to bond (at least the minimum bond)."),
                   as_json: bool = JsonOption) -> None:
    """Bond ETH and queue for the next epoch (or add to a bond already queued or in the set)."""
    home, staking = _staking(role_home)
    staking.join(home.key, parse_eth(bond))
    b = staking.bond_of(home.key.address)
    emit(b.to_json(), as_json, lambda _: out.print(_bond_line(b) + f"; the set changes at "
                                                   f"{staking.next_epoch_at()} (unix)", highlight=False))


@validator_app.command("leave")
@handles_errors
def validator_leave(role_home: Path = RoleHomeOption, as_json: bool = JsonOption) -> None:
    """Leave the set at the next epoch boundary; the bond unbonds from then (still slashable)."""
    home, staking = _staking(role_home)
    staking.leave(home.key)
    b = staking.bond_of(home.key.address)
    emit(b.to_json(), as_json, lambda _: out.print(_bond_line(b), highlight=False))


@validator_app.command("withdraw")
@handles_errors
def validator_withdraw(role_home: Path = RoleHomeOption, as_json: bool = JsonOption) -> None:
    """Take the bond back once its unbonding delay is over."""
    home, staking = _staking(role_home)
    amount = staking.bond_of(home.key.address).bond
    staking.withdraw(home.key)
    doc = {"address": home.key.address, "withdrawn_wei": amount}
    emit(doc, as_json, lambda _: out.print(f"{home.key.address}: withdrew {amount / 10**18:g} ETH", highlight=False))


@validator_app.command("status")
@handles_errors
def validator_status(role_home: Path = RoleHomeOption, as_json: bool = JsonOption) -> None:
    """This validator's bond and the staking contract's epoch, set, queue and parameters."""
    home, staking = _staking(role_home)
    b = staking.bond_of(home.key.address)
    doc = {"validator": b.to_json(), "staking": staking.status()}

    def human(d):
        st = d["staking"]
        p = st["parameters"]
        out.print(_bond_line(b), highlight=False)
        out.print(f"epoch {st['epoch']}, next boundary at {st['next_epoch_at']} (unix); "
                  f"{len(st['members'])} members (t = {st['threshold']}), {len(st['queued'])} queued; "
                  f"min bond {p['min_bond_wei'] / 10**18:g} ETH, unbonding {p['unbonding_delay_s']} s"
                  + (", joining paused" if p["joining_paused"] else ""), highlight=False)

    emit(doc, as_json, human)


# ------------------------------------------------------------------ fees (DisputeCourt)
def _role(role_home: Path):
    from network.home import RoleHome

    return RoleHome(role_home, password=password())


@validator_app.command("claim-fees")
@handles_errors
def validator_claim_fees(role_home: Path = RoleHomeOption,
                         withdraw: bool = typer.Option(False, "--withdraw", help="Then withdraw what the court owes."),
                         as_json: bool = JsonOption) -> None:
    """Claim this validator's share of the fee of every final market it signed, with its stored votes
    as evidence (votes.sqlite); a share already claimed (by an aggregator, say) is reported as such."""
    from network.fees import claim_own_fees
    from network.home import JsonRows

    home = _role(role_home)
    rows = claim_own_fees(home.dep, home.key, JsonRows(home.home / "votes.sqlite", "votes").all(), log=home.log)
    owed = home.dep.court.owed(home.key.address)
    doc = {"address": home.key.address, "claims": rows, "owed_wei": owed}
    if withdraw and owed:
        home.dep.court.withdraw(home.key)
        doc.update(withdrawn_wei=owed, owed_wei=0)

    def human(d):
        for r in d["claims"]:
            amount = f" {r['amount_wei'] / 10**18:g} ETH" if "amount_wei" in r else ""
            out.print(f"{r['market_id']}: {r['result']}{amount}", highlight=False)
        tail = f"withdrew {d['withdrawn_wei'] / 10**18:g} ETH" if "withdrawn_wei" in d else \
            f"owed {d['owed_wei'] / 10**18:g} ETH (withdraw: oracle validator withdraw-fees)"
        out.print(f"{d['address']}: {len(d['claims'])} market(s) looked at; {tail}", highlight=False)

    emit(doc, as_json, human)


def _withdraw_fees(role_home: Path, as_json: bool) -> None:
    from oracle.errors import OracleError

    home = _role(role_home)
    owed = home.dep.court.owed(home.key.address)
    if owed == 0:
        raise OracleError(f"--role-home: the dispute court owes {home.key.address} nothing (claim first)")
    home.dep.court.withdraw(home.key)
    emit({"address": home.key.address, "withdrawn_wei": owed}, as_json,
         lambda _: out.print(f"{home.key.address}: withdrew {owed / 10**18:g} ETH of fees", highlight=False))


@validator_app.command("withdraw-fees")
@handles_errors
def validator_withdraw_fees(role_home: Path = RoleHomeOption, as_json: bool = JsonOption) -> None:
    """Withdraw the fees the dispute court credited to this validator."""
    _withdraw_fees(role_home, as_json)


@prover_app.command("withdraw-fees")
@handles_errors
def prover_withdraw_fees(role_home: Path = typer.Option(..., "--role-home", help="This prover's home."),
                         as_json: bool = JsonOption) -> None:
    """Withdraw the prover's share of fees (claimed by the aggregators with the members' credits)."""
    _withdraw_fees(role_home, as_json)
