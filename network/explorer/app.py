"""The explorer's web app: server-rendered HTML pages (every string from a spec, a peer or the chain
escaped; inline SVG charts drawn here), a JSON API with the same answers, and one small vanilla JS
file that polls `/api/status` and swaps the page's `<main>` when the chain moved. Nothing is fetched
from anywhere else at run time, and the Content-Security-Policy says so to the browser too.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from html import escape
from pathlib import Path
from typing import Any, Callable, Sequence

from aiohttp import web

from oracle.errors import FieldError, NotFound, OracleError

from ..transport import in_thread
from .data import ExplorerData, check_address, check_id

STATIC = Path(__file__).resolve().parent / "static"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
POLL_MS = 1500


def esc(value: Any) -> str:
    """Text or attribute content: everything from a spec, the chain or a store is hostile."""
    return escape("" if value is None else str(value), quote=True)


def short(h: str | None, n: int = 10) -> str:
    return "" if not h else (h if len(h) <= n + 2 else f"{h[:n]}…")


# ------------------------------------------------------------------------------------ charts
def line_chart(series: Sequence[tuple[str, str, Sequence[tuple[float, float, str]]]], *, y_min: float,
               y_max: float, chart_id: str, y_label: str, width: int = 640, height: int = 240,
               x_format: Callable[[float], str] = lambda x: time.strftime("%Y-%m-%d", time.gmtime(x))) -> str:
    """An inline SVG line chart. `series`: (name, css class, [(x, y, point label)]); x in unix time
    (`x_format` labels the first and last), y within [y_min, y_max]. Labels become <title> text (escaped)."""
    pad_l, pad_r, pad_t, pad_b = 48, 16, 24, 28
    xs = [x for _, _, pts in series for x, _, _ in pts]
    if not xs:
        return f'<p class="empty" id="{esc(chart_id)}">nothing to plot yet</p>'
    x0, x1 = min(xs), max(xs)
    span_x = (x1 - x0) or 1.0
    span_y = (y_max - y_min) or 1.0

    def px(x: float) -> float:
        return pad_l + (width - pad_l - pad_r) * ((x - x0) / span_x if x1 > x0 else 0.5)

    def py(y: float) -> float:
        y = min(max(y, y_min), y_max)
        return pad_t + (height - pad_t - pad_b) * (1 - (y - y_min) / span_y)

    parts = [f'<svg id="{esc(chart_id)}" class="chart" viewBox="0 0 {width} {height}" width="{width}" '
             f'height="{height}" role="img" aria-label="{esc(y_label)}">']
    for i in range(5):  # horizontal grid with y ticks
        y = y_min + span_y * i / 4
        parts.append(f'<line class="grid" x1="{pad_l}" x2="{width - pad_r}" y1="{py(y):.1f}" y2="{py(y):.1f}"/>'
                     f'<text class="tick" x="{pad_l - 6}" y="{py(y) + 4:.1f}" text-anchor="end">{y:.2f}</text>')
    parts.append(f'<text class="axis" x="{width - pad_r}" y="14" text-anchor="end">{esc(y_label)}</text>')
    ends = [(x0, "start")] + ([(x1, "end")] if x1 > x0 else [])
    parts += [f'<text class="tick" x="{px(x):.1f}" y="{height - pad_b + 14}" text-anchor="{a}">{esc(x_format(x))}</text>'
              for x, a in ends]
    for name, css, pts in series:
        if not pts:
            continue
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y, _ in pts)
        parts.append(f'<polyline class="series {esc(css)}" points="{path}"><title>{esc(name)}</title></polyline>')
        for x, y, label in pts:
            parts.append(f'<circle class="point {esc(css)}" cx="{px(x):.1f}" cy="{py(y):.1f}" r="4" '
                         f'data-y="{y:.6f}"><title>{esc(label)}</title></circle>')
    parts.append("</svg>")
    return "".join(parts)


# ------------------------------------------------------------------------------------ pages
def layout(title: str, body: str, status: dict[str, Any]) -> str:
    return (
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{esc(title)} · oracle explorer</title>"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<link rel=\"stylesheet\" href=\"/static/explorer.css\">"
        "<script src=\"/static/explorer.js\" defer></script></head>"
        f"<body data-poll-ms=\"{POLL_MS}\"><header><a href=\"/\" class=\"brand\">oracle explorer</a>"
        f"<span id=\"chain\">chain {esc(status['chain_id'])} · oracle <code>{esc(short(status['oracle'], 12))}</code>"
        f"</span><span id=\"live\" class=\"live\">static</span></header>"
        f"<main id=\"main\" data-version=\"{esc(status['version'])}\">"
        f"<p class=\"clock\">block <span id=\"block\">{esc(status['block'])}</span> · chain time "
        f"<span id=\"chain-time\">{esc(status['chain_time_label'])}</span></p>{body}</main></body></html>"
    )


def _market_link(mid: str, text: str | None = None) -> str:
    return f'<a href="/market/{esc(mid)}"><code>{esc(text or short(mid, 12))}</code></a>'


def _model_link(mid: str | None) -> str:
    return "—" if not mid else f'<a href="/model/{esc(mid)}"><code>{esc(short(mid, 12))}</code></a>'


def _validator_link(addr: str) -> str:
    return f'<a href="/validator/{esc(addr)}"><code>{esc(addr)}</code></a>'


def _state_badge(state: dict[str, str]) -> str:
    return f'<span class="state state-{esc(state["key"])}" data-state="{esc(state["key"])}">{esc(state["label"])}</span>'


def index_page(markets: list[dict], validators: list[dict], models: list[dict]) -> str:
    rows = []
    for m in markets:
        question = m["question"] if m["question"] is not None else "(spec not in this home's store)"
        answer = m["outcome_label"] or m["latest_forecast_label"] or "—"
        rows.append(
            f'<tr class="market-row" data-market-id="{esc(m["market_id"])}">'
            f'<td>{_market_link(m["market_id"])}</td><td class="question">{esc(question)}</td>'
            f'<td>{_state_badge(m["state"])}</td><td class="answer">{esc(answer)}</td>'
            f'<td>{esc(m["close_at_label"])}</td><td>{esc(m["resolve_at_label"])}</td></tr>')
    bonded = any(v["bond"] is not None for v in validators)
    vrows = "".join(
        f'<tr class="validator-row"><td>{_validator_link(v["address"])}</td><td>{"yes" if v["current"] else "no"}</td>'
        f'<td class="signed">{v["signed"]}</td><td class="missed">{v["missed"]}</td>'
        f'<td class="slashed">{v["slashed"]}</td>'
        + (f'<td class="bond">{esc(v["bond"]["label"])} ({esc(v["bond"]["status"])})</td>' if bonded else "")
        + "</tr>" for v in validators)
    mrows = "".join(
        f'<tr><td>{_model_link(m["model_id"])}</td><td>{esc(m["name"] or "—")}</td><td>{esc(", ".join(m["roles"]))}'
        f"</td></tr>" for m in models)
    return (
        "<h1>Markets</h1>"
        "<table id=\"markets\"><thead><tr><th>market</th><th>question</th><th>state</th><th>answer</th>"
        "<th>trading closes</th><th>resolves</th></tr></thead><tbody>"
        + ("".join(rows) or '<tr><td colspan="6" class="empty">no market registered yet</td></tr>')
        + "</tbody></table><h2>Validators</h2><table id=\"validators\"><thead><tr><th>address</th><th>in the set now"
        "</th><th>signed</th><th>missed</th><th>slashed</th>" + ("<th>bond</th>" if bonded else "")
        + "</tr></thead><tbody>" + vrows + "</tbody></table>"
        "<h2>Models</h2><table id=\"models\"><thead><tr><th>model</th><th>name</th><th>used as</th></tr></thead><tbody>"
        + mrows + "</tbody></table>")


def _dl(items: Sequence[tuple[str, str, str]]) -> str:
    """(id, term, already-escaped html)."""
    return "<dl>" + "".join(f'<dt>{esc(t)}</dt><dd id="{esc(i)}">{h}</dd>' for i, t, h in items) + "</dl>"


def market_page(m: dict[str, Any], verdict: dict[str, Any]) -> str:
    question = m["question"] if m["question"] is not None else "(spec not in this home's store)"
    head = (f'<h1 id="question">{esc(question)}</h1>'
            + (f'<p id="description">{esc(m["description"])}</p>' if m.get("description") else "")
            + _dl([("market-id", "market", f'<code>{esc(m["market_id"])}</code>'),
                   ("state", "state", _state_badge(m["state"])),
                   ("outcomes", "outcomes", esc(" / ".join(m["outcomes"]))),
                   ("outcome", "outcome", esc(m["outcome_label"] or "—")),
                   ("close-at", "trading closes", esc(m["close_at_label"])),
                   ("resolve-at", "resolves", esc(m["resolve_at_label"])),
                   ("deadline", "evidence deadline", esc(m.get("deadline_label") or "—")),
                   ("quorum", "quorum", esc(m["quorum"])),
                   ("creator", "creator", f'<code>{esc(m["creator"])}</code>'),
                   ("resolver", "resolver", _model_link(m["resolver"])),
                   ("forecaster", "forecaster", _model_link(m["forecaster"]))]))
    spec = json.dumps(m["spec"], indent=2) if m["spec"] else "not in this store"
    return (head + _forecasts(m) + _evidence(m) + _proof(m, verdict) + _settlement(m) + _court(m) + _payouts(m)
            + _rounds(m)
            + f'<h2>Spec</h2><details id="spec-details"><summary>the spec as registered (hash <code>{esc(m["spec_hash"])}</code>)</summary>'
            f'<pre id="spec">{esc(spec)}</pre></details>')


def _forecasts(m: dict[str, Any]) -> str:
    rows = m["forecasts"]
    if not rows:
        return '<h2>Forecasts</h2><p class="empty" id="forecasts">no forecast posted</p>'
    first = m["outcomes"][0] if m["outcomes"] else "P"
    chart = line_chart([(f"P({first})", "forecast", [(r["time"], r["probability"], f'round {r["round"]}: {r["label"]}')
                                                     for r in rows])],
                       y_min=0.0, y_max=1.0, chart_id="forecast-chart", y_label=f"P({first}) by chain time")
    body = "".join(
        f'<tr class="forecast-row" data-round="{r["round"]}"><td>{r["round"]}</td><td>{esc(r["as_of"] or "—")}</td>'
        f'<td class="forecast-p" data-ppm="{r["probability_ppm"]}">{esc(r["label"])}</td>'
        f'<td>{esc(r["time_label"])}</td><td><code>{esc(short(r["proof_hash"], 12))}</code></td>'
        f'<td>{len(r["signers"])}</td><td><code>{esc(short(r["tx_hash"], 12))}</code></td></tr>' for r in rows)
    return ("<h2>Forecasts</h2>" + chart + '<table id="forecasts"><thead><tr><th>round</th><th>data as of</th>'
            "<th>probability</th><th>posted</th><th>proof</th><th>signers</th><th>tx</th></tr></thead><tbody>"
            + body + "</tbody></table>")


def _evidence(m: dict[str, Any]) -> str:
    ev = m["evidence"]
    parts = ["<h2>Evidence</h2>"]
    if ev.get("note"):
        parts.append(f'<p class="note" id="evidence-note">{esc(ev["note"])}</p>')
    if ev.get("used"):
        parts.append('<table id="evidence-used"><thead><tr><th>series</th><th>bar</th><th>field</th>'
                     "<th>value used (median)</th></tr></thead><tbody>")
        parts += [f'<tr><td>{esc(x["series"])}</td><td>{esc(x["bar"])}</td><td>{esc(x["field"])}</td>'
                  f'<td class="used-value">{esc(x["value"])}</td></tr>' for x in ev["used"]["medians"]]
        parts.append("</tbody></table>")
    for o in ev.get("observations", []):
        parts.append(f'<h3>{esc(o["series"])} · {esc(o["field"])} of the bar {esc(o["bar"])}: median '
                     f'<span class="median">{esc(o["median"])}</span></h3><table class="readings"><thead><tr>'
                     "<th>source</th><th>reading</th><th></th></tr></thead><tbody>")
        for src, val in o["readings"].items():
            off = src in o["deviants"]
            parts.append(f'<tr class="reading{" off" if off else ""}"><td>{esc(src)}</td><td>{esc(val)}</td>'
                         f'<td>{"off the median: not counted" if off else "counted"}</td></tr>')
        parts.append("</tbody></table>")
    return "".join(parts)


def _proof(m: dict[str, Any], verdict: dict[str, Any]) -> str:
    p = m["proof"]
    if p is None:
        return '<h2>Proof</h2><p class="empty" id="proof">no resolution yet</p>'
    vks = ", ".join(f'batch {c["batch"]}: <code class="vk">{esc(c["vk"])}</code>' for c in p["vk_hashes"]) or "—"
    items = [("proof-model", "model", f'{_model_link(p["model_id"])} {esc(p["model_name"] or "")}'),
             ("proof-vk", "verifying key hash", vks),
             ("proof-hash", "proof hash", f'<code>{esc(p["proof_hash"])}</code>'
              + (" (INVALID by absence: no proof)" if p["no_proof"] else "")),
             ("inputs-hash", "inputs hash", f'<code>{esc(p["inputs_hash"])}</code>'),
             ("bundle-hash", "bundle", f'<code>{esc(p["bundle_hash"] or "not in this store")}</code>'),
             ("prover", "prover", f'<code>{esc(p["prover"] or "—")}</code>')]
    ok = verdict.get("ok")
    word = "VERIFIED" if ok else ("NOT VERIFIED" if ok is False else "not checked")
    checks = "".join(
        f'<tr class="check" data-ok="{esc(c["ok"])}"><td>{esc(c["name"])}</td>'
        f'<td>{ {True: "pass", False: "FAIL", None: "skip"}[c["ok"]] }</td><td>{esc(c["detail"])}</td></tr>'
        for c in verdict.get("checks", []))
    return ("<h2>Proof</h2>" + _dl(items)
            + f'<h3>Re-verification (the checks of <code>oracle verify</code>)</h3><p id="verified" '
            f'class="verdict verdict-{esc(ok)}" data-ok="{esc(ok)}">{word}</p>'
            + f'<table id="checks"><thead><tr><th>check</th><th>result</th><th>detail</th></tr></thead><tbody>'
            f"{checks}</tbody></table>")


def _settlement(m: dict[str, Any]) -> str:
    r = m["resolution"]
    if r is None:
        return '<h2>Settlement</h2><p class="empty" id="settlement">not settled</p>'
    signers = "".join(
        f'<tr class="signer-row" data-signed="{"yes" if v["signed"] else "no"}"><td>{_validator_link(v["address"])}'
        f'</td><td>{"signed" if v["signed"] else "missed"}</td></tr>' for v in r["validators"])
    return ("<h2>Settlement</h2>"
            + _dl([("settlement-tx", "transaction", f'<code>{esc(r["tx_hash"])}</code>'),
                   ("settlement-fn", "call", esc(r["function"] or "—")),
                   ("settlement-block", "block", f'{esc(r["block"])} ({esc(r["time_label"])})'),
                   ("submitter", "submitted by", f'<code>{esc(r["submitter"])}</code>'),
                   ("resolution-outcome", "outcome", esc(r["outcome_label"])),
                   ("signer-count", "signatures", f'{len(r["signers"])} (threshold {esc(r["threshold"])})')])
            + f'<table id="signers"><thead><tr><th>validator</th><th></th></tr></thead><tbody>{signers}</tbody></table>')


def _court(m: dict[str, Any]) -> str:
    """The dispute court: proposed until the window ends (or disputed), then final; the case and the fee."""
    c = m.get("court")
    if c is None:
        return '<h2>Dispute court</h2><p class="empty" id="court">no resolution proposed yet</p>'
    case = c["case"]
    f = c["fees"]
    items = [("court-state", "state", f'<span data-court="{esc(c["state"])}">{esc(c["state"])}</span>'),
             ("window-end", "dispute window ends", esc(c["window_ends_label"] or "—")),
             ("final-at", "final at", esc(c["final_at_label"] or "—"))]
    if case:
        items += [("disputer", "disputed by", f'<code>{esc(case["disputer"])}</code> at {esc(case["disputed_at_label"])}'),
                  ("dispute-bond", "bond", esc(case["bond_label"])),
                  ("ruling", "ruling", esc(case["ruling"]))]
    items += [("fee", "fee escrowed", esc(f["pot_label"])),
              ("fee-paid", "fee paid out", f'{esc(f["paid_label"])} ({esc(f["signer_claims"])} signer share(s)'
               f'{", prover paid" if f["prover_paid"] else ""}{", closed" if f["closed"] else ""})')]
    return "<h2>Dispute court</h2>" + _dl(items)


def _payouts(m: dict[str, Any]) -> str:
    p = m["payouts"]
    pools = "".join(f'<tr><td>{esc(x["outcome_label"])}</td><td class="pool" data-wei="{x["wei"]}">{esc(x["label"])}'
                    f"</td></tr>" for x in p["pools"])
    accounts = "".join(
        f'<tr class="payout-row" data-account="{esc(a["account"])}"><td><code>{esc(a["account"])}</code></td>'
        f'<td>{esc(a["staked_label"])}</td><td class="payout" data-wei="{a["payout_wei"]}">{esc(a["payout_label"])}'
        f"</td></tr>" for a in p["accounts"])
    redeemed = "".join(f'<tr><td><code>{esc(r["account"])}</code></td><td>{esc(r["label"])}</td>'
                       f'<td><code>{esc(short(r["tx_hash"], 12))}</code></td></tr>' for r in p["redeemed"])
    return ('<h2>Stakes and payouts</h2><table id="pools"><thead><tr><th>outcome</th><th>pool</th></tr></thead>'
            f"<tbody>{pools}</tbody></table>"
            '<table id="payouts"><thead><tr><th>account</th><th>staked</th><th>payout now</th></tr></thead>'
            f"<tbody>{accounts}</tbody></table>"
            + (f'<table id="redeemed"><thead><tr><th>redeemed by</th><th>amount</th><th>tx</th></tr></thead>'
               f"<tbody>{redeemed}</tbody></table>" if redeemed else ""))


def _rounds(m: dict[str, Any]) -> str:
    if not m.get("rounds"):
        return ""
    rows = "".join(f'<tr><td>{r["round"]}</td><td>{esc(r["status"])}</td><td>{r["attempts"]}</td>'
                   f'<td>{esc(r["detail"] or "")}</td></tr>' for r in m["rounds"])
    return ('<h2>This node\'s rounds</h2><table id="rounds"><thead><tr><th>round</th><th>status</th><th>attempts</th>'
            f"<th>detail</th></tr></thead><tbody>{rows}</tbody></table>")


def model_page(d: dict[str, Any]) -> str:
    rec = d["record"]
    head = f'<h1>Model <code id="model-id">{esc(d["model_id"])}</code></h1>'
    if rec:
        vks = ", ".join(f'batch {c["batch"]}: <code>{esc(c["vk"])}</code>' for c in rec["circuits"])
        head += _dl([("model-name", "name", esc(rec["name"])), ("model-family", "family", esc(rec["family"])),
                     ("model-vk", "verifying keys", vks), ("model-srs", "SRS", esc(rec["srs_kind"])),
                     ("model-inputs", "inputs", f'{esc(rec["n_inputs"])} ({esc(rec["input_visibility"])})'),
                     ("model-transform", "output", esc(rec["output_transform"]))])
    else:
        head += '<p class="note">this home\'s store holds no record of this model</p>'
    scored = d["scored"]
    summary = ("no scored forecast yet" if not scored else
               f'Brier <span id="model-brier">{d["brier"]:.4f}</span>, log loss '
               f'<span id="model-log-loss">{d["log_loss"]:.4f}</span> over {d["forecasts"]} forecast(s) in '
               f"{len(scored)} market(s)")
    chart = line_chart([("cumulative Brier", "brier", [(s["time"], s["cumulative_brier"], f'{s["cumulative_brier"]:.4f}')
                                                        for s in scored]),
                        ("cumulative log loss", "logloss",
                         [(s["time"], s["cumulative_log_loss"], f'{s["cumulative_log_loss"]:.4f}') for s in scored])],
                       y_min=0.0, y_max=max([1.0] + [s["cumulative_log_loss"] for s in scored]),
                       chart_id="score-chart", y_label="Brier (blue) and log loss (orange), running, by resolution")
    rows = "".join(
        f'<tr class="score-row"><td>{_market_link(s["market_id"])}</td><td>{esc(s["question"] or "")}</td>'
        f'<td>{s["n"]}</td><td class="brier">{s["brier"]:.4f}</td><td>{s["log_loss"]:.4f}</td>'
        f'<td>{esc(s["time_label"])}</td></tr>' for s in scored)
    resolved = "".join(f'<li>{_market_link(r["market_id"])} {esc(r["question"] or "")}: {esc(r["outcome_label"])}</li>'
                       for r in d["resolved_markets"])
    return (head + f'<h2>Forecast record</h2><p id="model-summary">{summary}</p>' + chart
            + '<table id="scores"><thead><tr><th>market</th><th>question</th><th>forecasts</th><th>Brier</th>'
            f"<th>log loss</th><th>resolved</th></tr></thead><tbody>{rows}</tbody></table>"
            + (f'<h2>Markets it resolved</h2><ul id="resolved-markets">{resolved}</ul>' if resolved else ""))


def validator_page(d: dict[str, Any]) -> str:
    rows = "".join(
        f'<tr class="duty-row" data-signed="{"yes" if r["signed"] else "no"}"><td>{_market_link(r["market_id"])}</td>'
        f'<td>{r["round"]}</td><td>{esc(r["kind"])}</td><td>{"signed" if r["signed"] else "missed"}</td>'
        f'<td><code>{esc(short(r["tx_hash"], 12))}</code></td><td>{esc(r["time_label"])}</td></tr>'
        for r in d["duties"])
    bond = "" if d["bond"] is None else f' · bond <span id="validator-bond">{esc(d["bond"]["label"])}</span> ' \
        f'({esc(d["bond"]["status"])})'
    slashes = "".join(
        f'<tr class="slash-row"><td>{esc(x["label"])}</td><td><code>{esc(x["reporter"])}</code></td>'
        f'<td><code>{esc(x["evidence"])}</code></td><td><code>{esc(short(x["tx_hash"], 12))}</code></td></tr>'
        for x in d["slashes"])
    return (f'<h1>Validator <code id="validator-address">{esc(d["address"])}</code></h1>'
            f'<p>{"in the current set" if d["current"] else "not in the current set"} · signed '
            f'<span id="validator-signed">{d["signed"]}</span> · missed <span id="validator-missed">{d["missed"]}</span>'
            f' · slashed <span id="validator-slashed">{len(d["slashes"])}</span>{bond}</p>'
            + (f'<h2>Slashed</h2><table id="slashes"><thead><tr><th>amount</th><th>reported by</th><th>evidence</th>'
               f"<th>tx</th></tr></thead><tbody>{slashes}</tbody></table>" if slashes else "")
            + "<h2>Rounds</h2><p class=\"note\">missed: the quorum that landed on-chain does not carry this "
            "validator's signature (it refused, was down, or voted after the quorum was complete)</p><table id=\"duties\"><thead><tr><th>market</th><th>round</th><th>kind</th><th></th><th>tx</th>"
            f"<th>when</th></tr></thead><tbody>{rows}</tbody></table>")


# ------------------------------------------------------------------------------------ the app
def make_explorer_app(data: ExplorerData) -> web.Application:
    """Pages at `/`, `/market/{id}`, `/model/{id}`, `/validator/{address}`; JSON at `/api/...`."""

    @web.middleware
    async def headers_and_errors(request: web.Request, handler):
        api = request.path.startswith("/api/")
        try:
            response = await handler(request)
        except web.HTTPException:
            raise
        except FieldError as e:
            response = _error(api, 400, str(e))
        except NotFound as e:
            response = _error(api, 404, str(e))
        except OracleError as e:
            response = _error(api, 502, str(e))
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        return response

    def _error(api: bool, status: int, reason: str) -> web.Response:
        if api:
            return web.json_response({"error": reason}, status=status)
        return web.Response(text=f"<!doctype html><title>error</title><p id=\"error\">{esc(reason)}</p>",
                            content_type="text/html", status=status)

    def api(fn: Callable[[web.Request], Any]):
        async def handle(request: web.Request):
            return web.json_response(await in_thread(fn, request), dumps=lambda o: json.dumps(o, default=str))
        return handle

    def page(title: Callable[[web.Request], str], render: Callable[[web.Request], str]):
        async def handle(request: web.Request):
            def build() -> str:
                body = render(request)
                return layout(title(request), body, data.status())
            return web.Response(text=await in_thread(build), content_type="text/html")
        return handle

    def market_html(request: web.Request) -> str:
        mid = request.match_info["mid"]
        m = data.market(mid)
        return market_page(m, data.verification(mid))

    app = web.Application(middlewares=[headers_and_errors])
    r = app.router
    r.add_get("/api/status", api(lambda q: data.status()))
    r.add_get("/api/markets", api(lambda q: data.markets()))
    r.add_get("/api/markets/{mid}", api(lambda q: data.market(q.match_info["mid"])))
    r.add_get("/api/markets/{mid}/verification", api(lambda q: data.verification(q.match_info["mid"])))
    r.add_get("/api/models", api(lambda q: data.models()))
    r.add_get("/api/models/{mid}", api(lambda q: data.model(q.match_info["mid"])))
    r.add_get("/api/validators", api(lambda q: data.validators()))
    r.add_get("/api/validators/{addr}", api(lambda q: data.validator(q.match_info["addr"])))
    r.add_get("/", page(lambda q: "markets", lambda q: index_page(data.markets(), data.validators(), data.models())))
    r.add_get("/market/{mid}", page(lambda q: f"market {short(q.match_info['mid'], 12)}", market_html))
    r.add_get("/model/{mid}", page(lambda q: f"model {short(q.match_info['mid'], 12)}",
                                   lambda q: model_page(data.model(q.match_info["mid"]))))
    r.add_get("/validator/{addr}", page(lambda q: f"validator {short(q.match_info['addr'], 12)}",
                                        lambda q: validator_page(data.validator(q.match_info["addr"]))))
    r.add_static("/static/", STATIC, show_index=False, follow_symlinks=False)
    return app


class ExplorerServer:
    """The app served on 127.0.0.1:`port` from a thread of its own (tests, notebooks), or in the
    foreground (`run`, the CLI). `port` 0 picks a free one; `url` says which."""

    def __init__(self, data: ExplorerData, *, host: str = "127.0.0.1", port: int = 0):
        self.data, self.host, self.port = data, host, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def _start(self) -> None:
        self._runner = web.AppRunner(make_explorer_app(self.data), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    def start(self) -> "ExplorerServer":
        ready = threading.Event()
        failure: list[BaseException] = []

        def main() -> None:
            self._loop = asyncio.new_event_loop()
            try:
                self._loop.run_until_complete(self._start())
            except BaseException as e:  # noqa: BLE001 - handed to the caller
                failure.append(e)
                ready.set()
                return
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._runner.cleanup())
            self._loop.close()

        self._thread = threading.Thread(target=main, name="explorer", daemon=True)
        self._thread.start()
        ready.wait(30)
        if failure:
            raise OracleError(f"explorer: cannot serve on {self.host}:{self.port}: {failure[0]}")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def __enter__(self) -> "ExplorerServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def run(self, on_ready: Callable[[str], None] = lambda url: None) -> None:
        """Serve in the foreground until interrupted (SIGINT/SIGTERM)."""
        self.start()
        on_ready(self.url)
        try:
            self._thread.join()
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()


__all__ = ["ExplorerServer", "make_explorer_app", "line_chart", "esc", "check_address", "check_id"]
