// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IConditionalTokens} from "./IConditionalTokens.sol";
import {MarketRegistry} from "./MarketRegistry.sol";
import {QuorumOracle} from "./QuorumOracle.sol";

/// @title CTFAdapter
/// @notice The `oracle` of Conditional Tokens conditions whose answers come from
/// QuorumOracle. It prepares a condition per linked market and, once the market's
/// quorum resolution has landed, reports the payout vector: a unit vector on the
/// resolved outcome, or all ones (equal split) for an INVALID resolution.
/// Reporting is permissionless: the data it reports is already final on-chain.
contract CTFAdapter {
    IConditionalTokens public immutable ctf;
    QuorumOracle public immutable oracle;
    MarketRegistry public immutable registry;

    mapping(bytes32 => bytes32) public questionOf; // marketId => CTF questionId
    mapping(bytes32 => bool) public reported;

    event ConditionPrepared(bytes32 indexed marketId, bytes32 indexed questionId, bytes32 conditionId, uint256 slots);
    event PayoutsReported(bytes32 indexed marketId, bytes32 indexed questionId, uint256[] payouts);

    error UnregisteredMarket(bytes32 marketId);
    error AlreadyLinked(bytes32 marketId, bytes32 questionId);
    error NotLinked(bytes32 marketId);
    error AlreadyReported(bytes32 marketId);

    constructor(IConditionalTokens ctf_, QuorumOracle oracle_) {
        ctf = ctf_;
        oracle = oracle_;
        registry = oracle_.registry();
    }

    function prepare(bytes32 marketId, bytes32 questionId) external returns (bytes32 conditionId) {
        if (!registry.isRegistered(marketId)) revert UnregisteredMarket(marketId);
        if (questionOf[marketId] != bytes32(0)) revert AlreadyLinked(marketId, questionOf[marketId]);
        uint256 slots = registry.getMarket(marketId).outcomeCount;
        questionOf[marketId] = questionId;
        ctf.prepareCondition(address(this), questionId, slots);
        conditionId = ctf.getConditionId(address(this), questionId, slots);
        emit ConditionPrepared(marketId, questionId, conditionId, slots);
    }

    function payoutsFor(bytes32 marketId) public view returns (uint256[] memory payouts) {
        uint16 outcome = oracle.outcomeOf(marketId); // reverts NotResolved
        uint256 slots = registry.getMarket(marketId).outcomeCount;
        payouts = new uint256[](slots);
        if (outcome == oracle.INVALID_OUTCOME()) {
            for (uint256 i = 0; i < slots; i++) {
                payouts[i] = 1;
            }
        } else {
            payouts[outcome] = 1;
        }
    }

    function report(bytes32 marketId) external {
        bytes32 questionId = questionOf[marketId];
        if (questionId == bytes32(0)) revert NotLinked(marketId);
        if (reported[marketId]) revert AlreadyReported(marketId);
        uint256[] memory payouts = payoutsFor(marketId);
        reported[marketId] = true;
        ctf.reportPayouts(questionId, payouts);
        emit PayoutsReported(marketId, questionId, payouts);
    }
}
