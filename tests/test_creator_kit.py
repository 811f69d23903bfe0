"""The creator's kit: `oracle market new` (prompts and flags), the example specs of every shape, and
the Python client. What `market new` writes validates as `register` checks it, registers on the
embedded replay chain, and resolves from its evidence to what the providers' data shows."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app
from conftest import PASSWORD, Network
from markets.spec import MarketSpec

pytestmark = pytest.mark.slow
runner = CliRunner()
NOW = "2019-03-10T00:00:00Z"  # the replay chain's genesis: before every example's event
EXAMPLES = Path(__file__).resolve().parent.parent / "markets" / "examples"
BTC3 = ["--source", "btc-yahoo", "--source", "btc-bitstamp", "--source", "btc-binance"]

# the flags of each shape, and the outcome the providers' median shows (tests/test_shapes_onchain.py)
FLAGS = {
    "above": (["--asset", "BTC", "--at", "2019-03-23", "--value", "4000"], "NO"),
    "up_down": (["--asset", "BTC", *BTC3, "--from", "2021-01-25", "--to", "2021-01-31"], "Up"),
    "range": (["--asset", "NDX", "--at", "2021-01-29", "--bounds", "12500,13000,13500"], "12500-13000"),
    "touch": (["--asset", "BTC", *BTC3, "--from", "2021-01-25", "--to", "2021-02-14", "--level", "40000"], "YES"),
    "versus": (["--asset", "BTC", *BTC3, "--from", "2021-02-01", "--to", "2021-02-26", "--versus", "NDX"],
               "Bitcoin"),
}


def _new(tmp_path: Path, shape: str, *extra: str, name: str | None = None):
    out = tmp_path / (name or f"{shape}.json")
    return runner.invoke(app, ["market", "new", "--shape", shape, *FLAGS[shape][0], "--now", NOW, "--no-input",
                               "--out", str(out), "--json", *extra]), out


def _one_line_error(result) -> str:
    assert result.exit_code == 1, result.output
    lines = [x for x in result.output.splitlines() if x.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.fixture(scope="module")
def resolvers(store):
    from oracle import config
    from provers.resolvers import compile_resolver

    return {w: compile_resolver(store, config.cache_dir(), w) for w in (1, 3)}


@pytest.fixture(scope="module")
def made(tmp_path_factory, resolvers):
    """`market new` in its flags form, once per shape: (the command's JSON, the file it wrote)."""
    tmp = tmp_path_factory.mktemp("made")
    out = {}
    for shape in FLAGS:
        result, path = _new(tmp, shape)
        assert result.exit_code == 0, result.output
        out[shape] = (json.loads(result.stdout), path)
    return out


def test_market_new_flags_write_a_spec_that_validates(made, resolvers):
    for shape, (doc, path) in made.items():
        spec = MarketSpec.load(path)
        assert doc["market_id"] == spec.market_id and doc["shape"] == shape and doc["file"] == str(path)
        assert spec.resolver == resolvers[spec.shape.n_constants].model_id  # this home's resolver
        assert spec.close_at == spec.window_open  # trading closes when the observation window opens
        checked = runner.invoke(app, ["market", "validate", str(path), "--now", NOW, "--json"])
        assert checked.exit_code == 0, checked.output
        assert json.loads(checked.stdout)["market_id"] == spec.market_id


def _resolve(net, spec, prover, load) -> str:
    """Prove the final round (a clock past every bar), move the chain past the evidence, settle."""
    from markets.evidence import gather
    from oracle.pipeline import run_round

    far = datetime(2030, 1, 1, tzinfo=timezone.utc)
    prover.clock = lambda: far
    bundle = prover.prove(spec, load, round=spec.final_round)
    ev = gather(spec, load, far)
    last = spec.observe.bar(ev.bars[-1], "bar")
    net.advance_to(max(spec.resolve_at_unix, int(spec.observe.bar_end(last).timestamp()) + 1,
                       *([int(spec.other.bar_end(last).timestamp()) + 1] if spec.other else [])))
    report = run_round(spec, load, None, net.validators, net.aggregator, round=spec.final_round, bundle=bundle)
    assert report.submission is not None and report.submission.settlement.on_chain, report.refusals
    return spec.outcomes[net.dep.resolution_of(spec.market_id).resolution.outcome]


def test_market_new_specs_register_and_resolve_on_the_replay_chain(made, resolvers, store, load):
    """Every shape `market new` writes registers before its event and settles to what the sources show."""
    from oracle.signer import LocalSigner
    from provers.prover import EzklProver

    signer = LocalSigner.create()
    provers = {w: EzklProver(c, signer) for w, c in resolvers.items()}
    net = Network(store)
    specs = {shape: MarketSpec.load(path) for shape, (_, path) in made.items()}
    for spec in specs.values():  # all registered at genesis, before any event
        assert net.register(spec, advance=False) == spec.market_id
    for shape, spec in sorted(specs.items(), key=lambda kv: kv[1].resolve_at_unix):
        assert _resolve(net, spec, provers[spec.shape.n_constants], load) == FLAGS[shape][1], shape


def test_market_new_interactive_asks_and_writes_the_same_spec(tmp_path, made):
    """The prompts, answered as a creator would (a wrong answer is re-asked with its reason), give the
    same market as the flags."""
    answers = "\n".join([
        "range",             # shape
        "DOGE",              # not an asset here: asked again
        "NDX",
        "",                  # sources: all of NDX's (the default)
        "2021-01-30",        # a Saturday: not a NYSE trading day, asked again
        "2021-01-29",
        "12500,abc",         # not numbers
        "13000,12500",       # not increasing
        "12500,13000,13500",
        "",                  # question: the default
        "",                  # outcomes: the default
        "2h",                # dispute window: not whole seconds, asked again
        "",                  # dispute window: the default, 7200 s
        str(tmp_path / "asked.json"),
    ]) + "\n"
    result = runner.invoke(app, ["market", "new", "--now", NOW], input=answers)
    assert result.exit_code == 0, result.output
    for reason in ("must be one of BTC, NDX", "not a trading day of NASDAQ-100", "not a number: 'abc'",
                   "bounds must increase", "must be whole seconds in [0, 604800]"):
        assert reason in result.output
    spec = MarketSpec.load(tmp_path / "asked.json")
    assert spec.market_id == made["range"][0]["market_id"] and spec.dispute_window == 7200
    assert f"market id {spec.market_id}" in result.output


def test_market_new_bad_answers_are_one_line_errors(tmp_path, made):
    cases = [
        (["--shape", "above", "--asset", "ETH"], "field '--asset'"),
        (["--shape", "above", "--asset", "BTC", "--at", "2019-03-02", "--value", "4000"], "not after now"),
        (["--shape", "above", "--asset", "BTC", "--at", "23/03/2019"], "field '--at': not a date"),
        (["--shape", "above", "--asset", "BTC", "--at", "2019-03-23"], "field '--value': is required"),
        (["--shape", "above", "--asset", "BTC", "--at", "2019-03-23", "--value", "4000.123"], "field '--value'"),
        (["--shape", "range", "--asset", "NDX", "--at", "2021-01-29", "--bounds", "2,1"], "bounds must increase"),
        (["--shape", "above", "--asset", "BTC", "--at", "2019-03-23", "--value", "4000", "--dispute-window",
          "604801"], "field '--dispute-window': must be whole seconds in [0, 604800]"),
        (["--shape", "above", "--asset", "BTC", "--at", "2019-03-23", "--value", "4000", "--dispute-window",
          "-5"], "field '--dispute-window'"),
        (["--shape", "touch", "--asset", "BTC", "--from", "2021-01-25", "--to", "2021-01-20"], "field '--to'"),
        (["--shape", "above", "--asset", "BTC", "--source", "ndx-yahoo"], "field '--source'"),
        (["--shape", "above", "--asset", "BTC", "--at", "2019-03-23", "--value", "4000", "--resolver",
          "0x" + "99" * 32], "field 'resolver': model 0x9999"),
        (["--shape", "above", "--asset", "BTC", "--at", "2019-03-23", "--value", "4000", "--out",
          str(made["above"][1])], "field '--out'"),
    ]
    for args, expected in cases:
        result = runner.invoke(app, ["market", "new", *args, "--now", NOW, "--no-input",
                                     *([] if "--out" in args else ["--out", str(tmp_path / "x.json")])])
        assert expected in _one_line_error(result), (args, result.output)
    assert not (tmp_path / "x.json").exists()


# ------------------------------------------------------------------ examples
def _example(path: Path, resolvers, forecasters=None) -> dict:
    """An example with this home's resolver, and forecaster of its recipe for a forecast market (a model
    id depends on the SRS its machine compiled with)."""
    doc = json.loads(path.read_text())
    width = len(doc["shape"].get("bounds", [0]))
    doc = {**doc, "resolver": resolvers[width].model_id}
    if "forecast" in doc:
        doc["forecast"] = {**doc["forecast"], "model": forecasters[doc["forecast"]["features"]["recipe"]].model_id}
    return doc


@pytest.fixture(scope="module")
def forecasters(forecaster, hourly_forecaster):
    """This home's forecasters by recipe: the reference (daily closes) and the hourly-volatility one."""
    return {c.record.recipe: c for c in (forecaster, hourly_forecaster)}


def test_examples_cover_every_shape_validate_and_register(resolvers, forecasters, store, tmp_path):
    from markets.evidence import SHAPES
    from markets.features import HourlyVolatility

    paths = sorted(EXAMPLES.glob("*.json"))
    assert {json.loads(p.read_text())["shape"]["kind"] for p in paths} == set(SHAPES)
    # a forecast market on the hourly-volatility model, its hourly bars the bundled Bitstamp source
    assert [json.loads(p.read_text())["forecast"]["features"]["recipe"] for p in paths
            if "forecast" in json.loads(p.read_text())] == [HourlyVolatility.name]
    net = Network(store)
    for path in paths:
        doc = _example(path, resolvers, forecasters)
        mine = tmp_path / path.name
        mine.write_text(json.dumps(doc))
        checked = runner.invoke(app, ["market", "validate", str(mine), "--now", NOW, "--json"])
        assert checked.exit_code == 0, (path.name, checked.output)
        spec = MarketSpec.parse(doc)
        MarketSpec.parse(json.loads(path.read_text()))  # the file as shipped is a strict version-2 spec
        assert net.register(spec, advance=False) == spec.market_id


def test_market_new_like_an_example_writes_it_with_this_homes_resolver(resolvers, forecasters, tmp_path):
    """`--like FILE` takes every answer from a spec: each example comes back as it is, its resolver this
    home's (on another machine, the only field that differs)."""
    for path in sorted(EXAMPLES.glob("*.json")):
        out = tmp_path / path.name
        result = runner.invoke(app, ["market", "new", "--like", str(path), "--now", NOW, "--no-input", "--out",
                                     str(out)])
        assert result.exit_code == 0, (path.name, result.output)
        assert json.loads(out.read_text()) == _example(path, resolvers, forecasters), path.name
    changed = runner.invoke(app, ["market", "new", "--like", str(EXAMPLES / "above.json"), "--value", "4100",
                                  "--now", NOW, "--no-input", "--out", str(tmp_path / "4100.json")])
    assert changed.exit_code == 0, changed.output
    doc = MarketSpec.load(tmp_path / "4100.json").to_json()  # a flag wins over the file; the question follows it
    assert doc["shape"]["value"] == 4100 and "4,100" in doc["question"]


def test_market_new_writes_an_hourly_volatility_forecast_market(resolvers, forecasters, tmp_path):
    """`--forecaster hourly`: this home's hourly-volatility forecaster, its recipe and the bundled hourly
    bars (btc-bitstamp-1h) as `forecast.hourly_source`; the spec validates as `register` checks it.
    A forecast that cannot be asked is a one-line error naming the flag."""
    from markets.demo import SOURCES
    from markets.features import HourlyVolatility

    result, path = _new(tmp_path, "above", "--forecaster", "hourly", "--forecast-from", "2019-03-17",
                        "--forecast-every", "2")
    assert result.exit_code == 0, result.output
    spec = MarketSpec.load(path)
    assert spec.kind == "forecast" and spec.forecaster == forecasters[HourlyVolatility.name].model_id
    assert spec.forecast.features.recipe == HourlyVolatility.name and spec.forecast.every_days == 2
    assert spec.forecast.hourly_source == SOURCES["btc-bitstamp-1h"]
    assert (spec.forecast.features.horizon_days, spec.forecast.features.threshold_price) == (6, 4000)
    assert [r.model for r in spec.rounds()] == [spec.forecaster] * 3 + [resolvers[1].model_id]
    assert json.loads(result.stdout)["forecaster"] == spec.forecaster
    daily, _ = _new(tmp_path, "above", "--forecaster", "reference", name="daily.json")
    assert daily.exit_code == 0, daily.output
    doc = json.loads(daily.stdout)["spec"]["forecast"]
    assert doc["model"] == forecasters["trailing_returns_v1"].model_id and "hourly_source" not in doc
    assert doc["features"]["params"]["as_of"] == "2019-03-10"  # default: today by --now
    for args, expected in [
        (["--forecaster", "hourly", "--forecast-from", "2019-03-23"], "field '--forecast-from': 2019-03-23 is not "
                                                                      "before --at"),
        (["--forecaster", "reference", "--hourly-source", "btc-bitstamp-1h"], "field '--hourly-source'"),
        (["--forecaster", "hourly", "--hourly-source", "btc-bitstamp"], "field '--hourly-source': must be one of"),
        (["--forecaster", "hourly", "--forecast-every", "0"], "field '--forecast-every'"),
        (["--forecast-every", "2"], "field '--forecaster': is required with"),
        (["--forecaster", "0x" + "99" * 32], "field '--forecaster': model 0x9999"),
    ]:
        line = _one_line_error(_new(tmp_path, "above", *args, name="x.json")[0])
        assert expected in line, (args, line)
    line = _one_line_error(_new(tmp_path, "touch", "--forecaster", "hourly", name="x.json")[0])
    assert "field '--forecaster': forecasts are for above markets on BTC" in line
    assert not (tmp_path / "x.json").exists()


def test_an_example_with_another_machines_resolver_names_this_homes(resolvers, tmp_path):
    doc = json.loads((EXAMPLES / "above.json").read_text())
    doc["resolver"] = "0x" + "77" * 32
    (tmp_path / "m.json").write_text(json.dumps(doc))
    line = _one_line_error(runner.invoke(app, ["market", "validate", str(tmp_path / "m.json"), "--now", NOW]))
    assert "field 'resolver'" in line and f"this home's resolver over 1 comparison(s) is {resolvers[1].model_id}" in line


# ------------------------------------------------------------------ the client, on a real node (anvil)
def test_client_registers_follows_and_errs_like_the_cli(node_home, circuit, tmp_path):
    from network.client import Client
    from network.node import Node
    from oracle.errors import NotFound, OracleError, SpecError

    doc = _example(EXAMPLES / "above.json", {1: circuit})
    path = tmp_path / "above.json"
    path.write_text(json.dumps(doc))
    client = Client(password=PASSWORD)
    reg = client.register(path)
    spec = MarketSpec.parse(doc)
    assert (reg.market_id, reg.already, reg.rounds) == (spec.market_id, False, 1)
    assert client.register(spec).already is True  # nothing sent twice
    again = runner.invoke(app, ["market", "register", str(path)])
    assert again.exit_code == 0 and f"already registered {spec.market_id}" in again.output
    status = client.status(spec.market_id)
    assert status["state"] == "open" and status["question"] == doc["question"]
    assert client.forecasts(spec.market_id) == []
    with pytest.raises(OracleError, match="not resolved after"):
        client.wait_for_resolution(spec.market_id, timeout=0.2, poll=0.1)

    # the same errors as the CLI
    with pytest.raises(NotFound, match="unknown market"):
        client.status("0x" + "12" * 32)
    with pytest.raises(SpecError) as e:
        client.register({**doc, "resolver": "0x" + "99" * 32})
    assert e.value.field == "resolver"
    cli = runner.invoke(app, ["market", "register", str(_write(tmp_path, {**doc, "resolver": "0x" + "99" * 32}))])
    assert cli.exit_code == 1 and str(e.value) in cli.output

    # the chain moves past the day; the node proves and settles; the client sees the resolution
    node = Node(password=PASSWORD)
    node.chain.advance_time(spec.resolve_at_unix + 3600 - node.chain.timestamp())
    assert client.status(spec.market_id)["state"] == "closed"
    node.dispatch(spec.market_id, spec.final_round)
    resolved = client.wait_for_resolution(spec.market_id, timeout=60, poll=0.5)
    # the example has no dispute window: the quorum's resolution is final as it lands
    assert (resolved["state"], resolved["final"], resolved["outcome"]) == ("final", True, "NO")
    assert resolved["fees"]["pot_wei"] == node.dep.court.parameters().min_fee  # the default fee


def _write(tmp_path: Path, doc: dict) -> Path:
    p = tmp_path / "other.json"
    p.write_text(json.dumps(doc))
    return p



def test_market_new_registers_on_the_nodes_chain(node_home, circuit, tmp_path):
    """On a node, `market new` checks against the chain's clock (no --now) and registers with --register."""
    from network.client import Client

    out = tmp_path / "mine.json"
    result = runner.invoke(app, ["market", "new", "--shape", "above", *FLAGS["above"][0], "--no-input", "--out",
                                 str(out), "--register", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["registered"] is True and doc["already_registered"] is False
    assert doc["market_id"] == MarketSpec.load(out).market_id
    assert Client().status(doc["market_id"])["state"] == "open"
    assert MarketSpec.load(out).dispute_window == 7200  # the default window: 2 h
    fee = runner.invoke(app, ["market", "new", "--shape", "above", *FLAGS["above"][0], "--value", "4100",
                              "--dispute-window", "0", "--fee", "0.005", "--no-input", "--out", str(tmp_path / "b.json"),
                              "--register", "--json"])
    assert fee.exit_code == 0, fee.output
    mine = Client().status(json.loads(fee.stdout)["market_id"])
    assert mine["fees"]["pot_wei"] == 5 * 10**15 and MarketSpec.load(tmp_path / "b.json").dispute_window == 0
    low = runner.invoke(app, ["market", "new", "--shape", "above", *FLAGS["above"][0], "--value", "4200",
                              "--fee", "0.0000001", "--no-input", "--out", str(tmp_path / "c.json"), "--register"])
    assert low.exit_code == 1 and "field '--fee'" in low.output and "below the network's minimum fee" in low.output
