import Attestation
import ByteEncoding
import Crypto
import EVMCrypto
import Foundation
import NIOConcurrencyHelpers
import ReleaseProtocol

/// A provider node on loopback speaking the coordinator's task API (0G's routes, zerog.md §2.2,
/// with LICEN's extensions), for the coordinator's tests. Written against the wire, not the
/// coordinator's types, so the client is tested against an independent reading of the protocol.
///
/// - Tasks live in memory by id; a `jobId` it already has answers the existing id (200).
/// - Each `GET …/task/{id}` advances the task ``Script/stepsPerPoll`` states along
///   Init → SettingUp → SetUp → Training → Trained → Delivering → Delivered, where it waits for
///   `POST …/acknowledge`; then UserAcknowledged → Finished, with a manifest signed by
///   ``signer`` (EIP-712, ``ResultManifest``).
/// - `GET /v1/quote?nonce=HEX` answers real TDX evidence minted by ``pki`` with
///   ``NodeQuoteBinding`` over ``signer``'s address and the nonce, verifiable against
///   `pki.root` at `TDXTestPKI.validInstant`.
/// - ``script`` scripts the failure paths: a task Failed at a given state, a manifest signed by
///   another key, for another job, or with more epochs than requested, 5xx answers, vanished
///   tasks (404), dishonest quotes; ``crash()`` stops listening.
public final class LoopbackTaskProvider: Sendable {
    /// What `/v1/quote` answers.
    public enum QuoteMode: Sendable {
        /// Evidence binding this node's signer and the requested nonce.
        case honest
        /// As honest, but RTMR3 is `0x99…` (a policy pinning RTMR3 to zero refuses it).
        case wrongMeasurement
        /// Evidence binding `address` instead of the signer the answer names.
        case wrongBinding(Address)
        /// A recorded answer to `nonce`: evidence bound to it; the JSON echoes the requested nonce
        /// when `echoRequested` (a forger's edit), else `nonce` (a verbatim replay).
        case replayed(nonce: [UInt8], echoRequested: Bool)
        /// Evidence from `source` (a real TEE or swtpm) binding this node's signer and the
        /// requested nonce, instead of the test PKI's TDX quotes.
        case evidence(@Sendable (NodeQuoteBinding) async throws -> EvidenceBundle)
    }

    /// How the node misbehaves (all off by default).
    public struct Script: Sendable {
        /// States a task advances per GET (0 freezes it).
        public var stepsPerPoll = 1
        /// The state at which a task goes to Failed instead of on (e.g. `"Training"`).
        public var failAt: String?
        /// The failure reason reported then.
        public var failureReason = "trainer_exited"
        /// Signs manifests with this key instead of ``LoopbackTaskProvider/signer``.
        public var manifestKey: Secp256k1.PrivateKey?
        /// Puts this job id in manifests instead of the task's.
        public var manifestJobID: [UInt8]?
        /// Reports these epochs instead of the requested ones.
        public var actualEpochs: UInt64?
        /// Answers every request with this status (e.g. 503).
        public var failingStatus: Int?
        /// Refuses every new task with this status (e.g. 400: the node turns the task down).
        public var refuseTasks: Int?
        /// Forgets every task: task routes answer 404, the list is empty.
        public var vanished = false
        /// What `/v1/quote` answers.
        public var quote = QuoteMode.honest

        /// No misbehaviour.
        public init() {}
    }

    /// What a node does in SettingUp when it obtains the dataset key for real: the task's job,
    /// dataset, the coordinator's ticket and the key-release URL it named. Returns the audit
    /// record's hash (the attestationRef), or the refusal code that fails the task.
    public struct ReleaseTask: Sendable {
        /// The job.
        public let jobID: [UInt8]
        /// The dataset root.
        public let datasetRoot: [UInt8]
        /// The coordinator's dispatch ticket, as the task carried it.
        public let ticket: DispatchTicketMessage
        /// The key-release service the task named.
        public let keyReleaseURL: String
    }

    /// Obtains a task's key (see ``ReleaseTask``): `.success(attestationRef)` or `.failure(code)`.
    public typealias Release = @Sendable (ReleaseTask) async -> Result<[UInt8], ReleaseRefused>

    /// A refused release: the service's code.
    public struct ReleaseRefused: Error, Sendable {
        /// The code (reported as the task's failure reason).
        public let code: String
        /// Creates a refusal.
        public init(_ code: String) { self.code = code }
    }

    /// The task states in order (zerog.md §2.4).
    public static let states = ["Init", "SettingUp", "SetUp", "Training", "Trained", "Delivering", "Delivered", "UserAcknowledged", "Finished"]
    /// The code hash manifests report.
    public static let codeHash = [UInt8](repeating: 0xc0, count: 32)
    /// The image digest manifests report.
    public static let imageDigest = [UInt8](repeating: 0x1d, count: 32)

    /// The TEE's signer key (what the evidence binds, what signs manifests).
    public let signer: Secp256k1.PrivateKey
    /// The PKI minting the evidence.
    public let pki: TDXTestPKI
    /// The chain id manifests are signed for.
    public let chainID: UInt64
    /// The DataPolicy contract manifests are signed for.
    public let dataPolicy: Address
    private let core: Core
    private let server: LoopbackHTTPServer

    /// Starts a node on 127.0.0.1 and a free port.
    /// With `release`, a task stays in SettingUp until the release answers, fails with its
    /// refusal code, and reports the real attestationRef (otherwise a made-up one).
    public init(
        pki: TDXTestPKI, chainID: UInt64, dataPolicy: Address, signer: Secp256k1.PrivateKey = Secp256k1.PrivateKey(), script: Script = Script(),
        release: Release? = nil
    ) throws {
        self.signer = signer
        self.pki = pki
        self.chainID = chainID
        self.dataPolicy = dataPolicy
        let core = Core(signer: signer, pki: pki, chainID: chainID, dataPolicy: dataPolicy, script: script, release: release)
        self.core = core
        server = try LoopbackHTTPServer { core.handle($0) }
    }

    /// The signer's address.
    public var signerAddress: Address { signer.publicKey.address }
    /// `http://127.0.0.1:PORT`.
    public var baseURL: String { server.baseURL }
    /// Every request received, in order.
    public var requests: [LoopbackHTTPServer.Request] { server.requests }
    /// Every response body sent, in order.
    public var responseBodies: [[UInt8]] { server.responseBodies }
    /// The script now in force.
    public var script: Script {
        get { core.state.withLockedValue { $0.script } }
        set { core.state.withLockedValue { $0.script = newValue } }
    }
    /// The state of every task, by id.
    public var taskStates: [String: String] { core.state.withLockedValue { $0.tasks.mapValues { Self.states.indices.contains($0.state) ? Self.states[$0.state] : "Failed" } } }

    /// How many tasks this node holds for each job (a job dispatched twice would show 2).
    public var tasksPerJob: [[UInt8]: Int] { core.state.withLockedValue { s in s.tasks.values.reduce(into: [:]) { $0[$1.jobID, default: 0] += 1 } } }

    /// Sets the script.
    public func update(_ change: (inout Script) -> Void) { core.state.withLockedValue { change(&$0.script) } }

    /// Stops listening: further connections are refused (a crashed node).
    public func crash() { server.shutdown() }

    /// Stops the server.
    public func shutdown() { server.shutdown() }

    /// The manifest this node's honest run reports for a job.
    public static func resultHash(jobID: [UInt8]) -> [UInt8] { Array(SHA256.hash(data: Array("result".utf8) + jobID)) }
    /// The attestation reference this node reports for a job.
    public static func attestationRef(jobID: [UInt8]) -> [UInt8] { Array(SHA256.hash(data: Array("audit".utf8) + jobID)) }

    struct StoredTask {
        var id: String
        var user: String
        /// The 0G fields as sent (`preTrainedModelHash`, `datasetHash`, `trainingParams`, `fee`, `nonce`).
        var fields: [String: String]
        var jobID: [UInt8]
        var datasetRoot: [UInt8]
        var requestedEpochs: UInt64
        /// Index into ``states``; -1 is Failed.
        var state: Int
        var acknowledged = false
        var failureReason: String?
        /// With a release hook: nil while it runs, then its outcome.
        var released: Result<[UInt8], ReleaseRefused>?
        var releasing = false
        var created: Date
        var updated: Date
    }

    struct State {
        var script: Script
        var tasks: [String: StoredTask] = [:]
        var order: [String] = []
    }

    final class Core: Sendable {
        let signer: Secp256k1.PrivateKey
        let pki: TDXTestPKI
        let chainID: UInt64
        let dataPolicy: Address
        let state: NIOLockedValueBox<State>
        let release: Release?

        init(signer: Secp256k1.PrivateKey, pki: TDXTestPKI, chainID: UInt64, dataPolicy: Address, script: Script, release: Release?) {
            self.release = release
            self.signer = signer
            self.pki = pki
            self.chainID = chainID
            self.dataPolicy = dataPolicy
            state = NIOLockedValueBox(State(script: script))
        }

        func json(_ status: Int, _ object: Any) -> LoopbackHTTPServer.Response {
            .init(status: status, headers: [("Content-Type", "application/json")], body: Array((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()))
        }

        func error(_ status: Int, _ message: String) -> LoopbackHTTPServer.Response { json(status, ["error": message]) }

        func handle(_ r: LoopbackHTTPServer.Request) -> LoopbackHTTPServer.Response {
            let script = state.withLockedValue { $0.script }
            if let status = script.failingStatus { return error(status, "internal error") }
            let parts = r.path.split(separator: "/").map(String.init)
            switch (r.method, parts.count) {
            case ("GET", 2) where parts == ["v1", "quote"]: return quote(r, script)
            case ("GET", 3) where parts == ["v1", "task", "pending"]:
                let n = state.withLockedValue { $0.tasks.values.filter { (0...3).contains($0.state) }.count }
                return .init(status: 200, headers: [("Content-Type", "text/plain")], body: Array(String(n).utf8))
            case (_, 4...) where parts[0] == "v1" && parts[1] == "user" && parts[3] == "task":
                return task(r, user: parts[2], rest: Array(parts[4...]), script)
            default: return error(404, "no route")
            }
        }

        func quote(_ r: LoopbackHTTPServer.Request, _ script: Script) -> LoopbackHTTPServer.Response {
            guard let text = r.query["nonce"], let requested = try? Hex.decode(text), requested.count == 32 else { return error(400, "nonce must be 32 bytes of hex") }
            let me = signer.publicKey.address
            var bound = NodeQuoteBinding(signer: me, nonce: requested)
            var rtmr3 = [UInt8](repeating: 0, count: 48)
            var echoed = requested
            switch script.quote {
            case .honest: break
            case .wrongMeasurement: rtmr3 = [UInt8](repeating: 0x99, count: 48)
            case .wrongBinding(let other): bound = NodeQuoteBinding(signer: other, nonce: requested)
            case .replayed(let old, let echo):
                bound = NodeQuoteBinding(signer: me, nonce: old)
                if !echo { echoed = old }
            case .evidence(let source):
                // The server's handler is synchronous: wait here (on the server's thread) for the source.
                let done = DispatchSemaphore(value: 0)
                let box = NIOLockedValueBox<EvidenceBundle?>(nil)
                let binding = bound
                Task {
                    let bundle = try? await source(binding)
                    box.withLockedValue { $0 = bundle }
                    done.signal()
                }
                guard done.wait(timeout: .now() + 30) == .success, let bundle = box.withLockedValue({ $0 }),
                    let answer = try? NodeQuote(signer: me, nonce: echoed, evidence: bundle, quote: nil)
                else { return self.error(500, "no evidence") }
                return .init(status: 200, headers: [("Content-Type", "application/json")], body: Array(answer.json))
            }
            do {
                let raw = try pki.quote(reportData: bound.reportData, rtmr3: rtmr3)
                let answer = try NodeQuote(signer: me, nonce: echoed, evidence: EvidenceBundle(platform: .tdx, report: Data(raw)), quote: raw)
                return .init(status: 200, headers: [("Content-Type", "application/json")], body: Array(answer.json))
            } catch {
                return self.error(500, "cannot mint a quote")
            }
        }

        func task(_ r: LoopbackHTTPServer.Request, user: String, rest: [String], _ script: Script) -> LoopbackHTTPServer.Response {
            switch (r.method, rest.count) {
            case ("POST", 0):
                if let status = script.refuseTasks { return error(status, "task refused") }
                return create(r, user: user)
            case ("GET", 0):
                if script.vanished { return json(200, [Any]()) }
                let list = state.withLockedValue { s in s.order.reversed().compactMap { s.tasks[$0] }.filter { $0.user == user } }
                return json(200, list.map(record))
            case ("GET", 1):
                if script.vanished { return error(404, "task not found") }
                let t: StoredTask? = state.withLockedValue { s in
                    guard var t = s.tasks[rest[0]], t.user == user else { return nil }
                    Self.advance(&t, script, gated: release != nil)
                    s.tasks[t.id] = t
                    return t
                }
                guard let t else { return error(404, "task not found") }
                return json(200, record(t))
            case ("POST", 2) where rest[1] == "acknowledge":
                if script.vanished { return error(404, "task not found") }
                let status: Int = state.withLockedValue { s in
                    guard var t = s.tasks[rest[0]], t.user == user else { return 404 }
                    let delivered = LoopbackTaskProvider.states.firstIndex(of: "Delivered")!
                    if t.state == delivered {
                        t.acknowledged = true
                        t.state += 1
                        t.updated = Date()
                        s.tasks[t.id] = t
                        return 200
                    }
                    return t.state > delivered ? 200 : 409
                }
                return status == 200 ? json(200, ["acknowledged": true]) : error(status, status == 404 ? "task not found" : "task is not delivered")
            default: return error(404, "no route")
            }
        }

        static func advance(_ t: inout StoredTask, _ script: Script, gated: Bool = false) {
            let delivered = LoopbackTaskProvider.states.firstIndex(of: "Delivered")!
            for _ in 0..<script.stepsPerPoll {
                guard t.state >= 0, t.state < LoopbackTaskProvider.states.count - 1 else { return }
                if gated && t.state == 1 {
                    switch t.released {
                    case nil: return  // the key is not here yet
                    case .failure(let refusal)?:
                        t.state = -1
                        t.failureReason = refusal.code
                        t.updated = Date()
                        return
                    case .success?: break
                    }
                }
                if let f = script.failAt, LoopbackTaskProvider.states[t.state] == f {
                    t.state = -1
                    t.failureReason = script.failureReason
                    t.updated = Date()
                    return
                }
                if t.state == delivered && !t.acknowledged { return }
                t.state += 1
                t.updated = Date()
            }
        }

        func create(_ r: LoopbackHTTPServer.Request, user: String) -> LoopbackHTTPServer.Response {
            guard let body = try? JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any], let address = body["userAddress"] as? String,
                let jobText = body["jobId"] as? String, let job = try? Hex.decode(jobText), job.count == 32,
                let rootText = body["datasetRoot"] as? String, let root = try? Hex.decode(rootText), root.count == 32,
                let epochs = body["requestedEpochs"] as? Int, epochs >= 0, body["dispatchTicket"] is [String: Any]
            else { return error(400, "malformed task") }
            // 0G compares the path's user with the request's by string equality (EIP-55 both).
            guard address == user else { return error(400, "user does not match") }
            return state.withLockedValue { s in
                if let existing = s.tasks.values.first(where: { $0.jobID == job }) { return json(200, ["id": existing.id]) }
                let id = UUID().uuidString.lowercased()
                let now = Date()
                let fields = body.compactMapValues { $0 as? String }.filter { ["preTrainedModelHash", "datasetHash", "trainingParams", "fee", "nonce"].contains($0.key) }
                s.tasks[id] = StoredTask(id: id, user: user, fields: fields, jobID: job, datasetRoot: root, requestedEpochs: UInt64(epochs), state: 0, created: now, updated: now)
                s.order.append(id)
                if let release, let t = body["dispatchTicket"] as? [String: Any], let node = t["node"] as? String, let expiry = (t["expiry"] as? NSNumber)?.uint64Value,
                    let signature = t["signature"] as? String
                {
                    let ticket = DispatchTicketMessage(jobId: jobText, datasetRoot: rootText, node: node, expiry: expiry, signature: signature)
                    let task = ReleaseTask(jobID: job, datasetRoot: root, ticket: ticket, keyReleaseURL: body["keyReleaseURL"] as? String ?? "")
                    let box = state
                    Task {
                        let outcome = await release(task)
                        box.withLockedValue { $0.tasks[id]?.released = outcome }
                    }
                }
                return json(201, ["id": id])
            }
        }

        /// The attestationRef a task reports: the release's, or a made-up one without a hook.
        func reference(_ t: StoredTask) -> [UInt8]? {
            guard release != nil else { return LoopbackTaskProvider.attestationRef(jobID: t.jobID) }
            if case .success(let ref)? = t.released { return ref }
            return nil
        }

        func record(_ t: StoredTask) -> [String: Any] {
            let script = state.withLockedValue { $0.script }
            let f = ISO8601DateFormatter()
            var out: [String: Any] = [
                "id": t.id, "progress": t.state < 0 ? "Failed" : LoopbackTaskProvider.states[t.state], "createdAt": f.string(from: t.created),
                "updatedAt": f.string(from: t.updated), "userAddress": t.user, "jobId": Hex.prefixed(t.jobID), "deliverIndex": 0, "modelType": "lora",
            ]
            for (k, v) in t.fields { out[k] = v }
            let ref = reference(t)
            if t.state >= 3 || t.state < 0, let ref { out["attestationRef"] = Hex.prefixed(ref) }
            if t.state >= 6 { out["outputRootHash"] = Hex.prefixed(SHA256.hash(data: Array("model".utf8) + t.jobID)) }
            if let reason = t.failureReason { out["failureReason"] = reason }
            if t.state == LoopbackTaskProvider.states.count - 1 {
                let m = ResultManifest(
                    jobID: script.manifestJobID ?? t.jobID, datasetRoot: t.datasetRoot, resultHash: LoopbackTaskProvider.resultHash(jobID: t.jobID),
                    codeHash: LoopbackTaskProvider.codeHash, imageDigest: LoopbackTaskProvider.imageDigest,
                    attestationRef: ref ?? [UInt8](repeating: 0, count: 32), actualEpochs: script.actualEpochs ?? t.requestedEpochs)
                if let signed = try? ResultManifest.Signed(signing: m, with: script.manifestKey ?? signer, chainID: chainID, dataPolicy: dataPolicy),
                    let data = try? JSONEncoder().encode(signed)
                {
                    out["manifest"] = try? JSONSerialization.jsonObject(with: data)
                }
            }
            return out
        }
    }
}
