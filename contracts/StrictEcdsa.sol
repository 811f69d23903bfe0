// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title StrictEcdsa
/// @notice The one way a signature is read, by the oracle when it counts a quorum and by the staking
/// contract when it takes a bond: 65 bytes (r, s, v), low s (the high-s twin of a signature is
/// refused, not counted again), v in {27, 28}, and never the zero address.
abstract contract StrictEcdsa {
    // secp256k1n / 2: signatures with a larger s are malleable twins.
    uint256 private constant HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;

    error MalformedSignature(uint256 index);

    /// The signer of digest `d`; `index` names the signature in the error.
    function _recover(bytes32 d, bytes calldata sig, uint256 index) internal pure returns (address signer) {
        if (sig.length != 65) revert MalformedSignature(index);
        bytes32 r = bytes32(sig[0:32]);
        bytes32 s = bytes32(sig[32:64]);
        uint8 v = uint8(sig[64]);
        if (uint256(s) > HALF_N || (v != 27 && v != 28)) revert MalformedSignature(index);
        signer = ecrecover(d, v, r, s);
        if (signer == address(0)) revert MalformedSignature(index);
    }
}
