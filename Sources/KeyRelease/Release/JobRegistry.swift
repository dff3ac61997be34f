import Chain
import EVMCrypto
import Foundation
import NIOConcurrencyHelpers

/// The service's read-only view of the DataPolicy contract: the chain is the truth about who may
/// train on what. Any failure to read it is `.chainUnavailable` (503), never a release.
public protocol JobRegistry: Sendable {
    /// The chain id (EIP-712 domain of dispatch tickets).
    func chainID() async throws(KeyReleaseError) -> UInt64
    /// The DataPolicy contract address (EIP-712 verifying contract).
    var contract: Address { get }
    /// `jobs(jobId)`; nil when the job does not exist (state None).
    func job(_ jobID: [UInt8]) async throws(KeyReleaseError) -> DataPolicy.Job?
    /// `policies(root).owner`; nil when the dataset is not registered.
    func owner(ofDataset root: [UInt8]) async throws(KeyReleaseError) -> Address?
    /// A cheap read proving the RPC answers (`/readyz`).
    func ping() async throws(KeyReleaseError)
}

/// ``JobRegistry`` over JSON-RPC (`eth_call` on DataPolicy).
public struct ChainJobRegistry: JobRegistry {
    /// The typed contract client.
    public let dataPolicy: DataPolicy
    /// `eth_chainId`, remembered after the first successful read.
    private let cachedChainID = NIOLockedValueBox<UInt64?>(nil)

    /// Reads DataPolicy at `contract` through `rpc` (one retry, 5 s timeout: a down chain must
    /// turn into a prompt 503, not a hung request).
    public init(rpc url: String, contract: Address) {
        dataPolicy = DataPolicy(address: contract, client: EthClient(rpc: JSONRPCClient(url: url, timeout: .seconds(5), retries: 1)))
    }

    /// The contract address.
    public var contract: Address { dataPolicy.address }

    /// `eth_chainId`, read once and then remembered.
    public func chainID() async throws(KeyReleaseError) -> UInt64 {
        if let id = cachedChainID.withLockedValue({ $0 }) { return id }
        let id = try await mapped { () async throws(ChainError) in try await dataPolicy.client.chainID() }
        cachedChainID.withLockedValue { $0 = id }
        return id
    }

    /// `jobs(jobId)`, nil for state None.
    public func job(_ jobID: [UInt8]) async throws(KeyReleaseError) -> DataPolicy.Job? {
        let job = try await mapped { () async throws(ChainError) in try await dataPolicy.job(jobID) }
        return job.state == .none ? nil : job
    }

    /// `policies(root).owner`, nil when unregistered (zero owner).
    public func owner(ofDataset root: [UInt8]) async throws(KeyReleaseError) -> Address? {
        let p = try await mapped { () async throws(ChainError) in try await dataPolicy.policy(root) }
        return p.owner == .zero ? nil : p.owner
    }

    /// `eth_blockNumber`.
    public func ping() async throws(KeyReleaseError) {
        _ = try await mapped { () async throws(ChainError) in try await dataPolicy.client.blockNumber() }
    }

    private func mapped<T>(_ body: () async throws(ChainError) -> T) async throws(KeyReleaseError) -> T {
        do { return try await body() } catch { throw KeyReleaseError(.chainUnavailable, "chain read failed: \(error)") }
    }
}
