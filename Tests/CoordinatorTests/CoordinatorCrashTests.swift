import Chain
import Coordinator
import EVMCrypto
import Foundation
import TestSupport
import Testing

/// Restart safety and replicas: the `coordinator` process SIGKILLed at random points across
/// many jobs and restarted, and two coordinators sharing one PostgreSQL. Afterwards every job
/// has exactly one terminal state and one settlement event, and no job has two tasks.
@Suite("Coordinator: crashes and replicas", .serialized, .timeLimit(.minutes(8)))
struct CoordinatorCrashTests {
    /// Jobs for one escrowed dataset: the dataset's own and `count - 1` more.
    static func jobs(_ w: CoordinatorWorld, count: Int) async throws -> [[UInt8]] {
        let d = try await w.release.dataset()
        var ids = [d.jobID]
        for _ in 1..<count { ids.append(try await w.release.newJob(d.root)) }
        return ids
    }

    /// Every job settled exactly once on chain and dispatched to one task at one node.
    static func expectSettledOnce(_ w: CoordinatorWorld, _ ids: [[UInt8]], _ nodes: [LoopbackTaskProvider]) async throws {
        for id in ids {
            #expect(try await w.release.dp.job(id).state == .completed)
            let settlements = try await w.events(id).filter { e in
                switch e {
                case .jobCompleted, .jobFailed, .jobTimedOut: true
                default: false
                }
            }
            #expect(settlements.count == 1, "job settled \(settlements.count) times")
            let tasks = nodes.map { $0.tasksPerJob[id] ?? 0 }
            #expect(tasks.reduce(0, +) == 1, "job has \(tasks) tasks")
        }
    }

    @Test("SIGKILL the coordinator at random points across 20 jobs, restart it each time: one terminal state, one settlement, one task per job")
    func killAndRestart() async throws {
        try await CoordinatorWorld.using { w in
            let nodes = [try w.node(swtpmQuotes: true), try w.node(swtpmQuotes: true)]
            let ids = try await Self.jobs(w, count: 20)
            let dir = NSTemporaryDirectory() + "coordinator-crash-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let config = try w.writeProcessConfig(dir: dir, nodes: nodes, walletEnv: "TEST_COORDINATOR_KEY")

            func start() throws -> Process {
                let p = Process()
                p.executableURL = CLIRunner.productsDirectory.appendingPathComponent("coordinator")
                p.arguments = ["run", "--config", config]
                p.environment = ProcessInfo.processInfo.environment.merging(["TEST_COORDINATOR_KEY": w.release.chain.info.backend.privateKey]) { $1 }
                p.standardOutput = FileHandle.nullDevice
                p.standardError = FileHandle(forWritingAtPath: "/dev/null")
                try p.run()
                return p
            }
            func allSettled() async throws -> Bool {
                for id in ids where try await w.release.dp.job(id).state != .completed { return false }
                return true
            }
            var kills = 0
            let deadline = Date() + 300
            while Date() < deadline, try await !allSettled() {
                let p = try start()
                try await Task.sleep(for: .milliseconds(Int.random(in: 300...2500)))
                kill(p.processIdentifier, SIGKILL)
                p.waitUntilExit()
                kills += 1
                if kills >= 25 { break }
            }
            // Then one run without interruption finishes what is left.
            let last = try start()
            let finish = Date() + 180
            while Date() < finish, try await !allSettled() { try await Task.sleep(for: .milliseconds(500)) }
            last.terminate()
            last.waitUntilExit()
            #expect(kills >= 5)
            try await Self.expectSettledOnce(w, ids, nodes)
        }
    }

    @Test("two coordinators on one PostgreSQL with 50 jobs: each dispatched once and settled once")
    func twoReplicas() async throws {
        try await CoordinatorWorld.using(storeBackend: .postgres) { w in
            let nodes = [try w.node(), try w.node()]
            let ids = try await Self.jobs(w, count: 50)
            let a = try await w.engine(nodes, owner: "replica-a")
            let b = try await w.engine(nodes, owner: "replica-b")
            async let ra = w.drive(a, until: ids, rounds: 200, step: 3)
            async let rb = w.drive(b, until: ids, rounds: 200, step: 3)
            let (recordsA, recordsB) = try await (ra, rb)
            #expect(recordsA.count == 50 && recordsB.count == 50)
            #expect(recordsA.allSatisfy { $0.state == .completed })
            try await Self.expectSettledOnce(w, ids, nodes)
        }
    }
}
