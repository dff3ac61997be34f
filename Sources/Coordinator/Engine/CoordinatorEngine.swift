import AsyncHTTPClient
import Attestation
import ByteEncoding
import Chain
import EVMCrypto
import Foundation
import Logging
import ServiceSupport
import NIOCore
import ReleaseProtocol
import Synchronization

/// The coordinator's tunables (defaults as the LICEN orchestrator: discovery every 5 s, tasks
/// every 3 s).
public struct CoordinatorSettings: Sendable {
    /// This replica's name on its leases (unique per running coordinator).
    public var owner: String
    /// The key-release service the nodes obtain keys from (named in every task).
    public var keyReleaseURL: String
    /// How often job sources are asked for Granted jobs.
    public var discoveryInterval: Duration = .seconds(5)
    /// How often each dispatched job's task is looked at.
    public var taskInterval: Duration = .seconds(3)
    /// How long a lease lasts (a dead replica's jobs are taken over after this).
    public var leaseSeconds: TimeInterval = 60
    /// A job whose task shows no progress (or whose provider does not answer) for this long is failed.
    public var taskTimeout: TimeInterval = 3600
    /// Dispatch attempts before a job is failed with `dispatch_failed`.
    public var dispatchRetries = 5
    /// Settlement sends before the coordinator stops resending (and says so in its log and metrics).
    public var settlementRetries = 10
    /// How long a dispatch ticket is valid.
    public var ticketLifetime: TimeInterval = 3600
    /// How long a node's verified quote is trusted before it is verified again.
    public var attestationLifetime: TimeInterval = 60
    /// The model named in 0G task bodies.
    public var model = "licen-reference"
    /// Jobs leased per round.
    public var batch = 32
    /// The deadline of each call to a provider node.
    public var providerTimeout: TimeAmount = .seconds(30)
    /// The instant nodes' quotes are verified at (nil: now). Tests pin it inside their
    /// collateral's validity window, as "now" is an argument everywhere in verification.
    public var verificationClock: (@Sendable () -> Date)?

    /// Settings for replica `owner` sending nodes to `keyReleaseURL`.
    public init(owner: String, keyReleaseURL: String) {
        self.owner = owner
        self.keyReleaseURL = keyReleaseURL
    }
}

/// Why the coordinator fails a job it could not get running (sent with `markJobFailed`).
public enum DispatchFailure: String, Sendable, Hashable, CaseIterable {
    /// Every dispatch attempt failed (no attested node took the task).
    case dispatchFailed = "dispatch_failed"
    /// An operator failed the job.
    case operatorFailed = "operator"
}

/// The coordinator: finds Granted jobs, dispatches each to an attested provider node with 0G
/// task semantics, tracks the task with ``JobTracker``, checks the result (``ResultCheck``) and
/// settles on chain exactly once. It holds the backend wallet and nothing else secret: no data
/// key or plaintext ever reaches it.
///
/// Every step is driven by the store: a job is acted on only under this replica's lease, each
/// step's outcome is written before the next one starts, and a settlement's intent and
/// transaction hash are written before the node sees the transaction. So a coordinator killed
/// at any point resumes where it stopped, and several coordinators on one PostgreSQL never
/// dispatch or settle a job twice.
public final class CoordinatorEngine: Sendable {
    /// The store.
    public let store: JobStore
    let source: any GrantedJobSource
    let dataPolicy: DataPolicy
    let sender: TransactionSender
    let wallet: Secp256k1.PrivateKey
    /// The chain id the engine signs for.
    public let chainID: UInt64
    /// The configured provider nodes.
    public let providers: [ConfiguredProvider]
    let attestor: ProviderAttestor
    let results: ResultCheck
    /// The settings.
    public let settings: CoordinatorSettings
    let logger: Logger
    /// The engine's metrics (`/metrics`).
    public let metrics: MetricsRegistry
    let state = Mutex(EngineState())

    /// What the engine knows of its dependencies and nodes (for `/readyz`).
    struct EngineState {
        var nodes: [String: NodeStatus] = [:]
        var dependencies: [String: String?] = [:]
        var lastDiscovery: Date?
    }

    /// A configured node's standing.
    public enum NodeStatus: Sendable, Hashable {
        /// Its quote verified (looked at `at`).
        case attested(AttestedNode, at: Date)
        /// Its quote did not verify (or it did not answer), at this instant.
        case refused(reason: String, at: Date)
    }

    /// Creates an engine.
    public init(
        store: JobStore, source: any GrantedJobSource, dataPolicy: DataPolicy, sender: TransactionSender, wallet: Secp256k1.PrivateKey, chainID: UInt64,
        providers: [ConfiguredProvider], attestor: ProviderAttestor, results: ResultCheck, settings: CoordinatorSettings,
        logger: Logger = Logger(label: "coordinator"), metrics: MetricsRegistry = MetricsRegistry()
    ) {
        self.metrics = metrics
        self.store = store
        self.source = source
        self.dataPolicy = dataPolicy
        self.sender = sender
        self.wallet = wallet
        self.chainID = chainID
        self.providers = providers
        self.attestor = attestor
        self.results = results
        self.settings = settings
        self.logger = logger
    }

    /// The backend wallet's address (the 0G "user" of every task, and the tickets' signer).
    public var walletAddress: Address { wallet.publicKey.address }

    // MARK: - Loops

    /// Runs discovery, dispatch and tracking until the task is cancelled: discovery every
    /// ``CoordinatorSettings/discoveryInterval``, dispatch and tracking every
    /// ``CoordinatorSettings/taskInterval``. A failing round is logged and retried next round.
    public func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask {
                while !Task.isCancelled {
                    do throws(CoordinatorError) { _ = try await self.discoverOnce(now: Date()) } catch { self.note(error, in: "discovery") }
                    try? await Task.sleep(for: self.settings.discoveryInterval)
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    await self.dispatchOnce(now: Date())
                    await self.trackOnce(now: Date())
                    try? await Task.sleep(for: self.settings.taskInterval)
                }
            }
        }
    }

    // MARK: - Discovery

    /// Asks the job source for Granted jobs and records the new ones (the source confirms them
    /// on chain). Returns how many were new.
    @discardableResult
    public func discoverOnce(now: Date) async throws(CoordinatorError) -> Int {
        let jobs: [GrantedJob]
        do { jobs = try await source.grantedJobs() } catch {
            setDependency("discovery", error.message)
            metrics.count("coordinator_dependency_errors_total", [("dependency", "discovery")])
            throw error
        }
        setDependency("discovery", nil)
        var fresh = 0
        for job in jobs where try await store.recordDiscovered(job, now: now) { fresh += 1 }
        try await source.recorded()
        state.withLock { $0.lastDiscovery = now }
        if fresh > 0 { logger.info("found granted jobs", metadata: ["event": "jobs_found", "count": "\(fresh)", "listed": "\(jobs.count)"]) }
        return fresh
    }

    // MARK: - Dispatch

    /// Dispatches the due jobs that are not running yet. Returns how many were dispatched.
    @discardableResult
    public func dispatchOnce(now: Date) async -> Int {
        let leased: [JobRecord]
        do {
            leased = try await store.lease(owner: settings.owner, now: now, duration: settings.leaseSeconds, states: [.discovered, .dispatching], limit: settings.batch)
            setDependency("store", nil)
        } catch {
            note(error, in: "store")
            return 0
        }
        guard !leased.isEmpty else { return 0 }
        let nodes = await attestedNodes(now: now)
        var dispatched = 0
        for job in leased {
            do {
                if try await dispatch(job, nodes: nodes, now: now) { dispatched += 1 }
            } catch {
                note(error, in: "dispatch", job: job)
            }
            try? await store.release(job.jobID, owner: settings.owner)
        }
        return dispatched
    }

    /// One job's dispatch: re-read the chain, pick the least busy attested node, sign its
    /// ticket, create the task (jobId is the node's idempotency key, so a retry after a lost
    /// answer finds the same task), then `startJob`.
    func dispatch(_ job: JobRecord, nodes: [AttestedNode], now: Date) async throws(CoordinatorError) -> Bool {
        let onChain = try await chainJob(job.jobID)
        switch onChain.state {
        case .granted, .running: break
        default:
            try await finish(job, chain: onChain.state, now: now)
            return false
        }
        if job.dispatchAttempts >= settings.dispatchRetries {
            try await settle(job, intent: .fail(reason: DispatchFailure.dispatchFailed.rawValue), chain: onChain.state, now: now)
            return false
        }
        // A job already at a node (a dispatch whose answer was lost) goes back to the same node.
        let candidates = job.providerURL.map { url in nodes.filter { $0.url == url } } ?? nodes
        guard let node = candidates.min(by: { $0.pending < $1.pending }) else {
            try await store.update(job.jobID, owner: settings.owner, now: now, JobChange(nextAt: now + interval(settings.discoveryInterval)))
            return false
        }
        guard
            try await store.update(
                job.jobID, owner: settings.owner, now: now,
                JobChange(state: .dispatching, providerURL: node.url, nodeSigner: node.signer, countDispatchAttempt: true)) != nil
        else { return false }
        logger.info("dispatching", metadata: ["event": "dispatching", "jobId": "\(job.jobIDHex)", "provider": "\(node.url)", "attempt": "\(job.dispatchAttempts + 1)"])
        let started = ContinuousClock.now
        let request = try taskRequest(job, node: node, now: now)
        let client = ProviderClient(url: node.url, timeout: settings.providerTimeout)
        let taskID: String
        do {
            taskID = try await client.createTask(user: walletAddress, request: request)
        } catch {
            metrics.count("coordinator_dependency_errors_total", [("dependency", "provider")])
            let backoff = min(300, 2 * pow(2, Double(job.dispatchAttempts)))
            try await store.update(job.jobID, owner: settings.owner, now: now, JobChange(reason: error.code.rawValue, nextAt: now + backoff))
            throw error
        }
        guard
            let recorded = try await store.update(
                job.jobID, owner: settings.owner, now: now, JobChange(state: .dispatched, taskID: taskID, nextAt: now, progressed: true))
        else { return false }
        metrics.time("coordinator_dispatch_seconds", [], ContinuousClock.now - started)
        logger.info("task dispatched", metadata: ["event": "task_dispatched", "jobId": "\(job.jobIDHex)", "taskId": "\(taskID)", "provider": "\(node.url)"])
        if onChain.state == .granted { try await startJob(recorded, now: now) }
        return true
    }

    /// The 0G task body with the LICEN fields: the job, its dataset, the dispatch ticket naming
    /// the node's attested signer, and the key-release service.
    func taskRequest(_ job: JobRecord, node: AttestedNode, now: Date) throws(CoordinatorError) -> TaskRequest {
        let expiry = UInt64(now.timeIntervalSince1970 + settings.ticketLifetime)
        let ticket = DispatchTicket(jobID: job.jobID, datasetRoot: job.datasetRoot, node: node.signer, expiry: expiry)
        let nonce = UInt64(now.timeIntervalSince1970 * 1000) * 10_000 + 40  // as the 0G clients make it
        let datasetHash = Hex.prefixed(job.datasetRoot)
        do {
            let ticketSignature = try ticket.sign(with: wallet, chainID: chainID, dataPolicy: dataPolicy.address)
            // The 0G request signature (zerog.md §2.3, CTS 2026): personal_sign over
            // keccak256(user ‖ uint256 nonce ‖ utf8(datasetHash)).
            var nonceWord = [UInt8](repeating: 0, count: 24)
            withUnsafeBytes(of: nonce.bigEndian) { nonceWord += $0 }
            let digest = MessageSigning.personalMessageHash(Keccak256.hash(walletAddress.bytes + nonceWord + Array(datasetHash.utf8)))
            let requestSignature = try wallet.signature(forDigest: digest).rawRepresentation
            let params = "{\"epochs\":\(job.requestedEpochs)}"
            return TaskRequest(
                userAddress: walletAddress.checksummed, preTrainedModelHash: settings.model, datasetHash: datasetHash, trainingParams: params, fee: "0",
                nonce: String(nonce), signature: Hex.prefixed(requestSignature), wait: true, jobId: job.jobIDHex, datasetRoot: datasetHash,
                dispatchTicket: .init(signature: Hex.prefixed(ticketSignature), expiry: expiry, node: node.signer.checksummed),
                keyReleaseURL: settings.keyReleaseURL, requestedEpochs: UInt64(job.requestedEpochs))
        } catch {
            throw CoordinatorError(.internalError, "cannot sign the dispatch: \(error.message)")
        }
    }

    /// The configured nodes whose quotes verify, re-verified after ``CoordinatorSettings/attestationLifetime``.
    func attestedNodes(now: Date) async -> [AttestedNode] {
        var out: [AttestedNode] = []
        for provider in providers {
            let cached = state.withLock { $0.nodes[provider.url] }
            if case .attested(let node, let at)? = cached, now.timeIntervalSince(at) < settings.attestationLifetime {
                out.append(node)
                continue
            }
            if case .refused(_, let at)? = cached, now.timeIntervalSince(at) < interval(settings.discoveryInterval) { continue }
            do {
                let node = try await attestor.attest(provider, now: settings.verificationClock?() ?? now)
                state.withLock { $0.nodes[provider.url] = .attested(node, at: now) }
                out.append(node)
            } catch {
                state.withLock { $0.nodes[provider.url] = .refused(reason: error.message, at: now) }
                metrics.count("coordinator_provider_refusals_total", [("code", error.code.rawValue)])
                logger.warning("provider not used", metadata: ["event": "provider_refused", "provider": "\(provider.url)", "code": "\(error.code.rawValue)", "detail": "\(error.message)"])
            }
        }
        return out
    }

    /// The nodes' standing, by URL.
    public func nodeStatus() -> [String: NodeStatus] { state.withLock { $0.nodes } }

    // MARK: - Tracking

    /// Looks at every due dispatched job and does what ``JobTracker`` decides. Returns how many
    /// jobs were looked at.
    @discardableResult
    public func trackOnce(now: Date) async -> Int {
        let leased: [JobRecord]
        do {
            leased = try await store.lease(
                owner: settings.owner, now: now, duration: settings.leaseSeconds, states: [.dispatched, .started, .acknowledged, .settling], limit: settings.batch)
            setDependency("store", nil)
        } catch {
            note(error, in: "store")
            return 0
        }
        for job in leased {
            do { try await track(job, now: now) } catch { note(error, in: "tracking", job: job) }
            try? await store.release(job.jobID, owner: settings.owner)
        }
        return leased.count
    }

    func track(_ job: JobRecord, now: Date) async throws(CoordinatorError) {
        let onChain = try await chainJob(job.jobID)
        guard let stored = job.state.tracked else { return }
        var observation = JobTracker.TaskObservation.unreachable
        var record: TaskRecord?
        if stored != .settling, let url = job.providerURL, let taskID = job.taskID {
            do {
                record = try await ProviderClient(url: url, timeout: settings.providerTimeout).task(user: walletAddress, id: taskID)
                observation = record.map { .status($0.progress) } ?? .notFound
                setDependency("provider \(url)", nil)
            } catch {
                metrics.count("coordinator_dependency_errors_total", [("dependency", "provider")])
                setDependency("provider \(url)", error.message)
                observation = .unreachable
            }
        }
        let changed = record.map { $0.progress != job.taskStatus } ?? false
        let pastTimeout = !changed && now.timeIntervalSince(job.progressAt) > settings.taskTimeout
        let action = JobTracker.decide(.init(stored: stored, task: observation, chain: onChain.state, pastTimeout: pastTimeout))
        let next = now + interval(settings.taskInterval)
        switch action {
        case .wait:
            try await store.update(job.jobID, owner: settings.owner, now: now, JobChange(taskStatus: record?.progress, nextAt: next, progressed: changed))
        case .startJob:
            try await store.update(job.jobID, owner: settings.owner, now: now, JobChange(taskStatus: record?.progress, nextAt: next, progressed: changed))
            try await startJob(job, now: now)
        case .acknowledgeModel:
            guard let url = job.providerURL, let taskID = job.taskID else { return }
            do { try await ProviderClient(url: url, timeout: settings.providerTimeout).acknowledge(user: walletAddress, id: taskID) } catch {
                try await store.update(job.jobID, owner: settings.owner, now: now, JobChange(nextAt: next))
                throw error
            }
            try await store.update(job.jobID, owner: settings.owner, now: now, JobChange(state: .acknowledged, taskStatus: record?.progress, nextAt: now, progressed: true))
            logger.info("model acknowledged", metadata: ["event": "model_acknowledged", "jobId": "\(job.jobIDHex)", "taskId": "\(taskID)"])
        case .checkResultAndConfirm:
            switch await results.judge(record?.manifest, for: job) {
            case .confirm(let epochs, let resultHash, let ref):
                try await settle(job, intent: .confirm(actualEpochs: epochs, resultHash: resultHash, attestationRef: ref), chain: onChain.state, now: now)
            case .refuse(let refusal, let detail):
                logger.warning("result refused", metadata: ["event": "result_refused", "jobId": "\(job.jobIDHex)", "code": "\(refusal.rawValue)", "detail": "\(detail)"])
                try await settle(job, intent: .fail(reason: refusal.rawValue), chain: onChain.state, now: now)
            case .undecided(let why):
                try await store.update(job.jobID, owner: settings.owner, now: now, JobChange(taskStatus: record?.progress, nextAt: next))
                throw CoordinatorError(.keyReleaseUnavailable, why)
            }
        case .markFailed(let reason):
            let code = reason == .taskFailed ? (record?.failureReason.map { "task_failed:\($0)" } ?? reason.rawValue) : reason.rawValue
            try await settle(job, intent: .fail(reason: String(code.prefix(200))), chain: onChain.state, now: now)
        case .awaitSettlement:
            try await reconcile(job, chain: onChain.state, now: now)
        case .stopTracking:
            try await finish(job, chain: onChain.state, now: now)
        }
    }

    // MARK: - Chain

    func chainJob(_ id: [UInt8]) async throws(CoordinatorError) -> DataPolicy.Job {
        do {
            let job = try await dataPolicy.job(id)
            setDependency("chain", nil)
            return job
        } catch {
            setDependency("chain", error.message)
            metrics.count("coordinator_dependency_errors_total", [("dependency", "chain")])
            throw CoordinatorError(.chainUnavailable, "jobs(\(Hex.prefixed(id))): \(error.message)")
        }
    }

    /// `startJob` (Granted → Running). A failure leaves the job dispatched: the tracker sends it
    /// again while the chain says Granted.
    func startJob(_ job: JobRecord, now: Date) async throws(CoordinatorError) {
        do {
            try await dataPolicy.startJob(job.jobID, from: sender)
        } catch {
            // Another replica (or an earlier attempt whose receipt was lost) started it already.
            if (try? await dataPolicy.job(job.jobID).state) != .running {
                throw CoordinatorError(.chainUnavailable, "startJob(\(job.jobIDHex)): \(error.message)")
            }
        }
        try await store.update(job.jobID, owner: settings.owner, now: now, JobChange(state: .started, progressed: true))
    }

    /// Stores the settlement intent (unless one is stored already: the first decision stands),
    /// then reconciles it with the chain (`chain`: the job's state as this step read it), which
    /// sends it.
    func settle(_ job: JobRecord, intent: JobRecord.Settlement, chain: DataPolicy.JobState, now: Date) async throws(CoordinatorError) {
        let settled = job.settlement ?? intent
        guard let stored = try await store.update(job.jobID, owner: settings.owner, now: now, JobChange(state: .settling, settlement: settled, reason: reasonCode(settled), progressed: true)) else {
            return
        }
        try await reconcile(stored, chain: chain, now: now)
    }

    /// Brings a stored settlement intent to the chain: a settled chain ends the job; a recorded
    /// transaction the node still has is waited for; otherwise (never sent, dropped, or reverted
    /// while the chain still says Granted/Running) the intent is sent again, within
    /// ``CoordinatorSettings/settlementRetries``. Each transaction's hash is stored before the
    /// node sees it.
    func reconcile(_ job: JobRecord, chain: DataPolicy.JobState, now: Date) async throws(CoordinatorError) {
        guard chain == .granted || chain == .running else { return try await finish(job, chain: chain, now: now) }
        guard let intent = job.settlement else { return }
        let next = now + interval(settings.taskInterval)
        if let hash = job.settlementTransaction {
            enum Seen { case mined, pending, unknown }
            let seen: Seen
            do throws(ChainError) {
                if let receipt = try await sender.client.receipt(hash) {
                    seen = receipt.succeeded ? .mined : .unknown  // a reverted one is sent again below
                } else {
                    seen = try await sender.client.knowsTransaction(hash) ? .pending : .unknown
                }
            } catch {
                throw CoordinatorError(.chainUnavailable, "settlement receipt: \(error.message)")
            }
            switch seen {
            case .mined:
                // Mined and the chain will say so: look again now.
                try await store.update(job.jobID, owner: settings.owner, now: now, JobChange(nextAt: now))
                return
            case .pending:
                try await store.update(job.jobID, owner: settings.owner, now: now, JobChange(nextAt: next))
                return
            case .unknown: break
            }
        }
        guard job.settlementAttempts < settings.settlementRetries else {
            logger.error("settlement not landing", metadata: ["event": "settlement_stuck", "jobId": "\(job.jobIDHex)", "attempts": "\(job.settlementAttempts)"])
            try await store.update(job.jobID, owner: settings.owner, now: now, JobChange(nextAt: now + 60))
            return
        }
        let store = self.store
        let owner = settings.owner
        let leaseOK: TransactionSender.BeforeBroadcast = { hash throws(ChainError) in
            // Recorded first: a crash after the broadcast still knows what it sent. A lost lease
            // stops the broadcast (another replica owns the job now).
            let kept: JobRecord?
            do throws(CoordinatorError) { kept = try await store.update(job.jobID, owner: owner, now: Date(), JobChange(settlementTransaction: hash)) } catch {
                throw ChainError(.rpcUnavailable, "cannot record the settlement transaction: \(error.message)")
            }
            guard kept != nil else { throw ChainError(.rpcUnavailable, "the job's lease was lost before sending its settlement") }
        }
        let started = ContinuousClock.now
        do {
            switch intent {
            case .confirm(let epochs, let resultHash, let ref):
                try await dataPolicy.confirmTrainingComplete(job.jobID, actualEpochs: epochs, resultHash: resultHash, attestationRef: ref, from: sender, beforeBroadcast: leaseOK)
            case .fail(let reason):
                try await dataPolicy.markJobFailed(job.jobID, reasonCode: reason, from: sender, beforeBroadcast: leaseOK)
            }
        } catch {
            metrics.count("coordinator_dependency_errors_total", [("dependency", "chain")])
            try await store.update(job.jobID, owner: settings.owner, now: now, JobChange(nextAt: next))
            throw CoordinatorError(.chainUnavailable, "\(intent.kind) \(job.jobIDHex): \(error.message)")
        }
        metrics.time("coordinator_settlement_seconds", [], ContinuousClock.now - started)
        try await finish(job, chain: try await chainJob(job.jobID).state, now: Date())
    }

    /// Records what the chain says once it has the last word (Completed → completed; Failed,
    /// TimedOut, Refunded or no job → failed). A job the chain still has open is left alone.
    func finish(_ job: JobRecord, chain: DataPolicy.JobState, now: Date) async throws(CoordinatorError) {
        let terminal: JobRecord.State
        switch chain {
        case .completed: terminal = .completed
        case .failed, .timedOut, .refunded, .none, .requested: terminal = .failed
        case .granted, .running: return
        }
        guard job.state != terminal else { return }
        try await store.update(job.jobID, owner: settings.owner, now: now, JobChange(state: terminal, reason: job.reason ?? "chain: \(chain)", progressed: true))
        metrics.count("coordinator_jobs_settled_total", [("state", terminal.description)])
        let event = terminal == .completed ? "job_completed" : "job_failed"
        logger.info(
            terminal == .completed ? "job completed" : "job failed",
            metadata: ["event": "\(event)", "jobId": "\(job.jobIDHex)", "taskId": "\(job.taskID ?? "-")", "reason": "\(job.reason ?? "chain: \(chain)")"])
    }

    // MARK: - Operators

    /// `coordinator fail JOBID --reason R` (``CoordinatorOperator/fail(_:reason:now:)``): stores
    /// a `markJobFailed(R)` intent for the job, which the next tracking round sends.
    public func operatorFail(_ jobID: [UInt8], reason: String, now: Date) async throws(CoordinatorError) -> JobRecord {
        try await CoordinatorOperator(store: store).fail(jobID, reason: reason, now: now)
    }

    /// `coordinator retry JOBID` (``CoordinatorOperator/retry(_:now:)``): sends a job that is not
    /// yet settled back to dispatch.
    public func operatorRetry(_ jobID: [UInt8], now: Date) async throws(CoordinatorError) -> JobRecord {
        try await CoordinatorOperator(store: store).retry(jobID, now: now)
    }

    // MARK: - Health

    /// Dependencies that failed their last use, with why (`/readyz`).
    public func unhealthyDependencies() -> [String: String] {
        state.withLock { s in s.dependencies.compactMapValues { $0 } }
    }

    func setDependency(_ name: String, _ problem: String?) {
        state.withLock { $0.dependencies[name] = .some(problem) }
    }

    func note(_ error: CoordinatorError, in stage: String, job: JobRecord? = nil) {
        if stage == "store" || error.code == .storeUnavailable { setDependency("store", error.message) }
        var metadata: Logger.Metadata = ["event": "error", "stage": "\(stage)", "code": "\(error.code.rawValue)", "detail": "\(error.message)"]
        if let job { metadata["jobId"] = "\(job.jobIDHex)" }
        logger.warning("step failed", metadata: metadata)
    }

    private func reasonCode(_ s: JobRecord.Settlement) -> String? {
        if case .fail(let r) = s { return r }
        return nil
    }

    private func interval(_ d: Duration) -> TimeInterval {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}
