"""A market creator's Python client.

`check_spec` (markets/registration.py) is what `oracle market validate`, `oracle market new`, `oracle market register`, the
node (`Node.register`) and `Client.register` all run: the spec parses (version 2, every field),
its trading is still open by `now` (the chain's clock when there is a chain), and every model its
rounds name is one this home knows and can answer the market's rule. One function, so a spec
`validate` passes is one `register` takes.

    from network.client import Client

    c = Client()                                  # ORACLE_HOME's node (node.json, keystores)
    reg = c.register("markets/examples/above.json")  # Registration(market_id, already=False, ...)
    c.status(reg.market_id)                       # {"state": "open" | "closed" | "proposed" | "final", ...}
    c.wait_for_resolution(reg.market_id, timeout=600)
    c.forecasts(reg.market_id)                    # [{"round": 0, "due_at": ..., "probability": 0.6}, ...]

Errors are the CLI's: `SpecError` naming the field, `NotFound`, `ChainError`, `OracleError`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from markets.registration import check_spec, known_resolvers  # noqa: F401  (the one check, re-exported)
from markets.spec import MarketSpec
from oracle import config
from oracle.eip712 import INVALID_OUTCOME
from oracle.errors import NotFound, OracleError


def spec_now(rpc_url: str | None = None, now: str | None = None) -> datetime:
    """The time a registration is checked at: `now` if given (ISO-8601), else the chain's clock
    (`rpc_url`, else this home's node), else the wall clock (no node here)."""
    from markets.fields import _parse_time

    if now is not None:
        return _parse_time(now, "--now")
    if rpc_url is None:
        from .node.config import NodeConfig

        try:
            rpc_url = NodeConfig.load().rpc_url
        except NotFound:
            return datetime.now(timezone.utc)
    from oracle.chain import Chain

    return datetime.fromtimestamp(Chain.rpc(rpc_url).timestamp(), timezone.utc)


@dataclass(frozen=True)
class Registration:
    market_id: str
    spec_hash: str
    already: bool  # it was registered before this call (nothing was sent)
    rounds: int
    close_at: str
    resolve_at: str


class Client:
    """A creator's view of one node home (`ORACLE_HOME` by default): register markets and follow
    them on the chain. Reads need no password; `register` needs the keystore's (argument or
    ORACLE_KEYSTORE_PASSWORD)."""

    def __init__(self, home: str | Path | None = None, *, password: str | None = None,
                 on_log: Callable[[str], None] = lambda m: None):
        from .node.config import NodeConfig

        self.home = Path(home) if home is not None else config.home()
        self.cfg = NodeConfig.load(self.home)
        self._password = password
        self._on_log = on_log
        self._node = None
        self._dep = None

    # -------------------------------------------------------------- pieces
    @property
    def node(self):
        if self._node is None:
            from .node import Node

            self._node = Node(self.home, password=self._password, on_log=self._on_log)
        return self._node

    @property
    def deployment(self):
        if self._dep is None:
            if self._node is not None:
                self._dep = self._node.dep
            else:
                from oracle.chain import Chain
                from oracle.deployment import Deployment

                self._dep = Deployment.load(Chain.rpc(self.cfg.rpc_url), self.home / "deployments")
        return self._dep

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.deployment.chain.timestamp(), timezone.utc)

    def _spec(self, market_id: str) -> MarketSpec:
        from oracle.state import LocalState

        doc = LocalState(self.home / "state.sqlite").spec_json(market_id.lower())
        if doc is None:
            raise NotFound(f"unknown market {market_id}: this node does not track it")
        return MarketSpec.parse(doc)

    # ------------------------------------------------------------- actions
    def check(self, spec: MarketSpec | dict | str | Path) -> MarketSpec:
        """`oracle market validate` against this node's chain clock and models."""
        from oracle.store import ArtifactStore

        return check_spec(spec, now=self.now(), store=ArtifactStore(self.home / "store"))

    def register(self, spec: MarketSpec | dict | str | Path, *, fee: int | None = None) -> Registration:
        """Store the spec, register it on-chain, track its rounds (`oracle market register`). A
        market already registered is not sent again: `already` says so. `fee`: the resolution fee
        escrowed in the dispute court (wei; default and floor: the court's minimum)."""
        node = self.node
        if not isinstance(spec, MarketSpec):
            spec = MarketSpec.load(spec) if isinstance(spec, (str, Path)) else MarketSpec.parse(spec)
        already = node.dep.is_registered(spec.market_id)  # by anyone: nothing is sent again
        market_id = node.register(spec, fee=fee)
        doc = spec.to_json()
        return Registration(market_id, spec.spec_hash, already, len(spec.rounds()), doc["close_at"], doc["resolve_at"])

    def status(self, market_id: str) -> dict[str, Any]:
        """What the chain says of a market: `state` open (trading) / closed (awaiting its evidence) /
        proposed (a quorum's resolution, disputable until `window_ends_at`) / disputed / final /
        invalid (the dispute court's word), with the outcome's name and probability once proposed;
        `final` says whether consumers may act on it."""
        dep = self.deployment
        market_id = market_id.lower()
        if not dep.is_registered(market_id):
            raise NotFound(f"unknown market {market_id}: not registered on this node's chain")
        record = dep.get_market(market_id)
        doc: dict[str, Any] = {"market_id": market_id, "close_at": record.close_at, "resolve_at": record.resolve_at}
        try:
            spec = self._spec(market_id)
            doc["question"], outcomes = spec.question, list(spec.outcomes)
        except NotFound:
            outcomes = None
        if dep.is_resolved(market_id):
            from .fees import finality

            court = finality(dep, market_id)
            res = dep.resolution_of(market_id).resolution
            # the final outcome once a ruling overturned the proposal; the proposal's until then
            index = court["outcome"] if court["state"] == "final" else res.outcome
            if court["state"] == "invalid":
                index = INVALID_OUTCOME
            name = outcomes[index] if outcomes and index < len(outcomes) else \
                ("INVALID" if outcomes else str(index))
            doc.update(state=court["state"], final=court["state"] in ("final", "invalid"), outcome=name,
                       outcome_index=index, probability=res.probability_ppm / 1e6,
                       window_ends_at=court["window_ends_at"], final_at=court["final_at"], case=court["case"],
                       fees=court["fees"])
        else:
            doc["state"] = "open" if self.now().timestamp() < record.close_at else "closed"
            doc.update(final=False, fees=dep.court.fees_of(market_id).to_json())
        return doc

    def wait_for_resolution(self, market_id: str, *, timeout: float = 3600.0, poll: float = 2.0,
                            final: bool = False) -> dict[str, Any]:
        """Poll the chain until a quorum's resolution is recorded (proposed, or later; `final`: until
        the court says final or invalid, after the market's dispute window); its `status`. The node's
        scheduler does the work. OracleError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            doc = self.status(market_id)
            if doc["final"] or (not final and doc["state"] not in ("open", "closed")):
                return doc
            if time.monotonic() >= deadline:
                raise OracleError(f"market {market_id} is not resolved after {timeout:g} s (state {doc['state']}; "
                                  "is `oracle scheduler run` running?)")
            time.sleep(poll)

    def forecasts(self, market_id: str) -> list[dict[str, Any]]:
        """Each forecast round of a forecast market: when it is due and the probability the chain
        holds (None until posted)."""
        spec = self._spec(market_id)
        dep = self.deployment
        return [{"round": r.index, "due_at": r.due_at,
                 "probability": None if (p := dep.forecast_of(spec.market_id, r.index)) is None else p / 1e6}
                for r in spec.rounds() if not r.final]
