"""QuorumOracle, MarketRegistry and BinaryMarket on the embedded chain: what they accept and refuse."""

from __future__ import annotations

from dataclasses import replace

import pytest

from oracle.canonical import keccak_hex
from oracle.deployment import ZERO32, Deployment
from oracle.eip712 import INVALID_OUTCOME, Domain, Resolution, digest, signable
from oracle.errors import ChainError
from oracle.signer import LocalSigner

MODEL = keccak_hex(b"model")  # the markets' resolver
FORECASTER = keccak_hex(b"forecaster")  # the model whose forecasts a forecast market posts


@pytest.fixture
def network(chain_network):
    """This module's suite runs on every chain backend: embedded py-evm and anvil."""
    return chain_network


def _register(net, tag: bytes = b"spec", resolve_at: int = 1, *, close_at: int | None = None,
              forecaster: str = ZERO32) -> str:
    market_id, _ = net.dep.register_market(
        net.creator, spec_hash=keccak_hex(tag), model_id=MODEL, resolve_at=resolve_at, outcome_count=2, quorum=1,
        forecaster_id=forecaster, close_at=close_at,
    )
    return market_id


def _open_market(net, tag: bytes = b"bets") -> str:
    """A market still taking positions: trading closes in 100 s, it resolves 100 s after that."""
    now = net.chain.timestamp()
    return _register(net, tag, resolve_at=now + 200, close_at=now + 100)


def _resolve_when_due(net, resolution: Resolution) -> None:
    net.advance_to(net.dep.get_market(resolution.market_id).resolve_at)
    net.dep.resolve(net.submitter, resolution, _sigs(net, resolution))


def _forecast(market_id: str, round: int, ppm: int, model: str = FORECASTER) -> Resolution:
    return Resolution(market_id, round, 0, ppm, model, keccak_hex(b"in%d" % round), keccak_hex(b"p%d" % round),
                      final=False)


def _resolution(market_id: str, outcome: int = 0, model: str = MODEL) -> Resolution:
    return Resolution(market_id, 0, outcome, 700_000, model, keccak_hex(b"in"), keccak_hex(b"proof"))


def _sigs(net, resolution, keys=None, domain=None) -> list[bytes]:
    keys = net.keys[: net.t] if keys is None else keys
    d = domain or net.dep.domain
    return [k.sign_message(signable(d, resolution)) for k in sorted(keys, key=lambda k: int(k.address, 16))]


def test_python_digest_matches_contract(network):
    r = _resolution(_register(network))
    assert digest(network.dep.domain, r) == network.dep.digest(r)
    forecast = replace(r, final=False)
    assert digest(network.dep.domain, forecast) == network.dep.digest(forecast) != digest(network.dep.domain, r)


def test_resolves_with_t_signatures_and_records_once(network):
    market_id = _register(network)
    r = _resolution(market_id)
    receipt = network.dep.resolve(network.submitter, r, _sigs(network, r))
    events = network.dep.oracle.events.Resolved().process_receipt(receipt)
    assert len(events) == 1 and events[0]["args"]["outcome"] == 0
    assert sorted(events[0]["args"]["signers"]) == sorted(k.address for k in network.keys[:3])
    stored = network.dep.resolution_of(market_id)
    assert stored.resolution == r and stored.submitter == network.submitter.address
    with pytest.raises(ChainError, match="AlreadyResolved"):
        network.dep.resolve(network.submitter, r, _sigs(network, r))


def test_refuses_fewer_than_t(network):
    r = _resolution(_register(network))
    with pytest.raises(ChainError, match=r"NotEnoughSignatures\(got=2, needed=3\)"):
        network.dep.resolve(network.submitter, r, _sigs(network, r)[:2])
    assert not network.dep.is_resolved(r.market_id)


def test_refuses_duplicated_signer(network):
    r = _resolution(_register(network))
    sigs = _sigs(network, r)
    with pytest.raises(ChainError, match="DuplicateSigner"):
        network.dep.resolve(network.submitter, r, [sigs[0], sigs[0], sigs[1]])


def test_refuses_unsorted_signers(network):
    r = _resolution(_register(network))
    sigs = _sigs(network, r)
    with pytest.raises(ChainError, match="SignersNotSorted"):
        network.dep.resolve(network.submitter, r, list(reversed(sigs)))


def test_refuses_unknown_signer(network):
    r = _resolution(_register(network))
    outsider = LocalSigner.create()
    with pytest.raises(ChainError, match=f"UnknownSigner.*{outsider.address}"):
        network.dep.resolve(network.submitter, r, _sigs(network, r, keys=network.keys[:2] + [outsider]))


def test_refuses_signature_for_another_market(network):
    a, b = _register(network, b"a"), _register(network, b"b")
    ra, rb = _resolution(a), _resolution(b)
    # signatures over market b, presented for market a: they recover to strangers
    with pytest.raises(ChainError, match="UnknownSigner"):
        network.dep.resolve(network.submitter, ra, _sigs(network, rb))


def test_refuses_signature_for_another_outcome(network):
    r = _resolution(_register(network), outcome=0)
    wrong = _sigs(network, _resolution(r.market_id, outcome=1))
    with pytest.raises(ChainError, match="UnknownSigner"):
        network.dep.resolve(network.submitter, r, wrong)


def test_refuses_signature_for_another_chain_id(network):
    r = _resolution(_register(network))
    other_chain = Domain(chain_id=network.chain.chain_id + 1, verifying_contract=network.dep.oracle.address)
    with pytest.raises(ChainError, match="UnknownSigner"):
        network.dep.resolve(network.submitter, r, _sigs(network, r, domain=other_chain))


def test_refuses_signature_for_another_contract(network):
    r = _resolution(_register(network))
    other = Domain(chain_id=network.chain.chain_id, verifying_contract=network.dep.registry.address)
    with pytest.raises(ChainError, match="UnknownSigner"):
        network.dep.resolve(network.submitter, r, _sigs(network, r, domain=other))


def test_refuses_malleable_high_s_signature(network):
    r = _resolution(_register(network))
    sigs = _sigs(network, r)
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    s = int.from_bytes(sigs[0][32:64], "big")
    flipped = sigs[0][:32] + (n - s).to_bytes(32, "big") + bytes([55 - sigs[0][64]])
    with pytest.raises(ChainError, match=r"MalformedSignature\(index=0\)"):
        network.dep.resolve(network.submitter, r, [flipped] + sigs[1:])


def test_refuses_unregistered_early_wrong_model_and_out_of_range(network):
    unregistered = _resolution(keccak_hex(b"nope"))
    with pytest.raises(ChainError, match="UnregisteredMarket"):
        network.dep.resolve(network.submitter, unregistered, _sigs(network, unregistered))
    future = _register(network, b"future", resolve_at=2**40)
    r = _resolution(future)
    with pytest.raises(ChainError, match="TooEarly"):
        network.dep.resolve(network.submitter, r, _sigs(network, r))
    market_id = _register(network)
    r = _resolution(market_id, model=keccak_hex(b"other model"))
    with pytest.raises(ChainError, match="ModelMismatch"):
        network.dep.resolve(network.submitter, r, _sigs(network, r))
    r = _resolution(market_id, outcome=2)
    with pytest.raises(ChainError, match=r"OutcomeOutOfRange\(outcome=2, outcomeCount=2\)"):
        network.dep.resolve(network.submitter, r, _sigs(network, r))


def test_market_quorum_above_t_is_enforced(network):
    market_id, _ = network.dep.register_market(
        network.creator, spec_hash=keccak_hex(b"q4"), model_id=MODEL, resolve_at=1, outcome_count=2, quorum=4
    )
    r = _resolution(market_id)
    with pytest.raises(ChainError, match=r"NotEnoughSignatures\(got=3, needed=4\)"):
        network.dep.resolve(network.submitter, r, _sigs(network, r))
    network.dep.resolve(network.submitter, r, _sigs(network, r, keys=network.keys))
    assert network.dep.is_resolved(market_id)


def test_validator_set_rules(network):
    with pytest.raises(ChainError, match="InvalidThreshold"):
        Deployment.deploy(network.chain, network.deployer, [k.address for k in network.keys], 2)  # not > n/2
    with pytest.raises(ChainError, match="DuplicateValidator"):
        Deployment.deploy(network.chain, network.deployer, [network.keys[0].address] * 3, 2)
    with pytest.raises(ChainError, match="NotOwner"):
        network.dep.propose_validators(network.creator, [k.address for k in network.keys], 3)


def test_validator_set_changes_wait_a_public_delay(network):
    """Issue 12 item 19: the owner cannot replace the validator set instantly; a proposal is public
    (an event) and applies only after VALIDATOR_SET_DELAY, executed by anyone."""
    fresh = sorted((LocalSigner.create() for _ in range(3)), key=lambda k: int(k.address, 16))
    old = network.dep.validators()
    receipt = network.dep.propose_validators(network.deployer, [k.address for k in fresh], 2)
    (event,) = network.dep.oracle.events.ValidatorSetProposed().process_receipt(receipt)
    delay = network.dep.validator_set_delay()
    assert delay >= 86_400 and list(event["args"]["validators"]) == [k.address for k in fresh]
    with pytest.raises(ChainError, match="ValidatorSetNotDue"):
        network.dep.execute_validators(network.submitter)
    assert network.dep.validators() == old  # the old set still settles in the meantime
    r = _resolution(_register(network))
    network.dep.resolve(network.submitter, r, _sigs(network, r))
    network.chain.advance_time(event["args"]["executableAt"] - network.chain.timestamp() + 1)
    network.dep.execute_validators(network.submitter)  # anyone may apply a due proposal
    assert network.dep.validators() == [k.address for k in fresh] and network.dep.threshold() == 2
    with pytest.raises(ChainError, match="NoProposedValidatorSet"):
        network.dep.execute_validators(network.submitter)
    with pytest.raises(ChainError, match="InvalidThreshold"):
        network.dep.propose_validators(network.deployer, [k.address for k in fresh], 1)


def test_ownership_moves_in_two_steps(network):
    """Issue 12 item 19: a mistyped successor never gets the oracle; only an accepting one does."""
    heir = LocalSigner.create()
    network.chain.fund(heir.address, 10**18)
    network.dep.transfer_ownership(network.deployer, heir.address)
    assert network.dep.oracle.functions.owner().call() == network.deployer.address
    with pytest.raises(ChainError, match="NotPendingOwner"):
        network.dep.accept_ownership(network.creator)
    network.dep.accept_ownership(heir)
    assert network.dep.oracle.functions.owner().call() == heir.address
    with pytest.raises(ChainError, match="NotOwner"):
        network.dep.propose_validators(network.deployer, [k.address for k in network.keys], 3)
    network.dep.propose_validators(heir, [k.address for k in network.keys], 3)


def test_registry_records_and_refuses(network):
    spec_hash = keccak_hex(b"spec")
    market_id = _register(network)
    assert market_id == network.dep.market_id_of(spec_hash, MODEL, 1, 2, 1)
    m = network.dep.get_market(market_id)
    assert (m.spec_hash, m.model_id, m.outcome_count, m.creator) == (spec_hash, MODEL, 2, network.creator.address)
    with pytest.raises(ChainError, match="AlreadyRegistered"):
        _register(network)
    with pytest.raises(ChainError, match="InvalidOutcomeCount"):
        network.dep.register_market(network.creator, spec_hash=keccak_hex(b"x"), model_id=MODEL, resolve_at=1,
                                    outcome_count=1, quorum=1)
    with pytest.raises(ChainError, match="UnknownMarket"):
        network.dep.get_market(keccak_hex(b"missing"))


def test_registry_refuses_a_trading_close_after_the_resolve_time(network):
    """Positions must close before the market can resolve: bets placed once the outcome is settled
    (or knowable) would be free money."""
    with pytest.raises(ChainError) as e:
        _register(network, b"late close", resolve_at=1000, close_at=1001)
    assert e.value.error == "CloseAfterResolve"
    market_id = _register(network, b"late close", resolve_at=1000, close_at=1000)  # closing as it resolves: allowed
    m = network.dep.get_market(market_id)
    assert (m.close_at, m.resolve_at) == (1000, 1000)


def test_market_id_binds_the_forecaster_and_the_trading_close(network):
    """Issue 11: the same spec hash with another forecaster or another close is another market, so
    nobody registers a look-alike that takes the forecasts of a model its spec never named, or that
    keeps trading open into the observation window."""
    from markets.spec import market_id_of

    spec_hash, close, resolve = keccak_hex(b"bound"), 5_000, 9_000
    ids = {}
    for forecaster in (ZERO32, FORECASTER, keccak_hex(b"another forecaster")):
        for close_at in (close, close + 1):
            market_id, _ = network.dep.register_market(
                network.creator, spec_hash=spec_hash, model_id=MODEL, forecaster_id=forecaster, close_at=close_at,
                resolve_at=resolve, outcome_count=2, quorum=1)
            assert market_id == market_id_of(spec_hash, MODEL, forecaster, close_at, resolve, 2, 1)
            assert market_id == network.dep.market_id_of(spec_hash, MODEL, resolve, 2, 1, forecaster_id=forecaster,
                                                         close_at=close_at)
            m = network.dep.get_market(market_id)
            assert (m.forecaster_id, m.close_at, m.model_id) == (forecaster, close_at, MODEL)
            ids[(forecaster, close_at)] = market_id
    assert len(set(ids.values())) == 6
    with pytest.raises(ChainError, match="AlreadyRegistered"):
        network.dep.register_market(network.bob, spec_hash=spec_hash, model_id=MODEL, forecaster_id=FORECASTER,
                                    close_at=close, resolve_at=resolve, outcome_count=2, quorum=1)


def test_binary_market_pays_winners_pro_rata(network):
    carol = LocalSigner.create()
    network.chain.fund(carol.address, 10**19)
    market_id = _open_market(network)
    network.dep.deposit(network.alice, market_id, 0, 10**18)
    network.dep.deposit(carol, market_id, 0, 3 * 10**18)
    network.dep.deposit(network.bob, market_id, 1, 4 * 10**18)
    with pytest.raises(ChainError, match="NotResolved"):
        network.dep.redeem(network.alice, market_id)
    _resolve_when_due(network, _resolution(market_id, outcome=0))
    with pytest.raises(ChainError) as e:  # a resolved market takes no stake on the known winner
        network.dep.deposit(network.bob, market_id, 1, 10**18)
    assert e.value.error == "TradingClosed"
    before = network.chain.balance(network.alice.address)
    paid, receipt = network.dep.redeem(network.alice, market_id)
    assert paid == 2 * 10**18  # 1/4 of the winning side takes 1/4 of 8 ETH
    gas_cost = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert network.chain.balance(network.alice.address) == before + paid - gas_cost
    assert network.dep.redeem(carol, market_id)[0] == 6 * 10**18
    with pytest.raises(ChainError, match="NothingToRedeem"):
        network.dep.redeem(network.alice, market_id)
    with pytest.raises(ChainError, match="NothingToRedeem"):
        network.dep.redeem(network.bob, market_id)
    assert network.chain.balance(network.dep.market.address) == 0


def test_binary_market_refunds_on_invalid(network):
    market_id = _open_market(network)
    network.dep.deposit(network.alice, market_id, 0, 10**18)
    network.dep.deposit(network.bob, market_id, 1, 2 * 10**18)
    _resolve_when_due(network, _resolution(market_id, outcome=INVALID_OUTCOME))
    assert network.dep.redeem(network.alice, market_id)[0] == 10**18
    assert network.dep.redeem(network.bob, market_id)[0] == 2 * 10**18


def test_binary_market_refuses_bad_deposits(network):
    market_id = _open_market(network)
    with pytest.raises(ChainError, match="ZeroDeposit"):
        network.dep.deposit(network.alice, market_id, 0, 0)
    with pytest.raises(ChainError, match="InvalidOutcome"):
        network.dep.deposit(network.alice, market_id, 2, 1)
    with pytest.raises(ChainError, match="UnregisteredMarket"):
        network.dep.deposit(network.alice, keccak_hex(b"none"), 0, 1)


def test_binary_market_closes_trading_at_close_at(network):
    """Issue 11: positions close at the market's registered trading close, before its observation
    window opens: from closeAt on (resolved or not, resolvable or not) a deposit reverts."""
    now = network.chain.timestamp()
    close_at, resolve_at = now + 60, now + 120
    market_id = _register(network, b"closing", resolve_at=resolve_at, close_at=close_at)
    receipt = network.dep.deposit(network.alice, market_id, 0, 10**18)
    assert network.chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"] < close_at
    for when in (close_at, resolve_at):  # the chain's latest block at closeAt, then at resolveAt
        network.advance_to(when)
        for outcome, account in ((0, network.alice), (1, network.bob)):
            with pytest.raises(ChainError) as e:
                network.dep.deposit(account, market_id, outcome, 10**18)
            assert e.value.error == "TradingClosed"
    assert network.dep.market.functions.pools(market_id).call() == [10**18, 0]


def test_trading_closes_at_the_exact_second(store):
    """The last accepted stake is in a block before closeAt; a block at closeAt takes none. On the
    embedded replay chain, whose clock is exact (each block one second after its parent)."""
    from conftest import Network

    network = Network(store)
    close_at = network.chain.timestamp() + 30
    market_id = _register(network, b"exact close", resolve_at=close_at + 30, close_at=close_at)
    network.advance_to(close_at - 2)
    receipt = network.dep.deposit(network.alice, market_id, 0, 10**18)  # mined at closeAt - 1
    assert network.chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"] == close_at - 1
    # the dry run sees the latest block (closeAt - 1); the transaction is mined at closeAt and reverts there
    with pytest.raises(ChainError, match="failed on-chain"):
        network.dep.deposit(network.alice, market_id, 0, 10**18)
    assert network.chain.timestamp() == close_at
    with pytest.raises(ChainError) as e:
        network.dep.deposit(network.alice, market_id, 0, 10**18)
    assert e.value.error == "TradingClosed"
    assert network.dep.market.functions.pools(market_id).call() == [10**18, 0]


def _forecast_market(net, tag: bytes = b"spec") -> tuple[str, int]:
    """A forecast market resolving in 100 s (forecasts land before its resolve time); and that time."""
    resolve_at = net.chain.timestamp() + 100
    return _register(net, tag, resolve_at=resolve_at, forecaster=FORECASTER), resolve_at


def test_forecast_rounds_are_quorum_checked_once_each_in_any_order(network):
    """Issue 12 item 18: each forecast round is posted once, whatever the order: a front-runner
    posting a later round first voids no earlier one. None lands at or after resolveAt."""
    market_id, resolve_at = _forecast_market(network)
    r0, r1, r2 = (_forecast(market_id, i, 600_000 + i) for i in (0, 1, 2))
    with pytest.raises(ChainError, match="NotEnoughSignatures"):
        network.dep.post_forecast(network.submitter, r0, _sigs(network, r0)[:2])
    network.dep.post_forecast(network.submitter, r2, _sigs(network, r2))  # the front-runner's later round
    network.dep.post_forecast(network.submitter, r0, _sigs(network, r0))
    assert network.dep.forecast_of(market_id, 0) == 600_000
    assert network.dep.forecast_of(market_id, 1) is None
    again = replace(r0, probability_ppm=1)
    with pytest.raises(ChainError) as e:
        network.dep.post_forecast(network.submitter, again, _sigs(network, again))
    assert e.value.error == "ForecastAlreadyPosted"
    network.dep.post_forecast(network.submitter, r1, _sigs(network, r1))
    assert [network.dep.forecast_of(market_id, i) for i in range(3)] == [600_000, 600_001, 600_002]
    network.advance_to(resolve_at)
    r3 = _forecast(market_id, 3, 1)
    with pytest.raises(ChainError) as e:
        network.dep.post_forecast(network.submitter, r3, _sigs(network, r3))
    assert e.value.error == "ForecastClosed"
    final = _resolution(market_id)
    network.dep.resolve(network.submitter, final, _sigs(network, final))
    with pytest.raises(ChainError, match="AlreadyResolved"):
        network.dep.post_forecast(network.submitter, r3, _sigs(network, r3))
    assert network.dep.oracle.functions.forecastCount(bytes.fromhex(market_id[2:])).call() == 3


def test_forecasts_come_from_the_market_forecaster_only(network):
    """Issue 11: a forecast is the registered forecaster's; a quorum cannot post one under the
    resolver's id (or any other model's), and a market registered without a forecaster takes none."""
    market_id, _ = _forecast_market(network, b"forecast market")
    for model in (MODEL, keccak_hex(b"other model")):
        f = _forecast(market_id, 0, 700_000, model=model)
        with pytest.raises(ChainError) as e:
            network.dep.post_forecast(network.submitter, f, _sigs(network, f))
        assert e.value.error == "ModelMismatch"
    assert network.dep.forecast_of(market_id, 0) is None
    ok = _forecast(market_id, 0, 700_000)
    network.dep.post_forecast(network.submitter, ok, _sigs(network, ok))
    assert network.dep.forecast_of(market_id, 0) == 700_000

    plain = _register(network, b"resolve market")  # forecasterId = 0
    for model in (FORECASTER, MODEL, ZERO32):
        f = _forecast(plain, 0, 700_000, model=model)
        with pytest.raises(ChainError) as e:
            network.dep.post_forecast(network.submitter, f, _sigs(network, f))
        assert e.value.error == "ModelMismatch"
    assert network.dep.forecast_of(plain, 0) is None


def test_forecast_signatures_never_settle_the_market(network):
    """Issue 12 item 2: a quorum-signed round-0 forecast, replayed into every settling path after
    resolveAt, is refused (its signatures are over a `Forecast`); the real final round then settles.
    Forecasts carry the forecaster's id, which no resolution may; the replay is also tried with
    `Forecast` signatures over the resolver's id, so the type alone has to stop it."""
    from oracle.batch import leaf

    market_id, resolve_at = _forecast_market(network)
    forecast = _forecast(market_id, 0, 900_000)
    network.dep.post_forecast(network.submitter, forecast, _sigs(network, forecast))
    assert network.dep.forecast_of(market_id, 0) == 900_000
    network.advance_to(resolve_at)
    as_resolver = replace(forecast, model_id=MODEL)
    for signed, refused in ((forecast, ("ModelMismatch", "UnknownSigner")), (as_resolver, ("UnknownSigner",))):
        stolen = _sigs(network, signed)
        for outcome in (0, 1, INVALID_OUTCOME):
            replayed = replace(signed, outcome=outcome, final=True)
            for settle in (lambda: network.dep.resolve(network.submitter, replayed, stolen),
                           lambda: network.dep.resolve_batch(network.submitter, [replayed], stolen),
                           lambda: network.dep.accept_batch_root(network.submitter, leaf(replayed), 1, stolen)):
                with pytest.raises(ChainError) as e:
                    settle()
                assert e.value.error in refused
    with pytest.raises(ValueError, match="forecast"):
        leaf(forecast)  # no batch (ECDSA or BLS) is ever built over a forecast round
    assert not network.dep.is_resolved(market_id)
    final = Resolution(market_id, 1, 1, 300_000, MODEL, keccak_hex(b"in1"), keccak_hex(b"p1"))
    network.dep.resolve(network.submitter, final, _sigs(network, final))
    assert network.dep.resolution_of(market_id).resolution == final


def test_a_squatter_cannot_register_a_spec_with_other_parameters(network):
    """Issue 12 item 5: the market id binds the spec hash and every on-chain parameter, so a squatter's
    parameters make another market, and a quorum the set can never meet is refused."""
    from markets.spec import market_id_of

    spec_hash, n = keccak_hex(b"victim spec"), len(network.keys)
    with pytest.raises(ChainError, match=rf"InvalidQuorum\(quorum={n + 1}\)"):
        network.dep.register_market(network.bob, spec_hash=spec_hash, model_id=MODEL, resolve_at=1, outcome_count=2,
                                    quorum=n + 1)
    with pytest.raises(ChainError, match="InvalidQuorum"):
        network.dep.register_market(network.bob, spec_hash=spec_hash, model_id=MODEL, resolve_at=1, outcome_count=2,
                                    quorum=65535)
    squatted, _ = network.dep.register_market(network.bob, spec_hash=spec_hash, model_id=MODEL, resolve_at=2**40,
                                              outcome_count=2, quorum=n)
    mine, _ = network.dep.register_market(network.creator, spec_hash=spec_hash, model_id=MODEL, resolve_at=1,
                                          outcome_count=2, quorum=1)
    assert mine == market_id_of(spec_hash, MODEL, ZERO32, 1, 1, 2, 1) != squatted
    m = network.dep.get_market(mine)
    assert (m.creator, m.quorum, m.resolve_at, m.close_at) == (network.creator.address, 1, 1, 1)
    r = _resolution(mine)
    network.dep.resolve(network.submitter, r, _sigs(network, r))
    assert network.dep.is_resolved(mine)
