import ArgumentParser
import ByteEncoding
import Coordinator
import Foundation

/// Where the operator commands find the store: `--config FILE` (its `store`) or `--store URL`.
struct StoreOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The coordinator's YAML configuration file (its store setting is used).", valueName: "FILE"))
    var config: String?

    @Option(help: ArgumentHelp("The store instead of --config: sqlite:PATH or postgres://user@host:port/db. It must exist: nothing is created.", valueName: "URL"))
    var store: String?

    func validate() throws {
        if (config == nil) == (store == nil) { throw ValidationError("give exactly one of --config FILE or --store URL") }
    }

    /// Opens the existing store (never creating one).
    func open(readOnly: Bool) async throws -> JobStore {
        let url = try store ?? CoordinatorConfig(file: config ?? "").store
        return try await JobStore.openExisting(url, readOnly: readOnly)
    }
}

/// A job as the operator commands print it.
enum JobView {
    /// The JSON object: every key always present (null when unknown).
    static func object(_ r: JobRecord) -> [String: Any] {
        func orNull(_ v: Any?) -> Any { v ?? NSNull() }
        let settlement: Any =
            r.settlement.map { s -> [String: Any] in
                var o: [String: Any] = ["kind": s.kind, "transaction": orNull(r.settlementTransaction.map { Hex.prefixed($0) })]
                switch s {
                case .fail(let reason): o["reason"] = reason
                case .confirm(let epochs, let resultHash, let ref):
                    o["actualEpochs"] = Int(epochs)
                    o["resultHash"] = Hex.prefixed(resultHash)
                    o["attestationRef"] = Hex.prefixed(ref)
                }
                return o
            } ?? NSNull()
        return [
            "jobId": r.jobIDHex, "state": r.state.description, "datasetRoot": Hex.prefixed(r.datasetRoot), "requestedEpochs": Int(r.requestedEpochs),
            "provider": orNull(r.providerURL), "nodeSigner": orNull(r.nodeSigner?.checksummed), "taskId": orNull(r.taskID), "taskStatus": orNull(r.taskStatus?.rawValue),
            "settlement": settlement, "reason": orNull(r.reason), "dispatchAttempts": r.dispatchAttempts, "settlementAttempts": r.settlementAttempts,
            "updatedAt": timestamp(r.updatedAt), "createdAt": timestamp(r.createdAt),
        ]
    }

    /// A table, one job per line.
    static func table(_ records: [JobRecord]) -> String {
        let header = ["JOB", "STATE", "PROVIDER", "TASK", "STATUS", "SETTLEMENT", "ATTEMPTS", "UPDATED", "REASON"]
        let rows = records.map { r in
            [
                r.jobIDHex, r.state.description, r.providerURL ?? "-", r.taskID ?? "-", r.taskStatus?.rawValue ?? "-",
                r.settlement.map { s in s.kind + (r.settlementTransaction.map { " " + Hex.prefixed($0) } ?? " (unsent)") } ?? "-",
                "\(r.dispatchAttempts)/\(r.settlementAttempts)", timestamp(r.updatedAt), r.reason ?? "-",
            ]
        }
        var widths = header.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in i == cells.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }.joined(separator: "  ")
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }

    static func timestamp(_ d: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: d)
    }
}

/// `coordinator jobs`: list the store's jobs.
struct JobsCommand: AsyncParsableCommand, JSONOutputCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs",
        abstract: "List the coordinator's jobs from its store.",
        discussion: """
            One line per job, oldest first: job id, state, provider node, task id, the task status \
            the provider last reported, the settlement (confirm or fail, and its transaction hash once \
            sent), dispatch/settlement attempts, last update and reason. With --json, an array of \
            objects with the keys jobId, state, datasetRoot, requestedEpochs, provider, nodeSigner, \
            taskId, taskStatus, settlement ({kind, transaction, …} or null), reason, dispatchAttempts, \
            settlementAttempts, createdAt, updatedAt (always present, null when unknown). The store is \
            opened read-only (SQLite) and never created. \(CoordinatorCommand.exitCodes)
            """
    )

    @OptionGroup var location: StoreOptions

    @Option(help: ArgumentHelp("Only jobs in this state: \(JobRecord.State.allCases.map(\.description).joined(separator: ", ")).", valueName: "STATE"))
    var state: String?

    @Flag(help: "Print a JSON array.")
    var json = false

    func validate() throws {
        if let state, !JobRecord.State.allCases.contains(where: { $0.description == state }) {
            throw ValidationError("--state must be one of \(JobRecord.State.allCases.map(\.description).joined(separator: ", "))")
        }
    }

    func run() async throws {
        let wanted = JobRecord.State.allCases.first { $0.description == state }
        let store = try await location.open(readOnly: true)
        let result: Result<[JobRecord], CoordinatorError>
        do { result = .success(try await CoordinatorOperator(store: store).jobs(state: wanted)) } catch { result = .failure(error) }
        await store.close()
        let records = try result.get()
        print(json ? JSONText.text(records.map(JobView.object)) : JobView.table(records))
    }
}

/// `coordinator fail JOBID --reason R`.
struct FailCommand: AsyncParsableCommand, JSONOutputCommand {
    static let configuration = CommandConfiguration(
        commandName: "fail",
        abstract: "Fail a job on chain: store a markJobFailed(REASON) settlement, sent at the coordinator's next round.",
        discussion: """
            Replaces an unsent settlement intent (a confirm too) and takes the job from whichever \
            coordinator holds it. Refused (exit 2) for an unknown job, a job that is completed or \
            failed, or one whose settlement transaction was already sent (the chain decides that one \
            first). The reason is the on-chain reason string: 1–200 printable ASCII characters. \
            Prints the job as `jobs` does. \(CoordinatorCommand.exitCodes)
            """
    )

    @Argument(help: ArgumentHelp("The job id: 0x and 64 hex digits.", valueName: "JOBID"))
    var jobID: String

    @Option(help: ArgumentHelp("Why, as sent on chain: 1–200 printable ASCII characters.", valueName: "REASON"))
    var reason: String

    @OptionGroup var location: StoreOptions

    @Flag(help: "Print the job as one JSON object.")
    var json = false

    func run() async throws {
        let id = try CoordinatorOperator.jobID(jobID)
        try CoordinatorOperator.checkReason(reason)
        let store = try await location.open(readOnly: false)
        let result: Result<JobRecord, CoordinatorError>
        do { result = .success(try await CoordinatorOperator(store: store).fail(id, reason: reason, now: Date())) } catch { result = .failure(error) }
        await store.close()
        let record = try result.get()
        print(json ? JSONText.text(JobView.object(record)) : "job \(record.jobIDHex) is settling: markJobFailed(\"\(reason)\") is sent at the coordinator's next round")
    }
}

/// `coordinator retry JOBID`.
struct RetryCommand: AsyncParsableCommand, JSONOutputCommand {
    static let configuration = CommandConfiguration(
        commandName: "retry",
        abstract: "Send a job that is not yet settled back to dispatch, with a new dispatch attempt count.",
        discussion: """
            The job is due at once and taken from whichever coordinator holds it. Refused (exit 2) \
            for an unknown job and for a job that is completed, failed or has a settlement intent. \
            Prints the job as `jobs` does. \(CoordinatorCommand.exitCodes)
            """
    )

    @Argument(help: ArgumentHelp("The job id: 0x and 64 hex digits.", valueName: "JOBID"))
    var jobID: String

    @OptionGroup var location: StoreOptions

    @Flag(help: "Print the job as one JSON object.")
    var json = false

    func run() async throws {
        let id = try CoordinatorOperator.jobID(jobID)
        let store = try await location.open(readOnly: false)
        let result: Result<JobRecord, CoordinatorError>
        do { result = .success(try await CoordinatorOperator(store: store).retry(id, now: Date())) } catch { result = .failure(error) }
        await store.close()
        let record = try result.get()
        print(json ? JSONText.text(JobView.object(record)) : "job \(record.jobIDHex) is back to \(record.state): it is dispatched at the coordinator's next round")
    }
}
