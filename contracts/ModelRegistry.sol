// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// The function ezkl's generated Halo2 verifier exposes.
interface IHalo2Verifier {
    function verifyProof(bytes calldata proof, uint256[] calldata instances) external returns (bool);
}

/// @title ModelRegistry
/// @notice Model id (keccak of its vk and settings) -> its deployed ezkl verifier, the vk's
/// hash, and how many public instances are inputs. Registered by the oracle's operator.
contract ModelRegistry {
    struct Model {
        address verifier;
        bytes32 vkHash;
        uint32 inputCount;
    }

    address public immutable owner;
    mapping(bytes32 => Model) private _models;

    event ModelRegistered(bytes32 indexed modelId, address verifier, bytes32 vkHash, uint32 inputCount);

    error NotOwner(address caller);
    error AlreadyRegistered(bytes32 modelId);
    error UnknownModel(bytes32 modelId);
    error NoCode(address verifier);

    constructor() {
        owner = msg.sender;
    }

    function register(bytes32 modelId, address verifier, bytes32 vkHash, uint32 inputCount) external {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        if (_models[modelId].verifier != address(0)) revert AlreadyRegistered(modelId);
        if (verifier.code.length == 0) revert NoCode(verifier);
        _models[modelId] = Model(verifier, vkHash, inputCount);
        emit ModelRegistered(modelId, verifier, vkHash, inputCount);
    }

    function modelOf(bytes32 modelId) external view returns (Model memory m) {
        m = _models[modelId];
        if (m.verifier == address(0)) revert UnknownModel(modelId);
    }
}
