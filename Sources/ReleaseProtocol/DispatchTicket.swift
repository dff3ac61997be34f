import EVMCrypto
import Foundation

/// The coordinator's word that it dispatched a job to one node: EIP-712 typed data
/// `DispatchTicket(bytes32 jobId,bytes32 datasetRoot,address node,uint64 expiry)` in the domain
/// `{name: "licen-keyrelease", version: "1", chainId, verifyingContract: DataPolicy}`, signed by
/// the job's on-chain `provider` (the backend wallet). `node` is the Ethereum address of the
/// TEE's attested signer key, so the key goes only to the node the coordinator dispatched,
/// and a ticket cannot be replayed for another job, dataset or node, or after `expiry`.
public struct DispatchTicket: Sendable, Hashable {
    /// The EIP-712 type.
    public static let typeSignature = "DispatchTicket(bytes32 jobId,bytes32 datasetRoot,address node,uint64 expiry)"
    /// The EIP-712 domain name.
    public static let domainName = "licen-keyrelease"
    /// The EIP-712 domain version.
    public static let domainVersion = "1"

    /// The job (32 bytes).
    public let jobID: [UInt8]
    /// The job's dataset root (32 bytes).
    public let datasetRoot: [UInt8]
    /// The node: the address of the TEE's manifest signer key.
    public let node: Address
    /// Unix seconds after which the ticket is refused.
    public let expiry: UInt64

    /// Creates a ticket's contents.
    public init(jobID: [UInt8], datasetRoot: [UInt8], node: Address, expiry: UInt64) {
        self.jobID = jobID
        self.datasetRoot = datasetRoot
        self.node = node
        self.expiry = expiry
    }

    /// The EIP-712 digest the provider signs.
    public func digest(chainID: UInt64, dataPolicy: Address) throws(EVMCryptoError) -> [UInt8] {
        let domain = MessageSigning.domainSeparator(name: Self.domainName, version: Self.domainVersion, chainID: chainID, verifyingContract: dataPolicy)
        let body = try MessageSigning.structHash(typeSignature: Self.typeSignature, fields: [.fixedBytes(jobID), .fixedBytes(datasetRoot), .address(node), .uint(expiry)])
        return MessageSigning.typedDataHash(domainSeparator: domain, structHash: body)
    }

    /// Signs (the coordinator's side).
    public func sign(with key: Secp256k1.PrivateKey, chainID: UInt64, dataPolicy: Address) throws(EVMCryptoError) -> [UInt8] {
        try key.signature(forDigest: digest(chainID: chainID, dataPolicy: dataPolicy)).rawRepresentation
    }

    /// The address that produced `signature` (65 bytes r ‖ s ‖ v) over this ticket.
    public func signer(of signature: [UInt8], chainID: UInt64, dataPolicy: Address) throws(EVMCryptoError) -> Address {
        try Secp256k1.RecoverableSignature(rawRepresentation: signature).recoverPublicKey(digest: digest(chainID: chainID, dataPolicy: dataPolicy)).address
    }
}
