import Chain

/// The states of a 0G fine-tuning task as a provider reports them (zerog.md §2.4):
/// `Init → SettingUp → SetUp → Training → Trained → Delivering → Delivered → UserAcknowledged →
/// Finished`, plus `Failed`.
public enum TaskStatus: String, Sendable, Hashable, CaseIterable, Codable {
    case initial = "Init", settingUp = "SettingUp", setUp = "SetUp", training = "Training", trained = "Trained"
    case delivering = "Delivering", delivered = "Delivered", userAcknowledged = "UserAcknowledged", finished = "Finished", failed = "Failed"

    /// Still working towards a model: nothing to do but wait (within the task's timeout).
    public var isInProgress: Bool {
        switch self {
        case .initial, .settingUp, .setUp, .training, .trained, .delivering, .userAcknowledged: true
        case .delivered, .finished, .failed: false
        }
    }
}

/// The coordinator's job tracker: what to do next for one dispatched job, decided from what the
/// coordinator recorded, what the provider says of the task, what the chain says of the job, and
/// whether the job has made no progress for longer than its timeout. Pure: no I/O, no clock;
/// the daemon gathers the observation and carries the action out (zerog.md §2.4, the LICEN
/// orchestrator's table).
///
/// The rules, first match wins:
/// 1. The chain has settled the job (Completed, Failed, TimedOut, Refunded) or never had it: stop
///    tracking and send nothing.
/// 2. A settlement is already recorded (its intent stored before its transaction): wait for it;
///    never a second one.
/// 3. The task failed, vanished from the provider, or the provider stayed unreachable (or the
///    task stayed in one state) past the timeout: `markJobFailed` with the reason.
/// 4. Finished: check the result, then `confirmTrainingComplete`.
/// 5. The chain still says Granted: `startJob` (the call after dispatch may have been lost).
/// 6. Delivered and not yet acknowledged: acknowledge the model. Anything else: wait.
public enum JobTracker {
    /// What the coordinator has recorded for a job.
    public enum Stored: String, Sendable, Hashable, CaseIterable {
        /// The task was created at the provider.
        case dispatched
        /// `startJob` was sent (the chain may not show Running yet).
        case started
        /// The model was acknowledged (the task moves on to UserAcknowledged).
        case acknowledged
        /// A settlement (confirmation or failure) intent is stored: only reconciliation remains.
        case settling
    }

    /// What the provider said of the task.
    public enum TaskObservation: Sendable, Hashable {
        /// The task's status.
        case status(TaskStatus)
        /// The provider answered that no such task exists.
        case notFound
        /// The provider did not answer (refused, timed out, 5xx).
        case unreachable
    }

    /// Why a job is failed on chain (the `reasonCode` sent with `markJobFailed`).
    public enum FailureReason: String, Sendable, Hashable, CaseIterable {
        /// The provider reported the task Failed.
        case taskFailed = "task_failed"
        /// The provider no longer knows the task.
        case taskLost = "task_lost"
        /// The provider stayed unreachable past the job's timeout.
        case providerUnreachable = "provider_unreachable"
        /// The task made no progress past the job's timeout.
        case taskStuck = "task_stuck"
    }

    /// The next step.
    public enum Action: Sendable, Hashable {
        /// Nothing to do now; look again at the next poll.
        case wait
        /// Send `startJob(jobId)` (Granted → Running).
        case startJob
        /// Acknowledge the delivered model at the provider.
        case acknowledgeModel
        /// Check the result manifest, then `confirmTrainingComplete` (or fail with the check's reason).
        case checkResultAndConfirm
        /// Store the intent, then send `markJobFailed(jobId, reason)`.
        case markFailed(FailureReason)
        /// A settlement is in flight: reconcile it with the chain, send nothing new.
        case awaitSettlement
        /// The chain has the last word already: forget the job.
        case stopTracking
    }

    /// One observation of a job.
    public struct Observation: Sendable, Hashable {
        /// What the coordinator recorded.
        public var stored: Stored
        /// What the provider said.
        public var task: TaskObservation
        /// What the chain says.
        public var chain: DataPolicy.JobState
        /// Whether the job has shown no progress (or no answer) for longer than its timeout.
        public var pastTimeout: Bool

        /// Creates an observation.
        public init(stored: Stored, task: TaskObservation, chain: DataPolicy.JobState, pastTimeout: Bool) {
            self.stored = stored
            self.task = task
            self.chain = chain
            self.pastTimeout = pastTimeout
        }
    }

    /// The action for `o` (see the type's rules).
    public static func decide(_ o: Observation) -> Action {
        switch o.chain {
        case .granted, .running: break
        case .none, .requested, .completed, .failed, .timedOut, .refunded: return .stopTracking
        }
        if o.stored == .settling { return .awaitSettlement }
        let status: TaskStatus
        switch o.task {
        case .notFound: return .markFailed(.taskLost)
        case .unreachable: return o.pastTimeout ? .markFailed(.providerUnreachable) : .wait
        case .status(let s): status = s
        }
        if status == .failed { return .markFailed(.taskFailed) }
        if status == .finished { return .checkResultAndConfirm }
        if o.pastTimeout { return .markFailed(.taskStuck) }
        if o.chain == .granted { return .startJob }
        if status == .delivered && o.stored != .acknowledged { return .acknowledgeModel }
        return .wait
    }
}
