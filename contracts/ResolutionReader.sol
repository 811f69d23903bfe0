// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {INVALID_OUTCOME as INVALID, IResolutionReader} from "./IResolutionReader.sol";

/// The `MarketRegistry` reads the reader uses (same selectors and return layouts). Declared here, not
/// imported: this artifact's bytecode (its metadata hash) then does not change with every edit of the
/// registry's or the oracle's source; the tests drive every call on both chains against the real ones.
interface IMarketRegistryReads {
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

    function isRegistered(bytes32 marketId) external view returns (bool);
    function getMarket(bytes32 marketId) external view returns (Market memory);
}

/// The `QuorumOracle` reads (and the permissionless `claim`) the reader uses; see above.
interface IQuorumOracleReads {
    struct Record {
        IResolutionReader.Resolution resolution;
        uint64 resolvedAt;
        address submitter;
    }

    function registry() external view returns (IMarketRegistryReads);
    function INVALID_OUTCOME() external view returns (uint16);
    function isResolved(bytes32 marketId) external view returns (bool);
    function resolutionOf(bytes32 marketId) external view returns (Record memory);
    function outcomeOf(bytes32 marketId) external view returns (uint16);
    function verifyInclusion(IResolutionReader.Resolution calldata r, bytes32[] calldata proof, bytes32 root)
        external
        view
        returns (bool);
    function claim(IResolutionReader.Resolution calldata r, bytes32[] calldata proof, bytes32 root) external;
}

/// @title ResolutionReader
/// @notice `IResolutionReader` over a deployed `QuorumOracle`: reads only (plus the permissionless
/// `claim`, passed through), no state of its own. Maps what the oracle stores today: a recorded
/// resolution is `Final`; a registered market without one is `Open`. When the oracle grows a
/// dispute window, this mapping is the one place that changes.
contract ResolutionReader is IResolutionReader {
    IQuorumOracleReads public immutable oracle;
    IMarketRegistryReads public immutable registry;

    constructor(IQuorumOracleReads oracle_) {
        oracle = oracle_;
        registry = oracle_.registry();
        // the file-level constant consumers compile against is the oracle's marker
        require(oracle_.INVALID_OUTCOME() == INVALID, "INVALID_OUTCOME differs from the oracle's");
    }

    function invalidOutcome() external pure returns (uint16) {
        return INVALID;
    }

    function marketOf(bytes32 marketId) external view returns (Market memory) {
        if (!registry.isRegistered(marketId)) revert UnregisteredMarket(marketId);
        IMarketRegistryReads.Market memory m = registry.getMarket(marketId);
        return Market(m.specHash, m.closeAt, m.resolveAt, m.outcomeCount);
    }

    function stateOf(bytes32 marketId) public view returns (State) {
        if (oracle.isResolved(marketId)) return State.Final;
        return registry.isRegistered(marketId) ? State.Open : State.Unregistered;
    }

    function finalResolution(bytes32 marketId) external view returns (Resolution memory r, uint64 finalAt) {
        _requireFinal(marketId);
        IQuorumOracleReads.Record memory rec = oracle.resolutionOf(marketId);
        (r, finalAt) = (rec.resolution, rec.resolvedAt);
    }

    function outcomeOf(bytes32 marketId) external view returns (uint16) {
        _requireFinal(marketId);
        return oracle.outcomeOf(marketId);
    }

    function probabilityOf(bytes32 marketId) external view returns (uint32) {
        _requireFinal(marketId);
        return oracle.resolutionOf(marketId).resolution.probabilityPpm;
    }

    function verifyInclusion(Resolution calldata r, bytes32[] calldata proof, bytes32 root)
        external
        view
        returns (bool)
    {
        return oracle.verifyInclusion(r, proof, root);
    }

    function claim(Resolution calldata r, bytes32[] calldata proof, bytes32 root) external {
        oracle.claim(r, proof, root);
    }

    function _requireFinal(bytes32 marketId) private view {
        if (!oracle.isResolved(marketId)) revert NotFinal(marketId, stateOf(marketId));
    }
}
