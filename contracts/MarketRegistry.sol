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

contract MarketRegistry {
    /// `modelId` is the market's resolver: the registered program that turns post-event evidence
    /// into the outcome. `forecasterId` is the model whose proven forecasts the market posts during
    /// its life (zero: none). Positions close at `closeAt`, before any evidence exists.
    struct Market {
        bytes32 specHash;
        bytes32 modelId;
        bytes32 forecasterId;
        uint64 closeAt;
        uint64 resolveAt;
        uint16 outcomeCount;
        uint16 quorum;
        address creator;
    }

    bytes32 public constant MARKET_ID_DOMAIN = keccak256("ai-oracle/market/v3");

    mapping(bytes32 => Market) private _markets;
    uint256 public marketCount;
    /// The oracle whose validator set must be able to meet a market's quorum (bound once).
    IValidatorSet public oracle;
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
        address indexed creator
    );

    error AlreadyRegistered(bytes32 marketId);
    error InvalidOutcomeCount(uint16 outcomeCount);
    error InvalidQuorum(uint16 quorum);
    error CloseAfterResolve(uint64 closeAt, uint64 resolveAt);
    error EmptyField(string field);
    error UnknownMarket(bytes32 marketId);
    error OracleBinding(address caller);

    constructor() {
        _deployer = msg.sender;
    }

    /// Once, by the deployer, before any market: the oracle is deployed after the registry.
    function bindOracle(IValidatorSet oracle_) external {
        if (msg.sender != _deployer || address(oracle) != address(0)) revert OracleBinding(msg.sender);
        oracle = oracle_;
    }

    function marketIdOf(
        bytes32 specHash,
        bytes32 modelId,
        bytes32 forecasterId,
        uint64 closeAt,
        uint64 resolveAt,
        uint16 outcomeCount,
        uint16 quorum
    ) public pure returns (bytes32) {
        return keccak256(
            abi.encode(MARKET_ID_DOMAIN, specHash, modelId, forecasterId, closeAt, resolveAt, outcomeCount, quorum)
        );
    }

    function register(
        bytes32 specHash,
        bytes32 modelId,
        bytes32 forecasterId,
        uint64 closeAt,
        uint64 resolveAt,
        uint16 outcomeCount,
        uint16 quorum
    ) external returns (bytes32 marketId) {
        if (specHash == bytes32(0)) revert EmptyField("specHash");
        if (modelId == bytes32(0)) revert EmptyField("modelId");
        if (closeAt > resolveAt) revert CloseAfterResolve(closeAt, resolveAt);
        if (outcomeCount < 2 || outcomeCount > 256) revert InvalidOutcomeCount(outcomeCount);
        if (address(oracle) == address(0)) revert OracleBinding(address(0));
        // a quorum above the set's size could never be met: the market could never resolve
        if (quorum == 0 || quorum > oracle.validators().length) revert InvalidQuorum(quorum);
        marketId = marketIdOf(specHash, modelId, forecasterId, closeAt, resolveAt, outcomeCount, quorum);
        if (_markets[marketId].creator != address(0)) revert AlreadyRegistered(marketId);
        _markets[marketId] =
            Market(specHash, modelId, forecasterId, closeAt, resolveAt, outcomeCount, quorum, msg.sender);
        unchecked {
            marketCount += 1;
        }
        emit MarketRegistered(
            marketId, specHash, modelId, forecasterId, closeAt, resolveAt, outcomeCount, quorum, msg.sender
        );
    }

    function isRegistered(bytes32 marketId) external view returns (bool) {
        return _markets[marketId].creator != address(0);
    }

    function getMarket(bytes32 marketId) external view returns (Market memory m) {
        m = _markets[marketId];
        if (m.creator == address(0)) revert UnknownMarket(marketId);
    }
}
