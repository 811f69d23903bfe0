// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title MarketRegistry
/// @notice Records AI-resolved markets. The full market spec lives in a
/// content-addressed store; on-chain we keep its hash and what settlement needs.
/// A market id is derived from the spec hash, so nobody can register one spec
/// under an id of their choosing.
contract MarketRegistry {
    struct Market {
        bytes32 specHash;
        bytes32 modelId;
        uint64 resolveAt;
        uint16 outcomeCount;
        uint16 quorum;
        address creator;
    }

    bytes32 public constant MARKET_ID_DOMAIN = keccak256("ai-oracle/market/v1");

    mapping(bytes32 => Market) private _markets;
    uint256 public marketCount;

    event MarketRegistered(
        bytes32 indexed marketId,
        bytes32 specHash,
        bytes32 indexed modelId,
        uint64 resolveAt,
        uint16 outcomeCount,
        uint16 quorum,
        address indexed creator
    );

    error AlreadyRegistered(bytes32 marketId);
    error InvalidOutcomeCount(uint16 outcomeCount);
    error InvalidQuorum(uint16 quorum);
    error EmptyField(string field);
    error UnknownMarket(bytes32 marketId);

    function marketIdOf(bytes32 specHash) public pure returns (bytes32) {
        return keccak256(abi.encodePacked(MARKET_ID_DOMAIN, specHash));
    }

    function register(
        bytes32 specHash,
        bytes32 modelId,
        uint64 resolveAt,
        uint16 outcomeCount,
        uint16 quorum
    ) external returns (bytes32 marketId) {
        if (specHash == bytes32(0)) revert EmptyField("specHash");
        if (modelId == bytes32(0)) revert EmptyField("modelId");
        if (outcomeCount < 2 || outcomeCount > 256) revert InvalidOutcomeCount(outcomeCount);
        if (quorum == 0) revert InvalidQuorum(quorum);
        marketId = marketIdOf(specHash);
        if (_markets[marketId].creator != address(0)) revert AlreadyRegistered(marketId);
        _markets[marketId] = Market(specHash, modelId, resolveAt, outcomeCount, quorum, msg.sender);
        unchecked {
            marketCount += 1;
        }
        emit MarketRegistered(marketId, specHash, modelId, resolveAt, outcomeCount, quorum, msg.sender);
    }

    function isRegistered(bytes32 marketId) external view returns (bool) {
        return _markets[marketId].creator != address(0);
    }

    function getMarket(bytes32 marketId) external view returns (Market memory m) {
        m = _markets[marketId];
        if (m.creator == address(0)) revert UnknownMarket(marketId);
    }
}
