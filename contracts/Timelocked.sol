// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Timelocked
/// @notice The one governance delay: every change the owner queues (the staking contract's and the
/// dispute court's parameters, the court's pause and emergency resolutions) becomes executable
/// `GOVERNANCE_DELAY` after it was queued, in public, and not before.
abstract contract Timelocked {
    uint64 public constant GOVERNANCE_DELAY = 2 days;

    error NothingQueued();
    error NotDue(uint64 executableAt);

    /// When something queued now may be executed.
    function _executableAt() internal view returns (uint64) {
        return uint64(block.timestamp) + GOVERNANCE_DELAY;
    }

    /// Reverts unless something is queued (`executableAt` != 0) and its time has come.
    function _requireDue(uint64 executableAt) internal view {
        if (executableAt == 0) revert NothingQueued();
        if (block.timestamp < executableAt) revert NotDue(executableAt);
    }
}
