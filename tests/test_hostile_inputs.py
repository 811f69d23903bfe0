"""Hostile inputs (issue 12, items 10, 11, 14, 15, 16): each test is an attack that worked before its fix."""

from __future__ import annotations

import pytest
from conftest import LoopbackServer

from oracle.errors import ArtifactError, FieldError, NotFound
from oracle.store import ArtifactStore


# ------------------------------------------------------------ 15: artifact ids
@pytest.mark.parametrize("bad", [
    "0x../../../../etc/passwd" + "a" * 40,
    "0x" + "../" * 21 + "a",
    "0x" + "AB" * 32,  # uppercase twin of a real id
    "0x" + "g" * 64,
    "0x" + "a" * 63 + "/",
    "0x" + "a" * 63 + "\n",
    None,
    12,
])
def test_artifact_ids_that_are_not_lowercase_hex_never_reach_a_path(tmp_path, bad):
    store = ArtifactStore(tmp_path / "store")
    for op in (store.has, store.get, store.path, store.delete):
        with pytest.raises(ArtifactError, match="artifact id"):
            op(bad)


def test_a_traversal_id_does_not_read_a_file_outside_the_store(tmp_path):
    store = ArtifactStore(tmp_path / "store")
    secret = tmp_path / "secret"
    secret.write_bytes(b"top secret")
    # objects/<2>/<62>: an id whose tail climbs out of the store
    tail = "/../../../secret".ljust(62, "/")
    with pytest.raises(ArtifactError):
        store.get("0x.." + tail)
    with pytest.raises(ArtifactError):
        store.has("0x.." + tail)


@pytest.mark.parametrize("kind,name", [("model", "../../escape"), ("../x", "a"), ("model", "a/b"),
                                       ("model", ".."), ("model", ""), ("model", ".hidden")])
def test_reference_names_are_one_safe_path_component(tmp_path, kind, name):
    store = ArtifactStore(tmp_path / "store")
    aid = store.put(b"x")
    with pytest.raises(FieldError, match="ref"):
        store.set_ref(kind, name, aid)
    with pytest.raises(FieldError, match="ref"):
        store.ref(kind, name)
    assert not (tmp_path / "escape").exists()


def test_a_reference_pointing_at_a_malformed_id_is_refused(tmp_path):
    store = ArtifactStore(tmp_path / "store")
    aid = store.put(b"x")
    store.set_ref("model", "m1", aid)
    assert store.ref("model", "m1") == aid
    (tmp_path / "store" / "refs" / "model" / "m1").write_text("0x../../../etc/passwd")
    with pytest.raises(ArtifactError, match="refs/model/m1"):
        store.ref("model", "m1")
    with pytest.raises(NotFound):
        store.ref("model", "m2")


# ------------------------------------------------------------ 14: one spec, one hash
RESOLVER = "0x" + "ab" * 32
FORECASTER = "0x" + "cd" * 32


def _spec_doc(**changes):
    from conftest import spec_doc

    return {**spec_doc(RESOLVER), **changes}


def _with_source(**fields):
    """The spec with its first evidence source changed."""
    d = _spec_doc()
    d["observe"]["sources"][0] = {**d["observe"]["sources"][0], **fields}
    return d


@pytest.mark.parametrize("version", [True, 2.0])
def test_a_version_that_only_equals_an_integer_is_refused_not_another_market_id(version):
    from markets.spec import MarketSpec
    from oracle.errors import SpecError

    with pytest.raises(SpecError) as e:
        MarketSpec.parse(_spec_doc(version=version))
    assert e.value.field == "version"


@pytest.mark.parametrize("text", ["Infinity", "-Infinity", "NaN", "1e400"])
def test_non_finite_numbers_in_a_spec_are_a_field_error(text):
    import json

    from conftest import forecast_doc

    from markets.spec import MarketSpec
    from oracle.errors import SpecError

    raw = json.dumps(_spec_doc()).replace('"value": 4000', f'"value": {text}')
    with pytest.raises(SpecError) as e:
        MarketSpec.parse(json.loads(raw))
    assert e.value.field == "shape.value"
    d = _spec_doc()
    with pytest.raises(SpecError) as e:
        MarketSpec.parse({**d, "observe": {**d["observe"], "tolerance": float("nan")}})
    assert e.value.field == "observe.tolerance"
    raw = json.dumps(forecast_doc(RESOLVER, FORECASTER)).replace('"threshold_price": 4000',
                                                                 f'"threshold_price": {text}')
    with pytest.raises(SpecError) as e:
        MarketSpec.parse(json.loads(raw))
    assert e.value.field.endswith("features.params.threshold_price")


def test_infinity_in_a_spec_file_is_one_cli_line_not_a_traceback(tmp_path):
    import json

    from typer.testing import CliRunner

    from cli import app

    p = tmp_path / "market.json"
    p.write_text(json.dumps(_spec_doc()).replace('"value": 4000', '"value": 1e400'))
    result = CliRunner().invoke(app, ["market", "validate", str(p)])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 1 and len(lines) == 1, result.output
    assert "shape.value" in lines[0] and "Traceback" not in result.output


def test_source_fields_have_one_spelling():
    from markets.spec import MarketSpec
    from oracle.errors import SpecError

    where = "observe.sources[0]"
    with pytest.raises(SpecError) as e:
        MarketSpec.parse(_with_source(sha3="0x" + "AB" * 32))
    assert e.value.field == f"{where}.sha3"
    with pytest.raises(SpecError) as e:
        MarketSpec.parse(_with_source(column=1))
    assert e.value.field == f"{where}.column"
    with pytest.raises(SpecError) as e:
        MarketSpec.parse(_with_source(function=True))
    assert e.value.field == f"{where}.function"
    addr = "0x" + "ab" * 20
    d = _spec_doc()
    d["observe"]["sources"][0] = {"kind": "chain", "address": addr}
    lower = MarketSpec.parse(d)
    d["observe"]["sources"][0] = {"kind": "chain", "address": lower.observe.sources[0]["address"]}
    checksummed = MarketSpec.parse(d)
    assert lower.observe.sources[0]["address"] != addr and lower.market_id == checksummed.market_id
    assert MarketSpec.parse(_spec_doc(resolver=RESOLVER.upper().replace("0X", "0x"))).market_id == \
        MarketSpec.parse(_spec_doc()).market_id
    ctf = "0x" + "cd" * 32
    assert MarketSpec.parse(_spec_doc(ctf_question_id=ctf.upper().replace("0X", "0x"))).market_id == \
        MarketSpec.parse(_spec_doc(ctf_question_id=ctf)).market_id


def test_one_provider_named_twice_is_not_two_sources():
    """A median over the same file read twice (even through another column) would let one provider
    outvote the others."""
    from markets.spec import MarketSpec
    from oracle.errors import SpecError

    d = _spec_doc()
    first = d["observe"]["sources"][0]
    d["observe"]["sources"].append({**first, "column": "Open"})
    with pytest.raises(SpecError) as e:
        MarketSpec.parse(d)
    assert e.value.field == f"observe.sources[{len(d['observe']['sources']) - 1}]" and "same source" in e.value.reason


def test_canonical_json_refuses_what_json_cannot_hold_naming_the_field():
    from oracle.canonical import NotCanonical, canonical_json, hash_json

    for bad, field in [({"a": {"b": [1, float("inf")]}}, "a.b[1]"), ({"x": float("nan")}, "x"),
                       ({1: "a"}, "value"), ({"s": {1, 2}}, "s")]:
        with pytest.raises(NotCanonical) as e:
            canonical_json(bad)
        assert e.value.field == field
        with pytest.raises(ValueError):  # still a ValueError for older callers
            hash_json(bad)
    assert canonical_json({"b": 1, "a": [True, None, 1.5]}) == b'{"a":[true,null,1.5],"b":1}'


def _bundle_doc():
    return {
        "version": 1, "market_id": "0x" + "11" * 32, "round": 0, "model_id": "0x" + "22" * 32,
        "inputs": [0.1, 0.2], "outputs": [0.7], "instances": [["00" * 32]], "proof": "0x" + "ab" * 8,
        "prover": "0x" + "33" * 20, "prover_signature": "0x" + "44" * 65, "meta": {},
        "data_snapshot": "0x" + "55" * 32, "batch_size": 1, "batch_row": 0, "input_preimage": [],
    }


@pytest.mark.parametrize("field,value", [
    ("version", True), ("version", 1.0), ("round", False), ("inputs", [True, 0.2]),
    ("outputs", [float("inf")]), ("outputs", [float("nan")]), ("meta", {"x": float("inf")}),
    ("market_id", "0x" + "AB" * 32), ("proof", "0x" + "AB" * 8), ("batch_size", 1.0), ("prover", 7),
])
def test_bundle_fields_have_one_spelling(field, value):
    from oracle.bundle import ProofBundle
    from oracle.errors import BundleError

    assert ProofBundle.from_json(_bundle_doc()).round == 0
    with pytest.raises(BundleError) as e:
        ProofBundle.from_json({**_bundle_doc(), field: value})
    assert e.value.field.split(".")[0].split("[")[0] == field


# ------------------------------------------------------------ 10: hostile data sources
def test_dev_zero_is_refused_by_validation_and_by_load():
    from markets.demo import SOURCES
    from markets.feeds import load_source
    from markets.spec import MarketSpec
    from oracle.errors import DataError, SpecError

    for uri in ("/dev/zero", "file:/dev/zero", "/proc/self/environ"):
        with pytest.raises(SpecError) as e:
            MarketSpec.parse(_with_source(kind="csv", uri=uri))
        assert e.value.field == "observe.sources[0].uri"
        versus = _spec_doc(outcomes=["BTC", "other"], shape={
            "kind": "versus", "from": "2019-03-23", "to": "2019-03-23", "a": "BTC", "b": "other",
            "other": {"sources": [{"kind": "csv", "uri": uri}, SOURCES["ndx-stooq"]]}})
        with pytest.raises(SpecError) as e:  # the second series of a versus market too
            MarketSpec.parse(versus)
        assert e.value.field == "shape.other.sources[0].uri"
        with pytest.raises(DataError, match="field 'source.uri'"):
            load_source({"kind": "csv", "uri": uri})


def test_a_fifo_or_directory_is_refused_without_blocking(tmp_path):
    import os

    from markets.feeds import load_source
    from oracle.errors import DataError

    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    with pytest.raises(DataError, match="not a regular file"):
        load_source({"kind": "csv", "uri": str(fifo)})
    with pytest.raises(DataError, match="not a regular file"):
        load_source({"kind": "csv", "uri": str(tmp_path)})


def test_an_oversized_file_is_refused(tmp_path):
    from markets.feeds import SourcePolicy, load_source
    from oracle.errors import DataError

    big = tmp_path / "big.csv"
    big.write_bytes(b"Date,Close\n" + b"2021-01-01,1\n" * 1000)
    with pytest.raises(DataError, match="limit"):
        load_source({"kind": "csv", "uri": str(big)}, policy=SourcePolicy.parse("files", max_bytes=1000))


class _Server(LoopbackServer):
    """A loopback server: /big sends `size` bytes (chunked, no length); /drip one byte per 0.2 s;
    /ok a tiny valid body; /redirect points elsewhere."""

    def __init__(self, size: int = 0):
        import time
        from http.server import BaseHTTPRequestHandler

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(h):
                if h.path == "/redirect":
                    h.send_response(302)
                    h.send_header("Location", "http://169.254.169.254/")
                    h.send_header("Content-Length", "0")
                    h.end_headers()
                    return
                h.send_response(200)
                h.send_header("Content-Type", "application/json")
                if h.path == "/ok":
                    body = b'[{"Date": "2021-01-01", "Close": 1.0}]'
                    h.send_header("Content-Length", str(len(body)))
                    h.end_headers()
                    h.wfile.write(body)
                    return
                h.send_header("Transfer-Encoding", "chunked")
                h.end_headers()
                try:
                    if h.path == "/big":
                        chunk = b"[" + b" " * 65536
                        for _ in range(size // 65536 + 1):
                            h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    else:  # drip
                        for _ in range(600):
                            h.wfile.write(b"1\r\n \r\n")
                            h.wfile.flush()
                            time.sleep(0.2)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(h, *args):
                pass

        super().__init__(Handler)


def test_an_oversized_http_body_is_cut_at_the_limit():
    from markets.feeds import SourcePolicy, load_source
    from oracle.errors import DataError

    with _Server(size=4 * 1024 * 1024) as s:
        with pytest.raises(DataError, match="field 'source.uri'.*1048576-byte limit") as e:
            load_source({"kind": "http_json", "uri": s.url + "/big"},
                        policy=SourcePolicy.parse("loopback", max_bytes=1024 * 1024))
        assert not e.value.retry


def test_a_url_outside_the_allow_policy_is_refused_naming_the_field(monkeypatch):
    from markets.feeds import SourcePolicy, load_source
    from oracle.errors import DataError

    with _Server() as s:
        for uri in ("http://169.254.169.254/latest/meta-data/", "http://10.0.0.1:8080/x",
                    "http://example.com/data.json", "file:///etc/passwd", "gopher://127.0.0.1/x"):
            with pytest.raises(DataError, match="field 'source.uri'"):
                load_source({"kind": "http_json", "uri": uri})  # default policy: loopback only
        # the operator narrows the policy: loopback is then refused too
        monkeypatch.setenv("ORACLE_SOURCE_ALLOW", "https://data.example.org/v1/, feeds.example.net")
        with pytest.raises(DataError, match="field 'source.uri'.*allow-policy"):
            load_source({"kind": "http_json", "uri": s.url + "/ok"})
        policy = SourcePolicy.from_env()
        policy.check_url("https://data.example.org/v1/btc")
        policy.check_url("http://feeds.example.net:8443/x")
        for uri in ("https://data.example.org/v2/btc", "http://data.example.org/v1/btc",
                    "https://data.example.org.evil.com/v1/", "https://user:pw@feeds.example.net/"):
            with pytest.raises(DataError, match="field 'source.uri'"):
                policy.check_url(uri)
        monkeypatch.setenv("ORACLE_SOURCE_ALLOW", "loopback")
        assert len(load_source({"kind": "http_json", "uri": s.url + "/ok"})) == 1
        with pytest.raises(DataError, match="HTTP 302"):  # a redirect never leaves the policy
            load_source({"kind": "http_json", "uri": s.url + "/redirect"})


def test_local_files_outside_the_allowed_directories_are_refused(tmp_path, monkeypatch):
    from markets.feeds import load_source
    from oracle.errors import DataError

    inside, outside = tmp_path / "data", tmp_path / "other"
    inside.mkdir()
    outside.mkdir()
    for d in (inside, outside):
        (d / "p.csv").write_text("Date,Close\n2021-01-01,1\n")
    (inside / "link.csv").symlink_to(outside / "p.csv")
    monkeypatch.setenv("ORACLE_SOURCE_ALLOW", f"loopback,{inside}")
    assert len(load_source({"kind": "csv", "uri": str(inside / "p.csv")})) == 1
    assert len(load_source({"kind": "csv", "uri": "bundled:btc_usd_daily.csv"})) > 100
    for uri in (outside / "p.csv", inside / "link.csv", inside / ".." / "other" / "p.csv"):
        with pytest.raises(DataError, match="field 'source.uri'.*allow-policy"):
            load_source({"kind": "csv", "uri": str(uri)})


def test_a_slow_source_is_cut_at_its_deadline_and_blocks_no_other_load():
    import threading
    import time

    from markets.feeds import SourcePolicy, load_source
    from oracle.errors import DataError

    policy = SourcePolicy.parse("loopback", deadline_s=2.0)
    results: dict[str, object] = {}

    def run(name, uri):
        t0 = time.monotonic()
        try:
            results[name] = len(load_source({"kind": "http_json", "uri": uri}, policy=policy))
        except DataError as e:
            results[name] = e
        results[name + "_s"] = time.monotonic() - t0

    with _Server() as s:
        slow = threading.Thread(target=run, args=("slow", s.url + "/drip"), daemon=True)
        slow.start()
        time.sleep(0.3)
        fast = threading.Thread(target=run, args=("fast", s.url + "/ok"))
        fast.start()
        fast.join(5)
        assert results.get("fast") == 1 and results["fast_s"] < 1.5, results
        slow.join(10)
        assert not slow.is_alive(), "a drip-feeding source held its loader past the deadline"
    assert isinstance(results["slow"], DataError) and "longer than 2 s" in str(results["slow"])
    assert results["slow_s"] < 5


# ------------------------------------------------------------ 16: signed request envelopes
def _envelope_parts(tmp_path):
    from network.home import NonceStore
    from oracle.signer import LocalSigner

    sched = LocalSigner.create()
    return sched, NonceStore(tmp_path / "nonces.sqlite"), {"market_id": "0x" + "11" * 32, "round": 0}


def test_an_envelope_is_good_once_at_one_route_of_one_role(tmp_path):
    from network.home import NonceStore
    from network.transport import Refused, open_envelope, sign_envelope

    sched, nonces, payload = _envelope_parts(tmp_path)
    bases = ["http://127.0.0.1:8601", "http://localhost:8601"]

    def opens(env, path="/v1/review", at=bases, store=nonces, **kw):
        return open_envelope(env, [sched.address], bases=at, path=path, nonces=store, **kw)

    env = sign_envelope(sched, payload, "http://127.0.0.1:8601/v1/review")
    assert opens(env) == (sched.address, payload)
    with pytest.raises(Refused) as e:  # the same envelope again
        opens(env)
    assert e.value.status == 409 and "replay" in e.value.reason
    with pytest.raises(Refused) as e:  # ... after a restart: the nonce is on disk
        opens(env, store=NonceStore(tmp_path / "nonces.sqlite"))
    assert e.value.status == 409
    review = sign_envelope(sched, payload, "http://127.0.0.1:8601/v1/review")
    with pytest.raises(Refused) as e:  # a review envelope sent to /v1/prove
        opens(review, path="/v1/prove")
    assert e.value.status == 401 and e.value.reason.startswith("aud")
    with pytest.raises(Refused) as e:  # ... or to another role
        opens(review, at=["http://127.0.0.1:8602"])
    assert e.value.status == 401
    retry = sign_envelope(sched, payload, "http://localhost:8601/v1/review")  # a retry signs anew: accepted
    assert opens(retry)[1] == payload


def test_expired_far_future_and_rebound_envelopes_are_refused(tmp_path):
    import time

    from network.transport import Refused, open_envelope, sign_envelope

    sched, nonces, payload = _envelope_parts(tmp_path)
    url = "http://127.0.0.1:8601/v1/prove"

    def status(env):
        with pytest.raises(Refused) as e:
            open_envelope(env, [sched.address], bases=["http://127.0.0.1:8601"], path="/v1/prove", nonces=nonces)
        return e.value.status, e.value.reason

    code, reason = status(sign_envelope(sched, payload, url, now=time.time() - 300))
    assert code == 401 and "expired" in reason
    assert status(sign_envelope(sched, payload, url, ttl_s=3600))[0] == 401
    moved = sign_envelope(sched, payload, "http://127.0.0.1:8601/v1/review")
    moved["aud"] = url  # re-addressed: the signature covers aud
    assert status(moved)[0] == 401
    later = sign_envelope(sched, payload, url)
    later["exp"] += 60  # extended: the signature covers exp
    assert status(later)[0] == 401
    old = {"v": 1, "payload": payload, "signer": sched.address, "signature": "0x" + "00" * 65}
    assert status(old)[0] == 400  # a v1 envelope (no aud, exp, nonce) is refused
    assert nonces.count() == 0  # nothing refused was remembered


def test_nonces_are_pruned_after_expiry(tmp_path):
    from network.home import NonceStore

    store = NonceStore(tmp_path / "n.sqlite")
    assert store.use("0xa", "0x01", 100, now=50) and not store.use("0xa", "0x01", 100, now=60)
    assert store.use("0xb", "0x01", 100, now=60)  # nonces are per signer
    store.use("0xa", "0x02", 500, now=200)  # prunes what expired before 199
    assert store.count() == 1


# ------------------------------------------------------------ 11: bounded peer downloads
class _Peer(LoopbackServer):
    """A loopback peer: /v1/artifacts/* streams without end (or serves `good`); /v1/models/* a huge record."""

    def __init__(self, good: bytes | None = None):
        from http.server import BaseHTTPRequestHandler

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _endless(h):
                h.send_response(200)
                h.send_header("Transfer-Encoding", "chunked")
                h.end_headers()
                chunk = b"x" * 65536
                try:
                    while True:
                        h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_GET(h):
                if good is not None:
                    h.send_response(200)
                    h.send_header("Content-Length", str(len(good)))
                    h.end_headers()
                    h.wfile.write(good)
                    return
                h._endless()

            def do_POST(h):
                h.rfile.read(int(h.headers.get("Content-Length", 0)))
                h._endless()

            def log_message(h, *args):
                pass

        super().__init__(Handler)


def test_an_endless_artifact_is_cut_at_the_limit_and_the_next_peer_tried(tmp_path, monkeypatch):
    import time

    import network.transport as transport
    from oracle.canonical import keccak_hex

    monkeypatch.setattr(transport, "ARTIFACT_LIMIT", 1024 * 1024)
    store = ArtifactStore(tmp_path / "store")
    data = b"the real artifact"
    aid = keccak_hex(data)
    with _Peer() as hostile, _Peer(good=data) as honest:
        t0 = time.monotonic()
        with pytest.raises(ArtifactError, match="1048576-byte limit"):
            transport.fetch_artifact([hostile.url], aid, store)
        assert transport.fetch_artifact([hostile.url, honest.url], aid, store) == data
        assert time.monotonic() - t0 < 20
    with pytest.raises(ArtifactError, match="artifact id"):  # never becomes a URL
        transport.fetch_artifact([honest.url], "0x../../v1/models/x", store)


def test_an_endless_model_record_or_answer_is_refused(tmp_path):
    from network.transport import RESPONSE_LIMIT, _from_peers, post
    from oracle.errors import OracleError

    with _Peer() as hostile:
        with pytest.raises(ArtifactError, match=f"{RESPONSE_LIMIT}-byte limit"):
            _from_peers([hostile.url], "/v1/models/0x" + "11" * 32, lambda base, r: r.json(), what="model")
        with pytest.raises(OracleError, match="limit"):
            post(f"{hostile.url}/v1/prove", {"x": 1}, timeout=10)
