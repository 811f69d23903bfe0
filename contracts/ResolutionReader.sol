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
        uint32 disputeWindow;
        uint64 registeredAt;
        bytes32 ruleHash;
    }

    function isRegistered(bytes32 marketId) external view returns (bool);
    function getMarket(bytes32 marketId) external view returns (Market memory);
}

/// The `QuorumOracle` reads (and the permissionless `claim`) the reader uses; see above.
interface IQuorumOracleReads {
    struct Record {
        uint64 resolvedAt;
        uint32 epoch;
        uint16 outcome;
        uint32 round;
        uint32 probabilityPpm;
        bytes32 resolutionHash;
    }

    function registry() external view returns (IMarketRegistryReads);
    function INVALID_OUTCOME() external view returns (uint16);
    function isResolved(bytes32 marketId) external view returns (bool);
    function recordOf(bytes32 marketId) external view returns (Record memory);
    function hashResolution(IResolutionReader.Resolution calldata r) external pure returns (bytes32);
    function outcomeOf(bytes32 marketId) external view returns (uint16);
    function verifyInclusion(IResolutionReader.Resolution calldata r, bytes32[] calldata proof, bytes32 root)
        external
        view
        returns (bool);
    function claim(IResolutionReader.Resolution calldata r, bytes32[] calldata proof, bytes32 root) external;
}

/// The `DisputeCourt` reads the reader uses; see above. Its states: Unregistered, Open, Proposed,
/// Disputed, Final, Invalid (final with INVALID_OUTCOME). Its rulings: None, Upheld, Overturned,
/// TimedOut, Emergency.
interface ICourtReads {
    struct Case {
        address disputer;
        uint64 disputedAt;
        uint8 ruling;
        uint96 bond;
        uint64 settledAt;
        uint16 outcome;
    }

    function oracle() external view returns (IQuorumOracleReads);
    function stateOf(bytes32 marketId) external view returns (uint8);
    function finalOf(bytes32 marketId) external view returns (uint16 outcome, uint64 finalAt);
    function caseOf(bytes32 marketId) external view returns (Case memory);
}

/// @title ResolutionReader
/// @notice `IResolutionReader` over a deployed `QuorumOracle` and its `DisputeCourt`: reads only (plus
/// the permissionless `claim`, passed through), no state of its own. A quorum's resolution is
/// `Proposed` during its market's dispute window, `Disputed` until a ruling, then `Final` (an INVALID
/// final too: its outcome says so).
contract ResolutionReader is IResolutionReader {
    uint8 private constant UPHELD = 1;

    IQuorumOracleReads public immutable oracle;
    ICourtReads public immutable court;
    IMarketRegistryReads public immutable registry;

    constructor(ICourtReads court_) {
        court = court_;
        oracle = court_.oracle();
        registry = oracle.registry();
        // the file-level constant consumers compile against is the oracle's marker
        require(oracle.INVALID_OUTCOME() == INVALID, "INVALID_OUTCOME differs from the oracle's");
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
        uint8 s = court.stateOf(marketId);
        return s >= uint8(State.Final) ? State.Final : State(s); // the court's Invalid is final
    }

    /// The final answer and when it became final. Settled by a ruling other than "upheld" (an
    /// overturn, a timeout, an emergency): the proposal's round, the ruling's outcome, and zero for what
    /// no resolver gave it (probability, resolution hash).
    function finalResolution(bytes32 marketId) public view returns (Final memory f) {
        _requireFinal(marketId);
        f.marketId = marketId;
        (f.outcome, f.finalAt) = court.finalOf(marketId);
        if (!oracle.isResolved(marketId)) return f;
        IQuorumOracleReads.Record memory rec = oracle.recordOf(marketId);
        f.round = rec.round;
        uint8 ruling = court.caseOf(marketId).ruling;
        if (ruling == 0 || ruling == UPHELD) {
            (f.probabilityPpm, f.resolutionHash) = (rec.probabilityPpm, rec.resolutionHash);
        }
    }

    function isFinalResolution(Resolution calldata r) external view returns (bool) {
        if (stateOf(r.marketId) != State.Final) return false;
        bytes32 h = finalResolution(r.marketId).resolutionHash;
        return h != 0 && h == oracle.hashResolution(r);
    }

    function outcomeOf(bytes32 marketId) external view returns (uint16) {
        _requireFinal(marketId);
        (uint16 outcome,) = court.finalOf(marketId);
        return outcome;
    }

    function probabilityOf(bytes32 marketId) external view returns (uint32) {
        return finalResolution(marketId).probabilityPpm;
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
        State s = stateOf(marketId);
        if (s != State.Final) revert NotFinal(marketId, s);
    }
}
