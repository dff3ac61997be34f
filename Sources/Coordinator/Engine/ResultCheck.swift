import AsyncHTTPClient
import ByteEncoding
import EVMCrypto
import Foundation
import NIOCore
import NIOFoundationCompat
import ReleaseProtocol
import ZeroG

/// The check before `confirmTrainingComplete`: a provider's word that it finished is settled
/// only when its signed result manifest holds up. Each failure has its own reason code, sent
/// with `markJobFailed`; anything that cannot be decided now (the key-release service or the
/// storage unreachable) is ``Verdict/undecided`` and retried, never confirmed.
public struct ResultCheck: Sendable {
    /// Why a result is refused (the `reasonCode` sent with `markJobFailed`).
    public enum Refusal: String, Sendable, Hashable, CaseIterable {
        /// The finished task carries no manifest, or one that does not parse.
        case manifestMissing = "manifest_missing"
        /// The manifest's signature does not recover to the signer the key-release service
        /// recorded for its attestationRef (or the record is not a release).
        case manifestSigner = "manifest_signer"
        /// The manifest names another job or another dataset.
        case manifestJob = "manifest_job"
        /// The manifest's attestationRef names no release record.
        case attestationUnknown = "attestation_unknown"
        /// More epochs than the requester paid for.
        case epochsExceeded = "epochs_exceeded"
        /// The model root (resultHash) is not in storage.
        case resultMissing = "result_missing"
    }

    /// The outcome.
    public enum Verdict: Sendable, Hashable {
        /// Confirm with these values.
        case confirm(actualEpochs: UInt32, resultHash: [UInt8], attestationRef: [UInt8])
        /// Fail the job for this reason.
        case refuse(Refusal, detail: String)
        /// A dependency did not answer; look again later.
        case undecided(String)
    }

    /// Where the coordinator looks up release records: the key-release service's public
    /// `GET /v1/audit/{attestationRef}`.
    public let keyReleaseURL: String
    /// Where models are stored.
    public let storage: ResultStorage
    /// The chain id and contract the manifest is signed for.
    public let chainID: UInt64
    /// The DataPolicy contract (the manifest's EIP-712 verifying contract).
    public let dataPolicy: Address
    /// The deadline of each call.
    public let timeout: TimeAmount
    let client: HTTPClient

    /// Creates a checker.
    public init(keyReleaseURL: String, storage: ResultStorage, chainID: UInt64, dataPolicy: Address, timeout: TimeAmount = .seconds(30), client: HTTPClient = .shared) {
        self.keyReleaseURL = keyReleaseURL.hasSuffix("/") ? String(keyReleaseURL.dropLast()) : keyReleaseURL
        self.storage = storage
        self.chainID = chainID
        self.dataPolicy = dataPolicy
        self.timeout = timeout
        self.client = client
    }

    /// Judges `manifest` (nil: the task carried none) for `job`.
    public func judge(_ manifest: ResultManifest.Signed?, for job: JobRecord) async -> Verdict {
        guard let signed = manifest else { return .refuse(.manifestMissing, detail: "the finished task carries no result manifest") }
        let m = signed.manifest
        guard m.jobID == job.jobID, m.datasetRoot == job.datasetRoot else {
            return .refuse(.manifestJob, detail: "the manifest names job \(Hex.prefixed(m.jobID)) dataset \(Hex.prefixed(m.datasetRoot))")
        }
        guard m.actualEpochs <= UInt64(job.requestedEpochs), let epochs = UInt32(exactly: m.actualEpochs) else {
            return .refuse(.epochsExceeded, detail: "\(m.actualEpochs) epochs reported, \(job.requestedEpochs) requested")
        }
        let claimed: Address
        do { claimed = try signed.signer(chainID: chainID, dataPolicy: dataPolicy) } catch {
            return .refuse(.manifestSigner, detail: "the manifest signature does not recover: \(error.message)")
        }
        let record: ReleaseRecord?
        do { record = try await releaseRecord(m.attestationRef) } catch { return .undecided(error.message) }
        guard let record else { return .refuse(.attestationUnknown, detail: "no release record \(Hex.prefixed(m.attestationRef))") }
        guard record.released, record.jobID == job.jobID, record.datasetRoot == job.datasetRoot else {
            return .refuse(.manifestSigner, detail: "release record \(Hex.prefixed(m.attestationRef)) is not a release of this job's key")
        }
        guard let recorded = record.signer, recorded == claimed else {
            return .refuse(.manifestSigner, detail: "signed by \(claimed.checksummed), but the key was released to \(record.signer?.checksummed ?? "no signer")")
        }
        do {
            guard try await storage.contains(m.resultHash) else { return .refuse(.resultMissing, detail: "model root \(Hex.prefixed(m.resultHash)) is not in storage") }
        } catch {
            return .undecided(error.message)
        }
        return .confirm(actualEpochs: epochs, resultHash: m.resultHash, attestationRef: m.attestationRef)
    }

    /// What the coordinator needs of a release record.
    struct ReleaseRecord: Sendable, Hashable {
        var released: Bool
        var jobID: [UInt8]?
        var datasetRoot: [UInt8]?
        var signer: Address?
    }

    /// `GET /v1/audit/{ref}`: nil on 404; the record's hash must be the ref asked for.
    func releaseRecord(_ ref: [UInt8]) async throws(CoordinatorError) -> ReleaseRecord? {
        struct Body: Decodable {
            struct Record: Decodable {
                var outcome: String
                var jobID: String?
                var datasetRoot: String?
                var signerPublicKey: String?
            }
            var hash: String
            var record: Record
        }
        let url = "\(keyReleaseURL)/v1/audit/\(Hex.prefixed(ref))"
        let response: HTTPClientResponse
        let bytes: ByteBuffer
        do {
            response = try await client.execute(HTTPClientRequest(url: url), timeout: timeout)
            bytes = try await response.body.collect(upTo: 1 << 20)
        } catch {
            throw CoordinatorError(.keyReleaseUnavailable, "key-release service \(keyReleaseURL): \(type(of: error))")
        }
        if response.status == .notFound { return nil }
        guard response.status == .ok else { throw CoordinatorError(.keyReleaseUnavailable, "key-release service \(keyReleaseURL): HTTP \(response.status.code) for an audit record") }
        let body: Body
        do { body = try JSONDecoder().decode(Body.self, from: Data(buffer: bytes)) } catch {
            throw CoordinatorError(.keyReleaseUnavailable, "key-release service \(keyReleaseURL): an audit record that does not parse")
        }
        guard (try? Hex.decode(body.hash)) == ref else { throw CoordinatorError(.keyReleaseUnavailable, "key-release service \(keyReleaseURL): answered with another record") }
        let signer = body.record.signerPublicKey.flatMap { try? Hex.decode($0) }.flatMap { try? Secp256k1.PublicKey(bytes: $0) }?.address
        return ReleaseRecord(
            released: body.record.outcome == "released", jobID: body.record.jobID.flatMap { try? Hex.decode($0) },
            datasetRoot: body.record.datasetRoot.flatMap { try? Hex.decode($0) }, signer: signer)
    }
}

/// Where trained models are stored, to check a result root exists before settling.
public enum ResultStorage: Sendable {
    /// The local content-addressed store (the embedded default).
    case local(LocalDatasetStore)
    /// A 0G storage node (`zgs_getFileInfo`).
    case zeroG(ZeroG.StorageNodeClient)

    /// Whether the file with this root is stored.
    public func contains(_ root: [UInt8]) async throws(CoordinatorError) -> Bool {
        guard root.count == 32 else { return false }
        switch self {
        case .local(let store):
            return store.contains(ZeroG.Hash(root))
        case .zeroG(let node):
            do { return try await node.fileInfo(root: ZeroG.Hash(root), needAvailable: false) != nil } catch {
                throw CoordinatorError(.storageUnavailable, "0G storage node: \(error.message)")
            }
        }
    }
}
