// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {MarketRegistry} from "./MarketRegistry.sol";
import {QuorumOracle} from "./QuorumOracle.sol";
import {StrictEcdsa} from "./StrictEcdsa.sol";
import {Timelocked} from "./Timelocked.sol";
import {TwoStepOwnable} from "./TwoStepOwnable.sol";

/// @title DisputeCourt
/// @notice Finality for the QuorumOracle's resolutions, and the markets' fees.
///
/// A quorum's resolution recorded by the oracle is only *proposed*. It becomes *final* once its
/// market's dispute window (chosen at registration, part of the market's id) has passed without a
/// dispute. Within the window anyone may dispute it by posting `disputeBond`; the dispute is then
/// settled by the strongest check available:
/// - the ZK path (`settleByProof`), which can only overturn: the proof the quorum named (its hash
///   and its inputs' hash are in the signed resolution) through the resolver's on-chain verifier,
///   under the rule committed in the market's id (`ruleHash`), gives another outcome than the quorum
///   signed. A proof that agrees settles nothing: its inputs (the observations) may be made up, which
///   only the validators' reading of the sources can tell.
/// - a larger quorum (`settleByVote`): `escalatedQuorum` members, strictly more than the proposal
///   needed, sign a `Ruling`.
/// - the arbiter (`settleByArbiter`), if governance configured one.
/// - none of them within `RULING_TIMEOUT`: the market ends INVALID (every stake refunded) and the
///   disputer's bond is burned (a dispute nobody could settle is not free).
/// Upheld: the disputer's bond joins the market's fee (paid to the signers and the prover).
/// Overturned: the disputer gets its bond and the fee; the signers of the overturned resolution are
/// slashable in `ValidatorStaking` (their signature over it, or the BLS bitmap the oracle kept).
///
/// Fees: the creator pays at registration (at least `minFee`); on a final answer the prover (named
/// by a quorum of the recording set's `ProverCredit`) may take `PROVER_BPS`, and each member of the
/// set that recorded the resolution who signed it an equal share of the rest (one share per member),
/// for `CLAIM_PERIOD` after it became final; the rest then goes back to the creator. INVALID (no
/// answer from the data, a timeout, an emergency, or no resolution in `RESOLUTION_GRACE`): back to
/// the creator.
///
/// Governance (owner, two-step): parameters, the pause and an emergency resolution all wait
/// `GOVERNANCE_DELAY` in public before they take effect. A pause holds back the finality of a
/// proposal whose window ends during it (disputes go on), each proposal at most once, for at most
/// `MAX_PAUSE`; an emergency resolution makes a market INVALID once its resolve time has come.
contract DisputeCourt is TwoStepOwnable, Timelocked, StrictEcdsa {
    enum State {
        Unregistered,
        Open, // no resolution proposed yet
        Proposed, // a quorum's resolution, in its dispute window (or held by a pause)
        Disputed, // disputed, waiting for a ruling
        Final, // final, with an outcome
        Invalid // final, INVALID: the market has no answer by its rules; consumers refund
    }

    enum Ruling {
        None,
        Upheld, // the dispute failed: the proposal is final
        Overturned, // the proposal was wrong: the ruling's outcome is final
        TimedOut, // nothing settled the dispute in time: INVALID
        Emergency // governance's emergency resolution, after the delay
    }

    struct Parameters {
        uint128 minFee; // wei a creator pays at least, at registration
        uint128 disputeBond; // wei a disputer posts (exactly); > 0
        address arbiter; // settles disputes if set (0: none)
        uint16 escalationBps; // a ruling vote needs ceil(n * escalationBps / 10000) members, above the proposal's quorum
        uint32 defaultDisputeWindow; // what the creators' tools propose (each market's own is in its id)
    }

    /// `ruling` shares the first slot with `disputedAt`: finality reads the two, one storage read.
    struct Case {
        address disputer;
        uint64 disputedAt;
        Ruling ruling;
        uint96 bond;
        uint64 settledAt;
        uint16 outcome;
    }

    struct Fees {
        uint128 pot; // escrowed wei
        uint128 paid; // wei credited out of the pot so far
        uint16 slots; // signer shares: the members of the recording set (fixed at the first claim)
        uint16 signerClaims;
        bool proverPaid;
        bool closed; // the rest went back (refund, sweep) or to the disputer
    }

    struct Pause {
        uint64 start;
        uint64 end;
    }


    uint16 public constant INVALID_OUTCOME = type(uint16).max;
    uint16 public constant NOT_PINNED = type(uint16).max;
    uint64 public constant RULING_TIMEOUT = 7 days;
    uint64 public constant MAX_PAUSE = 7 days;
    uint256 public constant PROVER_BPS = 2000;
    uint64 public constant CLAIM_PERIOD = 30 days;
    /// A market with no resolution this long after its resolve time gets its fee back (= BinaryMarket's).
    uint64 public constant RESOLUTION_GRACE = 30 days;

    bytes32 public constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 public constant RULING_TYPEHASH = keccak256("Ruling(bytes32 marketId,uint16 outcome)");
    bytes32 public constant PROVER_CREDIT_TYPEHASH =
        keccak256("ProverCredit(bytes32 marketId,bytes32 proofHash,address prover)");
    string public constant NAME = "AIOracle DisputeCourt";
    string public constant VERSION = "1";

    QuorumOracle public immutable oracle;
    MarketRegistry public immutable registry;

    Parameters private _params;
    Parameters private _queuedParams;
    uint64 public queuedParamsAt; // when the queued parameters may be executed (0: none)
    uint64 public pauseExecutableAt; // when the queued pause may start (0: none queued)
    Pause[] private _pauses;

    mapping(bytes32 => Case) private _cases;
    mapping(bytes32 => Fees) private _fees;
    mapping(bytes32 => address) public creatorOf;
    mapping(bytes32 => QuorumOracle.ZkRule) private _rules;
    mapping(bytes32 => bool) public hasRule;
    /// When a queued emergency resolution (INVALID) of a market may be executed (0: none queued).
    mapping(bytes32 => uint64) public emergencyAt;
    /// Wei of disputers' bonds burned at a ruling's timeout (held here forever: no function moves it).
    uint256 public burned;
    mapping(bytes32 => mapping(address => bool)) public signerPaid;
    mapping(bytes32 => bool) public finalized;
    /// Wei each address may withdraw (fees, returned bonds): paid by pull, so no payee can block a ruling.
    mapping(address => uint256) public owed;

    event FeeEscrowed(bytes32 indexed marketId, address indexed creator, uint256 amount);
    event RuleSet(bytes32 indexed marketId, QuorumOracle.ZkRule rule);
    event Disputed(bytes32 indexed marketId, address indexed disputer, uint256 bond);
    event DisputeSettled(bytes32 indexed marketId, Ruling ruling, uint16 outcome);
    event Finalized(bytes32 indexed marketId, uint16 outcome);
    event Credited(bytes32 indexed marketId, address indexed to, uint256 amount, string why);
    event Withdrawn(address indexed to, uint256 amount);
    event ParametersQueued(Parameters parameters, uint64 executableAt);
    event ParametersExecuted(Parameters parameters);
    event ParametersCancelled();
    event PauseQueued(uint64 executableAt);
    event PauseCancelled();
    event Paused(uint64 until);
    event Unpaused();
    event EmergencyQueued(bytes32 indexed marketId, uint64 executableAt);
    event EmergencyCancelled(bytes32 indexed marketId);

    error NotRegistry(address caller);
    error FeeTooLow(uint256 fee, uint256 minimum);
    error UnregisteredMarket(bytes32 marketId);
    error NotCreator(bytes32 marketId, address caller);
    error BadRule(bytes32 marketId);
    error ProofAgrees(bytes32 marketId, uint16 outcome);
    error VoteUnavailable(bytes32 marketId);
    error NotMember(uint256 index, address signer);
    error TooEarly(uint64 due);
    error NotDisputable(bytes32 marketId, State state);
    error WrongBond(uint256 sent, uint256 bond);
    error NotDisputed(bytes32 marketId);
    error NoRule(bytes32 marketId);
    error InputNotPinned(bytes32 marketId, uint256 expected, uint256 got);
    error OutcomeOutOfRange(uint16 outcome, uint16 outcomeCount);
    error NotEnoughSignatures(uint256 got, uint256 needed);
    error UnknownSigner(uint256 index, address signer);
    error SignersNotSorted(uint256 index);
    error NotArbiter(address caller);
    error RulingNotDue(uint64 due);
    error NotFinal(bytes32 marketId, State state);
    error NoFeeShare(bytes32 marketId);
    error NotRecordingSet(bytes32 marketId, uint64 epoch);
    error AlreadyPaid(bytes32 marketId, address payee);
    error SharesTaken(bytes32 marketId, uint16 slots);
    error NothingOwed(address account);
    error PaymentFailed(address to);
    error BadParameters(string field);
    error AlreadyPaused();
    error NotPaused();

    constructor(QuorumOracle oracle_, Parameters memory p) {
        oracle = oracle_;
        registry = oracle_.registry();
        _checkParameters(p);
        _params = p;
    }

    // ------------------------------------------------------------- fees in

    /// The registry forwards each registration's payment here.
    function escrowFee(bytes32 marketId, address creator) external payable {
        if (msg.sender != address(registry)) revert NotRegistry(msg.sender);
        if (msg.value < _params.minFee) revert FeeTooLow(msg.value, _params.minFee);
        creatorOf[marketId] = creator;
        _fees[marketId].pot = uint128(msg.value);
        emit FeeEscrowed(marketId, creator, msg.value);
    }

    /// Stores the rule a market committed to at registration (its `ruleHash`, part of its id, which
    /// validators derive from the spec: `MarketSpec.zk_rule`), so that a dispute can be settled by the
    /// proof. Anyone, once; nobody can substitute another rule.
    function setRule(bytes32 marketId, QuorumOracle.ZkRule calldata rule) external {
        MarketRegistry.Market memory m = _market(marketId);
        if (m.ruleHash == bytes32(0)) revert NoRule(marketId);
        if (hasRule[marketId] || keccak256(abi.encode(rule)) != m.ruleHash || rule.above >= m.outcomeCount
            || rule.below >= m.outcomeCount) revert BadRule(marketId);
        uint256 inputs = oracle.models().modelOf(m.modelId).inputCount; // reverts: no verifier, no rule
        if (rule.pinnedInput != NOT_PINNED && rule.pinnedInput >= inputs) revert BadRule(marketId);
        _rules[marketId] = rule;
        hasRule[marketId] = true;
        emit RuleSet(marketId, rule);
    }

    function ruleOf(bytes32 marketId) external view returns (QuorumOracle.ZkRule memory) {
        return _rules[marketId];
    }

    // -------------------------------------------------------------- state

    function stateOf(bytes32 marketId) public view returns (State) {
        if (!registry.isRegistered(marketId)) return State.Unregistered;
        Case storage c = _cases[marketId];
        if (c.ruling != Ruling.None) return c.outcome == INVALID_OUTCOME ? State.Invalid : State.Final;
        (bool resolved, uint64 due, uint16 outcome) = _proposalFinalAt(marketId);
        if (!resolved) return State.Open;
        if (c.disputedAt != 0) return State.Disputed;
        if (block.timestamp < due) return State.Proposed;
        return outcome == INVALID_OUTCOME ? State.Invalid : State.Final;
    }

    function isFinal(bytes32 marketId) public view returns (bool final_) {
        (final_,,) = finality(marketId);
    }

    /// One read for a consumer: whether the market is final and, if so, its outcome (maybe
    /// INVALID_OUTCOME) and when it became final (zeros otherwise).
    function finality(bytes32 marketId) public view returns (bool final_, uint16 outcome, uint64 finalAt) {
        Case storage c = _cases[marketId];
        if (c.ruling != Ruling.None) return (true, c.outcome, c.settledAt);
        if (c.disputedAt != 0) return (false, 0, 0);
        bool resolved;
        (resolved, finalAt, outcome) = _proposalFinalAt(marketId);
        if (!resolved || block.timestamp < finalAt) return (false, 0, 0);
        final_ = true;
    }

    /// The final outcome (maybe INVALID_OUTCOME) and when it became final; reverts `NotFinal` otherwise.
    function finalOf(bytes32 marketId) public view returns (uint16 outcome, uint64 finalAt) {
        bool final_;
        (final_, outcome, finalAt) = finality(marketId);
        if (!final_) revert NotFinal(marketId, stateOf(marketId));
    }

    /// When an undisputed proposal is (or will be) final: the end of its window, pushed to the end of
    /// every pause it fell in (`resolved` false: no proposal recorded yet).
    function _proposalFinalAt(bytes32 marketId) private view returns (bool resolved, uint64 due, uint16 outcome) {
        uint64 resolvedAt;
        (resolvedAt, outcome) = oracle.proposalOf(marketId);
        if (resolvedAt == 0) return (false, 0, 0);
        resolved = true;
        due = resolvedAt + registry.disputeWindowOf(marketId);
        // The pause running when the window ends holds it to the pause's end; strictly after the start:
        // a pause starting in the block a proposal turns final leaves it final, and a pause starting
        // as another ends does not hold again what that one released.
        uint256 i = _pauses.length;
        while (i > 0 && _pauses[i - 1].end > due) i--;
        if (i < _pauses.length && due > _pauses[i].start) due = _pauses[i].end;
    }

    /// Emits `Finalized` once for a final market (anyone; finality itself needs no transaction).
    function finalize(bytes32 marketId) external {
        (uint16 outcome,) = finalOf(marketId);
        if (!finalized[marketId]) {
            finalized[marketId] = true;
            emit Finalized(marketId, outcome);
        }
    }

    function caseOf(bytes32 marketId) external view returns (Case memory) {
        return _cases[marketId];
    }

    function feesOf(bytes32 marketId) external view returns (Fees memory) {
        return _fees[marketId];
    }

    // ----------------------------------------------------------- disputes

    function dispute(bytes32 marketId) external payable {
        State s = stateOf(marketId);
        if (s != State.Proposed) revert NotDisputable(marketId, s);
        uint256 bond = _params.disputeBond;
        if (msg.value != bond) revert WrongBond(msg.value, bond);
        _cases[marketId] = Case(msg.sender, uint64(block.timestamp), Ruling.None, uint96(bond), 0, 0);
        emit Disputed(marketId, msg.sender, bond);
    }

    /// The ZK path, to overturn: the proof whose hash the quorum signed, over the inputs whose hash it
    /// signed, through the resolver's verifier, under the market's committed rule, gives another
    /// outcome than the quorum signed (a proof over another constant than the market's pinned one
    /// answers another question: INVALID). A proof that agrees settles nothing (`ProofAgrees`).
    /// `r` is the disputed resolution (its `Resolved` event's): the oracle checks it against the struct
    /// hash it recorded (`ResolutionMismatch` for any other).
    function settleByProof(QuorumOracle.Resolution calldata r, bytes calldata proof, uint256[] calldata instances)
        external
    {
        bytes32 marketId = r.marketId;
        _openCase(marketId);
        if (!hasRule[marketId]) revert NoRule(marketId);
        oracle.checkedRecord(r);
        uint256 output = oracle.checkProof(marketId, r.modelId, r.inputsHash, r.proofHash, proof, instances);
        QuorumOracle.ZkRule memory rule = _rules[marketId];
        uint16 proven = rule.pinnedInput != NOT_PINNED && instances[rule.pinnedInput] != rule.pinnedValue
            ? INVALID_OUTCOME
            : oracle.outcomeFor(rule, output);
        if (proven == r.outcome) revert ProofAgrees(marketId, proven);
        // re-read after the verifier's call: the case must still be open
        _settle(marketId, _openCase(marketId), proven, Ruling.Overturned);
    }

    /// Members needed for a ruling vote: ceil(n * escalationBps / 10000), and more than the proposal
    /// needed; `VoteUnavailable` when the set is too small for that (the arbiter or the timeout then).
    function escalatedQuorum(bytes32 marketId) public view returns (uint256 e) {
        uint256 n = oracle.validators().length;
        uint256 base = oracle.threshold();
        uint256 q = registry.getMarket(marketId).quorum;
        if (q > base) base = q;
        e = (n * _params.escalationBps + 9_999) / 10_000;
        if (e <= base) e = base + 1;
        if (e > n) revert VoteUnavailable(marketId);
    }

    function rulingDigest(bytes32 marketId, uint16 outcome) public view returns (bytes32) {
        return _typed(keccak256(abi.encode(RULING_TYPEHASH, marketId, outcome)));
    }

    /// A larger quorum's ruling: signatures over `Ruling(marketId, outcome)`, by members, ascending.
    function settleByVote(bytes32 marketId, uint16 outcome, bytes[] calldata signatures) external {
        Case storage c = _openCase(marketId);
        _checkOutcome(marketId, outcome);
        uint256 needed = escalatedQuorum(marketId);
        if (signatures.length < needed) revert NotEnoughSignatures(signatures.length, needed);
        _members(rulingDigest(marketId, outcome), signatures);
        _settle(marketId, c, outcome, outcome == oracle.outcomeOf(marketId) ? Ruling.Upheld : Ruling.Overturned);
    }

    function settleByArbiter(bytes32 marketId, uint16 outcome) external {
        address arbiter = _params.arbiter;
        if (arbiter == address(0) || msg.sender != arbiter) revert NotArbiter(msg.sender);
        Case storage c = _openCase(marketId);
        _checkOutcome(marketId, outcome);
        _settle(marketId, c, outcome, outcome == oracle.outcomeOf(marketId) ? Ruling.Upheld : Ruling.Overturned);
    }

    /// Nothing settled the dispute within RULING_TIMEOUT: INVALID, the disputer's bond burned (else a
    /// dispute nobody settles would void a market for free), the fee back to the creator.
    function settleByTimeout(bytes32 marketId) external {
        Case storage c = _openCase(marketId);
        uint64 due = c.disputedAt + RULING_TIMEOUT;
        if (block.timestamp < due) revert RulingNotDue(due);
        _settle(marketId, c, INVALID_OUTCOME, Ruling.TimedOut);
    }

    function _openCase(bytes32 marketId) private view returns (Case storage c) {
        c = _cases[marketId];
        if (c.disputedAt == 0 || c.ruling != Ruling.None) revert NotDisputed(marketId);
    }

    function _checkOutcome(bytes32 marketId, uint16 outcome) private view {
        uint16 count = registry.getMarket(marketId).outcomeCount;
        if (outcome >= count && outcome != INVALID_OUTCOME) revert OutcomeOutOfRange(outcome, count);
    }

    function _settle(bytes32 marketId, Case storage c, uint16 outcome, Ruling ruling) private {
        c.settledAt = uint64(block.timestamp);
        c.outcome = outcome;
        c.ruling = ruling;
        Fees storage f = _fees[marketId];
        if (ruling == Ruling.Upheld) {
            f.pot += c.bond; // a failed dispute pays the side it disputed
        } else if (ruling == Ruling.Overturned) {
            _credit(marketId, c.disputer, c.bond + f.pot - f.paid, "dispute won");
            f.paid = f.pot;
            f.closed = true;
        } else if (ruling == Ruling.TimedOut) {
            burned += c.bond;
        } else {
            _credit(marketId, c.disputer, c.bond, "bond returned"); // an emergency: no side was shown wrong
        }
        emit DisputeSettled(marketId, ruling, outcome);
    }

    // ---------------------------------------------------------- fees out

    /// A final (not INVALID, not overturned) market's fees, within CLAIM_PERIOD.
    function _payable(bytes32 marketId) private view returns (Fees storage f) {
        State s = stateOf(marketId);
        if (s != State.Final) revert NotFinal(marketId, s);
        Ruling ruling = _cases[marketId].ruling;
        if (ruling != Ruling.None && ruling != Ruling.Upheld) revert NoFeeShare(marketId);
        f = _fees[marketId];
        if (f.closed) revert NoFeeShare(marketId);
        (, uint64 finalAt) = finalOf(marketId);
        if (block.timestamp >= finalAt + CLAIM_PERIOD) revert NoFeeShare(marketId);
    }

    /// `members` must be the set that recorded the resolution (the oracle keeps its hash per epoch).
    function _recordingSet(bytes32 marketId, QuorumOracle.Record memory rec, address[] calldata members)
        private
        view
    {
        if (keccak256(abi.encode(members)) != oracle.setHashAt(rec.epoch)) revert NotRecordingSet(marketId, rec.epoch);
    }

    /// A member's share for signing the final resolution: `signature` is its vote (over the oracle's
    /// `digest`), `members` the set that recorded it. Paid to the signer, whoever sends it; one share
    /// per member of that set.
    function claimSignerFee(bytes32 marketId, bytes calldata signature, address[] calldata members) external {
        Fees storage f = _payable(marketId);
        QuorumOracle.Record memory rec = oracle.recordOf(marketId);
        _recordingSet(marketId, rec, members);
        address signer = _recover(oracle.digestOfHash(rec.resolutionHash), signature, 0);
        uint256 i = 0;
        while (i < members.length && members[i] != signer) i++;
        if (i == members.length) revert UnknownSigner(0, signer);
        if (signerPaid[marketId][signer]) revert AlreadyPaid(marketId, signer);
        if (f.slots == 0) f.slots = uint16(members.length);
        signerPaid[marketId][signer] = true;
        f.signerClaims += 1;
        uint256 share = (f.pot - f.pot * PROVER_BPS / 10_000) / f.slots;
        f.paid += uint128(share);
        _credit(marketId, signer, share, "signer");
    }

    function proverCreditDigest(bytes32 marketId, bytes32 proofHash, address prover) public view returns (bytes32) {
        return _typed(keccak256(abi.encode(PROVER_CREDIT_TYPEHASH, marketId, proofHash, prover)));
    }

    /// The prover's share: members of the recording set, as many as the market's quorum and a strict
    /// majority of that set, name who made the proof the final resolution used, in
    /// `ProverCredit(marketId, proofHash, prover)`; `indices[i]` is signature i's place in `members`.
    /// `r` is the final resolution (its `Resolved` event's), checked against the oracle's record.
    function claimProverFee(
        QuorumOracle.Resolution calldata r,
        address prover,
        bytes[] calldata signatures,
        address[] calldata members,
        uint256[] calldata indices
    ) external {
        bytes32 marketId = r.marketId;
        Fees storage f = _payable(marketId);
        if (f.proverPaid) revert AlreadyPaid(marketId, prover);
        _recordingSet(marketId, oracle.checkedRecord(r), members);
        uint256 needed = members.length / 2 + 1;
        uint256 q = registry.getMarket(marketId).quorum;
        if (q > needed) needed = q;
        if (signatures.length < needed || indices.length != signatures.length) {
            revert NotEnoughSignatures(signatures.length, needed);
        }
        bytes32 d = proverCreditDigest(marketId, r.proofHash, prover);
        address previous = address(0);
        for (uint256 i = 0; i < signatures.length; i++) {
            address signer = _recover(d, signatures[i], i);
            if (indices[i] >= members.length || members[indices[i]] != signer) revert NotMember(i, signer);
            if (signer <= previous) revert SignersNotSorted(i);
            previous = signer;
        }
        f.proverPaid = true;
        uint256 share = f.pot * PROVER_BPS / 10_000;
        f.paid += uint128(share);
        _credit(marketId, prover, share, "prover");
    }

    /// The fee back to the creator: the market ended INVALID (no answer from the data, a ruling's
    /// timeout, an emergency), had no resolution RESOLUTION_GRACE after its resolve time, or the rest
    /// of it once CLAIM_PERIOD has passed since it became final.
    function refundFee(bytes32 marketId) external {
        State s = stateOf(marketId);
        Fees storage f = _fees[marketId];
        if (f.closed) revert NoFeeShare(marketId);
        if (s == State.Open) {
            uint64 due = registry.getMarket(marketId).resolveAt + RESOLUTION_GRACE;
            if (block.timestamp < due) revert TooEarly(due);
        } else if (s == State.Final) {
            (, uint64 finalAt) = finalOf(marketId);
            if (block.timestamp < finalAt + CLAIM_PERIOD) revert TooEarly(finalAt + CLAIM_PERIOD);
        } else if (s != State.Invalid) {
            revert NotFinal(marketId, s);
        }
        f.closed = true;
        uint256 rest = f.pot - f.paid;
        f.paid = f.pot;
        _credit(marketId, creatorOf[marketId], rest, "refund");
    }

    function withdraw() external {
        uint256 amount = owed[msg.sender];
        if (amount == 0) revert NothingOwed(msg.sender);
        owed[msg.sender] = 0;
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert PaymentFailed(msg.sender);
        emit Withdrawn(msg.sender, amount);
    }

    function _credit(bytes32 marketId, address to, uint256 amount, string memory why) private {
        if (amount == 0) return;
        owed[to] += amount;
        emit Credited(marketId, to, amount, why);
    }

    // -------------------------------------------------------- governance

    function parameters() external view returns (Parameters memory) {
        return _params;
    }

    function queuedParameters() external view returns (Parameters memory) {
        return _queuedParams;
    }

    function queueParameters(Parameters calldata p) external onlyOwner {
        _checkParameters(p);
        _queuedParams = p;
        queuedParamsAt = _executableAt();
        emit ParametersQueued(p, queuedParamsAt);
    }

    function cancelParameters() external onlyOwner {
        if (queuedParamsAt == 0) revert NothingQueued();
        queuedParamsAt = 0;
        emit ParametersCancelled();
    }

    function executeParameters() external {
        uint64 due = queuedParamsAt;
        _requireDue(due);
        queuedParamsAt = 0;
        _params = _queuedParams;
        emit ParametersExecuted(_params);
    }

    function _checkParameters(Parameters memory p) private view {
        if (p.disputeBond == 0) revert BadParameters("disputeBond"); // a free dispute is a free delay
        if (p.disputeBond > type(uint96).max) revert BadParameters("disputeBond");
        if (p.escalationBps <= 5_000 || p.escalationBps > 10_000) revert BadParameters("escalationBps");
        if (p.defaultDisputeWindow > registry.MAX_DISPUTE_WINDOW()) revert BadParameters("defaultDisputeWindow");
    }

    function queuePause() external onlyOwner {
        pauseExecutableAt = _executableAt();
        emit PauseQueued(pauseExecutableAt);
    }

    function cancelPause() external onlyOwner {
        if (pauseExecutableAt == 0) revert NothingQueued();
        pauseExecutableAt = 0;
        emit PauseCancelled();
    }

    /// Anyone starts a queued pause once due: for MAX_PAUSE at most, no proposal becomes final.
    function executePause() external {
        uint64 due = pauseExecutableAt;
        _requireDue(due);
        if (paused()) revert AlreadyPaused();
        pauseExecutableAt = 0;
        uint64 until = uint64(block.timestamp) + MAX_PAUSE;
        _pauses.push(Pause(uint64(block.timestamp), until));
        emit Paused(until);
    }

    /// Ends the pause now (finality resumes: nothing a window already allowed is held any longer).
    function unpause() external onlyOwner {
        if (!paused()) revert NotPaused();
        _pauses[_pauses.length - 1].end = uint64(block.timestamp);
        emit Unpaused();
    }

    function paused() public view returns (bool) {
        uint256 n = _pauses.length;
        return n != 0 && block.timestamp < _pauses[n - 1].end;
    }

    function pauses() external view returns (Pause[] memory) {
        return _pauses;
    }

    /// An emergency resolution is INVALID only (every stake refunded, the fee back): governance can
    /// stop a market it sees broken, never pick its winner; and only once its resolve time has come.
    function queueEmergencyResolution(bytes32 marketId) external onlyOwner {
        _market(marketId);
        uint64 due = _executableAt();
        emergencyAt[marketId] = due;
        emit EmergencyQueued(marketId, due);
    }

    function cancelEmergencyResolution(bytes32 marketId) external onlyOwner {
        if (emergencyAt[marketId] == 0) revert NothingQueued();
        delete emergencyAt[marketId];
        emit EmergencyCancelled(marketId);
    }

    /// Anyone executes a due emergency resolution of a market that is not final yet and whose resolve
    /// time has come: INVALID; a disputer gets its bond back, the creator its fee (`refundFee`).
    function executeEmergencyResolution(bytes32 marketId) external {
        uint64 due = emergencyAt[marketId];
        _requireDue(due);
        uint64 resolveAt = registry.getMarket(marketId).resolveAt;
        if (block.timestamp < resolveAt) revert TooEarly(resolveAt);
        State s = stateOf(marketId);
        if (s == State.Final || s == State.Invalid) revert NotDisputable(marketId, s);
        delete emergencyAt[marketId];
        Case storage c = _cases[marketId];
        if (c.disputedAt == 0) c.disputedAt = uint64(block.timestamp);
        _settle(marketId, c, INVALID_OUTCOME, Ruling.Emergency);
    }

    // ------------------------------------------------------------ helpers

    function domainSeparator() public view returns (bytes32) {
        return keccak256(
            abi.encode(DOMAIN_TYPEHASH, keccak256(bytes(NAME)), keccak256(bytes(VERSION)), block.chainid, address(this))
        );
    }

    function _typed(bytes32 structHash) private view returns (bytes32) {
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator(), structHash));
    }

    function _members(bytes32 d, bytes[] calldata signatures) private view {
        address previous = address(0);
        for (uint256 i = 0; i < signatures.length; i++) {
            address signer = _recover(d, signatures[i], i);
            if (!oracle.isValidator(signer)) revert UnknownSigner(i, signer);
            if (signer <= previous) revert SignersNotSorted(i);
            previous = signer;
        }
    }

    function _market(bytes32 marketId) private view returns (MarketRegistry.Market memory) {
        if (!registry.isRegistered(marketId)) revert UnregisteredMarket(marketId);
        return registry.getMarket(marketId);
    }
}
