// Load benchmark for the coordinator (`Benchmarks/coordinator-load`): N Granted jobs from
// discovery to settlement by the `coordinator` process against K fast loopback provider nodes
// on the dev chain, with the real key-release service (each node obtains each task's key for
// real, with swtpm evidence). Reports jobs per second, per-stage latency percentiles from the
// coordinator's own log lines, the coordinator process's CPU time per job, and a baseline
// measured in the same run: the backend wallet sending the two transactions every job needs
// (startJob, confirmTrainingComplete) directly, one job after another.
import BigInt
import ByteEncoding
import Chain
import Coordinator
import EVMCrypto
import Foundation
import TestSupport

struct Options {
    var jobs = 500
    var nodes = 4
    var baseline = 50
    init() {
        var it = CommandLine.arguments.dropFirst().makeIterator()
        while let a = it.next() {
            switch a {
            case "--jobs": jobs = Int(it.next() ?? "") ?? jobs
            case "--nodes": nodes = Int(it.next() ?? "") ?? nodes
            case "--baseline": baseline = Int(it.next() ?? "") ?? baseline
            default:
                FileHandle.standardError.write(Data("usage: coordinator-load [--jobs N] [--nodes K] [--baseline B]\n".utf8))
                exit(3)
            }
        }
    }
}

func percentile(_ xs: [Double], _ p: Double) -> Double {
    guard !xs.isEmpty else { return .nan }
    let s = xs.sorted()
    return s[min(s.count - 1, Int((Double(s.count - 1) * p).rounded()))]
}

func note(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

/// CPU seconds (user + system) the process `pid` has used, from /proc.
func cpuSeconds(_ pid: Int32) -> Double? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return nil }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    guard fields.count > 13, let u = Double(fields[11]), let s = Double(fields[12]) else { return nil }
    return (u + s) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

let o = Options()
let w = try await CoordinatorWorld()
var script = LoopbackTaskProvider.Script()
script.stepsPerPoll = 9  // fast nodes: a task reaches Delivered on its first look, Finished on the next
let nodes = try (0..<o.nodes).map { _ in try w.node(script: script, swtpmQuotes: true) }
note("creating \(o.jobs + o.baseline) jobs")
// A requester may run a dataset 50 times: a fresh (escrowed) dataset for every 40 jobs.
var ids: [[UInt8]] = []
while ids.count < o.jobs + o.baseline {
    let d = try await w.release.dataset()
    ids.append(d.jobID)
    for _ in 1..<min(40, o.jobs + o.baseline - ids.count + 1) { ids.append(try await w.release.newJob(d.root)) }
}
let baselineIDs = Array(ids.suffix(o.baseline))
let jobIDs = Array(ids.prefix(o.jobs))

// Baseline: the chain work one job needs, sent directly by the backend wallet, job after job.
let baselineStart = Date()
for id in baselineIDs {
    try await w.release.dp.startJob(id, from: w.release.backend)
    try await w.release.dp.confirmTrainingComplete(id, actualEpochs: 1, resultHash: [UInt8](repeating: 1, count: 32), attestationRef: [UInt8](repeating: 2, count: 32), from: w.release.backend)
}
let baselinePerJob = Date().timeIntervalSince(baselineStart) / Double(max(1, o.baseline))

// The coordinator process.
let dir = NSTemporaryDirectory() + "coordinator-load-\(UUID().uuidString)"
try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
let config = try w.writeProcessConfig(dir: dir, nodes: nodes, walletEnv: "COORDINATOR_LOAD_KEY", providerSeconds: 10, leaseSeconds: 60)
let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("coordinator")
let p = Process()
p.executableURL = binary
p.arguments = ["run", "--config", config, "--owner", "bench"]
p.environment = ProcessInfo.processInfo.environment.merging(["COORDINATOR_LOAD_KEY": w.release.chain.info.backend.privateKey]) { $1 }
FileManager.default.createFile(atPath: dir + "/coordinator.log", contents: nil)
p.standardError = FileHandle(forWritingAtPath: dir + "/coordinator.log")
p.standardOutput = FileHandle.nullDevice
note("running the coordinator on \(o.jobs) jobs, \(o.nodes) nodes")
let started = Date()
try p.run()
var done = 0
var cpu = 0.0
while Date().timeIntervalSince(started) < 1800 {
    try await Task.sleep(for: .seconds(1))
    cpu = cpuSeconds(p.processIdentifier) ?? cpu
    done = 0
    for id in jobIDs where try await w.release.dp.job(id).state == .completed { done += 1 }
    if done == o.jobs { break }
}
let wall = Date().timeIntervalSince(started)
cpu = cpuSeconds(p.processIdentifier) ?? cpu
p.terminate()
p.waitUntilExit()

// Stages, from the coordinator's log lines and its store.
var dispatched: [String: Date] = [:], acknowledged: [String: Date] = [:], completed: [String: Date] = [:]
let iso = ISO8601DateFormatter()
iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
for line in (try String(contentsOfFile: dir + "/coordinator.log", encoding: .utf8)).split(separator: "\n") {
    guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let job = o["jobId"] as? String,
        let t = (o["time"] as? String).flatMap(iso.date(from:))
    else { continue }
    switch o["event"] as? String {
    case "task_dispatched": dispatched[job] = t
    case "model_acknowledged": acknowledged[job] = t
    case "job_completed": completed[job] = t
    default: break
    }
}
let store = try await JobStore.open("sqlite:\(dir)/coordinator.db")
var discovery: [Double] = [], provider: [Double] = [], settle: [Double] = [], total: [Double] = []
for r in try await store.jobs() {
    let id = r.jobIDHex
    guard let dsp = dispatched[id], let ack = acknowledged[id], let end = completed[id] else { continue }
    discovery.append(dsp.timeIntervalSince(r.createdAt))
    provider.append(ack.timeIntervalSince(dsp))
    settle.append(end.timeIntervalSince(ack))
    total.append(end.timeIntervalSince(r.createdAt))
}
await store.close()
func stage(_ xs: [Double]) -> [String: Double] { ["p50": percentile(xs, 0.5), "p99": percentile(xs, 0.99)] }
let report: [String: Any] = [
    "jobs": o.jobs, "nodes": o.nodes, "completed": done, "seconds": wall, "jobsPerSecond": Double(done) / wall,
    "coordinatorCPUSecondsPerJob": cpu / Double(max(1, done)),
    "stageSeconds": ["discoveryToDispatch": stage(discovery), "dispatchToAcknowledged": stage(provider), "acknowledgedToSettled": stage(settle), "total": stage(total)],
    "baseline": ["jobs": o.baseline, "chainSecondsPerJob": baselinePerJob],
    "wallSecondsPerJobOverBaseline": (wall / Double(max(1, done))) / baselinePerJob,
]
FileHandle.standardOutput.write(try JSONSerialization.data(withJSONObject: report, options: [.prettyPrinted, .sortedKeys]) + Data("\n".utf8))
await w.shutdown()
try? FileManager.default.removeItem(atPath: dir)
