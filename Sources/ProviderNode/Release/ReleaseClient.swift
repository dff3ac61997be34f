import AsyncHTTPClient
import Attestation
import ByteEncoding
import Crypto
import EVMCrypto
import Foundation
import NIOCore
import ReleaseProtocol

/// The TEE's side of key release (Docs/protocol.md): challenge → evidence that binds the
/// request → release → open. One client per service URL; the keys are the node's, per task.
/// The dataset key exists only in the returned value: nothing here logs or stores it.
public struct ReleaseClient: Sendable {
    /// The service's base URL (`http://host:port`).
    public let baseURL: String
    /// The HTTP client (owned by the caller, who shuts it down).
    public let http: HTTPClient
    /// Per-request timeout.
    public var timeout: TimeAmount

    /// Creates a client for the service at `baseURL`.
    public init(baseURL: String, http: HTTPClient = .shared, timeout: TimeAmount = .seconds(60)) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.http = http
        self.timeout = timeout
    }

    /// A node's keys for one task: the X25519 key the dataset key is sealed to and the secp256k1
    /// key that signs the result manifest (its address is what dispatch tickets name).
    /// `@unchecked`: swift-crypto's key types are immutable values it does not mark `Sendable`.
    public struct NodeKeys: @unchecked Sendable {
        /// The HPKE recipient key.
        public let hpke: Curve25519.KeyAgreement.PrivateKey
        /// The manifest-signing key.
        public let signer: Secp256k1.PrivateKey

        /// Fresh keys, in memory only.
        public init() {
            hpke = Curve25519.KeyAgreement.PrivateKey()
            signer = Secp256k1.PrivateKey()
        }

        /// Given keys.
        public init(hpke: Curve25519.KeyAgreement.PrivateKey, signer: Secp256k1.PrivateKey) {
            self.hpke = hpke
            self.signer = signer
        }

        /// The raw X25519 public key (32 bytes).
        public var hpkePublicKey: [UInt8] { Array(hpke.publicKey.rawRepresentation) }
        /// The compressed secp256k1 public key (33 bytes).
        public var signerPublicKey: [UInt8] { signer.publicKey.serialized(compressed: true) }
        /// The signer's address.
        public var address: Address { signer.publicKey.address }

        /// The binding of one release for `nonce` and `jobID` with these keys.
        public func binding(nonce: [UInt8], jobID: [UInt8]) -> ReleaseBinding {
            ReleaseBinding(nonce: nonce, jobID: jobID, hpkePublicKey: hpkePublicKey, signerPublicKey: signerPublicKey)
        }
    }

    /// A key obtained and opened. `@unchecked`: `SymmetricKey` is an immutable value swift-crypto
    /// does not mark `Sendable`.
    public struct Released: @unchecked Sendable {
        /// The dataset key.
        public let key: SymmetricKey
        /// The dataset IV.
        public let iv: [UInt8]
        /// The audit record's hash (bytes32 for `confirmTrainingComplete`).
        public let attestationRef: [UInt8]
        /// The service's response as received.
        public let response: ReleaseResponse
    }

    /// Produces evidence that carries a binding: `reportData` for TDX and SEV-SNP, its first 32
    /// bytes as a TPM quote's qualifying data.
    public typealias EvidenceSource = @Sendable (ReleaseBinding) async throws -> EvidenceBundle

    // MARK: - The whole flow

    /// Obtains the key for `jobID` / `datasetRoot`: a fresh challenge, evidence for the binding
    /// from `evidence`, the release with the coordinator's `ticket`, and the sealed key opened
    /// with `keys`. Throws ``ProviderNodeError`` (``ProviderNodeError/Code/releaseRefused`` with
    /// the service's code when it says no).
    public func obtainKey(
        jobID: [UInt8], datasetRoot: [UInt8], ticket: DispatchTicketMessage, keys: NodeKeys,
        evidence: EvidenceSource
    ) async throws(ProviderNodeError) -> Released {
        let nonce = try await challenge()
        let binding = keys.binding(nonce: nonce, jobID: jobID)
        let bundle: EvidenceBundle
        do { bundle = try await evidence(binding) } catch let e as ProviderNodeError { throw e } catch {
            throw ProviderNodeError(.evidenceUnavailable, "evidence for the release binding: \(error)")
        }
        let request = try Self.request(jobID: jobID, datasetRoot: datasetRoot, nonce: nonce, keys: keys, evidence: bundle, ticket: ticket)
        let response = try await release(request)
        return try Self.open(response, jobID: jobID, datasetRoot: datasetRoot, keys: keys)
    }

    // MARK: - Steps

    /// `GET /v1/challenge`: a fresh single-use nonce.
    public func challenge() async throws(ProviderNodeError) -> [UInt8] {
        let (status, body) = try await send(HTTPClientRequest(url: baseURL + "/v1/challenge"))
        guard status == 200 else { throw Self.refusal(status: status, body: body, step: "challenge") }
        do {
            let c = try JSONDecoder().decode(ChallengeResponse.self, from: Data(body))
            let nonce = try Hex.decode(c.nonce)
            guard nonce.count == 32 else { throw ProviderNodeError(.releaseUnavailable, "the challenge nonce is \(nonce.count) bytes, not 32") }
            return nonce
        } catch let e as ProviderNodeError { throw e } catch {
            throw ProviderNodeError(.releaseUnavailable, "the challenge response is not the key-release protocol")
        }
    }

    /// Builds a release request: the binding's parts in hex, the evidence, the ticket, and the
    /// signer key's proof of possession.
    public static func request(
        jobID: [UInt8], datasetRoot: [UInt8], nonce: [UInt8], keys: NodeKeys, evidence: EvidenceBundle,
        ticket: DispatchTicketMessage
    ) throws(ProviderNodeError) -> ReleaseRequest {
        let proof: String
        do { proof = try ReleaseRequest.proof(binding: keys.binding(nonce: nonce, jobID: jobID), signer: keys.signer) } catch {
            throw ProviderNodeError(.invalidArgument, "signing the proof of possession: \(error.message)")
        }
        return ReleaseRequest(
            jobId: Hex.prefixed(jobID), datasetRoot: Hex.prefixed(datasetRoot), evidence: evidence, hpkePublicKey: Hex.prefixed(keys.hpkePublicKey),
            signerPublicKey: Hex.prefixed(keys.signerPublicKey), nonce: Hex.prefixed(nonce), ticket: ticket, signerProof: proof)
    }

    /// `POST /v1/release`: the response, or the service's refusal as an error.
    public func release(_ request: ReleaseRequest) async throws(ProviderNodeError) -> ReleaseResponse {
        var r = HTTPClientRequest(url: baseURL + "/v1/release")
        r.method = .POST
        r.headers.add(name: "content-type", value: "application/json")
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        do { r.body = .bytes(try encoder.encode(request)) } catch { throw ProviderNodeError(.invalidArgument, "the release request does not encode") }
        let (status, body) = try await send(r)
        guard status == 200 else { throw Self.refusal(status: status, body: body, step: "release") }
        do { return try JSONDecoder().decode(ReleaseResponse.self, from: Data(body)) } catch {
            throw ProviderNodeError(.releaseUnavailable, "the release response is not the key-release protocol")
        }
    }

    /// Opens a release response for `jobID` / `datasetRoot` with `keys`: the response must name
    /// them, and the sealed key opens only in their context.
    public static func open(_ response: ReleaseResponse, jobID: [UInt8], datasetRoot: [UInt8], keys: NodeKeys) throws(ProviderNodeError) -> Released {
        guard let job = try? Hex.decode(response.jobId), job == jobID, let root = try? Hex.decode(response.datasetRoot), root == datasetRoot else {
            throw ProviderNodeError(.releaseInvalid, "the release response names another job or dataset")
        }
        guard let ref = try? Hex.decode(response.attestationRef), ref.count == 32 else {
            throw ProviderNodeError(.releaseInvalid, "the release response's attestationRef is not 32 bytes of hex")
        }
        do {
            let opened = try response.sealedKey.open(with: keys.hpke, info: SealedDatasetKey.info(jobID: jobID, datasetRoot: datasetRoot, attestationRef: ref))
            return Released(key: opened.key, iv: opened.iv, attestationRef: ref, response: response)
        } catch {
            throw ProviderNodeError(.releaseInvalid, error.message)
        }
    }

    // MARK: - HTTP

    private func send(_ request: HTTPClientRequest) async throws(ProviderNodeError) -> (Int, [UInt8]) {
        do {
            let response = try await http.execute(request, timeout: timeout)
            let body = try await response.body.collect(upTo: 1 << 20)
            return (Int(response.status.code), Array(buffer: body))
        } catch {
            throw ProviderNodeError(.releaseUnavailable, "key-release service at \(baseURL): \(error)")
        }
    }

    /// A non-success answer: the service's code from its error body when it has one.
    static func refusal(status: Int, body: [UInt8], step: String) -> ProviderNodeError {
        guard let e = try? JSONDecoder().decode(ErrorBody.self, from: Data(body)) else {
            return ProviderNodeError(.releaseUnavailable, "\(step): HTTP \(status) without a protocol error body", httpStatus: status)
        }
        // 503 and 429 are not verdicts: the caller retries (same request for a collateral outage).
        let code: ProviderNodeError.Code = status == 503 || status == 429 ? .releaseUnavailable : .releaseRefused
        return ProviderNodeError(code, "\(step): the key-release service answered \(status) \(e.code) (request \(e.requestId))", serviceCode: e.code, httpStatus: status)
    }
}
