import ByteEncoding
import EVMCrypto
import Foundation

/// What the coordinator keeps for one job: where it was dispatched, what the provider last said,
/// and the settlement it intends (stored before its transaction is sent).
public struct JobRecord: Sendable, Hashable {
    /// The coordinator's state of a job. Only `completed` and `failed` are terminal.
    public enum State: Int64, Sendable, Hashable, CaseIterable, CustomStringConvertible {
        /// Found Granted on chain; not yet dispatched.
        case discovered = 1
        /// A dispatch is under way (a task may exist at the provider: jobId makes retries safe).
        case dispatching = 2
        /// The provider created the task.
        case dispatched = 3
        /// `startJob` was mined (the chain says Running).
        case started = 4
        /// The delivered model was acknowledged at the provider.
        case acknowledged = 5
        /// A settlement intent is stored; only reconciliation with the chain remains.
        case settling = 6
        /// The chain says Completed.
        case completed = 7
        /// The chain says Failed, TimedOut or Refunded, or the job was dropped before dispatch.
        case failed = 8

        /// The state's name.
        public var description: String {
            switch self {
            case .discovered: "discovered"
            case .dispatching: "dispatching"
            case .dispatched: "dispatched"
            case .started: "started"
            case .acknowledged: "acknowledged"
            case .settling: "settling"
            case .completed: "completed"
            case .failed: "failed"
            }
        }

        /// Whether nothing more happens to the job.
        public var isTerminal: Bool { self == .completed || self == .failed }

        /// The state the job tracker reasons about, for a dispatched job.
        public var tracked: JobTracker.Stored? {
            switch self {
            case .dispatched: .dispatched
            case .started: .started
            case .acknowledged: .acknowledged
            case .settling: .settling
            case .discovered, .dispatching, .completed, .failed: nil
            }
        }
    }

    /// The settlement the coordinator has decided on, stored before its transaction is sent.
    public enum Settlement: Sendable, Hashable, Codable {
        /// `confirmTrainingComplete(jobId, actualEpochs, resultHash, attestationRef)`.
        case confirm(actualEpochs: UInt32, resultHash: [UInt8], attestationRef: [UInt8])
        /// `markJobFailed(jobId, reason)`.
        case fail(reason: String)

        /// `confirm` or `fail`.
        public var kind: String {
            switch self {
            case .confirm: "confirm"
            case .fail: "fail"
            }
        }

        /// The kind as the store's `settlement_kind` column holds it (1 confirm, 2 fail).
        var storedKind: Int64 {
            switch self {
            case .confirm: 1
            case .fail: 2
            }
        }
    }

    /// The on-chain job id (32 bytes).
    public var jobID: [UInt8]
    /// The dataset root (32 bytes).
    public var datasetRoot: [UInt8]
    /// Epochs the requester paid for.
    public var requestedEpochs: UInt32
    /// The coordinator's state.
    public var state: State
    /// The provider node the job was dispatched to.
    public var providerURL: String?
    /// The node's attested signer (named in the dispatch ticket).
    public var nodeSigner: Address?
    /// The provider's task id.
    public var taskID: String?
    /// Dispatch attempts so far.
    public var dispatchAttempts: Int
    /// The task status the provider last reported.
    public var taskStatus: TaskStatus?
    /// The settlement intent, once decided.
    public var settlement: Settlement?
    /// The hash of the last settlement transaction sent for the intent.
    public var settlementTransaction: [UInt8]?
    /// Settlement sends so far.
    public var settlementAttempts: Int
    /// Why the job failed (a reason code), or an operator's note.
    public var reason: String?
    /// When the job was next due for a look.
    public var nextAt: Date
    /// When the job last made progress (a new task status, a dispatch, a settlement).
    public var progressAt: Date
    /// When the coordinator first saw the job.
    public var createdAt: Date
    /// When the record last changed.
    public var updatedAt: Date

    /// The job id as 0x-hex.
    public var jobIDHex: String { Hex.prefixed(jobID) }
}

/// A change to a job record, applied only while the writer holds the job's lease. Every field
/// left nil is unchanged.
public struct JobChange: Sendable, Hashable {
    /// The new state.
    public var state: JobRecord.State?
    /// The provider dispatched to.
    public var providerURL: String?
    /// The node's signer.
    public var nodeSigner: Address?
    /// The provider's task id.
    public var taskID: String?
    /// Count one more dispatch attempt.
    public var countDispatchAttempt = false
    /// The task's latest status.
    public var taskStatus: TaskStatus?
    /// The settlement intent.
    public var settlement: JobRecord.Settlement?
    /// The settlement transaction just sent (counts one settlement attempt).
    public var settlementTransaction: [UInt8]?
    /// A reason code or note.
    public var reason: String?
    /// When to look at the job next.
    public var nextAt: Date?
    /// Mark progress now.
    public var progressed = false

    /// An empty change.
    public init(
        state: JobRecord.State? = nil, providerURL: String? = nil, nodeSigner: Address? = nil, taskID: String? = nil, countDispatchAttempt: Bool = false,
        taskStatus: TaskStatus? = nil, settlement: JobRecord.Settlement? = nil, settlementTransaction: [UInt8]? = nil, reason: String? = nil,
        nextAt: Date? = nil, progressed: Bool = false
    ) {
        self.state = state
        self.providerURL = providerURL
        self.nodeSigner = nodeSigner
        self.taskID = taskID
        self.countDispatchAttempt = countDispatchAttempt
        self.taskStatus = taskStatus
        self.settlement = settlement
        self.settlementTransaction = settlementTransaction
        self.reason = reason
        self.nextAt = nextAt
        self.progressed = progressed
    }
}
