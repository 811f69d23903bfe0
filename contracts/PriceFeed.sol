// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title PriceFeed
/// @notice A daily series published on-chain (e.g. by a data provider): one value
/// per UTC day number, strictly increasing days, fixed decimals. Oracle markets
/// can name it as their data source and every validator reads the same rows.
contract PriceFeed {
    address public immutable owner;
    uint8 public immutable decimals;
    string public description;
    uint64[] private _days;
    int256[] private _values;

    event Published(uint64 indexed day, int256 value);

    error NotOwner(address caller);
    error DayNotIncreasing(uint64 day, uint64 last);

    constructor(string memory description_, uint8 decimals_) {
        owner = msg.sender;
        description = description_;
        decimals = decimals_;
    }

    function publish(uint64[] calldata days_, int256[] calldata values_) external {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        require(days_.length == values_.length, "length mismatch");
        for (uint256 i = 0; i < days_.length; i++) {
            uint256 n = _days.length;
            if (n > 0 && days_[i] <= _days[n - 1]) revert DayNotIncreasing(days_[i], _days[n - 1]);
            _days.push(days_[i]);
            _values.push(values_[i]);
            emit Published(days_[i], values_[i]);
        }
    }

    function series() external view returns (uint64[] memory, int256[] memory) {
        return (_days, _values);
    }

    function length() external view returns (uint256) {
        return _days.length;
    }
}
