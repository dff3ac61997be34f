import AsyncHTTPClient
import BigInt
import ByteEncoding
import Chain
import Foundation
import NIOCore
import NIOFoundationCompat
import Synchronization

/// A job the chain has granted, as a job source reports it. Sources are hints: the coordinator
/// re-reads `jobs(jobId)` on chain before acting (the chain stays the truth).
public struct GrantedJob: Sendable, Hashable {
    /// The job id.
    public let jobID: [UInt8]
    /// The dataset root.
    public let datasetRoot: [UInt8]
    /// Epochs requested.
    public let requestedEpochs: UInt32

    /// Creates a job record.
    public init(jobID: [UInt8], datasetRoot: [UInt8], requestedEpochs: UInt32) {
        self.jobID = jobID
        self.datasetRoot = datasetRoot
        self.requestedEpochs = requestedEpochs
    }
}

/// Where Granted jobs are found: Envio HyperIndex, or the chain's logs.
public protocol GrantedJobSource: Sendable {
    /// Jobs currently Granted (possibly stale: confirm on chain).
    func grantedJobs() async throws(CoordinatorError) -> [GrantedJob]

    /// Called once the jobs of the last ``grantedJobs()`` are recorded: a source with a
    /// persisted position (chain logs) moves it now, never before, so a crash in between
    /// reads the same blocks again (recording is idempotent).
    func recorded() async throws(CoordinatorError)
}

extension GrantedJobSource {
    /// Nothing to persist.
    public func recorded() async throws(CoordinatorError) {}
}

/// Envio HyperIndex GraphQL over Hasura (zerog.md §3, datapolicy.md): Granted jobs in pages of
/// `pageSize`, keyed by id (`where: {state: {_eq: "Granted"}, id: {_gt: $after}}, order_by: {id:
/// asc}, limit: $n`: a page boundary never skips or repeats a job while others change state),
/// with the indexer's sync status from `_meta`. The indexer is a hint, never the truth:
/// ``ChainConfirmedJobSource`` re-reads every job on chain before anything acts on it.
public struct HyperIndexJobSource: GrantedJobSource {
    /// The GraphQL endpoint (`…/v1/graphql`).
    public let url: String
    /// Jobs per request (Hasura caps responses at `ENVIO_HASURA_RESPONSE_LIMIT`).
    public let pageSize: Int
    let client: HTTPClient

    /// The query sent, with variables `after` (an id, `0x` + 64 hex; the zero id first) and `n`.
    public static let query =
        #"query GrantedJobs($after: String!, $n: Int!) { Job(where: {state: {_eq: "Granted"}, id: {_gt: $after}}, order_by: {id: asc}, limit: $n) { id datasetRoot requestedEpochs } _meta { isReady progressBlock } }"#

    /// One full listing: every page, and the indexer's sync status as of the last page.
    public struct Listing: Sendable, Hashable {
        /// The jobs the indexer calls Granted.
        public var jobs: [GrantedJob]
        /// `_meta.isReady`: false while the indexer is still catching up (its list may lag).
        public var isReady: Bool
        /// `_meta.progressBlock`: the last block the indexer processed, when it says.
        public var progressBlock: UInt64?
        /// Requests it took.
        public var pages: Int
    }

    /// A source for the GraphQL endpoint at `url`.
    public init(url: String, pageSize: Int = 500, client: HTTPClient = .shared) {
        self.url = url
        self.pageSize = max(1, pageSize)
        self.client = client
    }

    /// The jobs the indexer calls Granted (a hint: confirm on chain).
    public func grantedJobs() async throws(CoordinatorError) -> [GrantedJob] { try await listing().jobs }

    /// Every page of Granted jobs, with the sync status.
    public func listing() async throws(CoordinatorError) -> Listing {
        var out = Listing(jobs: [], isReady: false, progressBlock: nil, pages: 0)
        var after = "0x" + String(repeating: "0", count: 64)
        while true {
            let reply = try await page(after: after)
            out.pages += 1
            if let meta = Self.meta(reply) {
                if case .bool(let ready)? = meta["isReady"] { out.isReady = ready } else { out.isReady = false }
                out.progressBlock = Self.integer(meta["progressBlock"])
            }
            guard let jobs = reply["data"]?["Job"]?.array else { throw CoordinatorError(.discoveryFailed, "HyperIndex reply has no data.Job") }
            for j in jobs { out.jobs.append(try Self.job(j)) }
            guard jobs.count == pageSize, let last = out.jobs.last else { return out }
            let next = Hex.prefixed(last.jobID)
            guard next > after else { throw CoordinatorError(.discoveryFailed, "HyperIndex pages do not advance (ids not ascending)") }
            after = next
        }
    }

    private func page(after: String) async throws(CoordinatorError) -> RPCValue {
        let reply: RPCValue
        do {
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            let body = RPCValue.object(["query": .string(Self.query), "variables": .object(["after": .string(after), "n": .number(Double(pageSize))])])
            request.body = .bytes(ByteBuffer(data: try JSONEncoder().encode(body)))
            let response = try await client.execute(request, timeout: .seconds(15))
            guard response.status.code == 200 else { throw CoordinatorError(.discoveryUnavailable, "HyperIndex answered HTTP \(response.status.code)") }
            reply = try JSONDecoder().decode(RPCValue.self, from: Data(buffer: try await response.body.collect(upTo: 16 << 20)))
        } catch let e as CoordinatorError { throw e } catch {
            throw CoordinatorError(.discoveryUnavailable, "HyperIndex at \(url): \(error)")
        }
        if let errors = reply["errors"]?.array, !errors.isEmpty {
            throw CoordinatorError(.discoveryFailed, "HyperIndex: \(errors.compactMap { $0["message"]?.string }.joined(separator: "; "))")
        }
        return reply
    }

    /// `_meta` is one object, or a list of one per chain.
    private static func meta(_ reply: RPCValue) -> RPCValue? {
        guard let m = reply["data"]?["_meta"] else { return nil }
        if let list = m.array { return list.first }
        return m
    }

    /// Hasura writes BigInt columns as strings and Int columns as numbers.
    private static func integer(_ v: RPCValue?) -> UInt64? {
        switch v {
        case .number(let n)?: n >= 0 ? UInt64(n) : nil
        case .string(let s)?: UInt64(s)
        default: nil
        }
    }

    private static func job(_ j: RPCValue) throws(CoordinatorError) -> GrantedJob {
        guard let id = j["id"]?.string, let root = j["datasetRoot"]?.string, let idBytes = try? Hex.decode(id), let rootBytes = try? Hex.decode(root),
            idBytes.count == 32, rootBytes.count == 32
        else { throw CoordinatorError(.discoveryFailed, "HyperIndex job is malformed") }
        return GrantedJob(jobID: idBytes, datasetRoot: rootBytes, requestedEpochs: UInt32(clamping: integer(j["requestedEpochs"]) ?? 0))
    }
}

/// A job source whose every job is re-read on chain (`jobs(jobId)`) before it is reported:
/// only jobs the chain says are Granted, for the dataset the source named, survive. What an
/// indexer or a stale log read says is never acted on by itself.
public struct ChainConfirmedJobSource<Source: GrantedJobSource>: GrantedJobSource {
    /// The hinting source.
    public let source: Source
    /// The contract read for the truth.
    public let dataPolicy: DataPolicy

    /// Confirms `source`'s jobs against `dataPolicy`.
    public init(_ source: Source, dataPolicy: DataPolicy) {
        self.source = source
        self.dataPolicy = dataPolicy
    }

    /// A job the source listed that the chain does not confirm, and why.
    public struct Dropped: Sendable, Hashable {
        /// The job as listed.
        public let job: GrantedJob
        /// What the chain says instead (for a log line and a metric).
        public let reason: String
    }

    /// The confirmed jobs and the dropped ones.
    public func confirm() async throws(CoordinatorError) -> (granted: [GrantedJob], dropped: [Dropped]) {
        var granted = [GrantedJob](), dropped = [Dropped]()
        for job in try await source.grantedJobs() {
            let onChain: DataPolicy.Job
            do { onChain = try await dataPolicy.job(job.jobID) } catch { throw CoordinatorError(discovery: error) }
            if onChain.state != .granted {
                dropped.append(Dropped(job: job, reason: "the chain says \(onChain.state)"))
            } else if onChain.datasetRoot != job.datasetRoot {
                dropped.append(Dropped(job: job, reason: "the chain names dataset \(Hex.prefixed(onChain.datasetRoot))"))
            } else {
                granted.append(GrantedJob(jobID: job.jobID, datasetRoot: onChain.datasetRoot, requestedEpochs: onChain.requestedEpochs))
            }
        }
        return (granted, dropped)
    }

    /// The confirmed jobs.
    public func grantedJobs() async throws(CoordinatorError) -> [GrantedJob] { try await confirm().granted }

    /// Passes the acknowledgement to the hinting source.
    public func recorded() async throws(CoordinatorError) { try await source.recorded() }
}

/// Granted jobs from `eth_getLogs` alone (no indexer): the ids in `AccessRequested` and
/// `AccessGranted` events in blocks at least `confirmations` deep, each kept when `jobs(jobId)`
/// on chain is Granted now. The position is persisted in the store (``JobStore/cursor(_:)``,
/// named after the contract) once the jobs are recorded, and reading resumes after it on
/// restart; without a stored position it starts at `fromBlock`. A job granted while its block
/// is still shallower than `confirmations` is found once it is deep enough.
public final class ChainLogJobSource: GrantedJobSource {
    /// The contract.
    public let dataPolicy: DataPolicy
    /// First block to scan when the store has no position.
    public let fromBlock: UInt64
    /// How deep a block must be before its events are read (0: the head).
    public let confirmations: UInt64
    /// Where the position is kept (nil: in memory only).
    public let store: JobStore?
    /// Events per `eth_getLogs` call, in blocks.
    public let span: UInt64
    private let position = Mutex<(done: UInt64?, pending: UInt64?)>((nil, nil))

    /// A source reading `dataPolicy`'s logs.
    public init(dataPolicy: DataPolicy, fromBlock: UInt64 = 0, confirmations: UInt64 = 0, store: JobStore? = nil, span: UInt64 = 10_000) {
        self.dataPolicy = dataPolicy
        self.fromBlock = fromBlock
        self.confirmations = confirmations
        self.store = store
        self.span = max(1, span)
    }

    /// The cursor's name in the store.
    public var cursorName: String { "logs:\(dataPolicy.address.checksummed)" }

    /// The Granted jobs in the blocks after the position, up to the confirmed head.
    public func grantedJobs() async throws(CoordinatorError) -> [GrantedJob] {
        var done = position.withLock { $0.done }
        if done == nil, let store { done = try await store.cursor(cursorName) }
        do {
            let head = try await dataPolicy.client.blockNumber()
            guard head >= confirmations else { return [] }
            let safe = head - confirmations
            let start = done.map { $0 + 1 } ?? fromBlock
            guard start <= safe else { return [] }
            var ids: [[UInt8]] = []
            var seen = Set<[UInt8]>()
            var from = start
            while from <= safe {
                let to = min(safe, from + span - 1)
                for e in try await dataPolicy.events(fromBlock: from, toBlock: to) {
                    let id: [UInt8]
                    switch e {
                    case .accessRequested(let j, _, _, _), .accessGranted(let j): id = j
                    default: continue
                    }
                    if seen.insert(id).inserted { ids.append(id) }
                }
                from = to + 1
            }
            var out = [GrantedJob]()
            for id in ids {
                let job = try await dataPolicy.job(id)
                if job.state == .granted { out.append(GrantedJob(jobID: id, datasetRoot: job.datasetRoot, requestedEpochs: job.requestedEpochs)) }
            }
            position.withLock { $0.pending = safe }
            return out
        } catch {
            throw CoordinatorError(discovery: error)
        }
    }

    /// Persists the position reached by the last ``grantedJobs()``.
    public func recorded() async throws(CoordinatorError) {
        guard let reached = position.withLock({ $0.pending }) else { return }
        if let store { try await store.advanceCursor(cursorName, to: reached, now: Date()) }
        position.withLock { $0 = (reached, nil) }
    }
}

/// Several sources as one (HyperIndex and chain logs together): the union of their jobs by id.
/// One failing source does not hide the others' jobs; only when every source fails does the
/// listing fail (with the first failure).
public struct MergedJobSource: GrantedJobSource {
    /// The sources, asked in order.
    public let sources: [any GrantedJobSource]

    /// Merges `sources`.
    public init(_ sources: [any GrantedJobSource]) { self.sources = sources }

    /// Every source's jobs, each id once.
    public func grantedJobs() async throws(CoordinatorError) -> [GrantedJob] {
        var out = [GrantedJob](), seen = Set<[UInt8]>()
        var firstFailure: CoordinatorError?
        var answered = false
        for source in sources {
            do {
                for job in try await source.grantedJobs() where seen.insert(job.jobID).inserted { out.append(job) }
                answered = true
            } catch {
                firstFailure = firstFailure ?? error
            }
        }
        if !answered, let firstFailure { throw firstFailure }
        return out
    }

    /// Acknowledges every source.
    public func recorded() async throws(CoordinatorError) {
        for source in sources { try await source.recorded() }
    }
}
