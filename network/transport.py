"""How network roles talk: a versioned JSON API over aiohttp, signed requests, and artifacts
fetched from peers by hash.

Every request that asks a role to act is an envelope `{"v": 2, "aud", "exp", "nonce", "payload",
"signer", "signature"}`: the signature is EIP-191 over the canonical JSON of all but the signer, and the
receiver accepts only signers it was configured to trust, addressed to itself and the route called,
unexpired, with a nonce it has not seen (remembered on disk until the envelope expires). Votes carry their own EIP-712
signatures and need no envelope. Artifacts (specs, bundles, model files) are served at
`/v1/artifacts/<keccak>`; a receiver re-hashes what it downloads.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any, Awaitable, Callable, Iterable

import httpx
from aiohttp import web

from oracle.canonical import canonical_json, keccak_hex
from oracle.errors import ArtifactError, OracleError
from oracle.store import ArtifactStore, check_artifact_id
from oracle.typed_data import personal, recover

from .home import EventLog

API_VERSION = 1
MAX_BODY = 256 * 1024  # requests are small; bundles travel as artifacts, not in bodies
ARTIFACT_LIMIT = 64 * 1024 * 1024


class Refused(OracleError):
    """A request refused with an HTTP status and a reason the caller (and the log) can read."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


# --------------------------------------------------------------- envelopes
ENVELOPE_VERSION = 2  # v2: bound to an audience (receiver URL + route), an expiry and a nonce
ENVELOPE_TTL_S = 120  # how long a signed request stays good
CLOCK_SKEW_S = 30  # how far a sender's clock may run ahead of the receiver's


def _normal_url(url: str) -> str:
    return url.strip().rstrip("/").lower()


def sign_envelope(signer, payload: dict, audience: str, *, ttl_s: int = ENVELOPE_TTL_S,
                  now: float | None = None) -> dict:
    """A request for exactly one receiver and route (`audience`: the full URL it is POSTed to, e.g.
    `http://127.0.0.1:8601/v1/review`), good for `ttl_s` seconds, with a fresh nonce the receiver
    remembers: it cannot be replayed, sent to another route, or to another role. A retry signs anew."""
    exp = int(time.time() if now is None else now) + int(ttl_s)
    signed = {"aud": _normal_url(audience), "exp": exp, "nonce": "0x" + os.urandom(16).hex(), "payload": payload}
    sig = signer.sign_message(personal(canonical_json({"v": ENVELOPE_VERSION, **signed})))
    return {"v": ENVELOPE_VERSION, **signed, "signer": signer.address, "signature": "0x" + bytes(sig).hex()}


def own_audiences(cfg: dict) -> list[str]:
    """The base URLs a role answers at (what an envelope's audience must start with): role.json's
    `url`/`urls` if it says, else 127.0.0.1 and localhost at its port (roles serve on loopback)."""
    if cfg.get("urls") or cfg.get("url"):
        return [_normal_url(u) for u in (cfg.get("urls") or [cfg["url"]])]
    return [f"http://127.0.0.1:{cfg['port']}", f"http://localhost:{cfg['port']}"]


def open_envelope(body: Any, trusted: Iterable[str], *, bases: Iterable[str], path: str, nonces,
                  now: float | None = None) -> tuple[str, dict]:
    """(signer, payload) of a well-formed envelope from a trusted signer, addressed to `path` at one of
    this role's `bases`, not expired, whose nonce `nonces` (a home.NonceStore) has not seen; else
    Refused: 400 malformed, 401 bad signature / other audience / expired, 403 untrusted, 409 replay."""
    if not isinstance(body, dict):
        raise Refused(400, "body: expected a JSON object")
    if body.get("v") != ENVELOPE_VERSION:
        raise Refused(400, f"v: envelope version {body.get('v')!r} is not {ENVELOPE_VERSION} "
                           "(an envelope carries aud, exp and nonce)")
    payload, signer, signature = body.get("payload"), body.get("signer"), body.get("signature")
    aud, exp, nonce = body.get("aud"), body.get("exp"), body.get("nonce")
    if not isinstance(payload, dict) or not isinstance(signer, str) or not isinstance(signature, str):
        raise Refused(400, "payload/signer/signature: missing or of the wrong type")
    if not isinstance(aud, str) or type(exp) is not int or not isinstance(nonce, str) \
            or not 10 <= len(nonce) <= 130:
        raise Refused(400, "aud/exp/nonce: missing or of the wrong type")
    signed = {"v": ENVELOPE_VERSION, "aud": aud, "exp": exp, "nonce": nonce, "payload": payload}
    try:
        recovered = recover(personal(canonical_json(signed)), signature)
    except Exception as e:  # malformed signature bytes, a payload with no canonical form
        raise Refused(401, f"signature: unreadable ({e})") from None
    if recovered.lower() != signer.lower():
        raise Refused(401, f"signature: recovers to {recovered}, not the claimed signer {signer}")
    if recovered.lower() not in {t.lower() for t in trusted}:
        raise Refused(403, f"signer: {recovered} is not trusted by this role")
    wanted = {_normal_url(b) + path.lower() for b in bases}
    if aud not in wanted:
        raise Refused(401, f"aud: the envelope is for {aud}, not {path} at this role")
    t = time.time() if now is None else now
    if exp < t:
        raise Refused(401, f"exp: the envelope expired {int(t - exp)} s ago")
    if exp > t + ENVELOPE_TTL_S + CLOCK_SKEW_S:
        raise Refused(401, f"exp: {exp} is further ahead than {ENVELOPE_TTL_S + CLOCK_SKEW_S} s")
    if not nonces.use(recovered.lower(), nonce, exp, now=t):
        raise Refused(409, f"nonce: envelope {nonce} was already used (a replay)")
    return recovered, payload


def field(payload: dict, name: str, kind: type | tuple = str) -> Any:
    v = payload.get(name)
    if not isinstance(v, kind) or isinstance(v, bool) and kind is int:
        raise Refused(400, f"{name}: missing or not {getattr(kind, '__name__', kind)}")
    return v


# --------------------------------------------------------------------- server
Handler = Callable[[web.Request], Awaitable[dict]]


def make_app(role: str, log: EventLog, store: ArtifactStore | None, routes: dict[str, Handler],
             health: Callable[[], dict], *, model_record: Callable[[dict], dict] | None = None) -> web.Application:
    """An aiohttp app: POST routes return JSON; Refused -> its status; oversized bodies -> 413.
    `model_record` (a role hook, tests only) may alter the record GET /v1/models/<id> serves."""

    @web.middleware
    async def errors(request: web.Request, handler):
        try:
            return await handler(request)
        except Refused as e:
            log("refused", path=request.path, status=e.status, reason=e.reason)
            return web.json_response({"error": e.reason}, status=e.status)
        except web.HTTPRequestEntityTooLarge:
            log("refused", path=request.path, status=413, reason="body too large")
            return web.json_response({"error": f"body larger than {MAX_BODY} bytes"}, status=413)
        except web.HTTPException:
            raise
        except OracleError as e:
            log("error", path=request.path, reason=str(e))
            return web.json_response({"error": str(e)}, status=422)

    app = web.Application(client_max_size=MAX_BODY, middlewares=[errors])

    async def get_health(_):
        return web.json_response({"role": role, "ok": True, **health()})

    async def get_artifact(request: web.Request):
        aid = request.match_info["aid"]
        if store is None:
            raise web.HTTPNotFound()
        try:
            return web.Response(body=store.get(aid), content_type="application/octet-stream")
        except (ArtifactError, OracleError):
            raise web.HTTPNotFound()

    def wrap(fn: Handler):
        async def handle(request: web.Request):
            try:
                body = await request.json()
            except web.HTTPRequestEntityTooLarge:
                raise
            except Exception:
                raise Refused(400, "body: not JSON") from None
            request["body"] = body
            return web.json_response(await fn(request))
        return handle

    async def get_model(request: web.Request):
        if store is None:
            raise web.HTTPNotFound()
        try:
            body = store.get(store.ref("model", request.match_info["mid"]))
        except OracleError:
            raise web.HTTPNotFound()
        if model_record is not None:
            doc = json.loads(body)
            served = model_record(doc)
            if served is not doc:
                body = json.dumps(served).encode()
        return web.Response(body=body, content_type="application/json")

    app.router.add_get("/v1/health", get_health)
    app.router.add_get("/v1/artifacts/{aid}", get_artifact)
    app.router.add_get("/v1/models/{mid}", get_model)
    for path, fn in routes.items():
        app.router.add_post(path, wrap(fn))
    return app


def serve(app: web.Application, port: int, log: EventLog, **fields: Any) -> None:
    """Run until SIGTERM/SIGINT on 127.0.0.1:port."""
    log("started", port=port, pid=os.getpid(), **fields)
    web.run_app(app, host="127.0.0.1", port=port, print=None, handle_signals=True)


async def in_thread(fn: Callable, *args: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


# --------------------------------------------------------------------- client
def post(url: str, body: dict, *, timeout: float = 30.0) -> dict:
    """POST JSON; raise OracleError naming the peer's reason on a non-2xx answer. The answer is read
    streamed and refused past RESPONSE_LIMIT (a peer cannot make us buffer without bound)."""
    try:
        with httpx.stream("POST", url, json=body, timeout=timeout) as r:
            raw = _read_capped(r, RESPONSE_LIMIT, deadline_s=max(timeout, 1.0) * 2)
    except _TooLarge as e:
        raise OracleError(f"{url}: answer refused: {e}") from None
    except httpx.HTTPError as e:
        raise OracleError(f"{url}: unreachable ({type(e).__name__}: {e})") from None
    try:
        doc = json.loads(raw)
    except ValueError:
        doc = {"error": raw[:200].decode("utf-8", "replace")}
    if not isinstance(doc, dict):
        doc = {"error": str(doc)[:200]}
    if r.status_code >= 300:
        raise Refused(r.status_code, f"{url}: {r.status_code} {doc.get('error', doc)}")
    return doc


RESPONSE_LIMIT = 4 * 1024 * 1024  # answers to requests and JSON documents (model records) from peers


class _TooLarge(Exception):
    """A peer's body went past its limit (or its time); the message says which."""


def _read_capped(r: httpx.Response, limit: int, *, deadline_s: float) -> bytes:
    """A streamed response's body, refused as soon as it passes `limit` bytes (or the announced length
    does), or when it takes longer than `deadline_s` in all (a peer dripping bytes)."""
    declared = r.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _TooLarge(f"announces {declared} bytes, over the {limit}-byte limit")
    deadline = time.monotonic() + deadline_s
    body = bytearray()
    for chunk in r.iter_bytes():
        body += chunk
        if len(body) > limit:
            raise _TooLarge(f"sent more than the {limit}-byte limit")
        if time.monotonic() > deadline:
            raise _TooLarge(f"took longer than {deadline_s:g} s")
    return bytes(body)


class _PeerRefused(Exception):
    """A peer answered, but not with what was asked for (the reason is the message)."""


def _from_peers(bases: Iterable[str], path: str, take: Callable[[str, httpx.Response], Any], *, what: str,
                timeout: float = 30.0, limit: int = RESPONSE_LIMIT) -> Any:
    """GET `path` from each peer in turn until `take(base, response)` accepts an answer (it raises
    _PeerRefused otherwise). ArtifactError naming every peer's failure if none does. A body is
    streamed and dropped past `limit` bytes (that peer fails, the next is tried): `take` sees a
    response already read within the limit."""
    errors = []
    for base in bases:
        try:
            with httpx.stream("GET", f"{base}{path}", timeout=timeout) as r:
                if r.status_code != 200:
                    errors.append(f"{base}: {r.status_code}")
                    continue
                body = _read_capped(r, limit, deadline_s=max(timeout, 1.0) * 4)
        except httpx.HTTPError as e:
            errors.append(f"{base}: {type(e).__name__}")
            continue
        except _TooLarge as e:
            errors.append(f"{base}: {e}")
            continue
        headers = {k: v for k, v in r.headers.items() if k.lower() not in ("content-encoding", "content-length",
                                                                          "transfer-encoding")}
        read = httpx.Response(r.status_code, headers=headers, content=body, request=r.request)
        try:
            return take(base, read)
        except _PeerRefused as e:
            errors.append(f"{base}: {e}")
    raise ArtifactError(f"{what}: not obtained ({'; '.join(errors) or 'no peers'})")


def fetch_artifact(bases: Iterable[str], artifact_id: str, store: ArtifactStore, *, timeout: float = 30.0) -> bytes:
    """Get an artifact by hash (from the local store, else from any peer) and check its hash."""
    if store.has(artifact_id):
        return store.get(artifact_id)

    check_artifact_id(artifact_id)  # before it becomes a URL path or a store path

    def take(_base: str, r: httpx.Response) -> bytes:
        data = r.content  # already read, at most ARTIFACT_LIMIT bytes (_from_peers stops there)
        if keccak_hex(data) != artifact_id:
            raise _PeerRefused(f"content does not hash to {artifact_id}")
        store.put(data)
        return data

    return _from_peers(bases, f"/v1/artifacts/{artifact_id}", take, what=f"artifact {artifact_id}", timeout=timeout,
                       limit=ARTIFACT_LIMIT)


def ensure_model(bases: Iterable[str], model_id: str, store: ArtifactStore) -> None:
    """Fetch a model record and its files by hash. The whole record must hash to `model_id`
    (`ModelRecord.from_json` checks it); a peer whose answer is not such a record, or whose files
    are missing, is that peer's failure and the next peer is asked. Which SRS is trusted is not
    decided here: the verifier checks the record's SRS against the validator's own set."""
    from oracle.models import ModelRecord, load_model, publish_model

    try:
        load_model(store, model_id)
        return
    except OracleError:
        pass  # absent, or a stale record (older id scheme) under this id: fetch it again

    def take(base: str, r: httpx.Response) -> None:
        try:
            doc = r.json()
        except (ValueError, RecursionError):
            raise _PeerRefused("model record: not JSON") from None
        try:
            record = ModelRecord.from_json(doc)
        except (OracleError, ValueError, TypeError, RecursionError) as e:
            raise _PeerRefused(f"{type(e).__name__}: {e}" if not isinstance(e, OracleError) else str(e)) from None
        if record.model_id != model_id:
            raise _PeerRefused(f"sent the record of {record.model_id}, not {model_id}")
        for c in record.circuits:
            for aid in (c.vk, c.settings, c.srs):
                try:
                    fetch_artifact([base], aid, store)
                except OracleError as e:
                    raise _PeerRefused(str(e)) from None
        publish_model(store, record)

    _from_peers(bases, f"/v1/models/{model_id}", take, what=f"model {model_id}")
