"""`oracle market ...`: market specs: new (the creator's prompt), validate, register, list, show; and
a market's life in the dispute court: status (proposed -> final, case, fees), dispute, withdraw."""

from __future__ import annotations

import json
from typing import Any, Optional

import typer
from rich.table import Table

from oracle import config
from oracle.errors import NotFound, SpecError

from .home import password, store
from .render import JsonOption, emit, err, handles_errors, out, progress, say

app = typer.Typer(no_args_is_help=True, help="Market specs: new, validate, register, list, show; the dispute "
                  "court: status, dispute, withdraw.")


def _tracked() -> dict[str, dict[str, Any]]:
    from network.tracked import tracked_markets

    return tracked_markets(config.home())


def _info(spec) -> dict[str, Any]:
    doc = spec.to_json()
    return {"market_id": spec.market_id, "spec_hash": spec.spec_hash, "question": spec.question,
            "outcomes": list(spec.outcomes), "kind": spec.kind, "shape": spec.shape.kind,
            "sources": len(spec.observe.sources), "resolver": spec.resolver, "forecaster": spec.forecaster,
            "close_at": doc["close_at"], "resolve_at": doc["resolve_at"], "rounds": len(spec.rounds()),
            "dispute_window": spec.dispute_window}


@app.command("validate")
@handles_errors
def validate(path: str = typer.Argument(..., help="Market spec file (.json, .yaml), version 2."),
             now: Optional[str] = typer.Option(None, "--now", help="Check trading is still open at this "
                                               "ISO-8601 time (default: this node's chain clock, or the wall "
                                               "clock without a node); e.g. a replay chain's time, "
                                               "2019-03-10T00:00:00Z."),
             as_json: bool = JsonOption) -> None:
    """Check a spec file as `register` will (the same check): every field, trading still open, and
    models this home knows that can answer its rule. Prints its spec hash and market id."""
    from network.client import check_spec, spec_now

    spec = check_spec(path, now=spec_now(now=now), store=store())
    info = _info(spec)

    def human(info: dict) -> None:
        for k, v in info.items():
            out.print(f"[bold]{k}[/bold]: {v}", highlight=False)

    emit(info, as_json, human)


@app.command("register")
@handles_errors
def register(path: str = typer.Argument(..., help="Market spec file (.json, .yaml)."),
             fee: Optional[str] = typer.Option(None, "--fee", help="Resolution fee (ETH) escrowed in the dispute "
                                               "court for the signers and the prover (default: the court's minimum)."),
             as_json: bool = JsonOption) -> None:
    """Register a market: spec into the artifact store, entry on-chain (its fee escrowed), a job for
    each round. Refused once its trading has closed by the chain's clock (its outcome could already be known)."""
    from markets.spec import MarketSpec

    from .roles import parse_eth

    spec = MarketSpec.load(path)  # a malformed file is refused before any key is decrypted
    info, human = _register(spec, as_json, fee=None if fee is None else parse_eth(fee, "--fee"))
    emit(info, as_json, human)


def _register(spec, as_json: bool, fee: int | None = None) -> tuple[dict, Any]:
    from network.client import Client

    with progress("registering", quiet=as_json) as log:
        log("unlocking the keystore, compiling (or loading) the resolver")
        reg = Client(password=password(), on_log=log).register(spec, fee=fee)
    info = {**_info(spec), "market_id": reg.market_id, "already_registered": reg.already}
    verb = "already registered" if reg.already else "registered"
    return info, say(f"{verb} {reg.market_id} ({info['rounds']} round(s), trading closes at "
                     f"{info['close_at']}, resolves at {info['resolve_at']})")


@app.command("list")
@handles_errors
def list_(as_json: bool = JsonOption) -> None:
    """Markets known to this node; a settled one with the dispute court's state (proposed or final)."""
    entries = list(_tracked().values())
    settled = [e for e in entries if e["resolution"]]
    if settled and (config.home() / "node.json").exists():
        dep = _Site().dep
        for e in settled:
            e["court_state"] = dep.court.state_of(e["market_id"])
    emit(entries, as_json, _render_list)


def _render_list(entries: list[dict[str, Any]]) -> None:
    table = Table(title="Markets")
    for col in ("market", "origin", "question", "resolve at", "status"):
        table.add_column(col, overflow="fold")
    for e in entries:
        r = e["resolution"]
        status = "open"
        if r:
            outcome = r.get("onchain_outcome") or r.get("outcome")
            if isinstance(outcome, int):
                outcome = e["spec"]["outcomes"][outcome] if outcome < len(e["spec"]["outcomes"]) else "INVALID"
            status = f"{e.get('court_state') or 'resolved'} ({outcome})"
        elif e["rounds"]:
            status = ", ".join(sorted({x["status"] for x in e["rounds"]}))
        table.add_row(e["market_id"], e["origin"], e["spec"]["question"], e["spec"]["resolve_at"], status)
    out.print(table)


@app.command("show")
@handles_errors
def show(market_id: str = typer.Argument(...), as_json: bool = JsonOption) -> None:
    """One market: its spec, rounds, resolution and score."""
    entry = _tracked().get(market_id.lower())
    if entry is None:
        raise NotFound(f"unknown market {market_id}: this node does not track it")
    emit(entry, as_json, lambda e: out.print_json(json.dumps(e, default=str)))


# ------------------------------------------------------------------ the dispute court
KeyOption = typer.Option("creator", "--key", help="Whose key pays (this home's keystore; on a devnet, the role "
                         "of that name, e.g. creator or validator-0).")


class _Site:
    """This home's chain: its node (node.json) or its devnet ($ORACLE_HOME/devnet): the deployment,
    a key by name, and a tracked market's spec."""

    def __init__(self):
        from oracle.chain import Chain
        from oracle.deployment import Deployment

        home = config.home()
        if (home / "node.json").exists():
            from network.node.config import NodeConfig

            self.dep = Deployment.load(Chain.rpc(NodeConfig.load(home).rpc_url), home / "deployments")
            self._keys = lambda name: home / "keys"
            self._state = home / "state.sqlite"
        elif (home / "devnet" / "devnet.json").exists():
            from network.devnet import Devnet

            net = Devnet(home / "devnet")
            self.dep = net.deployment()
            self._keys = lambda name: net.root / name / "keys"
            self._state = net.root / "scheduler" / "state.sqlite"
        else:
            raise NotFound(f"no node (node.json) or devnet in {home}: run `oracle node init` or `oracle devnet up`")

    def key(self, name: str):
        from oracle.keystore import KeyStore

        return KeyStore(self._keys(name)).load(name, password())

    def outcomes(self, market_id: str) -> list[str] | None:
        from oracle.state import LocalState

        doc = LocalState(self._state).spec_json(market_id) if self._state.exists() else None
        return doc["outcomes"] if doc else None


def _market_id(text: str) -> str:
    from network.explorer.data import check_id

    return check_id(text.strip().lower(), "MARKET_ID")


@app.command("status")
@handles_errors
def status(market_id: str = typer.Argument(..., help="The market's id (0x + 64 hex)."),
           as_json: bool = JsonOption) -> None:
    """A market in the dispute court: open, proposed (until its window ends), disputed, final or
    invalid; the case (disputer, bond, ruling) and the fee (escrowed, paid, claims)."""
    from network.fees import finality, state_label

    site = _Site()
    market_id = _market_id(market_id)
    if not site.dep.is_registered(market_id):
        raise NotFound(f"unknown market {market_id}: not registered on this home's chain")
    doc = {"market_id": market_id, **finality(site.dep, market_id), "chain_time": site.dep.chain.timestamp()}
    outcomes = site.outcomes(market_id)

    def human(d: dict) -> None:
        f = d["fees"]
        out.print(f"{d['market_id']}: {state_label(d, outcomes)}", highlight=False)
        if d["window_ends_at"] is not None:
            out.print(f"dispute window ends at {d['window_ends_at']} (chain time now {d['chain_time']})",
                      highlight=False)
        if d["case"]:
            c = d["case"]
            out.print(f"case: disputed by {c['disputer']} at {c['disputed_at']}, bond {c['bond_wei'] / 10**18:g} ETH, "
                      f"ruling {c['ruling']}", highlight=False)
        out.print(f"fee: {f['pot_wei'] / 10**18:g} ETH escrowed, {f['paid_wei'] / 10**18:g} ETH paid out "
                  f"({f['signer_claims']} signer share(s){', prover paid' if f['prover_paid'] else ''}"
                  f"{', closed' if f['closed'] else ''})", highlight=False)

    emit(doc, as_json, human)


@app.command("dispute")
@handles_errors
def dispute(market_id: str = typer.Argument(..., help="The market's id (0x + 64 hex)."),
            key: str = KeyOption, as_json: bool = JsonOption) -> None:
    """Dispute a proposed resolution within its window, posting the court's dispute bond: a ruling
    (the ZK proof, a larger quorum, the arbiter) pays the bond and the fee to the side it upholds."""
    from oracle.errors import OracleError

    site = _Site()
    market_id = _market_id(market_id)
    court = site.dep.court
    state = court.state_of(market_id)
    if state != "proposed":
        raise OracleError(f"MARKET_ID: market {market_id} is {state}: only a proposed resolution, within its "
                          "dispute window, can be disputed")
    signer = site.key(key)
    bond = court.parameters().dispute_bond
    receipt = court.dispute(signer, market_id, bond)
    doc = {"market_id": market_id, "disputer": signer.address, "bond_wei": bond,
           "tx": "0x" + bytes(receipt["transactionHash"]).hex(), "state": court.state_of(market_id)}
    emit(doc, as_json, say(f"disputed {market_id} with a bond of {bond / 10**18:g} ETH from {signer.address}; "
                           "it is final once a ruling settles it"))


@app.command("withdraw")
@handles_errors
def withdraw(key: str = KeyOption, as_json: bool = JsonOption) -> None:
    """Withdraw what the dispute court owes this key (a refunded fee, a dispute won, a returned bond)."""
    from oracle.errors import OracleError

    site = _Site()
    signer = site.key(key)
    amount = site.dep.court.owed(signer.address)
    if amount == 0:
        raise OracleError(f"--key: the court owes {signer.address} nothing")
    site.dep.court.withdraw(signer)
    emit({"address": signer.address, "withdrawn_wei": amount}, as_json,
         say(f"{signer.address}: withdrew {amount / 10**18:g} ETH from the dispute court"))


# ------------------------------------------------------------------ the creator's prompt
SHAPES = ("above", "up_down", "range", "touch", "versus")
_SHAPE_HELP = {"above": "the close at a date above a value?", "up_down": "up or down over a period?",
               "range": "which bucket the close at a date falls in?", "touch": "does the price reach a level "
               "in a period?", "versus": "which of two assets gains more over a period?"}


class _Asker:
    """One value per question: the flag's if given (checked, an error is one line), else a prompt that
    re-asks until the answer passes its check (`--no-input`: the default, or an error naming the flag)."""

    def __init__(self, no_input: bool):
        self.no_input = no_input
        self.prompted = False

    def __call__(self, flag: str, given: Any, text: str, parse, default: Any = None) -> Any:
        if given is not None:
            return parse(given)
        if self.no_input:
            if default is None:
                raise SpecError(flag, "is required (or run without --no-input to be asked)")
            return parse(default)
        self.prompted = True
        while True:
            answer = typer.prompt(text, default=default)
            try:
                return parse(answer)
            except SpecError as e:
                err.print(f"[red]error:[/red] {e.reason}", highlight=False, soft_wrap=True)


def _one_of(flag: str, options) -> Any:
    def parse(v: str) -> str:
        v = str(v).strip()
        if v not in options:
            raise SpecError(flag, f"must be one of {', '.join(options)}, got {v!r}")
        return v
    return parse


def _number(flag: str, *, positive: bool = True):
    def parse(v: Any) -> float:
        try:
            x = float(str(v).replace(",", "").replace("$", ""))
        except ValueError:
            raise SpecError(flag, f"not a number: {v!r}") from None
        if x != x or x in (float("inf"), float("-inf")) or (positive and x <= 0):
            raise SpecError(flag, f"must be a positive number, got {v!r}")
        return x
    return parse


def _numbers(flag: str):
    one = _number(flag)

    def parse(v: Any) -> list[float]:
        xs = [one(x) for x in str(v).split(",") if x.strip()]
        if not xs:
            raise SpecError(flag, "give one or more comma-separated bounds, e.g. 12500,13000,13500")
        if any(b <= a for a, b in zip(xs, xs[1:])):
            raise SpecError(flag, f"bounds must increase: {v}")
        return xs
    return parse


def _day(flag: str):
    from datetime import date

    def parse(v: Any):
        try:
            return date.fromisoformat(str(v).strip())
        except ValueError:
            raise SpecError(flag, f"not a date (YYYY-MM-DD): {v!r}") from None
    return parse


def _asset_sources() -> dict[str, dict[str, dict]]:
    """The assets this repository has sources for, each with its named sources (markets/demo.py)."""
    from markets.demo import SOURCES
    from markets.questions import default_assets

    table = {}
    for symbol, asset in default_assets().items():
        mine = [dict(s) for series in asset.series.values() for s in series.sources]
        table[symbol] = {n: s for n, s in SOURCES.items() if dict(s) in mine}
    return table


def _default_question(kind: str, label: str, at, first, last, rule: dict) -> str:
    if kind == "above":
        return f"Will {label} close above {rule['value']:,g} on {at}?"
    if kind == "range":
        return f"Where will {label} close on {at}?"
    if kind == "up_down":
        return f"{label} up or down from {first} to {last}?"
    if kind == "touch":
        verb = "reach" if rule["direction"] == "up" else "fall to"
        return f"Will {label} {verb} {rule['level']:,g} between {first} and {last}?"
    return f"Which gains more from {first} to {last}: {label} or {rule['other_label']}?"


def _default_outcomes(kind: str, label: str, rule: dict) -> list[str]:
    if kind == "range":  # no thousands separators: --outcomes is comma-separated
        b = [f"{x:g}" for x in rule["bounds"]]
        return [f"below {b[0]}", *[f"{lo}-{hi}" for lo, hi in zip(b, b[1:])], f"{b[-1]} or above"]
    return {"up_down": ["Up", "Down"], "versus": [label, rule.get("other_label", "")]}.get(kind, ["YES", "NO"])


def _draft(kind: str, asset, other, at, first, last, rule: dict, *, question: str, outcomes: list[str],
           resolver_of, quorum: int, now):
    """The spec `markets.sources.question_spec` makes of these answers (the importers' own path), or why not."""
    from markets.questions import Instant, Question, Window
    from markets.sources import Importing, question_spec

    tz = asset.series["1d"].timezone if asset.has("1d") else "UTC"
    fields: dict[str, Any] = {}
    if kind in ("above", "range"):
        fields["at"] = Instant(day=at)
    else:
        fields["window"] = Window(first, last, tz)
    if kind == "above":
        fields.update(value=rule["value"], inclusive=rule.get("inclusive", False))
    if kind == "touch":
        fields.update(value=rule["level"], direction=rule["direction"])
    if kind == "versus":
        fields["other"] = other
    q = Question(kind, asset, **fields)
    binary = len(outcomes) == 2
    return question_spec(q, Importing(resolver_of=resolver_of, quorum=quorum, now=now), question=question,
                         description="", outcomes=outcomes, yes=outcomes[0] if binary else None,
                         no=outcomes[1] if binary else None, bounds=rule.get("bounds", ()))


@app.command("new")
@handles_errors
def new(
    shape: Optional[str] = typer.Option(None, "--shape", help=f"Question shape: {', '.join(SHAPES)}."),
    asset: Optional[str] = typer.Option(None, "--asset", help="What is observed: BTC or NDX (the bundled sources)."),
    source: Optional[list[str]] = typer.Option(None, "--source", help="A named source of the asset (repeat; "
                                               "default: all of them), e.g. btc-yahoo."),
    at: Optional[str] = typer.Option(None, "--at", help="above, range: the day whose close decides (YYYY-MM-DD)."),
    from_: Optional[str] = typer.Option(None, "--from", help="up_down, touch, versus: first day (YYYY-MM-DD)."),
    to: Optional[str] = typer.Option(None, "--to", help="up_down, touch, versus: last day (YYYY-MM-DD)."),
    value: Optional[str] = typer.Option(None, "--value", help="above: the level the close must be above."),
    inclusive: bool = typer.Option(False, "--inclusive", help="above: a close equal to the value counts as above."),
    bounds: Optional[str] = typer.Option(None, "--bounds", help="range: increasing bucket bounds, e.g. 12500,13000."),
    level: Optional[str] = typer.Option(None, "--level", help="touch: the level the price must reach."),
    direction: Optional[str] = typer.Option(None, "--direction", help="touch: up (high reaches) or down (low)."),
    versus: Optional[str] = typer.Option(None, "--versus", help="versus: the other asset (BTC or NDX)."),
    question: Optional[str] = typer.Option(None, "--question", help="The question's text (default: written "
                                           "from the answers)."),
    outcomes: Optional[str] = typer.Option(None, "--outcomes", help="Comma-separated outcome names (default by shape)."),
    resolver: Optional[str] = typer.Option(None, "--resolver", help="Resolver model id (default: this home's, "
                                           "compiled on first use)."),
    quorum: Optional[int] = typer.Option(None, "--quorum", min=1, max=1000, help="Signatures the market needs "
                                         "(default: the node's threshold, else 3)."),
    close_at: Optional[str] = typer.Option(None, "--close-at", help="Trading close, ISO-8601 (default: when the "
                                           "observation window opens)."),
    resolve_at: Optional[str] = typer.Option(None, "--resolve-at", help="Resolve time, ISO-8601 (default: the "
                                             "earliest the evidence can exist)."),
    now: Optional[str] = typer.Option(None, "--now", help="Check at this ISO-8601 time (default: the node's "
                                      "chain clock, or the wall clock without a node)."),
    out_path: Optional[str] = typer.Option(None, "--out", help="Spec file to write (default: market-<id>.json)."),
    dispute_window: Optional[str] = typer.Option(None, "--dispute-window", help="Seconds a quorum's resolution stays "
                                                 "proposed (disputable) before it is final; 0: final as it lands "
                                                 "(default: the court's defaultDisputeWindow, 2 h)."),
    fee: Optional[str] = typer.Option(None, "--fee", help="With --register: the resolution fee (ETH) escrowed for "
                                      "the signers and the prover (default: the court's minimum)."),
    forecaster: Optional[str] = typer.Option(None, "--forecaster", help="above on BTC: also post a forecaster's "
                                             "proven probability while trading is open (a forecast market): reference "
                                             "(recipe trailing_returns_v1, daily closes), hourly (its volatility from "
                                             "hourly bars, recipe trailing_returns_hourly_vol_v1) or a model id."),
    forecast_from: Optional[str] = typer.Option(None, "--forecast-from", help="With --forecaster: the first "
                                                "forecast's day (YYYY-MM-DD, as of its close; default: today by "
                                                "--now)."),
    forecast_every: Optional[str] = typer.Option(None, "--forecast-every", help="With --forecaster: days between "
                                                 "forecasts, 1..365 (default 1)."),
    hourly_source: Optional[str] = typer.Option(None, "--hourly-source", help="With --forecaster hourly: the named "
                                                "source of hourly bars (forecast.hourly_source; default "
                                                "btc-bitstamp-1h)."),
    do_register: bool = typer.Option(False, "--register", help="Register it on this node's chain once written."),
    no_input: bool = typer.Option(False, "--no-input", help="Never prompt: a missing flag is an error."),
    like: Optional[str] = typer.Option(None, "--like", help="Take every answer not given from this spec file "
                                       "(e.g. markets/examples/range.json): the same market with this home's resolver."),
    as_json: bool = JsonOption,
) -> None:
    """Write a market spec by answering questions (or from flags): shape, asset, sources, dates, rule.
    Each answer is checked as it is given; the spec gets the same check as `validate` and `register`,
    then is shown with its market id, written, and registered if asked. With --forecaster (above on
    BTC), a forecast market: the forecaster's probability every --forecast-every days from
    --forecast-from while trading is open, then the resolver's outcome from the evidence."""
    from pathlib import Path

    from network.client import check_spec, known_resolvers, spec_now

    if like is not None:
        given = _answers_of(like)
        if any(v is not None for v in (shape, asset, at, from_, to, value, bounds, level, direction, versus)):
            for k in ("question", "outcomes", "close_at", "resolve_at"):  # they were about the file's market
                given.pop(k, None)
        shape, asset, source, at, from_, to, value, bounds, level, direction, versus, question, outcomes, quorum, \
            close_at, resolve_at, dispute_window, forecaster, forecast_from, forecast_every, hourly_source = (
                v if v is not None else given.get(k) for k, v in (
                    ("shape", shape), ("asset", asset), ("source", source), ("at", at), ("from", from_), ("to", to),
                    ("value", value), ("bounds", bounds), ("level", level), ("direction", direction),
                    ("versus", versus), ("question", question), ("outcomes", outcomes), ("quorum", quorum),
                    ("close_at", close_at), ("resolve_at", resolve_at), ("dispute_window", dispute_window),
                    ("forecaster", forecaster), ("forecast_from", forecast_from),
                    ("forecast_every", forecast_every), ("hourly_source", hourly_source)))
        inclusive = inclusive or given.get("inclusive", False)
    ask = _Asker(no_input)
    at_now = spec_now(now=now)
    table = _asset_sources()
    kind = ask("--shape", shape, f"Question shape ({'; '.join(f'{k}: {v}' for k, v in _SHAPE_HELP.items())})",
               _one_of("--shape", SHAPES))
    symbol = ask("--asset", asset, f"Asset ({', '.join(table)})", _one_of("--asset", tuple(table)))
    named = table[symbol]

    def pick_sources(v: Any) -> list[str]:
        names = [n.strip() for n in (v if isinstance(v, list) else str(v).split(",")) if n.strip()]
        unknown = [n for n in names if n not in named]
        if not names or unknown:
            raise SpecError("--source", f"{(unknown or ['(none)'])[0]} is not a source of {symbol} "
                            f"({', '.join(named)})")
        return names

    names = ask("--source", source or None, f"Sources of {symbol} (comma-separated)", pick_sources,
                default=",".join(named))
    from markets.questions import node_assets

    the_asset = node_assets(named, {symbol: names})[symbol]
    other = None
    node_quorum = quorum or _node_threshold() or 3
    resolvers: dict[int, str] = {}

    def resolver_of(width: int) -> str:
        if resolver is not None:
            return resolver.lower()
        if width not in resolvers:
            resolvers[width] = known_resolvers(store()).get(width) or _compile_resolver(width, as_json)
        return resolvers[width]

    placeholder = {"value": 1.0, "level": 1.0, "direction": "up", "bounds": [1.0], "other_label": "other"}

    def check_dates(at_day, first, last, rule) -> None:
        """Dates (and then the rule) make a market that can still open: checked as they are given."""
        if kind == "versus" and other is None:
            return
        draft = _draft(kind, the_asset, other, at_day, first, last, rule, question="draft",
                       outcomes=_default_outcomes(kind, the_asset.label, rule), resolver_of=lambda w: "0x" + "11" * 32,
                       quorum=node_quorum, now=at_now)
        if isinstance(draft, str):
            raise SpecError("--at" if kind in ("above", "range") else "--from", draft)

    at_day = first = last = None
    while True:
        if kind in ("above", "range"):
            at_day = ask("--at", at, "Day whose close decides (YYYY-MM-DD)", _day("--at"))
        else:
            first = ask("--from", from_, "First day (YYYY-MM-DD)", _day("--from"))
            last = ask("--to", to, "Last day (YYYY-MM-DD)", _day("--to"))
            if last < first:
                _retry_or_raise(ask, SpecError("--to", f"{last} is before --from {first}"), given=(from_, to))
                continue
        try:
            check_dates(at_day, first, last, placeholder)
            break
        except SpecError as e:
            _retry_or_raise(ask, e, given=(at, from_, to))

    while True:
        rule: dict[str, Any] = {}
        if kind == "above":
            rule = {"value": ask("--value", value, "Close above which value", _number("--value")),
                    "inclusive": inclusive}
        elif kind == "range":
            rule = {"bounds": ask("--bounds", bounds, "Bucket bounds (comma-separated, increasing)",
                                  _numbers("--bounds"))}
        elif kind == "touch":
            rule = {"level": ask("--level", level, "Level the price must reach", _number("--level")),
                    "direction": ask("--direction", direction, "Direction (up: the high reaches it, down: the low)",
                                     _one_of("--direction", ("up", "down")), default="up")}
        elif kind == "versus":
            others = tuple(s for s in table if s != symbol)
            other_symbol = ask("--versus", versus, f"Compared with ({', '.join(others)})", _one_of("--versus", others))
            other = node_assets(table[other_symbol], {other_symbol: list(table[other_symbol])})[other_symbol]
            rule = {"other_label": other.label}
        try:
            check_dates(at_day, first, last, rule)
            break
        except SpecError as e:
            flag = {"above": "--value", "range": "--bounds", "touch": "--level"}.get(kind, "--versus")
            _retry_or_raise(ask, SpecError(flag, e.reason), given=(value, bounds, level, versus))

    text = ask("--question", question, "Question", lambda v: str(v).strip() or _fail("--question", "is empty"),
               default=_default_question(kind, the_asset.label, at_day, first, last, rule))

    def parse_outcomes(v: Any) -> list[str]:
        names_ = [o.strip() for o in str(v).split(",")]
        want = len(rule["bounds"]) + 1 if kind == "range" else 2
        if len(names_) != want or not all(names_):
            raise SpecError("--outcomes", f"a {kind} market has {want} outcomes, got {v!r}")
        return names_

    outcome_names = ask("--outcomes", outcomes, "Outcomes (comma-separated)", parse_outcomes,
                        default=",".join(_default_outcomes(kind, the_asset.label, rule)))
    window = ask("--dispute-window", dispute_window, "Dispute window: seconds a quorum's resolution stays "
                 "disputable before it is final (0: final as it lands)", _window,
                 default=str(_court_parameters().default_dispute_window))
    fee_wei = None
    if do_register:
        fee_wei = ask("--fee", fee, "Resolution fee (ETH) escrowed for the signers and the prover", _fee,
                      default=f"{_min_fee() / 10**18:f}".rstrip("0").rstrip("."))
    made = _draft(kind, the_asset, other, at_day, first, last, rule, question=text, outcomes=outcome_names,
                  resolver_of=resolver_of, quorum=node_quorum, now=at_now)
    if isinstance(made, str):
        raise SpecError("spec", made)
    doc = made.to_json()
    if close_at is not None:
        doc["close_at"] = close_at
    if resolve_at is not None:
        doc["resolve_at"] = resolve_at
    if window:
        doc["dispute_window"] = window
    if forecaster is not None:
        doc = _with_forecast(doc, ask, kind, symbol, at_day, rule, forecaster, forecast_from, forecast_every,
                             hourly_source, at_now, as_json)
    elif forecast_from is not None or forecast_every is not None or hourly_source is not None:
        raise SpecError("--forecaster", "is required with --forecast-from, --forecast-every or --hourly-source")
    spec = check_spec(doc, now=at_now, store=store())  # what `validate` and `register` check
    target = Path(ask("--out", out_path, "Write the spec to", str, default=f"market-{spec.market_id[2:12]}.json"))
    if target.exists():
        raise SpecError("--out", f"{target} exists: choose another file")
    target.write_text(json.dumps(spec.to_json(), indent=2) + "\n")
    info = {**_info(spec), "file": str(target), "spec": spec.to_json()}
    if do_register:
        reg, _ = _register(spec, as_json, fee=fee_wei)
        info["registered"], info["already_registered"] = True, reg["already_registered"]

    def human(info: dict) -> None:
        out.print_json(json.dumps(info["spec"]))
        out.print(f"market id {info['market_id']} (spec hash {info['spec_hash']})", highlight=False)
        out.print(f"wrote {info['file']}", highlight=False)
        if info.get("registered"):
            verb = "already registered" if info["already_registered"] else "registered"
            out.print(f"{verb} {info['market_id']} ({info['rounds']} round(s), trading closes at "
                      f"{info['close_at']}, resolves at {info['resolve_at']})", highlight=False)

    emit(info, as_json, human)


def _with_forecast(doc: dict, ask: _Asker, kind: str, symbol: str, at_day, rule: dict, forecaster: str,
                   forecast_from, forecast_every, hourly_source, now, as_json: bool) -> dict:
    """The spec as a forecast market: `forecast` {model, source, features, every_days[, hourly_source]}."""
    from datetime import timedelta

    from markets.demo import BTC_SOURCE, SOURCES
    from markets.features import HourlyVolatility, TrailingReturns

    if kind != "above" or symbol != "BTC":
        raise SpecError("--forecaster", "forecasts are for above markets on BTC (the forecasters learned BTC and "
                        f"answer: a day's close above a price), not {kind} on {symbol}")
    which = str(forecaster).strip().lower()
    if which.startswith("0x"):
        from oracle.models import load_model

        try:
            recipe = load_model(store(), which).recipe
        except NotFound:
            raise SpecError("--forecaster", f"model {which} is not a model this home knows (`oracle model list`)"
                            ) from None
        model_id = which
    elif which in ("reference", "hourly"):
        recipe = HourlyVolatility.name if which == "hourly" else TrailingReturns.name
        model_id = _compile_forecaster(which, as_json)
    else:
        raise SpecError("--forecaster", f"must be reference, hourly or a model id, got {forecaster!r}")
    first = ask("--forecast-from", forecast_from, "First forecast as of the close of (YYYY-MM-DD)",
                _day("--forecast-from"), default=now.date().isoformat())
    if not first < at_day:
        raise SpecError("--forecast-from", f"{first} is not before --at {at_day}")
    every = ask("--forecast-every", forecast_every, "Days between forecasts", _days_between, default="1")
    hourly = None
    hourly_names = [n for n, src in SOURCES.items() if src.get("interval") == "1h" and n.startswith("btc-")]
    if recipe == HourlyVolatility.name:
        hourly = SOURCES[ask("--hourly-source", hourly_source, f"Hourly bars ({', '.join(hourly_names)})",
                             _one_of("--hourly-source", tuple(hourly_names)), default=hourly_names[0])]
    elif hourly_source is not None:
        raise SpecError("--hourly-source", f"the forecaster reads recipe {recipe}: no hourly bars")
    doc = {**doc, "kind": "forecast", "forecast": {
        "model": model_id, "source": BTC_SOURCE, "every_days": every,
        "features": {"recipe": recipe, "params": {"as_of": first.isoformat(),
                                                  "horizon_days": (at_day - first) // timedelta(days=1),
                                                  "threshold_price": rule["value"]}}}}
    if hourly is not None:
        doc["forecast"]["hourly_source"] = hourly
    return doc


def _days_between(v: Any) -> int:
    text = str(v).strip()
    if not text.isdigit() or not 1 <= int(text) <= 365:
        raise SpecError("--forecast-every", f"must be whole days in [1, 365], got {v!r}")
    return int(text)


def _compile_forecaster(which: str, as_json: bool) -> str:
    """This home's reference or hourly-volatility forecaster (trained and compiled once, then cached)."""
    from network.node.config import NodeConfig
    from provers.reference import hourly_circuit, reference_circuit

    try:
        batches = tuple(NodeConfig.load().batches)
    except NotFound:
        batches = (1,)
    compile_ = hourly_circuit if which == "hourly" else reference_circuit
    with progress(f"the {which} forecaster: train, compile, keys (once, then cached)", quiet=as_json) as log:
        return compile_(store(), config.cache_dir(), batches=batches, log=log).model_id


def _answers_of(path: str) -> dict[str, Any]:
    """The `market new` answers a spec file gives (`--like`): shape, asset and sources, dates, rule,
    question, outcomes, quorum and times. Its resolver is not taken: this home's is."""
    from markets.spec import MarketSpec

    spec = MarketSpec.load(path)
    doc = spec.to_json()
    shape = doc["shape"]
    table = _asset_sources()

    def asset_of(sources: list[dict], field: str) -> tuple[str, list[str]]:
        for symbol, named in table.items():
            names = [n for n, src in named.items() for s in sources if dict(s) == dict(src)]
            if len(names) == len(sources):
                return symbol, names
        raise SpecError(field, f"{path} reads sources that are not the bundled ones of {', '.join(table)}")

    symbol, names = asset_of(doc["observe"]["sources"], "--like")
    out: dict[str, Any] = {"shape": shape["kind"], "asset": symbol, "source": names, "question": doc["question"],
                           "outcomes": ",".join(doc["outcomes"]), "quorum": doc["quorum"],
                           "close_at": doc["close_at"], "resolve_at": doc["resolve_at"],
                           "dispute_window": str(doc.get("dispute_window", 0))}
    for k in ("at", "from", "to", "level", "direction"):
        if k in shape:
            out[k] = str(shape[k])
    if shape["kind"] == "above":
        out.update(value=str(shape["value"]), inclusive=bool(shape.get("inclusive", False)))
    if shape["kind"] == "range":
        out["bounds"] = ",".join(str(b) for b in shape["bounds"])
    if shape["kind"] == "versus":
        out["versus"] = asset_of(shape["other"]["sources"], "--like")[0]
    forecast = doc.get("forecast")
    if forecast:  # this home's forecaster of the file's recipe, as its resolver
        from markets.demo import SOURCES
        from markets.features import HourlyVolatility

        params = forecast["features"]["params"]
        out.update(forecaster="hourly" if forecast["features"]["recipe"] == HourlyVolatility.name else "reference",
                   forecast_from=params["as_of"], forecast_every=str(forecast["every_days"]))
        if forecast.get("hourly_source"):
            names = [n for n, src in SOURCES.items() if dict(src) == dict(forecast["hourly_source"])]
            if not names:
                raise SpecError("--like", f"{path} reads hourly bars that are not a bundled source")
            out["hourly_source"] = names[0]
    return out


def _window(v: Any) -> int:
    from markets.spec import MAX_DISPUTE_WINDOW

    text = str(v).strip()
    if not text.isdigit() or int(text) > MAX_DISPUTE_WINDOW:
        raise SpecError("--dispute-window", f"must be whole seconds in [0, {MAX_DISPUTE_WINDOW}] (7 days), got {v!r}")
    return int(text)


def _fee(v: Any) -> int:
    from oracle.errors import OracleError

    from .roles import parse_eth

    try:
        wei = parse_eth(str(v), "--fee")
    except OracleError as e:
        raise SpecError("--fee", str(e).removeprefix("--fee: ")) from None
    least = _min_fee()
    if wei < least:
        raise SpecError("--fee", f"{v} ETH is below the network's minimum fee, {least / 10**18:g} ETH")
    return wei


def _court_parameters():
    """The court's parameters on this home's node (governed: the minimum fee, the default window), or
    the defaults without one (2 h, as UMA's optimistic oracle: a quorum's answer, then time to object)."""
    from oracle.court import CourtParameters

    try:
        from network.client import Client

        return Client().deployment.court.parameters()
    except NotFound:
        return CourtParameters()


def _min_fee() -> int:
    return _court_parameters().min_fee


def _fail(field: str, reason: str):
    raise SpecError(field, reason)


def _retry_or_raise(ask: _Asker, e: SpecError, given: tuple = ()) -> None:
    """An answer that fails a later check: asked again when it was prompted, else the one-line error."""
    if ask.no_input or any(g is not None for g in given):
        raise e
    err.print(f"[red]error:[/red] {e.reason}", highlight=False, soft_wrap=True)


def _node_threshold() -> int | None:
    from network.node.config import NodeConfig

    try:
        return NodeConfig.load().threshold
    except NotFound:
        return None


def _compile_resolver(width: int, as_json: bool) -> str:
    from network.node.config import NodeConfig
    from provers.resolvers import compile_resolver

    try:
        batches = tuple(NodeConfig.load().batches)
    except NotFound:
        batches = (1,)
    with progress(f"compiling the resolver over {width} comparison(s) (once, then cached)", quiet=as_json) as log:
        return compile_resolver(store(), config.cache_dir(), width, batches=batches, log=log).model_id
