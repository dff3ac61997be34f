import ByteEncoding
import Coordinator
import Foundation
import TestSupport
import Testing

/// The `coordinator` executable, run as a real process as operators and scripts do: help text,
/// exit codes (0 ok, 2 refused or not found, 3 configuration or dependency), `--json` shapes,
/// and the operator commands' effect on the store (read back through ``JobStore``).
@Suite("CLI: coordinator commands, exit codes and JSON", .serialized, .timeLimit(.minutes(5)))
struct CoordinatorCLITests {
    static let keyHex = String(repeating: "4f", count: 32)

    /// A fresh temporary folder, removed after `body`.
    static func withFolder(_ body: (String) async throws -> Void) async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("coordcli-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try await body(dir)
    }

    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> CLIRunner.Result {
        try CLIRunner.run("coordinator", arguments, environment: ProcessInfo.processInfo.environment.merging(environment) { $1 })
    }

    /// A configuration whose chain and nodes are on loopback ports nothing listens on.
    static func config(in dir: String, rpc: String = "http://127.0.0.1:1", dataPolicy: String = "0x5FbDB2315678afecb367f032d93F642f64180aa3", extra: String = "") -> String {
        let policy = TestVectors.packageRoot.appendingPathComponent("policies/dcap-qvl-sample-tdx.yaml").path
        let text = """
            chain:
              rpc: \(rpc)
              dataPolicy: "\(dataPolicy)"
            wallet:
              env: TEST_COORDINATOR_KEY
            discovery:
              logs:
                fromBlock: 0
            store: sqlite:\(dir)/coordinator.db
            results:
              local: \(dir)/models
            providers:
              - url: http://127.0.0.1:2
                platform: tdx
                policies: [\(policy)]
            keyRelease: http://127.0.0.1:3
            listen: 127.0.0.1:0
            verification:
              online: true
            \(extra)
            """
        let path = dir + "/coordinator.yaml"
        _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        return path
    }

    static func id(_ n: UInt8) -> [UInt8] { [UInt8](repeating: n, count: 32) }

    /// A store with three jobs: 1 discovered, 2 dispatched to a node with a task, 3 completed
    /// after a confirm settlement was sent.
    static func seed(_ dir: String) async throws -> String {
        let url = "sqlite:\(dir)/coordinator.db"
        let store = try await JobStore.open(url)
        let now = Date()
        for n: UInt8 in 1...3 { try await store.recordDiscovered(GrantedJob(jobID: id(n), datasetRoot: id(0xD0 + n), requestedEpochs: 3), now: now) }
        _ = try await store.lease(owner: "seed", now: now, duration: 60, states: [.discovered], limit: 10)
        try await store.update(id(2), owner: "seed", now: now, JobChange(state: .dispatched, providerURL: "http://node-a:8092", taskID: "task-2", countDispatchAttempt: true, taskStatus: .training))
        let confirm = JobRecord.Settlement.confirm(actualEpochs: 3, resultHash: id(0xAA), attestationRef: id(0xBB))
        try await store.update(id(3), owner: "seed", now: now, JobChange(state: .settling, settlement: confirm))
        try await store.update(id(3), owner: "seed", now: now, JobChange(settlementTransaction: id(0xEE)))
        try await store.update(id(3), owner: "seed", now: now, JobChange(state: .completed, reason: "chain: completed"))
        for n: UInt8 in 1...3 { try await store.release(id(n), owner: "seed") }
        await store.close()
        return url
    }

    static func stored(_ url: String, _ n: UInt8) async throws -> JobRecord {
        let store = try await JobStore.open(url)
        let record = try await store.job(id(n))
        await store.close()
        return try #require(record)
    }

    static func squeezed(_ s: String) -> String { s.split(whereSeparator: \.isWhitespace).joined(separator: " ") }

    @Test(
        "each command's --help names its options and the exit codes",
        arguments: [
            ([String](), ["run", "jobs", "fail", "retry"]),
            (["run"], ["--config", "--check", "--owner", "SIGTERM", "--json"]),
            (["jobs"], ["--config", "--store", "--state", "--json", "jobId", "taskStatus", "settlement"]),
            (["fail"], ["<JOBID>", "--reason", "--config", "--store", "--json", "printable ASCII"]),
            (["retry"], ["<JOBID>", "--config", "--store", "--json"]),
        ])
    func help(_ command: [String], _ words: [String]) throws {
        let r = try Self.run(command + ["--help"])
        #expect(r.status == 0, "\(r.stderr)")
        let text = Self.squeezed(r.stdout)
        for w in words { #expect(text.contains(w), "\(command) --help lacks \(w): \(r.stdout)") }
        for w in ["Exit codes: 0 success; 2 refused or not found", "3 configuration, usage or dependency error"] {
            #expect(text.contains(w), "\(command) --help lacks the exit codes: \(r.stdout)")
        }
    }

    @Test("run --check with the chain unreachable exits 3, says so, and shows no key; nothing is created")
    func checkChainDown() async throws {
        try await Self.withFolder { dir in
            let config = Self.config(in: dir)
            let r = try Self.run(["run", "--config", config, "--check"], environment: ["TEST_COORDINATOR_KEY": Self.keyHex])
            #expect(r.status == 3, "\(r.stdout) \(r.stderr)")
            #expect(r.stderr.contains("chainUnavailable") && r.stderr.contains("http://127.0.0.1:1"), "\(r.stderr)")
            #expect(!(r.stdout + r.stderr).contains(Self.keyHex) && !(r.stdout + r.stderr).lowercased().contains("4f4f4f4f"))
            #expect(!FileManager.default.fileExists(atPath: dir + "/coordinator.db"), "the store was created before the chain was checked")
            // No key at all: a configuration error naming where the key was looked for.
            let noKey = try Self.run(["run", "--config", config, "--check"], environment: ["TEST_COORDINATOR_KEY": ""])
            #expect(noKey.status == 3 && noKey.stderr.contains("TEST_COORDINATOR_KEY"), "\(noKey.stderr)")
        }
    }

    @Test("a configuration with an unknown key exits 3 naming the key, for run and the operator commands")
    func unknownKey() async throws {
        try await Self.withFolder { dir in
            let config = Self.config(in: dir, extra: "retires:\n  dispatch: 2")
            for args in [["run", "--config", config, "--check"], ["jobs", "--config", config], ["retry", "0x" + Hex.encode(Self.id(1)), "--config", config]] {
                let r = try Self.run(args, environment: ["TEST_COORDINATOR_KEY": Self.keyHex])
                #expect(r.status == 3, "\(args): \(r.stderr)")
                #expect(r.stderr.contains("unknown key \"retires\"") && r.stderr.split(separator: "\n").count == 1, "\(args): \(r.stderr)")
            }
            let json = try Self.run(["jobs", "--config", config, "--json"])
            let error = try #require(try json.json()["error"] as? [String: Any])
            #expect(json.status == 3 && error["code"] as? String == "configInvalid", "\(json.stdout)")
        }
    }

    @Test("jobs --json lists the seeded jobs with every key; --state filters; --config finds the same store")
    func jobsJSON() async throws {
        try await Self.withFolder { dir in
            let url = try await Self.seed(dir)
            let r = try Self.run(["jobs", "--store", url, "--json"])
            #expect(r.status == 0, "\(r.stderr)")
            let jobs = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
            #expect(jobs.count == 3)
            let keys: Set<String> = [
                "jobId", "state", "datasetRoot", "requestedEpochs", "provider", "nodeSigner", "taskId", "taskStatus", "settlement", "reason", "dispatchAttempts",
                "settlementAttempts", "createdAt", "updatedAt",
            ]
            for job in jobs { #expect(Set(job.keys) == keys, "\(job.keys.sorted())") }
            let byID = Dictionary(uniqueKeysWithValues: jobs.map { ($0["jobId"] as! String, $0) })
            let one = try #require(byID["0x" + Hex.encode(Self.id(1))]), two = try #require(byID["0x" + Hex.encode(Self.id(2))]), three = try #require(byID["0x" + Hex.encode(Self.id(3))])
            #expect(one["state"] as? String == "discovered" && one["provider"] is NSNull && one["settlement"] is NSNull)
            #expect(two["state"] as? String == "dispatched" && two["provider"] as? String == "http://node-a:8092" && two["taskId"] as? String == "task-2")
            #expect(two["taskStatus"] as? String == "Training" && two["dispatchAttempts"] as? Int == 1)
            let settlement = try #require(three["settlement"] as? [String: Any])
            #expect(three["state"] as? String == "completed" && settlement["kind"] as? String == "confirm")
            #expect(settlement["transaction"] as? String == "0x" + Hex.encode(Self.id(0xEE)) && three["settlementAttempts"] as? Int == 1)

            let filtered = try Self.run(["jobs", "--store", url, "--json", "--state", "dispatched"])
            let only = try #require(try JSONSerialization.jsonObject(with: Data(filtered.stdout.utf8)) as? [[String: Any]])
            #expect(only.map { $0["jobId"] as? String } == ["0x" + Hex.encode(Self.id(2))])

            let table = try Self.run(["jobs", "--config", Self.config(in: dir)])
            #expect(table.status == 0, "\(table.stderr)")
            #expect(table.stdout.split(separator: "\n").count == 4 && table.stdout.contains("JOB") && table.stdout.contains("task-2"), "\(table.stdout)")

            let badState = try Self.run(["jobs", "--store", url, "--state", "running"])
            #expect(badState.status == 3 && badState.stderr.contains("discovered"), "\(badState.stderr)")
        }
    }

    @Test("jobs never creates a store: a missing file exits 3 and stays missing")
    func jobsMissingStore() async throws {
        try await Self.withFolder { dir in
            let r = try Self.run(["jobs", "--store", "sqlite:\(dir)/nothing.db"])
            #expect(r.status == 3 && r.stderr.contains("storeUnavailable"), "\(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: dir + "/nothing.db"))
            let both = try Self.run(["jobs", "--store", "sqlite:\(dir)/x.db", "--config", "x.yaml"])
            #expect(both.status == 3, "\(both.stderr)")
        }
    }

    @Test("fail stores a markJobFailed intent and retry sends a job back to dispatch, read back through the store")
    func failAndRetry() async throws {
        try await Self.withFolder { dir in
            let url = try await Self.seed(dir)
            let config = Self.config(in: dir)
            let failed = try Self.run(["fail", "0x" + Hex.encode(Self.id(2)), "--reason", "operator: node lost", "--config", config, "--json"])
            #expect(failed.status == 0, "\(failed.stderr)")
            #expect(try failed.json()["state"] as? String == "settling")
            let two = try await Self.stored(url, 2)
            #expect(two.state == .settling && two.settlement == .fail(reason: "operator: node lost") && two.reason == "operator: node lost")

            let retried = try Self.run(["retry", "0x" + Hex.encode(Self.id(1)).uppercased(), "--store", url])
            #expect(retried.status == 0 && retried.stdout.contains("discovered"), "\(retried.stderr)")
            let one = try await Self.stored(url, 1)
            #expect(one.state == .discovered && one.reason == "operator retry" && one.dispatchAttempts == 0)
        }
    }

    @Test("fail and retry refuse an unknown job, a settled job, a bad reason and a bad id with exit 2")
    func refusals() async throws {
        try await Self.withFolder { dir in
            let url = try await Self.seed(dir)
            let hex = { (n: UInt8) in "0x" + Hex.encode(Self.id(n)) }
            let cases: [([String], String)] = [
                (["fail", hex(9), "--reason", "x"], "jobUnknown"),
                (["retry", hex(9)], "jobUnknown"),
                (["fail", hex(3), "--reason", "too late"], "jobSettled"),
                (["retry", hex(3)], "jobSettled"),
                (["fail", hex(1), "--reason", ""], "invalidArgument"),
                (["fail", hex(1), "--reason", String(repeating: "r", count: 201)], "invalidArgument"),
                (["fail", hex(1), "--reason", "naïve"], "invalidArgument"),
                (["fail", hex(1), "--reason", "two\nlines"], "invalidArgument"),
                (["fail", "0x1234", "--reason", "x"], "invalidArgument"),
                (["retry", Hex.encode(Self.id(1))], "invalidArgument"),
                (["retry", "0x" + String(repeating: "g", count: 64)], "invalidArgument"),
            ]
            for (args, code) in cases {
                let r = try Self.run(args + ["--store", url, "--json"])
                #expect(r.status == 2, "\(args): \(r.stdout) \(r.stderr)")
                let error = try #require(try r.json()["error"] as? [String: Any], "\(args): \(r.stdout)")
                #expect(error["code"] as? String == code, "\(args): \(error)")
                #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
            }
            // Nothing changed.
            #expect(try await Self.stored(url, 1).state == .discovered)
            #expect(try await Self.stored(url, 3).state == .completed)
            // A job with a settlement intent cannot be retried; 200 characters is a valid reason.
            #expect(try Self.run(["fail", hex(1), "--reason", String(repeating: "r", count: 200), "--store", url]).status == 0)
            let again = try Self.run(["retry", hex(1), "--store", url])
            #expect(again.status == 2 && again.stderr.contains("jobSettled"), "\(again.stderr)")
            // A missing option is a usage error (3).
            #expect(try Self.run(["fail", hex(1), "--store", url]).status == 3)
        }
    }
}
