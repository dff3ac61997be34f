import BigInt
import ByteEncoding
import Chain
import EVMCrypto
import Foundation

/// The dev chain with its DataPolicy contract and one sender per role (owner, requester, backend
/// wallet), polling fast: what chain-level tests (DataPolicy, discovery) start from.
public struct DevChainWorld: Sendable {
    /// The running chain.
    public let chain: DevChain
    /// A JSON-RPC client for it.
    public let client: EthClient
    /// The DataPolicy contract.
    public let dp: DataPolicy
    /// Senders by role.
    public let owner: TransactionSender, requester: TransactionSender, backend: TransactionSender
    /// Addresses of the owner and the requester.
    public let ownerAddress: Address, requesterAddress: Address

    /// Starts a fresh dev chain.
    public static func start() async throws -> DevChainWorld {
        let chain = try DevChain()
        let client = EthClient(url: chain.info.rpcUrl)
        let key = { (a: DevChain.Account) throws -> Secp256k1.PrivateKey in try Secp256k1.PrivateKey(rawRepresentation: Hex.decode(a.privateKey)) }
        let owner = TransactionSender(client: client, key: try key(chain.info.owner))
        let requester = TransactionSender(client: client, key: try key(chain.info.requester))
        let backend = TransactionSender(client: client, key: try key(chain.info.backend))
        for s in [owner, requester, backend] { await s.configure(pollInterval: .milliseconds(20), timeout: .seconds(60)) }
        return DevChainWorld(
            chain: chain, client: client, dp: DataPolicy(address: try Address(chain.info.dataPolicy), client: client),
            owner: owner, requester: requester, backend: backend, ownerAddress: owner.address, requesterAddress: requester.address)
    }

    /// keccak256 of `s`: the tests' bytes32 names.
    public static func bytes32(_ s: String) -> [UInt8] { Keccak256.hash(Array(s.utf8)) }

    /// Registers `root` (open to every requester, purpose "fine-tune", ten epochs a run).
    public func register(root: [UInt8], royalty: BigUInt = 1_000_000_000_000_000, attestation: Bool = true) async throws {
        try await dp.registerDataset(
            .init(
                datasetRoot: root, manifestHash: Self.bytes32("manifest"), royaltyPerEpoch: royalty, maxEpochsPerRun: 10, maxRunsPerRequester: 5,
                accessTTLSeconds: 3600, policyExpiry: UInt64(Date().timeIntervalSince1970) + 86400 * 365, requireResultAttestation: attestation,
                openRequesters: true, allowedPurposeIDs: [Self.bytes32("fine-tune")], allowedRequesters: []), from: owner)
    }
}
