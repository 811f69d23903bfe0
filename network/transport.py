"""How network roles talk: a versioned JSON API over aiohttp, signed requests, and artifacts
fetched from peers by hash.

Every request that asks a role to act is an envelope `{"v": 1, "payload": ..., "signer": ...,
"signature": ...}`: the signature is EIP-191 over the canonical JSON of the payload, and the
receiver accepts only signers it was configured to trust. Votes carry their own EIP-712
signatures and need no envelope. Artifacts (specs, bundles, model files) are served at
`/v1/artifacts/<keccak>`; a receiver re-hashes what it downloads.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, Awaitable, Callable, Iterable

import httpx
from aiohttp import web
from eth_account import Account
from eth_account.messages import encode_defunct

from oracle.canonical import canonical_json, keccak_hex
from oracle.errors import ArtifactError, OracleError
from oracle.store import ArtifactStore

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
def sign_envelope(signer, payload: dict) -> dict:
    sig = signer.sign_message(encode_defunct(canonical_json(payload)))
    return {"v": API_VERSION, "payload": payload, "signer": signer.address, "signature": "0x" + bytes(sig).hex()}


def open_envelope(body: Any, trusted: Iterable[str]) -> tuple[str, dict]:
    """(signer, payload) of a well-formed envelope from a trusted signer, else Refused."""
    if not isinstance(body, dict):
        raise Refused(400, "body: expected a JSON object")
    if body.get("v") != API_VERSION:
        raise Refused(400, f"v: API version {body.get('v')!r} is not {API_VERSION}")
    payload, signer, signature = body.get("payload"), body.get("signer"), body.get("signature")
    if not isinstance(payload, dict) or not isinstance(signer, str) or not isinstance(signature, str):
        raise Refused(400, "payload/signer/signature: missing or of the wrong type")
    try:
        recovered = Account.recover_message(encode_defunct(canonical_json(payload)), signature=signature)
    except Exception as e:  # malformed signature bytes
        raise Refused(401, f"signature: unreadable ({e})") from None
    if recovered.lower() != signer.lower():
        raise Refused(401, f"signature: recovers to {recovered}, not the claimed signer {signer}")
    if recovered.lower() not in {t.lower() for t in trusted}:
        raise Refused(403, f"signer: {recovered} is not trusted by this role")
    return recovered, payload


def field(payload: dict, name: str, kind: type | tuple = str) -> Any:
    v = payload.get(name)
    if not isinstance(v, kind) or isinstance(v, bool) and kind is int:
        raise Refused(400, f"{name}: missing or not {getattr(kind, '__name__', kind)}")
    return v


# --------------------------------------------------------------------- server
Handler = Callable[[web.Request], Awaitable[dict]]


def make_app(role: str, log: EventLog, store: ArtifactStore | None, routes: dict[str, Handler],
             health: Callable[[], dict]) -> web.Application:
    """An aiohttp app: POST routes return JSON; Refused -> its status; oversized bodies -> 413."""

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
            return web.Response(body=store.get(store.ref("model", request.match_info["mid"])),
                                content_type="application/json")
        except OracleError:
            raise web.HTTPNotFound()

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
    """POST JSON; raise OracleError naming the peer's reason on a non-2xx answer."""
    try:
        r = httpx.post(url, json=body, timeout=timeout)
    except httpx.HTTPError as e:
        raise OracleError(f"{url}: unreachable ({type(e).__name__}: {e})") from None
    try:
        doc = r.json()
    except ValueError:
        doc = {"error": r.text[:200]}
    if r.status_code >= 300:
        raise Refused(r.status_code, f"{url}: {r.status_code} {doc.get('error', doc)}")
    return doc


class _PeerRefused(Exception):
    """A peer answered, but not with what was asked for (the reason is the message)."""


def _from_peers(bases: Iterable[str], path: str, take: Callable[[str, httpx.Response], Any], *, what: str,
                timeout: float = 30.0) -> Any:
    """GET `path` from each peer in turn until `take(base, response)` accepts an answer (it raises
    _PeerRefused otherwise). ArtifactError naming every peer's failure if none does."""
    errors = []
    for base in bases:
        try:
            r = httpx.get(f"{base}{path}", timeout=timeout)
        except httpx.HTTPError as e:
            errors.append(f"{base}: {type(e).__name__}")
            continue
        if r.status_code != 200:
            errors.append(f"{base}: {r.status_code}")
            continue
        try:
            return take(base, r)
        except _PeerRefused as e:
            errors.append(f"{base}: {e}")
    raise ArtifactError(f"{what}: not obtained ({'; '.join(errors) or 'no peers'})")


def fetch_artifact(bases: Iterable[str], artifact_id: str, store: ArtifactStore, *, timeout: float = 30.0) -> bytes:
    """Get an artifact by hash (from the local store, else from any peer) and check its hash."""
    if store.has(artifact_id):
        return store.get(artifact_id)

    def take(_base: str, r: httpx.Response) -> bytes:
        data = r.content
        if len(data) > ARTIFACT_LIMIT or keccak_hex(data) != artifact_id:
            raise _PeerRefused(f"content does not hash to {artifact_id}")
        store.put(data)
        return data

    return _from_peers(bases, f"/v1/artifacts/{artifact_id}", take, what=f"artifact {artifact_id}", timeout=timeout)


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
