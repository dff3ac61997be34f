import ByteEncoding
import Foundation

/// What an operator may do to the coordinator's jobs, through the store alone (no chain, no
/// nodes): list them, fail one, send one back to dispatch. `coordinator jobs|fail|retry` and
/// ``CoordinatorEngine/operatorFail(_:reason:now:)`` / ``CoordinatorEngine/operatorRetry(_:now:)``
/// both go through it. A running coordinator picks a change up at its next round: an override
/// clears the job's lease, so a coordinator in the middle of a step on it stops there.
public struct CoordinatorOperator: Sendable {
    /// The store acted on.
    public let store: JobStore

    /// An operator acting on `store`.
    public init(store: JobStore) { self.store = store }

    /// The longest reason accepted (bytes; it is sent on chain with `markJobFailed`).
    public static let maximumReasonLength = 200

    /// Parses a job id: `0x` and 64 hex digits (either case). `.invalidArgument` otherwise.
    public static func jobID(_ text: String) throws(CoordinatorError) -> [UInt8] {
        let digits = String(text.dropFirst(2))
        guard text.hasPrefix("0x") || text.hasPrefix("0X"), digits.utf8.count == 64, let bytes = try? Hex.decode(digits), bytes.count == 32 else {
            throw CoordinatorError(.invalidArgument, "a job id is 0x and 64 hex digits (32 bytes)")
        }
        return bytes
    }

    /// Checks a failure reason: 1–``maximumReasonLength`` printable ASCII characters (space to
    /// `~`), since it becomes the on-chain reason string. `.invalidArgument` otherwise.
    public static func checkReason(_ reason: String) throws(CoordinatorError) {
        let bytes = Array(reason.utf8)
        guard !bytes.isEmpty, bytes.count <= maximumReasonLength else {
            throw CoordinatorError(.invalidArgument, "a reason must be 1–\(maximumReasonLength) characters, not \(bytes.count)")
        }
        guard bytes.allSatisfy({ (0x20...0x7E).contains($0) }) else {
            throw CoordinatorError(.invalidArgument, "a reason must be printable ASCII (space to ~): it is sent on chain")
        }
    }

    /// Every job, oldest first; with `state`, only those in it.
    public func jobs(state: JobRecord.State? = nil) async throws(CoordinatorError) -> [JobRecord] {
        let all = try await store.jobs()
        guard let state else { return all }
        return all.filter { $0.state == state }
    }

    /// Stores a `markJobFailed(reason)` intent for the job (replacing an unsent one), which the
    /// next tracking round sends. `.invalidArgument` for a bad reason, `.jobUnknown` when the
    /// store has no such job, `.jobSettled` when it is completed or failed, or a settlement
    /// transaction was already sent for it (the chain decides that one first).
    public func fail(_ jobID: [UInt8], reason: String, now: Date) async throws(CoordinatorError) -> JobRecord {
        try Self.checkReason(reason)
        if let record = try await store.override(jobID, state: .settling, settlement: .fail(reason: reason), reason: reason, now: now, condition: .noSettlementSent) {
            return record
        }
        throw try await refusal(jobID, doing: "failed")
    }

    /// Sends a job that is not yet settled back to dispatch: due now, with a new dispatch attempt
    /// count (it goes back to the node it was dispatched to, if any, as a lost dispatch does). `.jobUnknown` when the store has no such job; `.jobSettled` when it has a
    /// settlement intent or a terminal state.
    public func retry(_ jobID: [UInt8], now: Date) async throws(CoordinatorError) -> JobRecord {
        if let record = try await store.override(
            jobID, state: .discovered, settlement: nil, reason: "operator retry", now: now, condition: .noSettlementIntent,
            resetDispatchAttempts: true)
        {
            return record
        }
        throw try await refusal(jobID, doing: "retried")
    }

    /// Why an override changed nothing.
    private func refusal(_ jobID: [UInt8], doing verb: String) async throws(CoordinatorError) -> CoordinatorError {
        guard let current = try await store.job(jobID) else { return CoordinatorError(.jobUnknown, "no job \(Hex.prefixed(jobID)) in the store") }
        let what = current.settlement.map { " with a \($0.kind) settlement\(current.settlementTransaction != nil ? " sent" : "")" } ?? ""
        return CoordinatorError(.jobSettled, "job \(Hex.prefixed(jobID)) is \(current.state)\(what): it can no longer be \(verb)")
    }
}
