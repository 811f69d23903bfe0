// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {MarketRegistry} from "./MarketRegistry.sol";
import {DisputeCourt} from "./DisputeCourt.sol";
import {QuorumOracle} from "./QuorumOracle.sol";

/// @title BinaryMarket
/// @notice A parimutuel two-outcome market in native ETH. Stakes go on an
/// outcome index (0 or 1) until the market's trading close (registered with it, before its
/// observation window); then winners split the
/// whole pot pro rata. Payouts follow the *final* resolution only (`DisputeCourt`: the market's
/// dispute window passed, or its dispute was settled), never a proposed or disputed one. An invalid
/// resolution, or nobody on the winning side, refunds every stake. A market not final
/// `RESOLUTION_GRACE` after its resolve time never locks funds: from then on every stake is
/// refundable, and finality coming later changes nothing (payouts never mix the two ways). Every
/// stake predates the resolve time (the registry keeps closeAt <= resolveAt).
contract BinaryMarket {
    QuorumOracle public immutable oracle;
    DisputeCourt public immutable court;
    MarketRegistry public immutable registry;

    /// How long after a market's resolve time its resolution has to become final.
    uint64 public constant RESOLUTION_GRACE = 30 days;

    mapping(bytes32 => uint256[2]) private _pools;
    mapping(bytes32 => mapping(address => uint256[2])) private _stakes;
    uint256 private _locked = 1;

    event Deposited(bytes32 indexed marketId, address indexed account, uint16 outcome, uint256 amount);
    event Redeemed(bytes32 indexed marketId, address indexed account, uint256 amount);

    error UnregisteredMarket(bytes32 marketId);
    error NotBinary(bytes32 marketId, uint16 outcomeCount);
    error InvalidOutcome(uint16 outcome);
    error ZeroDeposit();
    error MarketClosed(bytes32 marketId);
    error TradingClosed(bytes32 marketId);
    error NotResolved(bytes32 marketId);
    error NothingToRedeem(bytes32 marketId, address account);
    error TransferFailed(address to, uint256 amount);
    error Reentrancy();

    constructor(DisputeCourt court_) {
        court = court_;
        oracle = court_.oracle();
        registry = court_.registry();
    }

    modifier nonReentrant() {
        if (_locked != 1) revert Reentrancy();
        _locked = 2;
        _;
        _locked = 1;
    }

    function deposit(bytes32 marketId, uint16 outcome) external payable {
        if (!registry.isRegistered(marketId)) revert UnregisteredMarket(marketId);
        MarketRegistry.Market memory m = registry.getMarket(marketId);
        if (m.outcomeCount != 2) revert NotBinary(marketId, m.outcomeCount);
        if (outcome > 1) revert InvalidOutcome(outcome);
        if (msg.value == 0) revert ZeroDeposit();
        // positions close before the observation window: nobody bets once the evidence exists
        if (block.timestamp >= m.closeAt) revert TradingClosed(marketId);
        // unreachable while the oracle resolves no market before its resolveAt (>= closeAt); kept so
        // that a stake never lands on a market under resolution whatever the oracle becomes
        if (oracle.isResolved(marketId) || court.isFinal(marketId)) revert MarketClosed(marketId);
        _pools[marketId][outcome] += msg.value;
        _stakes[marketId][msg.sender][outcome] += msg.value;
        emit Deposited(marketId, msg.sender, outcome, msg.value);
    }

    function pools(bytes32 marketId) external view returns (uint256[2] memory) {
        return _pools[marketId];
    }

    function stakeOf(bytes32 marketId, address account) external view returns (uint256[2] memory) {
        return _stakes[marketId][account];
    }

    /// When stakes of a market whose resolution is not final become refundable.
    function refundableAt(bytes32 marketId) public view returns (uint64) {
        return registry.getMarket(marketId).resolveAt + RESOLUTION_GRACE;
    }

    /// True once the market's payouts are refunds because its resolution was not final in time.
    function expired(bytes32 marketId) public view returns (bool refunds) {
        (, refunds,) = _settlement(marketId);
    }

    /// One read of the court (its finality and outcome) and of the deadline: (final, refunds, outcome).
    /// Refunds once no final resolution came by the deadline (a resolution final after it changes nothing).
    function _settlement(bytes32 marketId) private view returns (bool isFinal, bool refunds, uint16 outcome) {
        uint64 finalAt;
        (isFinal, outcome, finalAt) = court.finality(marketId);
        uint64 deadline = refundableAt(marketId);
        refunds = isFinal ? finalAt >= deadline : block.timestamp >= deadline;
    }

    /// What `account` would receive from `redeem` now (0 before a final resolution or expiry).
    function payoutOf(bytes32 marketId, address account) public view returns (uint256) {
        (bool isFinal, bool refunds, uint16 outcome) = _settlement(marketId);
        return _payout(marketId, account, isFinal, refunds, outcome);
    }

    function _payout(bytes32 marketId, address account, bool isFinal, bool refunds, uint16 outcome)
        private
        view
        returns (uint256)
    {
        uint256[2] memory stake = _stakes[marketId][account];
        if (refunds) return stake[0] + stake[1];
        if (!isFinal) return 0;
        uint256[2] memory pool = _pools[marketId];
        if (outcome > 1 || pool[outcome] == 0) {
            return stake[0] + stake[1];
        }
        return (stake[outcome] * (pool[0] + pool[1])) / pool[outcome];
    }

    function redeem(bytes32 marketId) external nonReentrant returns (uint256 amount) {
        (bool isFinal, bool refunds, uint16 outcome) = _settlement(marketId);
        if (!isFinal && !refunds) revert NotResolved(marketId);
        amount = _payout(marketId, msg.sender, isFinal, refunds, outcome);
        if (amount == 0) revert NothingToRedeem(marketId, msg.sender);
        delete _stakes[marketId][msg.sender];
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert TransferFailed(msg.sender, amount);
        emit Redeemed(marketId, msg.sender, amount);
    }
}
