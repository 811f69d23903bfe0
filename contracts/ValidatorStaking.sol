// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {BLS} from "./BLS.sol";
import {DisputeCourt} from "./DisputeCourt.sol";
import {QuorumOracle} from "./QuorumOracle.sol";
import {StrictEcdsa} from "./StrictEcdsa.sol";
import {Timelocked} from "./Timelocked.sol";
import {TwoStepOwnable} from "./TwoStepOwnable.sol";

/// @title ValidatorStaking
/// @notice The open validator set of one QuorumOracle. Anyone joins by bonding native ETH, the set
/// changes only at epoch boundaries (anyone calls `advanceEpoch` once an epoch is over; this
/// contract installs the new set on the oracle, whose set manager it is), and anyone holding two
/// conflicting signatures by one bonded key for the same market and round takes that bond: a share
/// to the reporter, the rest burned, and the member leaves the oracle's set at once.
///
/// Why native ETH and not an ERC-20: no token contract to trust (no hooks, no pausable or
/// upgradeable token, no fee-on-transfer accounting), and what a member has at stake is exactly
/// what it locked here, in the unit the chain itself prices.
///
/// Seats are first-come up to `maxValidators` (members plus queued joiners): every entry point
/// stays bounded in gas (at most 256 seats, the oracle's own limit), and capital alone cannot buy
/// the set by outbidding members who are already in; raising `minBond` (behind the timelock)
/// raises the price of every seat.
contract ValidatorStaking is TwoStepOwnable, Timelocked, StrictEcdsa {
    /// Governed parameters: changed only through `queueParameters` + `GOVERNANCE_DELAY`.
    struct Parameters {
        uint256 minBond; // wei a new member must bond
        uint64 epochLength; // seconds from one set change to the next
        uint64 unbondingDelay; // seconds a member stays slashable after it left the set
        uint16 maxValidators; // seats: members plus queued joiners (1..256)
        uint16 quorumBps; // threshold = max(strict majority, ceil(n * quorumBps / 10000))
        bool joiningPaused; // emergency: no new members (leaving, withdrawing and slashing go on)
    }

    enum Status {
        None,
        Queued, // bonded, enters the set at the next boundary
        Member, // in the oracle's set
        Leaving, // in the set until the next boundary, then unbonding
        Unbonding // out of the set, still slashable until `withdrawableAt`
    }

    struct Bond {
        uint256 amount;
        uint64 withdrawableAt;
        Status status;
    }

    /// The reporter's share of a slashed bond; the rest is burned (held here forever, counted in
    /// `burned`: no function moves it). Below 100 %, so a member reporting itself still loses 75 %.
    uint256 public constant REPORTER_SHARE_BPS = 2500;
    /// Bounds on what governance may set: no parameter change can freeze exits (a member leaves only
    /// at a boundary, then unbonds).
    uint64 public constant MAX_EPOCH_LENGTH = 30 days;
    uint64 public constant MAX_UNBONDING_DELAY = 180 days;
    /// A member who signed stays slashable until any dispute of what it signed is over: the longest
    /// dispute window (7 days), the ruling timeout (7 days), and a day to report the signature.
    uint64 public constant MIN_UNBONDING_DELAY = 15 days;

    QuorumOracle public immutable oracle;
    /// The oracle's dispute court: a resolution it overturned is evidence against every key that signed it.
    DisputeCourt public immutable court;
    Parameters private _params;
    Parameters private _queuedParams;
    /// When the queued parameters may be executed (0: none queued).
    uint64 public queuedExecutableAt;
    /// Boundaries passed; epoch 0 ends with the first `advanceEpoch`, which installs the first set.
    uint64 public epoch;
    uint64 public epochStartedAt;
    bool private _setChanged = true;
    address[] private _members;
    address[] private _queue;
    mapping(address => Bond) private _bonds;
    /// keccak(signer, marketId, round, kind): evidence already used (kind 0 Resolution, 1 Forecast,
    /// 2 a signature over an overturned resolution).
    mapping(bytes32 => bool) public evidenceUsed;
    /// A key once slashed never bonds again: it cannot equivocate anew on rounds its old evidence covers.
    mapping(address => bool) public slashed;
    uint256 public burned;

    event Joined(address indexed validator, uint256 bond);
    event BondIncreased(address indexed validator, uint256 bond);
    event LeaveRequested(address indexed validator);
    event Unbonding(address indexed validator, uint64 withdrawableAt);
    event Withdrawn(address indexed validator, uint256 amount);
    event EpochAdvanced(uint64 indexed epoch, address[] validators, uint256 threshold);
    event Slashed(address indexed validator, address indexed reporter, uint256 amount, uint256 reward,
        bytes32 evidence);
    event ParametersQueued(Parameters parameters, uint64 executableAt);
    event ParametersExecuted(Parameters parameters);
    event ParametersCancelled();

    error BadParameters(string field);
    error JoiningPaused();
    error BondTooSmall(uint256 bond, uint256 minimum);
    error NoSeat(uint256 seats);
    error CannotJoin(Status status);
    error NotMember(address validator, Status status);
    error NotUnbonding(address validator, Status status);
    error StillUnbonding(uint64 withdrawableAt);
    error EpochNotOver(uint64 endsAt);
    error NotSameRound();
    error NotConflicting();
    error SignersDiffer(address first, address second);
    error NotBonded(address validator);
    error EvidenceUsed(bytes32 evidence);
    error PaymentFailed(address to);
    error SlashedKey(address validator);
    error NotOverturned(bytes32 marketId);
    error NoBlsKey(address validator);
    error BadBlsSignature(address validator);
    error NotInBatch(bytes32 marketId, bytes32 root);

    constructor(QuorumOracle oracle_, DisputeCourt court_, Parameters memory parameters_) {
        _checkParameters(parameters_);
        oracle = oracle_;
        court = court_;
        _params = parameters_;
        epochStartedAt = uint64(block.timestamp);
    }

    // ------------------------------------------------------------ the oracle

    /// Completes the oracle's two-step ownership hand-over to this contract and makes it the set
    /// manager: from then on only epoch boundaries and slashing change the oracle's set. Anyone may
    /// call it once the oracle's owner has started the transfer to this contract.
    function adoptOracle() external {
        oracle.acceptOwnership();
        oracle.setManager(address(this));
    }

    // ----------------------------------------------------------- members

    /// Bond `msg.value` and queue for the next boundary, or add to a bond already queued or in the set.
    function join() external payable {
        Bond storage b = _bonds[msg.sender];
        Status s = b.status;
        if (s == Status.Queued || s == Status.Member) {
            if (msg.value == 0) revert BondTooSmall(0, 1);
            b.amount += msg.value;
            emit BondIncreased(msg.sender, b.amount);
            return;
        }
        if (s != Status.None) revert CannotJoin(s);
        if (slashed[msg.sender]) revert SlashedKey(msg.sender);
        Parameters storage p = _params;
        if (p.joiningPaused) revert JoiningPaused();
        if (msg.value < p.minBond) revert BondTooSmall(msg.value, p.minBond);
        uint256 seats = _members.length + _queue.length;
        if (seats >= p.maxValidators) revert NoSeat(seats);
        b.amount = msg.value;
        b.status = Status.Queued;
        _queue.push(msg.sender);
        _setChanged = true;
        emit Joined(msg.sender, msg.value);
    }

    /// A member leaves the set at the next boundary and unbonds from then; a queued joiner that never
    /// entered the set may withdraw at once.
    function requestLeave() external {
        Bond storage b = _bonds[msg.sender];
        Status s = b.status;
        if (s == Status.Member) {
            b.status = Status.Leaving;
            _setChanged = true;
            emit LeaveRequested(msg.sender);
        } else if (s == Status.Queued) {
            _remove(_queue, msg.sender);
            b.status = Status.Unbonding;
            b.withdrawableAt = uint64(block.timestamp);
            emit Unbonding(msg.sender, b.withdrawableAt);
        } else {
            revert NotMember(msg.sender, s);
        }
    }

    function withdraw() external {
        Bond storage b = _bonds[msg.sender];
        if (b.status != Status.Unbonding) revert NotUnbonding(msg.sender, b.status);
        if (block.timestamp < b.withdrawableAt) revert StillUnbonding(b.withdrawableAt);
        uint256 amount = b.amount;
        delete _bonds[msg.sender];
        emit Withdrawn(msg.sender, amount);
        _pay(msg.sender, amount);
    }

    // ------------------------------------------------------------ epochs

    function nextEpochAt() public view returns (uint64) {
        return epoch == 0 ? epochStartedAt : epochStartedAt + _params.epochLength;
    }

    /// Anyone, once the epoch is over: leavers start unbonding, queued joiners enter (first come, up
    /// to the cap), and the new set goes to the oracle with its threshold, if it changed. The first
    /// boundary is the owner's, once the operators it deployed for have joined: nobody can install an
    /// empty set, or a set of its own, between the hand-over and their joins.
    function advanceEpoch() external {
        uint64 due = nextEpochAt();
        if (block.timestamp < due) revert EpochNotOver(due);
        if (epoch == 0) {
            if (msg.sender != owner) revert NotOwner(msg.sender);
            if (_queue.length == 0) revert NothingQueued();
        }
        epoch += 1;
        epochStartedAt = uint64(block.timestamp);
        if (_setChanged) {
            _setChanged = false;
            address[] memory before = _members;
            _rebuild();
            // a join withdrawn before the boundary changes nothing: the oracle (its epoch, and every
            // accepted batch root) is left alone unless members or threshold differ
            if (epoch == 1 || !_same(before, _members) || oracle.threshold() != thresholdFor(_members.length)) {
                _install();
            }
        }
        emit EpochAdvanced(epoch, _members, thresholdFor(_members.length));
    }

    function _rebuild() private {
        uint256 cap = _params.maxValidators;
        uint64 unbondAt = uint64(block.timestamp) + _params.unbondingDelay;
        address[] memory current = _members;
        delete _members;
        for (uint256 i = 0; i < current.length; i++) {
            Bond storage b = _bonds[current[i]];
            if (b.status == Status.Member && _members.length < cap) {
                _members.push(current[i]);
            } else { // leaving, or its seat went with a lowered cap
                b.status = Status.Unbonding;
                b.withdrawableAt = unbondAt;
                emit Unbonding(current[i], unbondAt);
            }
        }
        address[] memory waiting = _queue;
        delete _queue;
        for (uint256 i = 0; i < waiting.length; i++) {
            if (_members.length < cap) {
                _members.push(waiting[i]);
                _bonds[waiting[i]].status = Status.Member;
            } else {
                _queue.push(waiting[i]); // waits for a seat, in join order
            }
        }
    }

    function _same(address[] memory a, address[] storage b) private view returns (bool) {
        if (a.length != b.length) return false;
        for (uint256 i = 0; i < a.length; i++) {
            if (a[i] != b[i]) return false;
        }
        return true;
    }

    function _install() private {
        uint256 n = _members.length;
        oracle.replaceValidators(_members, thresholdFor(n));
    }

    /// The threshold for a set of n: a strict majority at least, and ceil(n * quorumBps / 10000).
    /// An empty set gets the largest threshold: nothing settles until members join.
    function thresholdFor(uint256 n) public view returns (uint256) {
        if (n == 0) return type(uint256).max;
        uint256 t = (n * _params.quorumBps + 9_999) / 10_000;
        uint256 majority = n / 2 + 1;
        return t > majority ? t : majority;
    }

    // ---------------------------------------------------------- slashing

    /// Two `Resolution` signatures by one bonded key for the same market and round, with a different
    /// outcome or probability: the bond is taken. Digests are the oracle's own (`digest`), so the
    /// evidence is exactly what that oracle would have counted.
    function slashResolution(
        QuorumOracle.Resolution calldata a,
        bytes calldata signatureA,
        QuorumOracle.Resolution calldata b,
        bytes calldata signatureB
    ) external {
        if (a.marketId != b.marketId || a.round != b.round) revert NotSameRound();
        if (a.outcome == b.outcome && a.probabilityPpm == b.probabilityPpm) revert NotConflicting();
        address signer = _signer(oracle.digest(a), signatureA, oracle.digest(b), signatureB);
        _slash(signer, keccak256(abi.encode(signer, a.marketId, a.round, uint8(0))));
    }

    /// The same for two `Forecast` signatures with a different probability.
    function slashForecast(
        QuorumOracle.Forecast calldata a,
        bytes calldata signatureA,
        QuorumOracle.Forecast calldata b,
        bytes calldata signatureB
    ) external {
        if (a.marketId != b.marketId || a.round != b.round) revert NotSameRound();
        if (a.probabilityPpm == b.probabilityPpm) revert NotConflicting();
        address signer = _signer(oracle.forecastDigest(a), signatureA, oracle.forecastDigest(b), signatureB);
        _slash(signer, keccak256(abi.encode(signer, a.marketId, a.round, uint8(1))));
    }

    /// One side of equivocation evidence: a resolution and the signature that vouches for it, either
    /// the member's vote (`count` 0: over the oracle's `digest(r)`, `proof` and `root` unused) or its
    /// signature over a batch (`batchDigest(root, count)`) whose root `proof` folds `r` up to.
    struct Vouch {
        QuorumOracle.Resolution r;
        bytes32[] proof;
        bytes32 root;
        uint32 count;
        bytes signature;
    }

    /// Two conflicting resolutions for one market and round vouched for by one key on any path: votes
    /// and batch signatures (ECDSA, recovered), or BLS batch shares (`bls`: checked against the key
    /// `member` has registered with the oracle now; a share under a key it rotated away is not).
    function slashEquivocation(address member, Vouch calldata a, Vouch calldata b, bool bls) external {
        if (a.r.marketId != b.r.marketId || a.r.round != b.r.round) revert NotSameRound();
        if (a.r.outcome == b.r.outcome && a.r.probabilityPpm == b.r.probabilityPpm) revert NotConflicting();
        bytes32 da = _vouched(a);
        bytes32 db = _vouched(b);
        if (bls) {
            bytes memory key = oracle.blsKeyOf(member);
            if (key.length == 0) revert NoBlsKey(member);
            // BLS shares sign batches (of one, at least): a vote's digest is never BLS-signed
            if (a.count == 0 || b.count == 0) revert NotConflicting();
            _checkBls(member, key, da, a.signature);
            _checkBls(member, key, db, b.signature);
        } else {
            address first = _recover(da, a.signature, 0);
            address second = _recover(db, b.signature, 1);
            if (first != member || second != member) revert SignersDiffer(first, second);
        }
        _slash(member, keccak256(abi.encode(member, a.r.marketId, a.r.round, uint8(0))));
    }

    function _vouched(Vouch calldata v) private view returns (bytes32) {
        if (v.count == 0) return oracle.digest(v.r);
        _fold(v.r, v.proof, v.root);
        return oracle.batchDigest(v.root, v.count);
    }

    function _fold(QuorumOracle.Resolution memory r, bytes32[] calldata proof, bytes32 root) private view {
        _foldHash(r.marketId, oracle.hashResolution(r), proof, root);
    }

    function _foldHash(bytes32 marketId, bytes32 h, bytes32[] calldata proof, bytes32 root) private pure {
        for (uint256 i = 0; i < proof.length; i++) {
            h = h < proof[i] ? keccak256(abi.encodePacked(h, proof[i])) : keccak256(abi.encodePacked(proof[i], h));
        }
        if (h != root) revert NotInBatch(marketId, root);
    }

    function _checkBls(address member, bytes memory key, bytes32 d, bytes calldata signature) private view {
        bytes memory h = oracle.hashToG2(abi.encodePacked(d), BLS.DST_SIG);
        if (!BLS.pairingCheck(key, h, signature)) revert BadBlsSignature(member);
    }

    /// A signature over a resolution the dispute court overturned (its vote, over the oracle's `digest`):
    /// the signer vouched for a wrong answer, and its bond is taken.
    function slashOverturned(bytes32 marketId, bytes calldata signature) external {
        QuorumOracle.Record memory r = _overturned(marketId);
        address signer = _recover(oracle.digestOfHash(r.resolutionHash), signature, 0);
        _slash(signer, keccak256(abi.encode(signer, marketId, r.round, uint8(2))));
    }

    /// The same for a batch signature: `proof` folds the overturned resolution up to `root`, and
    /// `signature` is over the oracle's `batchDigest(root, count)`.
    function slashOverturnedInBatch(
        bytes32 marketId,
        bytes32[] calldata proof,
        bytes32 root,
        uint32 count,
        bytes calldata signature
    ) external {
        QuorumOracle.Record memory r = _overturned(marketId);
        _foldHash(marketId, r.resolutionHash, proof, root);
        address signer = _recover(oracle.batchDigest(root, count), signature, 0);
        _slash(signer, keccak256(abi.encode(signer, marketId, r.round, uint8(2))));
    }

    /// The same for a batch the oracle accepted with a BLS aggregate: the oracle kept, per epoch, the
    /// bitmap of the members whose signatures it checked; `acceptedIn` is the acceptance's epoch, `epochMembers`
    /// the set of that epoch (its hash is the oracle's), `index` the signer's place in it. Any epoch's
    /// acceptance of a root holding the overturned resolution counts: each is a vouch for it.
    function slashOverturnedBls(
        bytes32 marketId,
        bytes32[] calldata proof,
        bytes32 root,
        uint64 acceptedIn,
        address[] calldata epochMembers,
        uint256 index
    ) external {
        QuorumOracle.Record memory r = _overturned(marketId);
        _foldHash(marketId, r.resolutionHash, proof, root);
        uint256 bitmap = oracle.blsSignersOf(root, acceptedIn);
        if (index >= epochMembers.length || (bitmap >> index) & 1 == 0
            || keccak256(abi.encode(epochMembers)) != oracle.setHashAt(acceptedIn)) revert NotInBatch(marketId, root);
        address signer = epochMembers[index];
        _slash(signer, keccak256(abi.encode(signer, marketId, r.round, uint8(2))));
    }

    function _overturned(bytes32 marketId) private view returns (QuorumOracle.Record memory) {
        if (address(court) == address(0) || court.caseOf(marketId).ruling != DisputeCourt.Ruling.Overturned) {
            revert NotOverturned(marketId);
        }
        return oracle.recordOf(marketId);
    }

    function _signer(bytes32 da, bytes calldata sa, bytes32 db, bytes calldata sb) private pure returns (address) {
        address first = _recover(da, sa, 0);
        address second = _recover(db, sb, 1);
        if (first != second) revert SignersDiffer(first, second);
        return first;
    }

    function _slash(address signer, bytes32 evidence) private {
        if (evidenceUsed[evidence]) revert EvidenceUsed(evidence);
        Bond memory b = _bonds[signer];
        if (b.amount == 0) revert NotBonded(signer);
        evidenceUsed[evidence] = true;
        slashed[signer] = true;
        delete _bonds[signer];
        if (b.status == Status.Member || b.status == Status.Leaving) {
            _remove(_members, signer);
            _install(); // out of the oracle's set now, not at the boundary
        } else if (b.status == Status.Queued) {
            _remove(_queue, signer);
        }
        uint256 reward = b.amount * REPORTER_SHARE_BPS / 10_000;
        burned += b.amount - reward;
        emit Slashed(signer, msg.sender, b.amount, reward, evidence);
        _pay(msg.sender, reward);
    }


    // -------------------------------------------------------- governance


    /// Queues a full parameter set (a new one replaces the queued one); anyone executes it
    /// `GOVERNANCE_DELAY` later, so members and markets see every change coming.
    function queueParameters(Parameters calldata p) external onlyOwner {
        _checkParameters(p);
        uint64 due = _executableAt();
        _queuedParams = p;
        queuedExecutableAt = due;
        emit ParametersQueued(p, due);
    }

    function cancelParameters() external onlyOwner {
        if (queuedExecutableAt == 0) revert NothingQueued();
        delete _queuedParams;
        queuedExecutableAt = 0;
        emit ParametersCancelled();
    }

    function executeParameters() external {
        uint64 due = queuedExecutableAt;
        _requireDue(due);
        Parameters memory old = _params;
        _params = _queuedParams;
        delete _queuedParams;
        queuedExecutableAt = 0;
        if (old.maxValidators != _params.maxValidators || old.quorumBps != _params.quorumBps) {
            _setChanged = true; // a new cap or threshold rule applies at the next boundary
        }
        emit ParametersExecuted(_params);
    }


    function _checkParameters(Parameters memory p) private pure {
        if (p.minBond == 0) revert BadParameters("minBond");
        if (p.epochLength == 0 || p.epochLength > MAX_EPOCH_LENGTH) revert BadParameters("epochLength");
        if (p.unbondingDelay < MIN_UNBONDING_DELAY || p.unbondingDelay > MAX_UNBONDING_DELAY) {
            revert BadParameters("unbondingDelay");
        }
        if (p.maxValidators == 0 || p.maxValidators > 256) revert BadParameters("maxValidators");
        if (p.quorumBps <= 5_000 || p.quorumBps > 10_000) revert BadParameters("quorumBps");
    }

    // ------------------------------------------------------------- reads

    function parameters() external view returns (Parameters memory) {
        return _params;
    }

    function queuedParameters() external view returns (Parameters memory) {
        return _queuedParams;
    }

    function members() external view returns (address[] memory) {
        return _members;
    }

    function queued() external view returns (address[] memory) {
        return _queue;
    }

    function bondOf(address validator) external view returns (Bond memory) {
        return _bonds[validator];
    }

    // ----------------------------------------------------------- helpers

    function _remove(address[] storage list, address a) private {
        uint256 n = list.length;
        for (uint256 i = 0; i < n; i++) {
            if (list[i] == a) {
                for (uint256 j = i + 1; j < n; j++) {
                    list[j - 1] = list[j];
                }
                list.pop();
                return;
            }
        }
    }

    function _pay(address to, uint256 amount) private {
        (bool ok,) = payable(to).call{value: amount}("");
        if (!ok) revert PaymentFailed(to);
    }
}
