// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Bitmap
/// @notice Constant-gas helpers for 256-bit provider sets.
library Bitmap {
    /// @notice Number of set bits, in constant gas (SWAR). Exact for up to 255 set bits.
    function popCount(uint256 x) internal pure returns (uint256 count) {
        unchecked {
            x = x - ((x >> 1) & 0x5555555555555555555555555555555555555555555555555555555555555555);
            x = (x & 0x3333333333333333333333333333333333333333333333333333333333333333)
                + ((x >> 2) & 0x3333333333333333333333333333333333333333333333333333333333333333);
            x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f;
            count = (x * 0x0101010101010101010101010101010101010101010101010101010101010101) >> 248;
        }
    }

    /// @notice Index of the lowest set bit of a non-zero `x`.
    function lowestBit(uint256 x) internal pure returns (uint256 index) {
        unchecked {
            uint256 isolated = x & (~x + 1);
            // log2 of a power of two by binary search
            if (isolated >> 128 != 0) { isolated >>= 128; index += 128; }
            if (isolated >> 64 != 0) { isolated >>= 64; index += 64; }
            if (isolated >> 32 != 0) { isolated >>= 32; index += 32; }
            if (isolated >> 16 != 0) { isolated >>= 16; index += 16; }
            if (isolated >> 8 != 0) { isolated >>= 8; index += 8; }
            if (isolated >> 4 != 0) { isolated >>= 4; index += 4; }
            if (isolated >> 2 != 0) { isolated >>= 2; index += 2; }
            if (isolated >> 1 != 0) { index += 1; }
        }
    }
}
