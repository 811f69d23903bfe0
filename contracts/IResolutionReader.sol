// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

// The outcome index of an INVALID resolution (no answer by the market's rules): a consumer refunds.
uint16 constant INVALID_OUTCOME = type(uint16).max;

/// @title IResolutionReader
/// @notice What a contract that acts on the oracle's answers compiles against: a market's state,
/// its final outcome, probability and round, and the batched path (a resolution proven by a Merkle
/// proof against a batch root the validator set accepted). `ResolutionReader` implements it over a
/// deployed `QuorumOracle`.
///
/// Rules for a consumer:
/// - Act on `State.Final` only. Every other state means "not yet" (or "no such market").
/// - A final outcome may be `INVALID_OUTCOME`: the market has no answer by its rules; refund.
/// - Forecast rounds (a market's proven probabilities before its event) never appear here: they are
///   signed as another EIP-712 type and never make a market final.
/// - On the batched path, pay only after `claim` succeeded (or the market is already final):
///   `verifyInclusion` proves membership in an accepted root, not that the resolution is valid for
///   its market (resolver, resolve time, the market's own quorum, its ZK requirement).
interface IResolutionReader {
    /// A market's place in the oracle's lifecycle. Treat every state but `Final` as "not yet".
    enum State {
        Unregistered, // the registry has no such market
        Open, // registered, no resolution recorded yet (forecast rounds may have been posted)
        Proposed, // a quorum's resolution, inside the market's dispute window: may still change
        Disputed, // disputed, waiting for a ruling (proof, larger quorum, arbiter, or timeout)
        Final // final: outcome, probability and round are settled (the outcome may be INVALID)
    }

    /// Same fields, order and EIP-712 struct hash as `QuorumOracle.Resolution`: a batch leaf is the
    /// struct hash of one of these.
    struct Resolution {
        bytes32 marketId;
        uint32 round;
        uint16 outcome; // index into the spec's outcomes, or INVALID_OUTCOME
        uint32 probabilityPpm; // the resolver's probability of `outcome`, parts per million
        bytes32 modelId; // the market's resolver
        bytes32 inputsHash;
        bytes32 proofHash;
    }

    /// A final market's answer. `resolutionHash` is the EIP-712 struct hash of the final `Resolution`
    /// (the quorum's, recorded by the oracle and not overturned); zero, with a zero probability, when a
    /// ruling replaced the quorum's answer (an overturn, a timeout, an emergency). The oracle keeps only
    /// this hash of the resolution's resolver, inputs and proof hashes: the whole resolution is in its
    /// `Resolved` event, and `isFinalResolution` checks one against it.
    struct Final {
        bytes32 marketId;
        uint32 round; // the proposal's round (zero if none was recorded)
        uint16 outcome; // index into the spec's outcomes, or INVALID_OUTCOME
        uint32 probabilityPpm; // the resolver's probability of `outcome`, parts per million
        bytes32 resolutionHash;
        uint64 finalAt;
    }

    /// The parts of a registered market a consumer schedules by.
    struct Market {
        bytes32 specHash; // keccak of the canonical spec (question, sources, rule) in the artifact store
        uint64 closeAt; // positions should close here: the evidence does not exist yet
        uint64 resolveAt; // the oracle resolves no earlier
        uint16 outcomeCount;
    }

    error UnregisteredMarket(bytes32 marketId);
    error NotFinal(bytes32 marketId, State state);

    /// The oracle's marker for an INVALID outcome (equal to the file-level `INVALID_OUTCOME`).
    function invalidOutcome() external pure returns (uint16);

    /// Reverts `UnregisteredMarket` for an id the registry does not know.
    function marketOf(bytes32 marketId) external view returns (Market memory);

    function stateOf(bytes32 marketId) external view returns (State);

    /// The final answer and when it became final; reverts `NotFinal` in any other state.
    function finalResolution(bytes32 marketId) external view returns (Final memory);

    /// True iff `r` is its market's final resolution (its struct hash is the final one): for a consumer
    /// that needs the resolver, inputs or proof hash of the answer it acts on. False in any other state.
    function isFinalResolution(Resolution calldata r) external view returns (bool);

    /// The final outcome (maybe `INVALID_OUTCOME`); reverts `NotFinal` in any other state.
    function outcomeOf(bytes32 marketId) external view returns (uint16);

    /// The final resolution's probability (ppm); reverts `NotFinal` in any other state.
    function probabilityOf(bytes32 marketId) external view returns (uint32);

    /// True iff `root` is accepted by the current validator set and `proof` folds `r`'s struct hash
    /// up to it (sorted-pair keccak). Membership only: never pay on it, `claim` first.
    function verifyInclusion(Resolution calldata r, bytes32[] calldata proof, bytes32 root)
        external
        view
        returns (bool);

    /// Makes `r` its market's final resolution from an accepted batch root, after every check the
    /// oracle makes on any settlement; reverts otherwise (unknown or superseded root, not in the
    /// batch, already resolved, wrong resolver, too early, root signed by fewer than the market's
    /// quorum, market requires the ZK path). Anyone may call it.
    function claim(Resolution calldata r, bytes32[] calldata proof, bytes32 root) external;
}
