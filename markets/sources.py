"""Where markets come from: the on-chain registry, a folder of spec files, and
external platforms (Polymarket's Gamma API, Manifold) mapped into specs.

An external market becomes a spec only when this oracle's models can compute
its answer (today: "will BTC close above $X on date D?"); everything else is
reported as skipped with the reason.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from oracle.errors import DataError, NotFound, OracleError

from .spec import MarketSpec

BTC_SOURCE = {"kind": "csv", "uri": "bundled:btc_usd_daily.csv", "column": "Close"}
FORECAST_HORIZON_DAYS = 7  # imported questions are answered from the close a week before


@dataclass(frozen=True)
class Discovered:
    spec: MarketSpec
    origin: str
    external_id: str
    meta: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Skipped:
    origin: str
    external_id: str
    reason: str
    waiting_at: int | None = None  # a registry block to read again: the spec may still arrive


@dataclass
class PullResult:
    found: list[Discovered] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


# ------------------------------------------------------------------ local files
class LocalFolderSource:
    origin = "local"

    def __init__(self, folder: str | Path, *, now: datetime | None = None):
        self.folder = Path(folder)
        self.now = now

    def pull(self) -> PullResult:
        result = PullResult()
        if not self.folder.exists():
            raise DataError(f"spec folder {self.folder} does not exist", retry=True)
        for path in sorted(self.folder.iterdir()):
            if path.suffix not in (".json", ".yaml", ".yml"):
                continue
            try:
                result.found.append(Discovered(MarketSpec.load(path, now=self.now), self.origin, path.name))
            except OracleError as e:
                result.skipped.append(Skipped(self.origin, path.name, str(e)))
        return result


# ------------------------------------------------------------------ on-chain registry
class RegistrySource:
    """`MarketRegistered` events since a block; specs fetched from the artifact store by spec hash."""

    origin = "chain"

    def __init__(self, deployment, store, *, batch_blocks: int = 5_000):
        self.dep = deployment
        self.store = store
        self.batch_blocks = batch_blocks

    def pull(self, from_block: int) -> tuple[PullResult, int]:
        """Markets registered in [from_block, latest]; returns the next block to read from."""
        result = PullResult()
        latest = self.dep.chain.block_number()
        start = from_block
        while start <= latest:
            end = min(latest, start + self.batch_blocks - 1)
            for ev in self.dep.registered_events(start, end):
                market_id = ev.market_id
                try:
                    spec = MarketSpec.parse(json.loads(self.store.get(ev.spec_hash)))
                except NotFound:
                    result.skipped.append(Skipped(self.origin, market_id,
                                                  f"spec {ev.spec_hash} not in the artifact store (yet)",
                                                  waiting_at=ev.block))
                    continue
                except OracleError as e:
                    result.skipped.append(Skipped(self.origin, market_id, f"registered spec is invalid: {e}"))
                    continue
                if spec.market_id != market_id or spec.model != ev.model_id:
                    result.skipped.append(Skipped(self.origin, market_id, "registry entry does not match its spec"))
                    continue
                result.found.append(Discovered(spec, self.origin, market_id, {"creator": ev.creator,
                                                                              "block": ev.block}))
            start = end + 1
        return result, latest + 1


def follow_registry(state, deployment, store) -> tuple[list[Discovered], list[Skipped]]:
    """Read the registry from the state's cursor; track every market found (returns those new to
    the state) and record every one skipped. The one cursor policy of every follower: it moves on
    past what was read, except that it stays at the first market whose spec has not arrived yet,
    so that market is picked up once its spec is published."""
    cursor = int(state.cursor("registry", str(deployment.from_block)))
    result, next_block = RegistrySource(deployment, store).pull(cursor)
    new = [d for d in result.found
           if state.add_market(d.spec, d.origin, [(r.index, r.due_at) for r in d.spec.rounds()])]
    for s in result.skipped:
        state.skip(s.origin, s.external_id, s.reason)
    waiting = [s.waiting_at for s in result.skipped if s.waiting_at is not None]
    state.set_cursor("registry", str(min(waiting) if waiting else next_block))
    return new, result.skipped


# ------------------------------------------------------------------ question mapping
_PRICE_Q = re.compile(
    r"\b(?:will\s+)?(?:the\s+price\s+of\s+)?(bitcoin|btc)(?:[-/ ]usd)?\s+(?:close|be|trade|finish|end)\s+"
    r"(above|over|higher than)\s+\$?\s*([\d,]+(?:\.\d+)?)\s*(k)?\s+(?:on|at the close of|by the close of)\s+"
    r"([A-Za-z]+\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}|\d{4}-\d{2}-\d{2})",
    re.IGNORECASE,
)


def parse_price_question(text: str) -> tuple[float, datetime] | None:
    """'Will Bitcoin close above $45,000 on March 3, 2021?' -> (45000.0, 2021-03-03 UTC)."""
    m = _PRICE_Q.search(text or "")
    if not m:
        return None
    price = float(m.group(3).replace(",", "")) * (1000 if m.group(4) else 1)
    raw = re.sub(r"(\d)(st|nd|rd|th)", r"\1", m.group(5)).replace(".", "").replace(",", "")
    for fmt in ("%B %d %Y", "%b %d %Y", "%Y-%m-%d"):
        try:
            return price, datetime.strptime(raw, fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    return None


def _threshold_spec(*, question: str, description: str, price: float, target: datetime, end: datetime,
                    yes: str, no: str, model_id: str, quorum: int, ctf_question_id: str | None) -> MarketSpec:
    as_of = target - timedelta(days=FORECAST_HORIZON_DAYS)
    resolve_at = max(end, target + timedelta(days=1))
    d: dict[str, Any] = {
        "version": 1,
        "question": question[:500],
        "description": description[:2000],
        "outcomes": [yes, no],
        "kind": "resolve",
        "source": BTC_SOURCE,
        "features": {"recipe": "trailing_returns_v1",
                     "params": {"as_of": as_of.strftime("%Y-%m-%d"), "horizon_days": FORECAST_HORIZON_DAYS,
                                "threshold_price": price}},
        "model": model_id,
        "rule": {"kind": "threshold", "threshold": 0.5, "above": yes, "below": no},
        "resolve_at": resolve_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "quorum": quorum,
    }
    if ctf_question_id:
        d["ctf_question_id"] = ctf_question_id
    return MarketSpec.parse(d)


def _json_list(value: Any, field_name: str) -> list:
    """Gamma encodes lists as JSON strings ("[\\"Yes\\", \\"No\\"]")."""
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        try:
            v = json.loads(value)
        except ValueError:
            raise ValueError(f"{field_name} is not a JSON list: {value[:40]!r}") from None
        if isinstance(v, list):
            return v
    raise ValueError(f"{field_name} is not a list")


def _iso_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


class _HttpSource:
    origin = "http"
    path = "/"
    query: dict[str, Any] = {}

    def __init__(self, base_url: str, *, model_id: str, quorum: int, limit: int = 100, timeout: float = 10.0,
                 client=None):
        self.base_url = base_url.rstrip("/")
        self.model_id = model_id
        self.quorum = quorum
        self.limit = limit
        self.timeout = timeout
        self.client = client

    def _get(self, path: str, params: dict[str, Any]) -> Any:
        import httpx

        url = f"{self.base_url}{path}"
        try:
            if self.client is not None:
                r = self.client.get(url, params=params, timeout=self.timeout)
            else:
                r = httpx.get(url, params=params, timeout=self.timeout)
        except httpx.HTTPError as e:
            raise DataError(f"{self.origin} at {self.base_url} is down: {type(e).__name__}: {e}", retry=True) from None
        if r.status_code != 200:
            raise DataError(f"{self.origin} answered HTTP {r.status_code} for {path}",
                            retry=r.status_code >= 500 or r.status_code == 429)
        try:
            return r.json()
        except ValueError:
            raise DataError(f"{self.origin} returned non-JSON for {path}") from None

    def pull(self) -> PullResult:
        result = PullResult()
        items = self.fetch()
        for obj in items:
            ext = str(obj.get("id", "?")) if isinstance(obj, dict) else "?"
            try:
                spec_or_reason = self.map(obj)
            except (ValueError, TypeError, KeyError) as e:
                spec_or_reason = f"malformed market object: {e}"
            except OracleError as e:
                spec_or_reason = f"maps to an invalid spec: {e}"
            if isinstance(spec_or_reason, str):
                result.skipped.append(Skipped(self.origin, ext, spec_or_reason))
            else:
                result.found.append(Discovered(spec_or_reason, self.origin, ext))
        return result

    def fetch(self) -> list[dict]:
        doc = self._get(self.path, {**self.query, "limit": self.limit})
        if not isinstance(doc, list):
            raise DataError(f"{self.origin} {self.path} did not return a list")
        return doc

    def map(self, obj: dict) -> MarketSpec | str:  # pragma: no cover - per platform
        raise NotImplementedError


class PolymarketSource(_HttpSource):
    """Polymarket's Gamma API: GET {base}/markets?closed=false&limit=N."""

    origin = "polymarket"
    path = "/markets"
    query = {"closed": "false"}

    def map(self, m: dict) -> MarketSpec | str:
        if m.get("closed"):
            return "closed"
        statuses = [str(s).lower() for s in _json_list(m.get("umaResolutionStatuses") or "[]", "umaResolutionStatuses")]
        if "resolved" in statuses:
            return "already resolved through UMA"
        if m.get("negRisk"):
            return "negRisk group member: its outcome depends on the other markets in the group"
        outcomes = [str(o) for o in _json_list(m.get("outcomes"), "outcomes")]
        lower = [o.lower() for o in outcomes]
        if sorted(lower) != ["no", "yes"]:
            return f"outcomes {outcomes} are not binary Yes/No"
        parsed = parse_price_question(m.get("question", ""))
        if parsed is None:
            return "not a BTC close-above-price question this oracle's models can compute"
        end = _iso_time(m.get("endDate"))
        if end is None:
            return f"endDate {m.get('endDate')!r} is not an ISO time"
        price, target = parsed
        qid = m.get("questionID")
        qid = qid if isinstance(qid, str) and len(qid) == 66 and qid.startswith("0x") else None
        return _threshold_spec(
            question=m["question"], description=str(m.get("description", "")), price=price, target=target, end=end,
            yes=outcomes[lower.index("yes")], no=outcomes[lower.index("no")], model_id=self.model_id,
            quorum=self.quorum, ctf_question_id=qid,
        )


class ManifoldSource(_HttpSource):
    """Manifold's API: GET {base}/v0/markets?limit=N."""

    origin = "manifold"
    path = "/v0/markets"

    def map(self, m: dict) -> MarketSpec | str:
        if m.get("isResolved"):
            return "already resolved"
        if m.get("outcomeType") != "BINARY":
            return f"outcomeType {m.get('outcomeType')!r} is not BINARY"
        parsed = parse_price_question(m.get("question", ""))
        if parsed is None:
            return "not a BTC close-above-price question this oracle's models can compute"
        close = m.get("closeTime")
        if not isinstance(close, (int, float)):
            return "no closeTime"
        price, target = parsed
        return _threshold_spec(
            question=m["question"], description=str(m.get("textDescription", "")), price=price, target=target,
            end=datetime.fromtimestamp(close / 1000, tz=timezone.utc), yes="YES", no="NO",
            model_id=self.model_id, quorum=self.quorum, ctf_question_id=None,
        )
