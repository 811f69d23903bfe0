// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IConditionalTokens} from "./IConditionalTokens.sol";
import {MarketRegistry} from "./MarketRegistry.sol";
import {DisputeCourt} from "./DisputeCourt.sol";
import {QuorumOracle} from "./QuorumOracle.sol";

/// @title CTFAdapter
/// @notice The `oracle` of Conditional Tokens conditions whose answers come from
/// QuorumOracle. A market's creator links it to a condition once; when the market's
/// resolution is final (its dispute window passed, or its dispute settled: `DisputeCourt`),
/// anyone reports the payout vector: a unit vector on the final outcome, or all ones (equal
/// split) for an INVALID one. A proposed or disputed resolution is never reported.
///
/// The condition's CTF question id is derived from the market, never taken as given:
/// `keccak256(abi.encode(marketId, questionId))`. A condition id is
/// keccak(oracle, ctfQuestionId, slots) and the oracle is this adapter, so each market owns
/// its own conditions: another market (another creator) naming the same external question
/// id reaches a different condition and cannot squat this one. Anyone may prepare that
/// condition directly on the CTF beforehand (prepareCondition is permissionless); that
/// only does the adapter's work for it, so a prepared condition is adopted. It cannot be
/// resolved already: only this adapter reports it, and it reports linked markets only.
contract CTFAdapter {
    uint16 public constant INVALID_OUTCOME = type(uint16).max; // the oracle's and the court's marker

    IConditionalTokens public immutable ctf;
    QuorumOracle public immutable oracle;
    DisputeCourt public immutable court;
    MarketRegistry public immutable registry;

    /// Whether a linked market was reported is the CTF's own record (its payout denominator is set once,
    /// and only this adapter reaches its conditions): no flag of ours to write per report. The condition
    /// id is the CTF's function of (this adapter, the CTF question id, the slots): derived, not stored.
    struct Link {
        bytes32 questionId; // as the creator gave it (e.g. the venue's question id)
        uint16 slots; // the market's outcome count, the condition's outcome slots; zero: not linked
    }

    mapping(bytes32 => Link) private _links; // marketId => link

    event ConditionPrepared(bytes32 indexed marketId, bytes32 indexed questionId, bytes32 ctfQuestionId,
        bytes32 conditionId, uint256 slots, bool adopted);
    event PayoutsReported(bytes32 indexed marketId, bytes32 indexed conditionId, uint256[] payouts);

    error UnregisteredMarket(bytes32 marketId);
    error NotCreator(bytes32 marketId, address caller);
    error AlreadyLinked(bytes32 marketId, bytes32 conditionId);
    error NotLinked(bytes32 marketId);
    error AlreadyReported(bytes32 marketId);

    constructor(IConditionalTokens ctf_, DisputeCourt court_) {
        ctf = ctf_;
        court = court_;
        oracle = court_.oracle();
        registry = court_.registry();
        require(court_.INVALID_OUTCOME() == INVALID_OUTCOME, "INVALID_OUTCOME differs from the court's");
    }

    /// The question id this adapter uses on the CTF for `questionId` linked to `marketId`.
    function ctfQuestionIdOf(bytes32 marketId, bytes32 questionId) public pure returns (bytes32) {
        return keccak256(abi.encode(marketId, questionId));
    }

    /// Link the caller's market to the condition (this adapter, ctfQuestionIdOf(marketId,
    /// questionId), the market's outcome count): prepared here, or adopted if someone prepared it.
    function prepare(bytes32 marketId, bytes32 questionId) external returns (bytes32 conditionId) {
        if (!registry.isRegistered(marketId)) revert UnregisteredMarket(marketId);
        MarketRegistry.Market memory m = registry.getMarket(marketId);
        if (msg.sender != m.creator) revert NotCreator(marketId, msg.sender);
        Link storage link = _links[marketId];
        if (link.slots != 0) revert AlreadyLinked(marketId, _conditionId(marketId, link));
        bytes32 ctfQuestionId = ctfQuestionIdOf(marketId, questionId);
        uint256 slots = m.outcomeCount;
        conditionId = ctf.getConditionId(address(this), ctfQuestionId, slots);
        (link.questionId, link.slots) = (questionId, m.outcomeCount);
        bool adopted = ctf.getOutcomeSlotCount(conditionId) > 0;
        if (!adopted) ctf.prepareCondition(address(this), ctfQuestionId, slots);
        emit ConditionPrepared(marketId, questionId, ctfQuestionId, conditionId, slots, adopted);
    }

    /// The linked condition of a market; zero when the market is not linked.
    function conditionIdOf(bytes32 marketId) external view returns (bytes32) {
        Link storage link = _links[marketId];
        return link.slots == 0 ? bytes32(0) : _conditionId(marketId, link);
    }

    function _conditionId(bytes32 marketId, Link storage link) private view returns (bytes32) {
        return ctf.getConditionId(address(this), ctfQuestionIdOf(marketId, link.questionId), link.slots);
    }

    /// The question id the creator linked the market with; zero when not linked.
    function questionOf(bytes32 marketId) external view returns (bytes32) {
        return _links[marketId].questionId;
    }

    function isLinked(bytes32 marketId) external view returns (bool) {
        return _links[marketId].slots != 0;
    }

    function reported(bytes32 marketId) public view returns (bool) {
        Link storage link = _links[marketId];
        return link.slots != 0 && ctf.payoutDenominator(_conditionId(marketId, link)) != 0;
    }

    function payoutsFor(bytes32 marketId) public view returns (uint256[] memory payouts) {
        (uint16 outcome,) = court.finalOf(marketId); // reverts NotFinal
        uint256 slots = _links[marketId].slots;
        if (slots == 0) slots = registry.settlementOf(marketId).outcomeCount; // not linked: the market's count
        payouts = new uint256[](slots);
        if (outcome == INVALID_OUTCOME) {
            for (uint256 i = 0; i < slots; i++) {
                payouts[i] = 1;
            }
        } else {
            payouts[outcome] = 1;
        }
    }

    /// Report the market's final resolution to its condition (anyone: it is already final on-chain).
    function report(bytes32 marketId) external {
        if (!_report(marketId)) revert AlreadyReported(marketId);
    }

    /// `report` for each market, in one transaction: a market already reported (by anyone, even
    /// just before this batch) is skipped, so one front-run `report` cannot void the rest; any other
    /// failure (not linked, not final) reverts the whole batch.
    function reportBatch(bytes32[] calldata marketIds) external {
        for (uint256 i = 0; i < marketIds.length; i++) {
            _report(marketIds[i]);
        }
    }

    /// Reports the market; false if its condition was already reported.
    function _report(bytes32 marketId) private returns (bool) {
        Link storage link = _links[marketId];
        if (link.slots == 0) revert NotLinked(marketId);
        bytes32 ctfQuestionId = ctfQuestionIdOf(marketId, link.questionId);
        bytes32 conditionId = ctf.getConditionId(address(this), ctfQuestionId, link.slots);
        if (ctf.payoutDenominator(conditionId) != 0) return false;
        uint256[] memory payouts = payoutsFor(marketId);
        ctf.reportPayouts(ctfQuestionId, payouts);
        emit PayoutsReported(marketId, conditionId, payouts);
        return true;
    }
}
