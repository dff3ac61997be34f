import Chain
import Coordinator
import Testing

/// The tracker over every combination of stored state, task observation, chain state and
/// timeout (4 × 12 × 8 × 2 = 768 rows): invariants that must hold on every row, and the
/// orchestrator's table row by row.
@Suite("Coordinator: job tracker")
struct JobTrackerTests {
    typealias T = JobTracker

    static let observations: [T.TaskObservation] = TaskStatus.allCases.map { .status($0) } + [.notFound, .unreachable]

    static var everyRow: [T.Observation] {
        var rows = [T.Observation]()
        for stored in T.Stored.allCases {
            for task in observations {
                for chain in DataPolicy.JobState.allCases {
                    for past in [false, true] { rows.append(T.Observation(stored: stored, task: task, chain: chain, pastTimeout: past)) }
                }
            }
        }
        return rows
    }

    @Test("invariants on all 768 rows: the chain's last word ends tracking, one settlement at most, nothing sent for a settled job")
    func invariants() {
        let rows = Self.everyRow
        #expect(rows.count == 768)
        for o in rows {
            let a = T.decide(o)
            let live = o.chain == .granted || o.chain == .running
            if !live { #expect(a == .stopTracking, "\(o) → \(a)") }
            if live && o.stored == .settling { #expect(a == .awaitSettlement, "\(o) → \(a)") }
            switch a {
            case .checkResultAndConfirm:
                #expect(o.task == .status(.finished) && live && o.stored != .settling, "\(o)")
            case .markFailed:
                #expect(live && o.stored != .settling, "\(o)")
            case .startJob:
                #expect(o.chain == .granted && !o.pastTimeout, "\(o)")
            case .acknowledgeModel:
                #expect(o.task == .status(.delivered) && o.stored != .acknowledged && o.chain == .running, "\(o)")
            case .wait:
                // Waiting past the timeout would hang the job forever.
                #expect(!o.pastTimeout, "\(o)")
            case .awaitSettlement, .stopTracking:
                break
            }
        }
    }

    @Test("the orchestrator's table, row by row")
    func table() {
        func d(_ task: T.TaskObservation, stored: T.Stored = .started, chain: DataPolicy.JobState = .running, past: Bool = false) -> T.Action {
            T.decide(T.Observation(stored: stored, task: task, chain: chain, pastTimeout: past))
        }
        for s in [TaskStatus.initial, .settingUp, .setUp, .training, .trained, .delivering] {
            #expect(d(.status(s)) == .wait)
            #expect(d(.status(s), past: true) == .markFailed(.taskStuck))
        }
        #expect(d(.status(.delivered)) == .acknowledgeModel)
        #expect(d(.status(.delivered), stored: .acknowledged) == .wait)
        #expect(d(.status(.userAcknowledged), stored: .acknowledged) == .wait)
        #expect(d(.status(.finished)) == .checkResultAndConfirm)
        #expect(d(.status(.finished), past: true) == .checkResultAndConfirm)  // a late result still settles
        #expect(d(.status(.failed)) == .markFailed(.taskFailed))
        #expect(d(.notFound) == .markFailed(.taskLost))
        #expect(d(.unreachable) == .wait)
        #expect(d(.unreachable, past: true) == .markFailed(.providerUnreachable))
        // startJob lost after dispatch: sent again while the task works; a failure still wins.
        #expect(d(.status(.training), stored: .dispatched, chain: .granted) == .startJob)
        #expect(d(.status(.settingUp), chain: .granted) == .startJob)
        #expect(d(.status(.failed), stored: .dispatched, chain: .granted) == .markFailed(.taskFailed))
        #expect(d(.status(.finished), stored: .dispatched, chain: .granted) == .checkResultAndConfirm)
        // Settled elsewhere (another replica, the requester's timeoutJob): nothing is sent.
        for chain in [DataPolicy.JobState.completed, .failed, .timedOut, .refunded, .none, .requested] {
            #expect(d(.status(.finished), chain: chain) == .stopTracking)
            #expect(d(.status(.failed), stored: .settling, chain: chain) == .stopTracking)
        }
        #expect(d(.status(.finished), stored: .settling) == .awaitSettlement)
        #expect(d(.unreachable, stored: .settling, past: true) == .awaitSettlement)
    }

    @Test("failure reasons are the stable codes sent on chain")
    func reasons() {
        #expect(T.FailureReason.allCases.map(\.rawValue) == ["task_failed", "task_lost", "provider_unreachable", "task_stuck"])
        #expect(TaskStatus(rawValue: "UserAcknowledged") == .userAcknowledged && TaskStatus(rawValue: "Init") == .initial)
    }
}
