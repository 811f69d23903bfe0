// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IConditionalTokens} from "./IConditionalTokens.sol";

/// @title ConditionalTokensLite
/// @notice A test double with Gnosis Conditional Tokens' oracle-facing semantics
/// (condition ids, prepareCondition, reportPayouts keyed by msg.sender, payout
/// numerators / denominator) and a minimal position model: native-ETH collateral
/// split into one position per outcome slot, redeemed against the reported payouts.
/// Not ERC-1155: enough to prove an adapter works against the real interface.
contract ConditionalTokensLite is IConditionalTokens {
    mapping(bytes32 => uint256[]) private _numerators;
    mapping(bytes32 => uint256) public payoutDenominator;
    mapping(bytes32 => mapping(address => mapping(uint256 => uint256))) public balanceOf;
    mapping(bytes32 => uint256) public collateral;

    event ConditionPreparation(bytes32 indexed conditionId, address indexed oracle, bytes32 indexed questionId,
        uint256 outcomeSlotCount);
    event ConditionResolution(bytes32 indexed conditionId, address indexed oracle, bytes32 indexed questionId,
        uint256 outcomeSlotCount, uint256[] payoutNumerators);
    event PositionSplit(address indexed stakeholder, bytes32 indexed conditionId, uint256 amount);
    event PayoutRedemption(address indexed redeemer, bytes32 indexed conditionId, uint256 payout);

    function getConditionId(address oracle, bytes32 questionId, uint256 outcomeSlotCount)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encodePacked(oracle, questionId, outcomeSlotCount));
    }

    function getOutcomeSlotCount(bytes32 conditionId) external view returns (uint256) {
        return _numerators[conditionId].length;
    }

    function payoutNumerators(bytes32 conditionId, uint256 index) external view returns (uint256) {
        return _numerators[conditionId][index];
    }

    function prepareCondition(address oracle, bytes32 questionId, uint256 outcomeSlotCount) external {
        require(outcomeSlotCount > 1 && outcomeSlotCount <= 256, "invalid outcome slot count");
        bytes32 conditionId = getConditionId(oracle, questionId, outcomeSlotCount);
        require(_numerators[conditionId].length == 0, "condition already prepared");
        _numerators[conditionId] = new uint256[](outcomeSlotCount);
        emit ConditionPreparation(conditionId, oracle, questionId, outcomeSlotCount);
    }

    function reportPayouts(bytes32 questionId, uint256[] calldata payouts) external {
        uint256 slots = payouts.length;
        require(slots > 1, "there should be more than one outcome slot");
        bytes32 conditionId = getConditionId(msg.sender, questionId, slots); // only the oracle reaches its condition
        require(_numerators[conditionId].length == slots, "condition not prepared or found");
        require(payoutDenominator[conditionId] == 0, "payout denominator already set");
        uint256 den = 0;
        for (uint256 i = 0; i < slots; i++) {
            den += payouts[i];
            _numerators[conditionId][i] = payouts[i];
        }
        require(den > 0, "payout is all zeroes");
        payoutDenominator[conditionId] = den;
        emit ConditionResolution(conditionId, msg.sender, questionId, slots, _numerators[conditionId]);
    }

    /// Lock `msg.value` of collateral; receive that many units of every outcome's position.
    function splitPosition(bytes32 conditionId) external payable {
        uint256 slots = _numerators[conditionId].length;
        require(slots > 0, "condition not prepared yet");
        require(payoutDenominator[conditionId] == 0, "condition already resolved");
        for (uint256 i = 0; i < slots; i++) {
            balanceOf[conditionId][msg.sender][i] += msg.value;
        }
        collateral[conditionId] += msg.value;
        emit PositionSplit(msg.sender, conditionId, msg.value);
    }

    function transferPosition(bytes32 conditionId, address to, uint256 index, uint256 amount) external {
        balanceOf[conditionId][msg.sender][index] -= amount;
        balanceOf[conditionId][to][index] += amount;
    }

    function redeemPositions(bytes32 conditionId) external returns (uint256 payout) {
        uint256 den = payoutDenominator[conditionId];
        require(den > 0, "result for condition not received yet");
        uint256 slots = _numerators[conditionId].length;
        for (uint256 i = 0; i < slots; i++) {
            uint256 amount = balanceOf[conditionId][msg.sender][i];
            if (amount > 0) {
                payout += (amount * _numerators[conditionId][i]) / den;
                balanceOf[conditionId][msg.sender][i] = 0;
            }
        }
        collateral[conditionId] -= payout;
        (bool ok,) = msg.sender.call{value: payout}("");
        require(ok, "transfer failed");
        emit PayoutRedemption(msg.sender, conditionId, payout);
    }
}
