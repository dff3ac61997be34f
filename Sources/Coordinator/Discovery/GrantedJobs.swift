import AsyncHTTPClient
import BigInt
import ByteEncoding
import Chain
import Foundation
import NIOCore
import NIOFoundationCompat

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
}

/// Envio HyperIndex GraphQL (../shared/docs/datapolicy.md):
/// `query GrantedJobs { Job(where: { state: { _eq: "Granted" } }) { id datasetRoot requestedEpochs } }`.
public struct HyperIndexJobSource: GrantedJobSource {
    /// The GraphQL endpoint.
    public let url: String
    let client: HTTPClient

    /// The query sent.
    public static let query = #"query GrantedJobs { Job(where: { state: { _eq: "Granted" } }) { id datasetRoot requestedEpochs dataset { manifestHash } } }"#

    /// A source for the GraphQL endpoint at `url`.
    public init(url: String, client: HTTPClient = .shared) {
        self.url = url
        self.client = client
    }

    public func grantedJobs() async throws(CoordinatorError) -> [GrantedJob] {
        let reply: RPCValue
        do {
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(data: try JSONEncoder().encode(RPCValue.object(["query": .string(Self.query)]))))
            let response = try await client.execute(request, timeout: .seconds(15))
            guard response.status.code == 200 else { throw CoordinatorError(.discoveryUnavailable, "HyperIndex answered HTTP \(response.status.code)") }
            reply = try JSONDecoder().decode(RPCValue.self, from: Data(buffer: try await response.body.collect(upTo: 16 << 20)))
        } catch let e as CoordinatorError { throw e } catch {
            throw CoordinatorError(.discoveryUnavailable, "HyperIndex at \(url): \(error)")
        }
        if let errors = reply["errors"]?.array, !errors.isEmpty {
            throw CoordinatorError(.discoveryFailed, "HyperIndex: \(errors.compactMap { $0["message"]?.string }.joined(separator: "; "))")
        }
        guard let jobs = reply["data"]?["Job"]?.array else { throw CoordinatorError(.discoveryFailed, "HyperIndex reply has no data.Job") }
        var out = [GrantedJob]()
        for j in jobs {
            guard let id = j["id"]?.string, let root = j["datasetRoot"]?.string, let idBytes = try? Hex.decode(id), let rootBytes = try? Hex.decode(root),
                idBytes.count == 32, rootBytes.count == 32
            else { throw CoordinatorError(.discoveryFailed, "HyperIndex job is malformed") }
            var epochs: UInt32 = 0
            switch j["requestedEpochs"] {
            case .number(let n)?: epochs = UInt32(clamping: Int(n))
            case .string(let s)?: epochs = UInt32(s) ?? 0
            default: break
            }
            out.append(GrantedJob(jobID: idBytes, datasetRoot: rootBytes, requestedEpochs: epochs))
        }
        return out
    }
}

/// Granted jobs from `eth_getLogs` alone (no indexer): every `AccessRequested` since
/// `fromBlock`, kept when `jobs(jobId)` on chain is Granted now.
public struct ChainLogJobSource: GrantedJobSource {
    /// The contract.
    public let dataPolicy: DataPolicy
    /// First block to scan.
    public let fromBlock: UInt64

    /// A source reading `dataPolicy`'s logs from `fromBlock`.
    public init(dataPolicy: DataPolicy, fromBlock: UInt64 = 0) {
        self.dataPolicy = dataPolicy
        self.fromBlock = fromBlock
    }

    public func grantedJobs() async throws(CoordinatorError) -> [GrantedJob] {
        do {
            var out = [GrantedJob]()
            for e in try await dataPolicy.events(fromBlock: fromBlock) {
                guard case .accessRequested(let id, let root, _, let epochs) = e else { continue }
                if try await dataPolicy.job(id).state == .granted { out.append(GrantedJob(jobID: id, datasetRoot: root, requestedEpochs: epochs)) }
            }
            return out
        } catch {
            throw CoordinatorError(discovery: error)
        }
    }
}
