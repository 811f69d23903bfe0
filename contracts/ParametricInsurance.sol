// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {INVALID_OUTCOME, IResolutionReader} from "./IResolutionReader.sol";

/// @title ParametricInsurance
/// @notice An example consumer of the oracle (see the README, "Use the oracle from your contract"):
/// cover that pays when a market resolves to a named outcome. An insurer offers `cover` (native ETH,
/// locked here) on a market's outcome `payOn` for a `premium`; an insured buys it before the market's
/// trading close. Once the market is final:
///   - outcome == payOn: the insured gets the cover, the insurer the premium;
///   - another outcome:  the insurer gets cover and premium;
///   - INVALID:          each gets back what it put in.
/// A market not final `RESOLUTION_GRACE` after its resolve time refunds both, and a resolution
/// landing after that changes nothing (funds never lock on a silent oracle).
/// It acts on `IResolutionReader.State.Final` only; a policy reads its own market's resolution, never
/// one a caller hands in: the batched path records the caller's resolution through the oracle's
/// `claim` (every settlement check) and then reads it back like any other.
/// Payouts are credited, then pulled with `withdraw` (checks, effects, then the one external call,
/// behind a reentrancy guard): a recipient that reverts blocks nobody else.
contract ParametricInsurance {
    IResolutionReader public immutable reader;

    /// How long after a market's resolve time the oracle has to make it final.
    uint64 public constant RESOLUTION_GRACE = 30 days;

    enum Status {
        None,
        Offered, // cover locked, waiting for a buyer
        Bought, // premium paid: settles from the market's final resolution
        Settled,
        Cancelled // the insurer took an unbought offer back
    }

    /// The market's times are copied at `offer`: a market id binds them, they never change.
    struct Policy {
        bytes32 marketId;
        address insurer;
        uint64 resolveAt;
        uint16 payOn;
        Status status;
        address insured; // zero until bought
        uint64 closeAt;
        uint128 cover;
        uint128 premium;
    }

    mapping(uint256 => Policy) private _policies;
    uint256 public policyCount;
    /// What each account can withdraw.
    mapping(address => uint256) public owed;
    uint256 private _locked = 1;

    event Offered(uint256 indexed policyId, bytes32 indexed marketId, address indexed insurer, uint16 payOn,
        uint256 cover, uint256 premium);
    event Bought(uint256 indexed policyId, address indexed insured);
    event Cancelled(uint256 indexed policyId);
    /// `outcome`: the final outcome, or INVALID_OUTCOME (an INVALID resolution, or none in time).
    event Settled(uint256 indexed policyId, bytes32 indexed marketId, uint16 outcome, uint32 probabilityPpm,
        uint32 round, uint256 toInsured, uint256 toInsurer);
    event Withdrawn(address indexed account, uint256 amount);

    error ZeroAmount(string field);
    error AmountTooLarge(string field);
    error PayOnOutOfRange(uint16 payOn, uint16 outcomeCount);
    error TradingClosed(bytes32 marketId, uint64 closeAt);
    error MarketNotOpen(bytes32 marketId, IResolutionReader.State state);
    error UnknownPolicy(uint256 policyId);
    error WrongStatus(uint256 policyId, Status status);
    error WrongPremium(uint256 expected, uint256 got);
    error NotInsurer(uint256 policyId, address caller);
    error WrongMarket(bytes32 policyMarket, bytes32 resolutionMarket);
    error NothingOwed(address account);
    error TransferFailed(address to, uint256 amount);
    error Reentrancy();

    constructor(IResolutionReader reader_) {
        reader = reader_;
    }

    modifier nonReentrant() {
        if (_locked != 1) revert Reentrancy();
        _locked = 2;
        _;
        _locked = 1;
    }

    function policyOf(uint256 policyId) external view returns (Policy memory) {
        return _policies[policyId];
    }

    /// Offer `msg.value` of cover on `marketId` resolving to `payOn`, for `premium`.
    function offer(bytes32 marketId, uint16 payOn, uint256 premium) external payable returns (uint256 policyId) {
        IResolutionReader.Market memory m = reader.marketOf(marketId); // reverts UnregisteredMarket
        if (payOn >= m.outcomeCount) revert PayOnOutOfRange(payOn, m.outcomeCount);
        if (msg.value == 0) revert ZeroAmount("cover");
        if (premium == 0) revert ZeroAmount("premium");
        if (msg.value > type(uint128).max) revert AmountTooLarge("cover");
        if (premium > type(uint128).max) revert AmountTooLarge("premium");
        _requireTrading(marketId, m.closeAt);
        policyId = ++policyCount;
        _policies[policyId] = Policy(marketId, msg.sender, m.resolveAt, payOn, Status.Offered, address(0), m.closeAt,
            uint128(msg.value), uint128(premium));
        emit Offered(policyId, marketId, msg.sender, payOn, msg.value, premium);
    }

    /// Buy an offered policy: `msg.value` must be its premium, before the market's trading close.
    function buy(uint256 policyId) external payable {
        Policy storage p = _policy(policyId, Status.Offered);
        if (msg.value != p.premium) revert WrongPremium(p.premium, msg.value);
        _requireTrading(p.marketId, p.closeAt);
        p.status = Status.Bought;
        p.insured = msg.sender;
        emit Bought(policyId, msg.sender);
    }

    /// The insurer takes back an offer nobody bought.
    function cancel(uint256 policyId) external {
        Policy storage p = _policy(policyId, Status.Offered);
        if (msg.sender != p.insurer) revert NotInsurer(policyId, msg.sender);
        p.status = Status.Cancelled;
        owed[p.insurer] += p.cover;
        emit Cancelled(policyId);
    }

    /// Settle a bought policy from its market's final resolution (or refund both once the market is
    /// past its grace without one). Anyone may call it.
    function settle(uint256 policyId) external {
        _settle(policyId, _policy(policyId, Status.Bought));
    }

    /// The batched path: `r` is in a batch root the validator set accepted, `proof` its Merkle path.
    /// Unless the market is already final, the oracle's `claim` records `r` after all its checks
    /// (a forged proof, another market's or a forecast's data, a root signed below the market's
    /// quorum: reverted). Then the policy settles from what the oracle recorded.
    function settleWithProof(
        uint256 policyId,
        IResolutionReader.Resolution calldata r,
        bytes32[] calldata proof,
        bytes32 root
    ) external {
        Policy storage p = _policy(policyId, Status.Bought);
        if (r.marketId != p.marketId) revert WrongMarket(p.marketId, r.marketId);
        if (reader.stateOf(p.marketId) != IResolutionReader.State.Final) reader.claim(r, proof, root);
        _settle(policyId, p);
    }

    function withdraw() external nonReentrant returns (uint256 amount) {
        amount = owed[msg.sender];
        if (amount == 0) revert NothingOwed(msg.sender);
        owed[msg.sender] = 0;
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert TransferFailed(msg.sender, amount);
        emit Withdrawn(msg.sender, amount);
    }

    function _settle(uint256 policyId, Policy storage p) private {
        bytes32 marketId = p.marketId;
        uint256 cover = p.cover;
        uint256 premium = p.premium;
        uint256 toInsured;
        uint256 toInsurer;
        uint16 outcome = INVALID_OUTCOME;
        uint32 ppm;
        uint32 round;
        uint64 deadline = p.resolveAt + RESOLUTION_GRACE;
        IResolutionReader.State state = reader.stateOf(marketId);
        if (state == IResolutionReader.State.Final) {
            IResolutionReader.Final memory r = reader.finalResolution(marketId);
            if (r.finalAt < deadline) (outcome, ppm, round) = (r.outcome, r.probabilityPpm, r.round);
        } else if (block.timestamp < deadline) {
            revert IResolutionReader.NotFinal(marketId, state);
        }
        if (outcome == INVALID_OUTCOME) {
            (toInsured, toInsurer) = (premium, cover);
        } else if (outcome == p.payOn) {
            (toInsured, toInsurer) = (cover, premium);
        } else {
            (toInsured, toInsurer) = (0, cover + premium);
        }
        p.status = Status.Settled;
        owed[p.insured] += toInsured;
        owed[p.insurer] += toInsurer;
        emit Settled(policyId, marketId, outcome, ppm, round, toInsured, toInsurer);
    }

    function _policy(uint256 policyId, Status expected) private view returns (Policy storage p) {
        p = _policies[policyId];
        if (p.status == Status.None) revert UnknownPolicy(policyId);
        if (p.status != expected) revert WrongStatus(policyId, p.status);
    }

    /// Cover is written and bought only while the market's evidence cannot exist yet.
    function _requireTrading(bytes32 marketId, uint64 closeAt) private view {
        if (block.timestamp >= closeAt) revert TradingClosed(marketId, closeAt);
        // unreachable while the oracle resolves nothing before resolveAt >= closeAt; kept so that no
        // cover is written on a market under (or past) resolution whatever the oracle becomes
        IResolutionReader.State state = reader.stateOf(marketId);
        if (state != IResolutionReader.State.Open) revert MarketNotOpen(marketId, state);
    }
}
