// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title BLS
/// @notice BLS signatures on BLS12-381 through the EIP-2537 precompiles, in the IETF
/// proof-of-possession ciphersuite `BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_`
/// (draft-irtf-cfrg-bls-signature-05 §4.2.3): public keys in G1, signatures in G2, messages
/// hashed with RFC 9380 `BLS12381G2_XMD:SHA-256_SSWU_RO_`. This is the suite of the
/// `blspy`/`py_ecc` PopSchemeMPL the validators sign with.
///
/// Encodings are EIP-2537's: an Fp element is 64 bytes big-endian (16 zero bytes, then 48);
/// G1 = x || y (128 bytes), G2 = x.c0 || x.c1 || y.c0 || y.c1 (256 bytes); all-zero is infinity.
library BLS {
    bytes internal constant DST_SIG = "BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";
    bytes internal constant DST_POP = "BLS_POP_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";

    // The base field modulus p as a 64-byte big-endian number (two words).
    uint256 private constant P_HI = 0x1a0111ea397fe69a4b1ba7b6434bacd7;
    uint256 private constant P_LO = 0x64774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaab;
    // (p - 1) / 2: y above it sets the sign bit of a compressed point.
    uint256 private constant HALF_P_HI = 0x0d0088f51cbff34d258dd3db21a5d66b;
    uint256 private constant HALF_P_LO = 0xb23ba5c279c2895fb39869507b587b120f55ffff58a9ffffdcff7fffffffd555;
    // -G1, the negated generator of G1.
    uint256 private constant NEG_G1_X_HI = 0x17f1d3a73197d7942695638c4fa9ac0f;
    uint256 private constant NEG_G1_X_LO = 0xc3688c4f9774b905a14e3a3f171bac586c55e83ff97a1aeffb3af00adb22c6bb;
    uint256 private constant NEG_G1_Y_HI = 0x114d1d6855d545a8aa7d76c8cf2e21f2;
    uint256 private constant NEG_G1_Y_LO = 0x67816aef1db507c96655b9d5caac42364e6f38ba0ecb751bad54dcd6b939c2ca;

    uint256 internal constant G1_SIZE = 128;
    uint256 internal constant G2_SIZE = 256;

    error PrecompileFailed(uint256 precompile);
    error UnregisteredKey(uint256 index);

    /// Sums the keys named by `bitmap` (bit i: the i-th 128-byte key of `keys`) with G1ADD.
    /// Reverts on a named key that is infinity (a member who registered none).
    function aggregateKeys(bytes calldata keys, uint256 bitmap)
        internal
        view
        returns (bytes memory sum, uint256 count)
    {
        sum = new bytes(2 * G1_SIZE); // [accumulator | next key]; the accumulator starts at infinity
        uint256 n = keys.length / G1_SIZE;
        for (uint256 i = 0; i < n && (bitmap >> i) != 0; i++) {
            if ((bitmap >> i) & 1 == 0) continue;
            bool ok;
            bool zero;
            assembly {
                let buf := add(sum, 32)
                let next := add(buf, 128)
                calldatacopy(next, add(keys.offset, mul(i, 128)), 128)
                zero := iszero(or(or(mload(next), mload(add(next, 32))), or(mload(add(next, 64)), mload(add(next, 96)))))
                ok := staticcall(gas(), 0x0b, buf, 256, buf, 128)
            }
            if (zero) revert UnregisteredKey(i);
            if (!ok) revert PrecompileFailed(0x0b);
            count++;
        }
        assembly {
            mstore(sum, 128) // keep the sum only
        }
    }

    /// RFC 9380 hash_to_curve for G2: expand_message_xmd(SHA-256) to 256 bytes, four field
    /// elements reduced mod p (MODEXP with exponent 1), two MAP_FP2_TO_G2 (which clears the
    /// cofactor, so summing the two images equals clearing the sum), one G2ADD.
    function hashToG2(bytes memory message, bytes memory dst) internal view returns (bytes memory h) {
        bytes memory uniform = expandMessageXmd(message, dst);
        bytes memory buf = new bytes(2 * G2_SIZE);
        _mapToG2(uniform, 0, buf, 0);
        _mapToG2(uniform, 128, buf, 256);
        h = new bytes(G2_SIZE);
        bool ok;
        assembly {
            ok := staticcall(gas(), 0x0d, add(buf, 32), 512, add(h, 32), 256)
        }
        if (!ok) revert PrecompileFailed(0x0d);
    }

    /// expand_message_xmd with SHA-256, len_in_bytes = 256 (RFC 9380 §5.3.1).
    function expandMessageXmd(bytes memory message, bytes memory dst) internal pure returns (bytes memory uniform) {
        bytes memory dstPrime = abi.encodePacked(dst, uint8(dst.length));
        bytes32 b0 = sha256(abi.encodePacked(bytes32(0), bytes32(0), message, uint16(256), uint8(0), dstPrime));
        uniform = new bytes(256);
        bytes32 bi = sha256(abi.encodePacked(b0, uint8(1), dstPrime));
        assembly {
            mstore(add(uniform, 32), bi)
        }
        for (uint8 i = 2; i <= 8; i++) {
            bi = sha256(abi.encodePacked(b0 ^ bi, i, dstPrime));
            assembly {
                mstore(add(uniform, mul(i, 32)), bi)
            }
        }
    }

    /// Reduces uniform[off:off+64] and uniform[off+64:off+128] mod p into an Fp2 element and
    /// maps it to G2, writing 256 bytes at out[outOff:].
    function _mapToG2(bytes memory uniform, uint256 off, bytes memory out, uint256 outOff) private view {
        bool ok = true;
        assembly {
            let fp2 := mload(0x40)
            let input := add(fp2, 128)
            mstore(input, 64) // base length
            mstore(add(input, 32), 1) // exponent length
            mstore(add(input, 64), 64) // modulus length
            for { let k := 0 } lt(k, 2) { k := add(k, 1) } {
                let src := add(add(uniform, 32), add(off, mul(k, 64)))
                mstore(add(input, 96), mload(src))
                mstore(add(input, 128), mload(add(src, 32)))
                mstore8(add(input, 160), 1)
                mstore(add(input, 161), P_HI)
                mstore(add(input, 193), P_LO)
                ok := and(ok, staticcall(gas(), 0x05, input, 225, add(fp2, mul(k, 64)), 64))
            }
            ok := and(ok, staticcall(gas(), 0x11, fp2, 128, add(add(out, 32), outOff), 256))
        }
        if (!ok) revert PrecompileFailed(0x11);
    }

    /// e(publicKey, h) == e(G1, signature), as one PAIRING_CHECK of
    /// (publicKey, h) and (-G1, signature). False on any point the precompile refuses
    /// (off the curve, outside the subgroup, malformed).
    function pairingCheck(bytes memory publicKey, bytes memory h, bytes calldata signature)
        internal
        view
        returns (bool)
    {
        if (publicKey.length != G1_SIZE || h.length != G2_SIZE || signature.length != G2_SIZE) return false;
        bytes memory input = abi.encodePacked(
            publicKey, h, NEG_G1_X_HI, NEG_G1_X_LO, NEG_G1_Y_HI, NEG_G1_Y_LO, signature
        );
        uint256[1] memory result;
        bool ok;
        assembly {
            ok := staticcall(gas(), 0x0f, add(input, 32), 768, result, 32)
        }
        return ok && result[0] == 1;
    }

    /// The 48-byte compressed form of a G1 point (ZCash/IETF serialization): x with the
    /// compression flag and, when y > (p-1)/2, the sign flag. Proofs of possession sign it.
    function compressG1(bytes memory point) internal pure returns (bytes memory c) {
        uint256 xHi;
        uint256 xLo;
        uint256 yHi;
        uint256 yLo;
        assembly {
            xHi := mload(add(point, 32))
            xLo := mload(add(point, 64))
            yHi := mload(add(point, 96))
            yLo := mload(add(point, 128))
        }
        bool larger = yHi > HALF_P_HI || (yHi == HALF_P_HI && yLo > HALF_P_LO);
        c = new bytes(48);
        assembly {
            mstore(add(c, 32), shl(128, xHi))
            mstore(add(c, 48), xLo)
        }
        c[0] = c[0] | (larger ? bytes1(0xa0) : bytes1(0x80));
    }

    function isInfinity(bytes calldata point) internal pure returns (bool zero) {
        zero = true;
        for (uint256 i = 0; i < point.length; i += 32) {
            if (bytes32(point[i:i + 32]) != bytes32(0)) return false;
        }
    }
}
