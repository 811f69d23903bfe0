// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {MarketRegistry} from "./MarketRegistry.sol";
import {IHalo2Verifier, ModelRegistry} from "./ModelRegistry.sol";
import {BLS} from "./BLS.sol";
import {StrictEcdsa} from "./StrictEcdsa.sol";
import {TwoStepOwnable} from "./TwoStepOwnable.sol";

/// @title QuorumOracle
/// @notice Records a market's resolution once at least t registered validators
/// have signed the identical EIP-712 `Resolution`. Validators check the
/// zero-knowledge proof off-chain; this contract checks who vouched for it.
contract QuorumOracle is TwoStepOwnable, StrictEcdsa {
    struct Resolution {
        bytes32 marketId;
        uint32 round;
        uint16 outcome;
        uint32 probabilityPpm;
        bytes32 modelId;
        bytes32 inputsHash;
        bytes32 proofHash;
    }

    /// A forecast round's result: its own EIP-712 type, so that no forecast signature is ever a
    /// signature over a `Resolution` (which settles the market), whatever path it is presented to.
    struct Forecast {
        bytes32 marketId;
        uint32 round;
        uint32 probabilityPpm;
        bytes32 modelId;
        bytes32 inputsHash;
        bytes32 proofHash;
    }

    /// What the oracle keeps of a recorded resolution: one slot of what contracts read on-chain
    /// (`resolvedAt`, `epoch`: the `validatorEpoch` it was recorded under, the dispute court pays a fee
    /// share only to members of that set; the outcome, round and probability) and the resolution's
    /// EIP-712 struct hash (`hashResolution`). The whole resolution is in the `Resolved` event; a
    /// contract that needs its other fields (model, inputs, proof hashes) takes it in calldata and
    /// checks it here (`checkedRecord`). Two storage slots per market instead of six.
    struct Record {
        uint64 resolvedAt;
        uint32 epoch;
        uint16 outcome;
        uint32 round;
        uint32 probabilityPpm;
        bytes32 resolutionHash;
    }

    /// A market's storage: its record's fields and whether its creator requires the ZK path, in one
    /// slot (settling reads both at once), then the struct hash.
    struct Stored {
        uint64 resolvedAt;
        uint32 epoch;
        uint16 outcome;
        uint32 round;
        uint32 probabilityPpm;
        bool zkRequired;
        bytes32 resolutionHash;
    }

    /// A threshold rule over the proof's first output, as integers of the circuit's fixed point
    /// (q = output x 2^scale, a signed field element): q >= aboveFrom -> `above`; else
    /// q >= invalidFrom -> INVALID (the rule's band of indecision); else `below`. Computed off-chain
    /// from the market's spec and model, and checked against them by every validator.
    /// `pinnedInput` < NOT_PINNED names the proof's input instance that must equal `pinnedValue`:
    /// the market's own constant (its threshold or level, a field element), so that a quorum cannot
    /// settle with a proof over another constant. Shapes whose inputs are all observations pin none.
    struct ZkRule {
        int256 invalidFrom;
        int256 aboveFrom;
        uint16 above;
        uint16 below;
        uint16 pinnedInput;
        uint256 pinnedValue;
    }

    uint16 public constant NOT_PINNED = type(uint16).max;

    /// Outcome index meaning "invalid": the market pays back every stake.
    uint16 public constant INVALID_OUTCOME = type(uint16).max;

    bytes32 public constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 public constant RESOLUTION_TYPEHASH = keccak256(
        "Resolution(bytes32 marketId,uint32 round,uint16 outcome,uint32 probabilityPpm,bytes32 modelId,bytes32 inputsHash,bytes32 proofHash)"
    );
    bytes32 public constant FORECAST_TYPEHASH = keccak256(
        "Forecast(bytes32 marketId,uint32 round,uint32 probabilityPpm,bytes32 modelId,bytes32 inputsHash,bytes32 proofHash)"
    );
    bytes32 public constant BATCH_TYPEHASH = keccak256("ResolutionBatch(bytes32 root,uint32 count)");
    string public constant NAME = "AIOracle QuorumOracle";
    string public constant VERSION = "1";

    /// Every validator-set change waits this long after it is proposed, in public.
    uint64 public constant VALIDATOR_SET_DELAY = 2 days;
    /// A member's key rotation does not void aggregates made under the key set it replaced, for this
    /// long and within the same validator epoch: rotating cannot stall batches in flight.
    uint64 public constant BLS_KEY_GRACE = 1 hours;

    MarketRegistry public immutable registry;
    ModelRegistry public immutable models;
    address[] private _proposedValidators;
    uint256 public proposedThreshold;
    /// When the proposed set may be executed (0: none proposed).
    uint64 public proposedSetExecutableAt;
    /// The set manager (the staking contract, `ValidatorStaking`): replaces the set at once, at its
    /// epoch boundaries and when it slashes a member. Set once by the owner, voiding any proposal,
    /// and only within MANAGER_WINDOW of deployment: like the initial set, a choice of the deployer;
    /// afterwards an owner cannot name itself manager to skip VALIDATOR_SET_DELAY.
    address public manager;
    uint64 public constant MANAGER_WINDOW = 1 hours;
    uint64 public immutable deployedAt;
    uint256 public threshold;
    address[] private _validators;
    mapping(address => bool) public isValidator;
    mapping(bytes32 => Stored) private _records;
    mapping(bytes32 => mapping(uint32 => uint32)) private _forecasts;
    mapping(bytes32 => uint256) private _forecastCount;
    mapping(bytes32 => ZkRule) private _zkRules;
    /// Accepted batch roots: the most distinct validators that signed them, under which validator set.
    struct AcceptedRoot {
        uint64 signers;
        uint64 epoch;
    }

    mapping(bytes32 => AcceptedRoot) private _roots;
    /// Bumped by every validator-set change: a root accepted under an older set is no longer claimable.
    uint64 public validatorEpoch;
    /// BLS12-381 public keys (EIP-2537 G1 encoding), registered by members with a proof of possession.
    mapping(address => bytes) private _blsKeys;
    mapping(bytes32 => address) private _blsKeyOwner;
    /// keccak256 of `blsPublicKeys()`: the aggregator passes the keys, the contract checks this one hash.
    bytes32 public blsKeysHash;
    /// Key sets replaced by a rotation: when, and in which validator epoch.
    struct RetiredKeys {
        uint64 retiredAt;
        uint64 epoch;
    }

    mapping(bytes32 => RetiredKeys) private _retiredKeys;
    /// keccak256(abi.encode(validators)) of each epoch's set: who was a member when a record was made
    /// (the dispute court pays fee shares to members of the recording set; slashing names BLS signers).
    mapping(uint64 => bytes32) public setHashAt;
    /// The members whose BLS aggregates accepted a root, per validator epoch (bit i: `validators()[i]`
    /// of that epoch): the chain itself checked their signatures, so a root later overturned names who
    /// vouched for it. Kept per epoch: an acceptance under a later set never erases an earlier one's.
    mapping(bytes32 => mapping(uint64 => uint256)) private _blsBitmaps;

    event ForecastPosted(
        bytes32 indexed marketId,
        uint32 round,
        uint32 probabilityPpm,
        bytes32 indexed modelId,
        bytes32 inputsHash,
        bytes32 proofHash,
        address[] signers
    );
    event BatchAccepted(bytes32 indexed root, uint32 count, address[] signers);
    event BlsKeyRegistered(address indexed validator, bytes publicKey);
    event BatchAcceptedBls(bytes32 indexed root, uint32 count, uint256 signerBitmap);
    event ValidatorSetChanged(address[] validators, uint256 threshold);
    event ValidatorSetProposed(address[] validators, uint256 threshold, uint64 executableAt);
    event ValidatorSetProposalCancelled();
    event ManagerSet(address manager);
    event Resolved(
        bytes32 indexed marketId,
        uint32 round,
        uint16 outcome,
        uint32 probabilityPpm,
        bytes32 indexed modelId,
        bytes32 inputsHash,
        bytes32 proofHash,
        address[] signers
    );

    error NoProposedValidatorSet();
    error ManagerAlreadySet(address manager);
    error ManagerWindowClosed(uint64 closedAt);
    error ValidatorSetNotDue(uint64 executableAt);
    error InvalidThreshold(uint256 threshold, uint256 validators);
    error ZeroValidator();
    error DuplicateValidator(address validator);
    error UnregisteredMarket(bytes32 marketId);
    error AlreadyResolved(bytes32 marketId);
    error TooEarly(bytes32 marketId, uint64 resolveAt);
    error ModelMismatch(bytes32 expected, bytes32 got);
    error OutcomeOutOfRange(uint16 outcome, uint16 outcomeCount);
    error ProbabilityOutOfRange(uint32 probabilityPpm);
    error NotEnoughSignatures(uint256 got, uint256 needed);
    error UnknownSigner(uint256 index, address signer);
    error DuplicateSigner(uint256 index, address signer);
    error SignersNotSorted(uint256 index);
    error NotResolved(bytes32 marketId);
    error ResolutionMismatch(bytes32 marketId, bytes32 recorded, bytes32 given);
    error ForecastAlreadyPosted(bytes32 marketId, uint32 round);
    error ForecastClosed(bytes32 marketId, uint64 resolveAt);
    error InputNotPinned(bytes32 marketId, uint256 expected, uint256 got);
    error EmptyBatch();
    error UnknownRoot(bytes32 root);
    error NotInBatch(bytes32 marketId, bytes32 root);
    error NoForecast(bytes32 marketId, uint32 round);
    error NotCreator(bytes32 marketId, address caller);
    error ZkProofRequired(bytes32 marketId);
    error BadZkRule(bytes32 marketId);
    error ZkTooLate(bytes32 marketId, uint64 closeAt);
    error OutcomeNotProven(bytes32 marketId, uint16 proven, uint16 claimed);
    error ProofHashMismatch(bytes32 expected, bytes32 got);
    error InputsMismatch(bytes32 expected, bytes32 got);
    error ProofRejected(bytes32 marketId);
    error NotValidator(address caller);
    error MalformedBlsKey();
    error BlsKeyTaken(address owner);
    error BadProofOfPossession(address validator);
    error StaleBlsKeys(bytes32 expected, bytes32 got);
    error SignerOutOfRange(uint256 bitmap);
    error BadAggregateSignature(bytes32 root);
    error SupersededRoot(bytes32 root, uint64 epoch, uint64 current);

    constructor(MarketRegistry registry_, ModelRegistry models_, address[] memory validators_, uint256 threshold_) {
        registry = registry_;
        models = models_;
        deployedAt = uint64(block.timestamp);
        _setValidators(validators_, threshold_);
    }

    // ---------------------------------------------------------------- admin

    /// Schedules a new validator set; anyone executes it `VALIDATOR_SET_DELAY` later, so members,
    /// creators and bettors see a set change coming. A new proposal replaces the pending one.
    function proposeValidators(address[] calldata validators_, uint256 threshold_) external onlyOwner {
        if (manager != address(0)) revert ManagerAlreadySet(manager); // the manager's set only, from then on
        _checkThreshold(threshold_, validators_.length);
        uint64 due = uint64(block.timestamp) + VALIDATOR_SET_DELAY;
        _proposedValidators = validators_;
        proposedThreshold = threshold_;
        proposedSetExecutableAt = due;
        emit ValidatorSetProposed(validators_, threshold_, due);
    }

    function cancelValidators() external onlyOwner {
        if (proposedSetExecutableAt == 0) revert NoProposedValidatorSet();
        _clearProposal();
        emit ValidatorSetProposalCancelled();
    }

    function executeValidators() external {
        uint64 due = proposedSetExecutableAt;
        if (due == 0) revert NoProposedValidatorSet();
        if (block.timestamp < due) revert ValidatorSetNotDue(due);
        address[] memory validators_ = _proposedValidators;
        uint256 threshold_ = proposedThreshold;
        _clearProposal();
        _setValidators(validators_, threshold_);
    }

    function setManager(address manager_) external onlyOwner {
        if (manager != address(0)) revert ManagerAlreadySet(manager);
        if (block.timestamp > deployedAt + MANAGER_WINDOW) revert ManagerWindowClosed(deployedAt + MANAGER_WINDOW);
        manager = manager_;
        _clearProposal(); // a set queued before the hand-over must not override the manager's
        emit ManagerSet(manager_);
    }

    /// The manager's set, in force at once (`validatorEpoch` bumps: older batch roots are superseded).
    function replaceValidators(address[] calldata validators_, uint256 threshold_) external {
        if (msg.sender != manager) revert NotOwner(msg.sender);
        _setValidators(validators_, threshold_);
    }

    function proposedValidators() external view returns (address[] memory) {
        return _proposedValidators;
    }

    function _clearProposal() private {
        delete _proposedValidators;
        proposedThreshold = 0;
        proposedSetExecutableAt = 0;
    }

    function _checkThreshold(uint256 threshold_, uint256 n) private pure {
        // Byzantine safety needs a strict majority of the set at least.
        // At most 256 members: a BLS quorum names its signers in one uint256 bitmap.
        // No members at all (every one left or was slashed): the largest threshold, nothing settles.
        if (n == 0 && threshold_ == type(uint256).max) return;
        if (threshold_ == 0 || threshold_ > n || threshold_ * 2 <= n || n > 256) revert InvalidThreshold(threshold_, n);
    }

    function _setValidators(address[] memory validators_, uint256 threshold_) private {
        _checkThreshold(threshold_, validators_.length);
        for (uint256 i = 0; i < _validators.length; i++) {
            isValidator[_validators[i]] = false;
        }
        for (uint256 i = 0; i < validators_.length; i++) {
            address v = validators_[i];
            if (v == address(0)) revert ZeroValidator();
            if (isValidator[v]) revert DuplicateValidator(v);
            isValidator[v] = true;
        }
        _validators = validators_;
        threshold = threshold_;
        validatorEpoch += 1;
        setHashAt[validatorEpoch] = keccak256(abi.encode(validators_));
        blsKeysHash = keccak256(blsPublicKeys());
        emit ValidatorSetChanged(validators_, threshold_);
    }

    function validators() external view returns (address[] memory) {
        return _validators;
    }

    // --------------------------------------------------------------- EIP-712

    function domainSeparator() public view returns (bytes32) {
        // Computed per call so a chain fork (new chainid) invalidates old signatures.
        return keccak256(
            abi.encode(DOMAIN_TYPEHASH, keccak256(bytes(NAME)), keccak256(bytes(VERSION)), block.chainid, address(this))
        );
    }

    function hashResolution(Resolution calldata r) public pure returns (bytes32) {
        return keccak256(
            abi.encode(
                RESOLUTION_TYPEHASH,
                r.marketId,
                r.round,
                r.outcome,
                r.probabilityPpm,
                r.modelId,
                r.inputsHash,
                r.proofHash
            )
        );
    }

    function digest(Resolution calldata r) public view returns (bytes32) {
        return digestOfHash(hashResolution(r));
    }

    /// `digest` of the resolution whose struct hash is `resolutionHash` (a `Record`'s).
    function digestOfHash(bytes32 resolutionHash) public view returns (bytes32) {
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator(), resolutionHash));
    }

    function forecastDigest(Forecast calldata f) public view returns (bytes32) {
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator(), keccak256(abi.encode(
            FORECAST_TYPEHASH, f.marketId, f.round, f.probabilityPpm, f.modelId, f.inputsHash, f.proofHash
        ))));
    }

    // ------------------------------------------------------------ settlement

    /// @param signatures 65-byte (r, s, v) signatures over `digest(r)`, ordered by
    /// strictly ascending signer address, so duplicates cost one comparison each.
    function resolve(Resolution calldata r, bytes[] calldata signatures) external {
        if (zkRequired(r.marketId)) revert ZkProofRequired(r.marketId);
        _resolve(r, signatures);
    }

    /// The creator of a market makes its settlement trustless: from now on it resolves only
    /// with a proof that its model's on-chain verifier accepts, and only to the outcome that the
    /// proof's output gives under `rule`. Set once.
    function requireZk(bytes32 marketId, ZkRule calldata rule) external {
        MarketRegistry.Market memory m = registry.getMarket(marketId);
        if (m.creator != msg.sender) revert NotCreator(marketId, msg.sender);
        if (_records[marketId].resolvedAt != 0) revert AlreadyResolved(marketId);
        // while trading is open only: afterwards a creator could void a market it sees going against it
        if (block.timestamp >= m.closeAt) revert ZkTooLate(marketId, m.closeAt);
        if (zkRequired(marketId) || rule.invalidFrom > rule.aboveFrom || rule.above == rule.below
            || rule.above >= m.outcomeCount || rule.below >= m.outcomeCount) revert BadZkRule(marketId);
        ModelRegistry.Model memory model = models.modelOf(m.modelId); // reverts UnknownModel: no verifier, no zk
        if (rule.pinnedInput != NOT_PINNED && rule.pinnedInput >= model.inputCount) revert BadZkRule(marketId);
        _records[marketId].zkRequired = true;
        _zkRules[marketId] = rule;
    }

    function zkRuleOf(bytes32 marketId) external view returns (ZkRule memory) {
        return _zkRules[marketId];
    }

    /// The outcome a zk market's rule gives for a proven output (a BN254 field element; the upper
    /// half of the field holds negative numbers).
    function provenOutcome(bytes32 marketId, uint256 output) public view returns (uint16) {
        return outcomeFor(_zkRules[marketId], output);
    }

    /// The outcome `rule` gives for a proven output; the dispute court applies its markets' rules here.
    function outcomeFor(ZkRule memory rule, uint256 output) public pure returns (uint16) {
        uint256 r = 21888242871839275222246405745257275088548364400416034343698204186575808495617;
        int256 q = output > r / 2 ? -int256(r - output) : int256(output);
        if (q >= rule.aboveFrom) return rule.above;
        if (q >= rule.invalidFrom) return INVALID_OUTCOME;
        return rule.below;
    }

    /// Quorum as `resolve`, plus: the proof hashes to `proofHash`, its input instances hash to
    /// `inputsHash`, the model's ezkl verifier accepts proof and instances, the market's constant is
    /// the pinned input, and the outcome is what the rule gives for the proven output.
    function resolveZk(
        Resolution calldata r,
        bytes[] calldata signatures,
        bytes calldata proof,
        uint256[] calldata instances
    ) external {
        uint256 output = checkProof(r.marketId, r.modelId, r.inputsHash, r.proofHash, proof, instances);
        ZkRule storage rule = _zkRules[r.marketId];
        if (rule.pinnedInput != NOT_PINNED && instances[rule.pinnedInput] != rule.pinnedValue) {
            revert InputNotPinned(r.marketId, rule.pinnedValue, instances[rule.pinnedInput]);
        }
        uint16 proven = provenOutcome(r.marketId, output);
        if (r.outcome != proven) revert OutcomeNotProven(r.marketId, proven, r.outcome);
        _resolve(r, signatures);
    }

    /// A forecast round of a zk-required market: the same proof checks as `resolveZk`.
    function postForecastZk(
        Forecast calldata f,
        bytes[] calldata signatures,
        bytes calldata proof,
        uint256[] calldata instances
    ) external {
        checkProof(f.marketId, f.modelId, f.inputsHash, f.proofHash, proof, instances);
        _postForecast(f, signatures);
    }

    /// The proof checks of `resolveZk` (proof hash, inputs hash, the model's verifier), on their own:
    /// reverts unless they all pass, else returns the proof's first output. The dispute court calls it too.
    function checkProof(
        bytes32 marketId,
        bytes32 modelId,
        bytes32 inputsHash,
        bytes32 proofHash,
        bytes calldata proof,
        uint256[] calldata instances
    ) public returns (uint256 output) {
        if (keccak256(proof) != proofHash) revert ProofHashMismatch(proofHash, keccak256(proof));
        ModelRegistry.Model memory m = models.modelOf(modelId);
        uint256[] memory inputs = new uint256[](m.inputCount);
        for (uint256 i = 0; i < m.inputCount; i++) {
            inputs[i] = instances[i];
        }
        bytes32 ih = keccak256(abi.encode(inputs));
        if (ih != inputsHash) revert InputsMismatch(inputsHash, ih);
        try IHalo2Verifier(m.verifier).verifyProof(proof, instances) returns (bool ok) {
            if (!ok) revert ProofRejected(marketId);
        } catch {
            revert ProofRejected(marketId);
        }
        output = instances[m.inputCount]; // public inputs first, then the outputs: the first one
    }

    function _resolve(Resolution calldata r, bytes[] calldata signatures) private {
        bytes32 marketId = r.marketId;
        if (_records[marketId].resolvedAt != 0) revert AlreadyResolved(marketId);
        MarketRegistry.Settlement memory m = _checkMarket(r);
        if (block.timestamp < m.resolveAt) revert TooEarly(marketId, m.resolveAt);
        uint256 needed = threshold > m.quorum ? threshold : m.quorum;
        if (signatures.length < needed) revert NotEnoughSignatures(signatures.length, needed);
        bytes32 h = hashResolution(r);
        address[] memory signers = _recoverMembers(digestOfHash(h), signatures);
        _record(r, h);
        emit Resolved(marketId, r.round, r.outcome, r.probabilityPpm, r.modelId, r.inputsHash, r.proofHash, signers);
    }

    function _record(Resolution calldata r, bytes32 h) private {
        Stored storage s = _records[r.marketId];
        _records[r.marketId] = Stored(
            uint64(block.timestamp), uint32(validatorEpoch), r.outcome, r.round, r.probabilityPpm, s.zkRequired, h
        );
    }

    /// A forecast round: the same quorum over the `Forecast` type (never a `Resolution`), recorded
    /// once per round, in any order (a round posted first voids no other), before the market's
    /// resolve time and its resolution.
    function postForecast(Forecast calldata f, bytes[] calldata signatures) external {
        if (zkRequired(f.marketId)) revert ZkProofRequired(f.marketId);
        _postForecast(f, signatures);
    }

    function _postForecast(Forecast calldata f, bytes[] calldata signatures) private {
        bytes32 marketId = f.marketId;
        if (_records[marketId].resolvedAt != 0) revert AlreadyResolved(marketId);
        if (_forecasts[marketId][f.round] != 0) revert ForecastAlreadyPosted(marketId, f.round);
        MarketRegistry.Market memory m = _checkForecastMarket(marketId, f.modelId, f.probabilityPpm);
        if (block.timestamp >= m.resolveAt) revert ForecastClosed(marketId, m.resolveAt);
        uint256 needed = threshold > m.quorum ? threshold : m.quorum;
        if (signatures.length < needed) revert NotEnoughSignatures(signatures.length, needed);
        address[] memory signers = _recoverMembers(forecastDigest(f), signatures);
        _forecasts[marketId][f.round] = f.probabilityPpm + 1; // +1: zero means "not posted"
        _forecastCount[marketId] += 1;
        emit ForecastPosted(marketId, f.round, f.probabilityPpm, f.modelId, f.inputsHash, f.proofHash, signers);
    }

    function forecastOf(bytes32 marketId, uint32 round) external view returns (uint32 probabilityPpm) {
        uint32 stored = _forecasts[marketId][round];
        if (stored == 0) revert NoForecast(marketId, round);
        return stored - 1;
    }

    function forecastCount(bytes32 marketId) external view returns (uint256) {
        return _forecastCount[marketId];
    }

    // ------------------------------------------------------------- batches
    // Validators sign one EIP-712 `ResolutionBatch(root, count)`: `root` is the Merkle
    // root (sorted-pair keccak) over `hashResolution` of each resolution in the batch.

    function batchDigest(bytes32 root, uint32 count) public view returns (bytes32) {
        return keccak256(
            abi.encodePacked("\x19\x01", domainSeparator(), keccak256(abi.encode(BATCH_TYPEHASH, root, count)))
        );
    }

    /// Settles a whole batch in one transaction and stores every market's resolution.
    function resolveBatch(Resolution[] calldata rs, bytes[] calldata signatures) external {
        uint256 n = rs.length;
        if (n == 0) revert EmptyBatch();
        bytes32[] memory level = new bytes32[](n);
        for (uint256 i = 0; i < n; i++) {
            level[i] = hashResolution(rs[i]);
        }
        bytes32 root = merkleRoot(level);
        uint256 signers = _acceptRoot(root, uint32(n), signatures);
        for (uint256 i = 0; i < n; i++) {
            _recordFromBatch(rs[i], hashResolution(rs[i]), signers);
        }
    }

    /// Accepts only the root (one storage write for the whole batch); each market is
    /// then provable by inclusion (`verifyInclusion`) or recorded here with `claim`.
    function acceptBatchRoot(bytes32 root, uint32 count, bytes[] calldata signatures) external {
        if (count == 0) revert EmptyBatch();
        _acceptRoot(root, count, signatures);
    }

    /// How many distinct members of the current validator set signed `root` (0: not accepted, or
    /// accepted by a set that has since been replaced).
    function batchSigners(bytes32 root) public view returns (uint256) {
        AcceptedRoot memory a = _roots[root];
        return a.epoch == validatorEpoch ? a.signers : 0;
    }

    function verifyInclusion(Resolution calldata r, bytes32[] calldata proof, bytes32 root)
        public
        view
        returns (bool)
    {
        return batchSigners(root) != 0 && _fold(hashResolution(r), proof) == root;
    }

    function _fold(bytes32 h, bytes32[] calldata proof) private pure returns (bytes32) {
        for (uint256 i = 0; i < proof.length; i++) {
            h = _pair(h, proof[i]);
        }
        return h;
    }

    function claim(Resolution calldata r, bytes32[] calldata proof, bytes32 root) external {
        AcceptedRoot memory a = _roots[root];
        if (a.signers == 0) revert UnknownRoot(root);
        // Rotation revokes: the set that signed this root is no longer the one trusted.
        if (a.epoch != validatorEpoch) revert SupersededRoot(root, a.epoch, validatorEpoch);
        bytes32 h = hashResolution(r);
        if (_fold(h, proof) != root) revert NotInBatch(r.marketId, root);
        _recordFromBatch(r, h, a.signers);
    }

    function merkleRoot(bytes32[] memory level) public pure returns (bytes32) {
        uint256 n = level.length;
        while (n > 1) {
            uint256 half = (n + 1) / 2;
            for (uint256 i = 0; i < half; i++) {
                level[i] = 2 * i + 1 < n ? _pair(level[2 * i], level[2 * i + 1]) : level[2 * i];
            }
            n = half;
        }
        return level[0];
    }

    function _pair(bytes32 a, bytes32 b) private pure returns (bytes32) {
        return a < b ? keccak256(abi.encodePacked(a, b)) : keccak256(abi.encodePacked(b, a));
    }

    function _acceptRoot(bytes32 root, uint32 count, bytes[] calldata signatures) private returns (uint256) {
        if (signatures.length < threshold) revert NotEnoughSignatures(signatures.length, threshold);
        address[] memory signers = _recoverMembers(batchDigest(root, count), signatures);
        emit BatchAccepted(root, count, signers);
        return _recordRoot(root, signers.length);
    }

    /// A root keeps the largest signer count it was accepted with under the current set:
    /// resubmitting a t-sized subset of the public signatures must not lock out markets whose
    /// quorum is above t. Under a new set, the root counts only the new set's signers.
    function _recordRoot(bytes32 root, uint256 signers) private returns (uint256) {
        AcceptedRoot memory a = _roots[root];
        uint256 stored = a.epoch == validatorEpoch ? a.signers : 0;
        if (signers <= stored) return stored;
        (a.signers, a.epoch) = (uint64(signers), validatorEpoch);
        _roots[root] = a;
        return signers;
    }

    function _recordFromBatch(Resolution calldata r, bytes32 h, uint256 signers) private {
        bytes32 marketId = r.marketId;
        if (zkRequired(marketId)) revert ZkProofRequired(marketId);
        if (_records[marketId].resolvedAt != 0) revert AlreadyResolved(marketId);
        MarketRegistry.Settlement memory m = _checkMarket(r);
        if (block.timestamp < m.resolveAt) revert TooEarly(marketId, m.resolveAt);
        if (signers < m.quorum) revert NotEnoughSignatures(signers, m.quorum);
        _record(r, h);
        emit Resolved(marketId, r.round, r.outcome, r.probabilityPpm, r.modelId, r.inputsHash, r.proofHash,
            new address[](0));
    }

    /// The registry's settlement fields only (two storage slots, not the whole `Market`); a market the
    /// registry does not know has a zero resolver.
    function _checkMarket(Resolution calldata r) private view returns (MarketRegistry.Settlement memory m) {
        bytes32 marketId = r.marketId;
        m = registry.settlementOf(marketId);
        if (m.modelId == bytes32(0)) revert UnregisteredMarket(marketId);
        if (r.modelId != m.modelId) revert ModelMismatch(m.modelId, r.modelId);
        if (r.outcome >= m.outcomeCount && r.outcome != INVALID_OUTCOME) {
            revert OutcomeOutOfRange(r.outcome, m.outcomeCount);
        }
        if (r.probabilityPpm > 1_000_000) revert ProbabilityOutOfRange(r.probabilityPpm);
    }

    /// A forecast is the market's forecaster's, never its resolver's (a market without one has none).
    function _checkForecastMarket(bytes32 marketId, bytes32 modelId, uint32 probabilityPpm)
        private
        view
        returns (MarketRegistry.Market memory m)
    {
        if (!registry.isRegistered(marketId)) revert UnregisteredMarket(marketId);
        m = registry.getMarket(marketId);
        if (modelId == bytes32(0) || modelId != m.forecasterId) revert ModelMismatch(m.forecasterId, modelId);
        if (probabilityPpm > 1_000_000) revert ProbabilityOutOfRange(probabilityPpm);
    }

    function _recoverMembers(bytes32 d, bytes[] calldata signatures) private view returns (address[] memory signers) {
        signers = new address[](signatures.length);
        address previous = address(0);
        for (uint256 i = 0; i < signatures.length; i++) {
            address signer = _recover(d, signatures[i], i);
            if (!isValidator[signer]) revert UnknownSigner(i, signer);
            if (signer == previous) revert DuplicateSigner(i, signer);
            if (signer < previous) revert SignersNotSorted(i);
            previous = signer;
            signers[i] = signer;
        }
    }

    // ------------------------------------------------------ BLS aggregation
    // Members sign `batchDigest(root, count)` (32 bytes) with BLS; the aggregator adds t
    // signatures into one and names the signers in a bitmap (bit i: `validators()[i]`).
    // One pairing check verifies the aggregate against the sum of the named keys.

    /// A member registers its BLS key with a proof of possession (its signature, under the
    /// POP tag, over its own compressed key followed by its address): without one, a rogue key chosen as
    /// `a*G1 - (others' keys)` could forge an aggregate alone.
    function registerBlsKey(bytes calldata publicKey, bytes calldata proofOfPossession) external {
        if (!isValidator[msg.sender]) revert NotValidator(msg.sender);
        if (publicKey.length != BLS.G1_SIZE || BLS.isInfinity(publicKey)) revert MalformedBlsKey();
        bytes32 kh = keccak256(publicKey);
        address holder = _blsKeyOwner[kh];
        // One key, one member: a copied key would count one signature twice.
        if (holder != address(0) && holder != msg.sender) revert BlsKeyTaken(holder);
        // The proof signs (compressed key || msg.sender): a member's proof registers nothing for anyone else.
        bytes memory h = BLS.hashToG2(abi.encodePacked(BLS.compressG1(publicKey), msg.sender), BLS.DST_POP);
        if (!BLS.pairingCheck(publicKey, h, proofOfPossession)) revert BadProofOfPossession(msg.sender);
        bytes memory old = _blsKeys[msg.sender];
        if (old.length != 0) delete _blsKeyOwner[keccak256(old)];
        _blsKeys[msg.sender] = publicKey;
        _blsKeyOwner[kh] = msg.sender;
        _retiredKeys[blsKeysHash] = RetiredKeys(uint64(block.timestamp), validatorEpoch);
        blsKeysHash = keccak256(blsPublicKeys());
        emit BlsKeyRegistered(msg.sender, publicKey);
    }

    function blsKeyOf(address validator) external view returns (bytes memory) {
        return _blsKeys[validator];
    }

    /// Every member's key in validator order, 128 bytes each (zeros: none registered).
    function blsPublicKeys() public view returns (bytes memory keys) {
        uint256 n = _validators.length;
        keys = new bytes(n * BLS.G1_SIZE);
        for (uint256 i = 0; i < n; i++) {
            bytes memory k = _blsKeys[_validators[i]];
            if (k.length == 0) continue;
            assembly {
                let dst := add(add(keys, 32), mul(i, 128))
                mcopy(dst, add(k, 32), 128)
            }
        }
    }

    function acceptBatchRootBls(
        bytes32 root,
        uint32 count,
        uint256 signerBitmap,
        bytes calldata publicKeys,
        bytes calldata signature
    ) external {
        if (count == 0) revert EmptyBatch();
        _acceptRootBls(root, count, signerBitmap, publicKeys, signature);
    }

    /// `resolveBatch` with one BLS aggregate instead of t ECDSA signatures.
    function resolveBatchBls(
        Resolution[] calldata rs,
        uint256 signerBitmap,
        bytes calldata publicKeys,
        bytes calldata signature
    ) external {
        uint256 n = rs.length;
        if (n == 0) revert EmptyBatch();
        bytes32[] memory level = new bytes32[](n);
        for (uint256 i = 0; i < n; i++) {
            level[i] = hashResolution(rs[i]);
        }
        uint256 signers = _acceptRootBls(merkleRoot(level), uint32(n), signerBitmap, publicKeys, signature);
        for (uint256 i = 0; i < n; i++) {
            _recordFromBatch(rs[i], hashResolution(rs[i]), signers);
        }
    }

    function _acceptRootBls(
        bytes32 root,
        uint32 count,
        uint256 signerBitmap,
        bytes calldata publicKeys,
        bytes calldata signature
    ) private returns (uint256 signers) {
        bytes32 kh = keccak256(publicKeys);
        if (kh != blsKeysHash) {
            // a key set replaced by a member's rotation stays good for a grace period, in its epoch
            RetiredKeys memory old = _retiredKeys[kh];
            if (old.retiredAt == 0 || old.epoch != validatorEpoch || block.timestamp > old.retiredAt + BLS_KEY_GRACE) {
                revert StaleBlsKeys(blsKeysHash, kh);
            }
        }
        uint256 n = _validators.length;
        if (n < 256 && (signerBitmap >> n) != 0) revert SignerOutOfRange(signerBitmap);
        bytes memory aggregateKey;
        (aggregateKey, signers) = BLS.aggregateKeys(publicKeys, signerBitmap);
        if (signers < threshold) revert NotEnoughSignatures(signers, threshold);
        bytes memory h = BLS.hashToG2(abi.encodePacked(batchDigest(root, count)), BLS.DST_SIG);
        if (!BLS.pairingCheck(aggregateKey, h, signature)) revert BadAggregateSignature(root);
        emit BatchAcceptedBls(root, count, signerBitmap);
        _blsBitmaps[root][validatorEpoch] |= signerBitmap;
        signers = _recordRoot(root, signers);
    }

    /// The members (bitmap over `validators()` of `epoch`) whose BLS aggregates accepted `root` in `epoch`.
    function blsSignersOf(bytes32 root, uint64 epoch) external view returns (uint256) {
        return _blsBitmaps[root][epoch];
    }

    /// Exposed for tests against the library's vectors: RFC 9380 hash_to_curve under `dst`.
    function hashToG2(bytes calldata message, bytes calldata dst) external view returns (bytes memory) {
        return BLS.hashToG2(message, dst);
    }

    // ----------------------------------------------------------------- reads

    function isResolved(bytes32 marketId) external view returns (bool) {
        return _records[marketId].resolvedAt != 0;
    }

    /// What the oracle keeps of a market's resolution (reverts `NotResolved`): the whole resolution is
    /// in its `Resolved` event; `checkedRecord` checks one against it.
    function recordOf(bytes32 marketId) public view returns (Record memory) {
        Stored storage s = _records[marketId];
        if (s.resolvedAt == 0) revert NotResolved(marketId);
        return Record(s.resolvedAt, s.epoch, s.outcome, s.round, s.probabilityPpm, s.resolutionHash);
    }

    /// Markets whose creator asked for trustless settlement: the proof is verified on-chain too.
    function zkRequired(bytes32 marketId) public view returns (bool) {
        return _records[marketId].zkRequired;
    }

    /// When a market's resolution was recorded and its outcome, from one storage slot (zeros: none yet).
    function proposalOf(bytes32 marketId) external view returns (uint64 resolvedAt, uint16 outcome) {
        Stored storage rec = _records[marketId];
        return (rec.resolvedAt, rec.outcome);
    }

    /// The record of `r`'s market if `r` is the resolution recorded for it (its struct hash is the one
    /// kept); reverts `NotResolved`, or `ResolutionMismatch` for any other resolution.
    function checkedRecord(Resolution calldata r) external view returns (Record memory rec) {
        rec = recordOf(r.marketId);
        bytes32 h = hashResolution(r);
        if (h != rec.resolutionHash) revert ResolutionMismatch(r.marketId, rec.resolutionHash, h);
    }

    function outcomeOf(bytes32 marketId) external view returns (uint16) {
        return recordOf(marketId).outcome;
    }
}
