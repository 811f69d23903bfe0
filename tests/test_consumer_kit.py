"""The consumer's kit: `IResolutionReader` (through `ResolutionReader` over the oracle) and the example
consumer `ParametricInsurance`, settled from real resolutions (real proofs, reviewed and signed by
the network's validators) on both chains: it pays the right party, and refuses before resolution, on a
forecast round, on another market's resolution, and on forged or under-signed batch proofs."""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace

import pytest
from eth_utils import function_signature_to_4byte_selector, keccak

from markets.spec import MarketSpec
from oracle import bls
from oracle.batch import leaf, merkle_proof, merkle_root
from oracle.canonical import keccak_hex
from oracle.consumer import ParametricInsurance, PolicyStatus, ResolutionReader, State
from oracle.eip712 import INVALID_OUTCOME
from oracle.errors import ChainError, FieldError

from conftest import ROOT, forecast_doc, spec_doc

pytestmark = pytest.mark.slow

COVER = 2 * 10**18
PREMIUM = 10**17
GRACE = 30 * 86_400


@pytest.fixture
def network(chain_network):
    """Every test here runs on the embedded py-evm chain and on anvil."""
    return chain_network


@pytest.fixture(scope="module")
def above_3900(circuit, prover, load):
    """Another market on the same day: "BTC above $3,900?" (the median 3,994.25 says YES), proven."""
    spec = MarketSpec.parse(spec_doc(circuit.model_id, value=3900))
    return spec, prover.prove(spec, load)


@pytest.fixture(scope="module")
def quorum_of_4(circuit, prover, load):
    """The session's question with a market quorum of 4 (of 4 members, t = 3), proven."""
    spec = MarketSpec.parse(spec_doc(circuit.model_id, quorum=4))
    return spec, prover.prove(spec, load)


@pytest.fixture(scope="module")
def forecast_round(circuit, forecaster, forecast_prover, load):
    """A forecast market and its round 0, proven by the reference forecaster."""
    spec = MarketSpec.parse(forecast_doc(circuit.model_id, forecaster.model_id))
    return spec, forecast_prover.prove(spec, load, round=0)


@pytest.fixture(scope="module")
def reenterer(tmp_path_factory):
    """A contract that, paid by `withdraw`, calls `withdraw` again from its receive hook and keeps
    the revert it got; compiled here with the pinned solc (it is a test's attacker, not a product)."""
    d = tmp_path_factory.mktemp("reenterer")
    (d / "Reenterer.sol").write_text("""// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;
interface IInsurance { function buy(uint256) external payable; function withdraw() external returns (uint256); }
contract Reenterer {
    IInsurance public immutable target;
    uint256 public received;
    bool public reentered;
    bytes public refusal;
    constructor(IInsurance t) { target = t; }
    function buy(uint256 id) external payable { target.buy{value: msg.value}(id); }
    function withdraw() external { target.withdraw(); }
    receive() external payable {
        received += msg.value;
        if (refusal.length != 0 || reentered) return;
        try target.withdraw() { reentered = true; } catch (bytes memory e) { refusal = e; }
    }
}
""")
    subprocess.run(["node", str(ROOT / "contracts" / "compile.mjs"), "--source", str(d / "Reenterer.sol"),
                    "--out", str(d)], check=True, capture_output=True, cwd=ROOT)
    return json.loads((d / "Reenterer.json").read_text())


def _kit(net) -> tuple[ResolutionReader, ParametricInsurance]:
    reader = ResolutionReader.deploy(net.chain, net.deployer, net.dep.court.address)
    return reader, ParametricInsurance.deploy(net.chain, net.deployer, reader.address)


def _policy(net, insurance, market_id: str, pay_on: int) -> int:
    """Alice insures Bob: COVER if the market resolves to `pay_on`, for PREMIUM."""
    policy_id, _ = insurance.offer(net.alice, market_id, pay_on, COVER, PREMIUM)
    insurance.buy(net.bob, policy_id, PREMIUM)
    return policy_id


def _bls_members(net) -> None:
    """Every validator gets a BLS key, registered on-chain with its proof of possession."""
    for v in net.validators:
        v.bls_key = bls.BlsKey.generate()
        net.chain.fund(v.address, 10**18)
        net.dep.register_bls_key(v.signer, v.bls_key.public_key, v.bls_key.proof_of_possession(v.address))


def _reviewed(net, spec, bundle):
    """Every validator reviews the real proof; all sign the same final resolution."""
    votes = [v.review(spec, bundle).vote for v in net.validators]
    assert all(votes), "a validator refused the bundle"
    assert len({v.resolution for v in votes}) == 1
    return votes[0].resolution


def _accept_root(net, resolutions, signers: int) -> bytes:
    """The first `signers` validators BLS-sign the batch root over `resolutions` (each refuses
    anything it did not review itself); one aggregate accepts the root on-chain."""
    shares = [v.sign_batch_bls(resolutions) for v in net.validators[:signers]]
    root = shares[0].root
    assert root == merkle_root([leaf(r) for r in resolutions])
    net.dep.accept_batch_root_bls(net.submitter, root, len(resolutions), bls.bitmap_of(range(signers)),
                                  bls.aggregate([s.signature for s in shares]))
    return root


def test_cover_settles_from_a_real_resolution(network, spec, bundle, above_3900, load):
    """"BTC above $4,000 on 2019-03-23?" resolves NO from the providers' data: the policy paying on NO
    pays the insured, the one paying on YES pays the insurer; before the resolution, and from
    another market's resolution, nothing pays."""
    reader, insurance = _kit(network)
    market = network.register(spec, advance=False)
    other_spec, _ = above_3900
    other = network.register(other_spec, advance=False)
    yes, no = spec.outcomes.index("YES"), spec.outcomes.index("NO")
    assert reader.state_of(market) == State.OPEN
    assert reader.state_of(keccak_hex(b"no such market")) == State.UNREGISTERED
    on_no, on_yes, on_other = (_policy(network, insurance, market, no), _policy(network, insurance, market, yes),
                               _policy(network, insurance, other, yes))
    assert insurance.policy(on_no).status == PolicyStatus.BOUGHT and insurance.policy(on_no).insured == network.bob.address

    with pytest.raises(ChainError, match=r"NotFinal\(.*state=1\)"):  # trading still open
        insurance.settle(network.submitter, on_no)
    network.advance_to(spec.resolve_at_unix)
    with pytest.raises(ChainError, match=r"NotFinal\(.*state=1\)"):  # due, not resolved
        insurance.settle(network.submitter, on_no)
    with pytest.raises(ChainError, match="NotFinal"):
        reader.outcome_of(market)

    report = network.run_round(spec, load, None, bundle=bundle)
    assert report.submission is not None and report.submission.settlement.on_chain, report.refusals
    stored = network.dep.resolution_of(market).resolution
    assert spec.outcomes[stored.outcome] == "NO"
    assert reader.state_of(market) == State.FINAL
    assert reader.final_resolution(market) == (stored, network.dep.resolution_of(market).resolved_at)
    # the oracle keeps the resolution's struct hash: the whole resolution checks against it, a forged
    # one (another proof hash, another probability) does not
    assert reader.is_final_resolution(stored)
    assert not reader.is_final_resolution(replace(stored, proof_hash=keccak_hex(b"forged")))
    assert not reader.is_final_resolution(replace(stored, probability_ppm=stored.probability_ppm ^ 1))
    checked = network.dep.oracle.functions.checkedRecord
    assert network.chain.call(checked(stored.as_tuple()))[5] == leaf(stored)
    with pytest.raises(ChainError, match="ResolutionMismatch"):
        network.chain.call(checked(replace(stored, inputs_hash=keccak_hex(b"forged")).as_tuple()))
    assert reader.outcome_of(market) == no and reader.probability_of(market) == stored.probability_ppm

    paid, _ = insurance.settle(network.submitter, on_no)
    assert (paid.outcome, paid.probability_ppm, paid.round) == (no, stored.probability_ppm, stored.round)
    assert (paid.to_insured, paid.to_insurer) == (COVER, PREMIUM)
    kept, _ = insurance.settle(network.bob, on_yes)
    assert (kept.to_insured, kept.to_insurer) == (0, COVER + PREMIUM)
    with pytest.raises(ChainError, match="WrongStatus"):  # once
        insurance.settle(network.submitter, on_no)

    # the other market is still open: this market's resolution pays nothing there, by any path
    assert reader.state_of(other) == State.OPEN
    with pytest.raises(ChainError, match="NotFinal"):
        insurance.settle(network.submitter, on_other)
    with pytest.raises(ChainError, match="WrongMarket"):
        insurance.settle_with_proof(network.submitter, on_other, stored, [], leaf(stored))

    bob, alice = network.chain.balance(network.bob.address), network.chain.balance(network.alice.address)
    assert insurance.owed(network.bob.address) == COVER and insurance.owed(network.alice.address) == 2 * PREMIUM + COVER
    assert insurance.withdraw(network.bob)[0] == COVER
    assert insurance.withdraw(network.alice)[0] == 2 * PREMIUM + COVER
    assert network.chain.balance(network.bob.address) > bob + COVER - 10**16  # less its gas
    assert network.chain.balance(network.alice.address) > alice + COVER - 10**16
    with pytest.raises(ChainError, match="NothingOwed"):
        insurance.withdraw(network.bob)
    assert network.chain.balance(insurance.address) == COVER + PREMIUM  # the open market's policy


def test_a_forecast_round_pays_nothing(network, forecast_round, load):
    """A forecast round posted on-chain by the validators is a probability, not an outcome: the
    market stays open for consumers, and its values are no resolution on any path."""
    spec, bundle = forecast_round
    reader, insurance = _kit(network)
    market = network.register(spec, advance=False)
    policy = _policy(network, insurance, market, spec.outcomes.index(spec.yes))
    network.advance_to(spec.round(0).due_at)
    report = network.run_round(spec, load, None, bundle=bundle)
    assert report.submission is not None and report.submission.settlement.on_chain, report.refusals
    forecast = report.submission.resolution
    assert not forecast.final and network.dep.forecast_of(market, 0) == forecast.probability_ppm

    assert reader.state_of(market) == State.OPEN
    with pytest.raises(ChainError, match=r"NotFinal\(.*state=1\)"):
        insurance.settle(network.submitter, policy)
    with pytest.raises(ChainError, match="NotFinal"):
        reader.probability_of(market)
    # its values dressed as a resolution: no batch root the validators accepted holds them
    dressed = replace(forecast, final=True)
    assert not reader.verify_inclusion(dressed, [], leaf(dressed))
    with pytest.raises(ChainError, match="UnknownRoot"):
        insurance.settle_with_proof(network.submitter, policy, dressed, [], leaf(dressed))
    assert insurance.policy(policy).status == PolicyStatus.BOUGHT and insurance.owed(network.bob.address) == 0


def test_batched_resolution_settles_by_inclusion_proof(network, spec, bundle, above_3900):
    """Two real resolutions in one batch root that the validators BLS-signed: each policy settles
    with its market's Merkle proof; forged proofs, another market's leaf and an unaccepted root are
    refused and change nothing; once final, a policy settles from the recorded resolution whatever
    the caller hands in."""
    other_spec, other_bundle = above_3900
    reader, insurance = _kit(network)
    _bls_members(network)
    market, other = network.register(spec, advance=False), network.register(other_spec, advance=False)
    no, yes = spec.outcomes.index("NO"), spec.outcomes.index("YES")
    on_no, on_yes_other = _policy(network, insurance, market, no), _policy(network, insurance, other, yes)
    on_yes = _policy(network, insurance, market, yes)
    network.advance_to(spec.resolve_at_unix)
    r, r_other = _reviewed(network, spec, bundle), _reviewed(network, other_spec, other_bundle)
    assert (r.outcome, r_other.outcome) == (no, yes)
    root = _accept_root(network, [r, r_other], network.t)
    leaves = [leaf(r), leaf(r_other)]
    proof, proof_other = merkle_proof(leaves, 0), merkle_proof(leaves, 1)
    assert reader.verify_inclusion(r, proof, root) and reader.verify_inclusion(r_other, proof_other, root)

    forged = replace(r, outcome=yes)
    assert not reader.verify_inclusion(forged, proof, root)
    with pytest.raises(ChainError, match="NotInBatch"):  # the outcome flipped
        insurance.settle_with_proof(network.submitter, on_yes, forged, proof, root)
    with pytest.raises(ChainError, match="NotInBatch"):  # another leaf's path
        insurance.settle_with_proof(network.submitter, on_no, r, proof_other, root)
    with pytest.raises(ChainError, match="NotInBatch"):  # a sibling that is not in the tree
        insurance.settle_with_proof(network.submitter, on_no, r, [keccak(b"sibling")], root)
    with pytest.raises(ChainError, match="UnknownRoot"):  # a root nobody accepted
        insurance.settle_with_proof(network.submitter, on_no, r, [], leaf(r))
    with pytest.raises(ChainError, match="WrongMarket"):  # the other market's real leaf
        insurance.settle_with_proof(network.submitter, on_no, r_other, proof_other, root)
    assert reader.state_of(market) == State.OPEN and insurance.owed(network.bob.address) == 0

    paid, _ = insurance.settle_with_proof(network.submitter, on_no, r, proof, root)
    assert (paid.outcome, paid.to_insured, paid.to_insurer) == (no, COVER, PREMIUM)
    assert network.dep.resolution_of(market).resolution == r and reader.state_of(market) == State.FINAL
    # final now: the recorded outcome decides, not the forged one handed in
    kept, _ = insurance.settle_with_proof(network.submitter, on_yes, forged, proof, root)
    assert (kept.outcome, kept.to_insured, kept.to_insurer) == (no, 0, COVER + PREMIUM)

    with pytest.raises(ChainError, match="NotFinal"):  # accepted in the root, not claimed yet
        insurance.settle(network.submitter, on_yes_other)
    other_paid, _ = insurance.settle_with_proof(network.bob, on_yes_other, r_other, proof_other, root)
    assert (other_paid.outcome, other_paid.to_insured) == (yes, COVER)
    assert insurance.withdraw(network.bob)[0] == 2 * COVER


def test_a_root_signed_below_the_market_quorum_does_not_pay(network, quorum_of_4):
    """A market asks for 4 signers; a root that t = 3 members signed holds its real resolution, so
    `verifyInclusion` is true, yet the policy does not pay: the consumer settles through the
    oracle's `claim` (every settlement check), never on inclusion alone. With all 4 it pays."""
    spec, bundle = quorum_of_4
    reader, insurance = _kit(network)
    _bls_members(network)
    market = network.register(spec, advance=False)
    policy = _policy(network, insurance, market, spec.outcomes.index("NO"))
    network.advance_to(spec.resolve_at_unix)
    r = _reviewed(network, spec, bundle)
    root = _accept_root(network, [r], network.t)
    assert reader.verify_inclusion(r, [], root)
    with pytest.raises(ChainError, match=r"NotEnoughSignatures\(got=3, needed=4\)"):
        insurance.settle_with_proof(network.submitter, policy, r, [], root)
    assert reader.state_of(market) == State.OPEN and insurance.owed(network.bob.address) == 0
    _accept_root(network, [r], len(network.validators))  # the same root, signed by every member
    paid, _ = insurance.settle_with_proof(network.submitter, policy, r, [], root)
    assert (paid.to_insured, paid.to_insurer) == (COVER, PREMIUM)


def test_withdraw_refuses_reentry(network, spec, bundle, load, reenterer):
    """The insured is a contract that calls `withdraw` again while being paid: the guard refuses the
    second call, and it is paid its cover exactly once."""
    reader, insurance = _kit(network)
    attacker = network.chain.deploy(network.deployer, reenterer, insurance.address)
    market = network.register(spec, advance=False)
    policy_id, _ = insurance.offer(network.alice, market, spec.outcomes.index("NO"), COVER, PREMIUM)
    network.chain.transact(network.bob, attacker.functions.buy(policy_id), value=PREMIUM)
    network.advance_to(spec.resolve_at_unix)
    assert network.run_round(spec, load, None, bundle=bundle).submission.settlement.on_chain
    insurance.settle(network.submitter, policy_id)
    assert insurance.owed(attacker.address) == COVER
    network.chain.transact(network.bob, attacker.functions.withdraw())
    assert attacker.functions.reentered().call() is False
    assert bytes(attacker.functions.refusal().call()) == function_signature_to_4byte_selector("Reentrancy()")
    assert attacker.functions.received().call() == COVER == network.chain.balance(attacker.address)
    assert insurance.owed(attacker.address) == 0
    assert network.chain.balance(insurance.address) == PREMIUM == insurance.owed(network.alice.address)


def test_offers_are_checked_and_a_silent_oracle_refunds(network, spec):
    """Cover is written on registered markets and real outcomes, bought at its premium, both before
    the trading close; an unbought offer goes back to its insurer; a market never resolved refunds
    both sides after the grace period."""
    _, insurance = _kit(network)
    market = network.register(spec, advance=False)
    with pytest.raises(ChainError, match="UnregisteredMarket"):
        insurance.offer(network.alice, keccak_hex(b"no such market"), 0, COVER, PREMIUM)
    with pytest.raises(FieldError, match="cover_wei"):  # refused here, in one line, before any call
        insurance.offer(network.alice, market, 0, -1, PREMIUM)
    with pytest.raises(FieldError, match="pay_on"):
        insurance.offer(network.alice, market, 2**16, COVER, PREMIUM)
    with pytest.raises(ChainError, match="PayOnOutOfRange"):
        insurance.offer(network.alice, market, 2, COVER, PREMIUM)
    with pytest.raises(ChainError, match="PayOnOutOfRange"):  # INVALID is no outcome to insure
        insurance.offer(network.alice, market, INVALID_OUTCOME, COVER, PREMIUM)
    with pytest.raises(ChainError, match=r"ZeroAmount\(field=cover\)"):
        insurance.offer(network.alice, market, 0, 0, PREMIUM)
    with pytest.raises(ChainError, match=r"ZeroAmount\(field=premium\)"):
        insurance.offer(network.alice, market, 0, COVER, 0)
    offered, _ = insurance.offer(network.alice, market, 0, COVER, PREMIUM)
    with pytest.raises(ChainError, match="WrongPremium"):
        insurance.buy(network.bob, offered, PREMIUM - 1)
    with pytest.raises(ChainError, match="UnknownPolicy"):
        insurance.buy(network.bob, 99, PREMIUM)
    with pytest.raises(ChainError, match="WrongStatus"):  # not bought: nothing to settle
        insurance.settle(network.submitter, offered)
    with pytest.raises(ChainError, match="NotInsurer"):
        insurance.cancel(network.bob, offered)
    insurance.cancel(network.alice, offered)
    assert insurance.owed(network.alice.address) == COVER
    with pytest.raises(ChainError, match="WrongStatus"):
        insurance.buy(network.bob, offered, PREMIUM)

    bought = _policy(network, insurance, market, 0)
    late, _ = insurance.offer(network.alice, market, 1, COVER, PREMIUM)
    network.advance_to(spec.close_at_unix)
    with pytest.raises(ChainError, match="TradingClosed"):
        insurance.offer(network.alice, market, 0, COVER, PREMIUM)
    with pytest.raises(ChainError, match="TradingClosed"):
        insurance.buy(network.bob, late, PREMIUM)
    network.advance_to(spec.resolve_at_unix + GRACE - 60)
    with pytest.raises(ChainError, match="NotFinal"):
        insurance.settle(network.submitter, bought)
    network.advance_to(spec.resolve_at_unix + GRACE)
    refund, _ = insurance.settle(network.submitter, bought)
    assert (refund.outcome, refund.to_insured, refund.to_insurer) == (INVALID_OUTCOME, PREMIUM, COVER)


@pytest.mark.parametrize("mirror, real", [("IQuorumOracleReads", "QuorumOracle"),
                                          ("IMarketRegistryReads", "MarketRegistry")])
def test_the_readers_mirrored_interfaces_match_the_contracts(mirror, real):
    """`ResolutionReader` declares the oracle's and registry's reads itself (so its artifact does not
    change with their sources): each must be the real contract's function, inputs and outputs alike."""
    from oracle.chain import artifact

    def signature(item):
        def types(params):
            return tuple((p["type"], types(p.get("components", []))) for p in params)
        return item["name"], types(item["inputs"]), types(item["outputs"]), item["stateMutability"]

    real_fns = {signature(i) for i in artifact(real)["abi"] if i["type"] == "function"}
    mirrored = [signature(i) for i in artifact(mirror)["abi"] if i["type"] == "function"]
    assert mirrored and [s for s in mirrored if s not in real_fns] == []
