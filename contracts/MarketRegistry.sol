// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title MarketRegistry
/// @notice Records AI-resolved markets. The full market spec lives in a
/// content-addressed store; on-chain we keep its hash and what settlement needs.
/// A market id is derived from the spec hash and every on-chain parameter, so nobody
/// can register one spec under an id of their choosing, nor squat a spec's id with other
/// parameters (they make another market).
interface IValidatorSet {
    function validators() external view returns (address[] memory);
}

/// Where a market's resolution fee waits until its resolution is final (`DisputeCourt`).
interface IFeeEscrow {
    function escrowFee(bytes32 marketId, address creator) external payable;
}

contract MarketRegistry {
    /// `modelId` is the market's resolver: the registered program that turns post-event evidence
    /// into the outcome. `forecasterId` is the model whose proven forecasts the market posts during
    /// its life (zero: none). Positions close at `closeAt`, before any evidence exists. A quorum's
    /// resolution is only proposed until `disputeWindow` seconds have passed without a dispute (0: final
    /// as it lands). `ruleHash`: keccak256(abi.encode(rule)) of the `QuorumOracle.ZkRule` its resolver's
    /// proven output is read by (zero: none), committed here so that a dispute can be settled by the
    /// proof under the rule the market was registered with, and no other.
    struct Market {
        bytes32 specHash;
        bytes32 modelId;
        bytes32 forecasterId;
        uint64 closeAt;
        uint64 resolveAt;
        uint16 outcomeCount;
        uint16 quorum;
        address creator;
        uint32 disputeWindow;
        /// When the market was registered (its block's timestamp; in `creator`'s slot): validators refuse
        /// a market registered after its observation window opened, from this one read.
        uint64 registeredAt;
        bytes32 ruleHash;
    }

    /// What settling a market reads (`settlementOf`): two storage slots of the market, not seven.
    struct Settlement {
        bytes32 modelId;
        uint64 resolveAt;
        uint16 outcomeCount;
        uint16 quorum;
    }

    bytes32 public constant MARKET_ID_DOMAIN = keccak256("ai-oracle/market/v4");
    /// The longest dispute window a market may ask for: consumers never wait longer than this (plus a
    /// dispute's ruling) for a proposed resolution to become final.
    uint32 public constant MAX_DISPUTE_WINDOW = 7 days;

    mapping(bytes32 => Market) private _markets;
    uint256 public marketCount;
    /// The oracle whose validator set must be able to meet a market's quorum (bound once).
    IValidatorSet public oracle;
    /// The dispute court: it holds each market's fee (bound once, with the oracle).
    IFeeEscrow public court;
    address private immutable _deployer;

    event MarketRegistered(
        bytes32 indexed marketId,
        bytes32 specHash,
        bytes32 indexed modelId,
        bytes32 forecasterId,
        uint64 closeAt,
        uint64 resolveAt,
        uint16 outcomeCount,
        uint16 quorum,
        address indexed creator,
        uint32 disputeWindow,
        bytes32 ruleHash,
        uint256 fee
    );

    error AlreadyRegistered(bytes32 marketId);
    error InvalidOutcomeCount(uint16 outcomeCount);
    error InvalidQuorum(uint16 quorum);
    error CloseAfterResolve(uint64 closeAt, uint64 resolveAt);
    error EmptyField(string field);
    error UnknownMarket(bytes32 marketId);
    error OracleBinding(address caller);
    error DisputeWindowTooLong(uint32 disputeWindow, uint32 maximum);

    constructor() {
        _deployer = msg.sender;
    }

    /// Once, by the deployer, before any market: the oracle and its court are deployed after the registry.
    function bindOracle(IValidatorSet oracle_, IFeeEscrow court_) external {
        if (msg.sender != _deployer || address(oracle) != address(0)) revert OracleBinding(msg.sender);
        oracle = oracle_;
        court = court_;
    }

    function marketIdOf(
        bytes32 specHash,
        bytes32 modelId,
        bytes32 forecasterId,
        uint64 closeAt,
        uint64 resolveAt,
        uint16 outcomeCount,
        uint16 quorum,
        uint32 disputeWindow,
        bytes32 ruleHash
    ) public pure returns (bytes32) {
        return keccak256(
            abi.encode(
                MARKET_ID_DOMAIN,
                specHash,
                modelId,
                forecasterId,
                closeAt,
                resolveAt,
                outcomeCount,
                quorum,
                disputeWindow,
                ruleHash
            )
        );
    }

    function register(
        bytes32 specHash,
        bytes32 modelId,
        bytes32 forecasterId,
        uint64 closeAt,
        uint64 resolveAt,
        uint16 outcomeCount,
        uint16 quorum,
        uint32 disputeWindow,
        bytes32 ruleHash
    ) external payable returns (bytes32 marketId) {
        if (specHash == bytes32(0)) revert EmptyField("specHash");
        if (modelId == bytes32(0)) revert EmptyField("modelId");
        if (closeAt > resolveAt) revert CloseAfterResolve(closeAt, resolveAt);
        if (outcomeCount < 2 || outcomeCount > 256) revert InvalidOutcomeCount(outcomeCount);
        if (disputeWindow > MAX_DISPUTE_WINDOW) revert DisputeWindowTooLong(disputeWindow, MAX_DISPUTE_WINDOW);
        if (address(oracle) == address(0)) revert OracleBinding(address(0));
        // a quorum above the set's size could never be met: the market could never resolve
        if (quorum == 0 || quorum > oracle.validators().length) revert InvalidQuorum(quorum);
        marketId =
            marketIdOf(specHash, modelId, forecasterId, closeAt, resolveAt, outcomeCount, quorum, disputeWindow, ruleHash);
        if (_markets[marketId].creator != address(0)) revert AlreadyRegistered(marketId);
        _markets[marketId] = Market(
            specHash, modelId, forecasterId, closeAt, resolveAt, outcomeCount, quorum, msg.sender, disputeWindow,
            uint64(block.timestamp), ruleHash
        );
        unchecked {
            marketCount += 1;
        }
        // the resolution fee (the court refuses less than the network's minimum) waits in the court
        court.escrowFee{value: msg.value}(marketId, msg.sender);
        emit MarketRegistered(
            marketId, specHash, modelId, forecasterId, closeAt, resolveAt, outcomeCount, quorum, msg.sender,
            disputeWindow, ruleHash, msg.value
        );
    }

    function isRegistered(bytes32 marketId) external view returns (bool) {
        return _markets[marketId].creator != address(0);
    }

    /// The fields settlement checks; all zero for a market the registry does not know (a registered
    /// market's `modelId` is never zero).
    function settlementOf(bytes32 marketId) external view returns (Settlement memory s) {
        Market storage m = _markets[marketId];
        s = Settlement(m.modelId, m.resolveAt, m.outcomeCount, m.quorum);
    }

    /// A market's dispute window (zero for an unknown market: check `isRegistered`).
    function disputeWindowOf(bytes32 marketId) external view returns (uint32) {
        return _markets[marketId].disputeWindow;
    }

    function getMarket(bytes32 marketId) external view returns (Market memory m) {
        m = _markets[marketId];
        if (m.creator == address(0)) revert UnknownMarket(marketId);
    }
}
