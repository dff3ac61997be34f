import Attestation
import ByteEncoding
import Crypto
import EVMCrypto
import Foundation
import ReleaseProtocol

extension ReleaseRequest {
    /// The decoder for release bodies (bundle dates are ISO 8601).
    public static func decode(_ body: some DataProtocol) throws(KeyReleaseError) -> ReleaseRequest {
        try strictJSON(body, "release request")
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        do { return try d.decode(ReleaseRequest.self, from: Data(body)) } catch {
            throw KeyReleaseError(.badRequest, "the body is not a release request: \(ErrorDescription.describe(error))")
        }
    }
}

/// A release request with every field decoded and size-checked.
struct ParsedReleaseRequest: Sendable {
    let jobID: [UInt8]
    let datasetRoot: [UInt8]
    let hpkeKeyBytes: [UInt8]
    let signerKey: Secp256k1.PublicKey
    let signerKeyBytes: [UInt8]
    let nonce: [UInt8]
    let ticket: DispatchTicket
    let ticketJobID: [UInt8]
    let ticketDatasetRoot: [UInt8]
    let ticketSignature: [UInt8]
    let evidence: EvidenceBundle
    let evidenceDigest: [UInt8]
    let signerProof: [UInt8]

    /// The HPKE recipient key (swift-crypto's key type is not Sendable, so it is built on use).
    var hpkeKey: Curve25519.KeyAgreement.PublicKey {
        get throws(KeyReleaseError) { try Self.x25519(hpkeKeyBytes) }
    }

    private static func x25519(_ bytes: [UInt8]) throws(KeyReleaseError) -> Curve25519.KeyAgreement.PublicKey {
        do { return try Curve25519.KeyAgreement.PublicKey(rawRepresentation: bytes) } catch {
            throw KeyReleaseError(.badRequest, "hpkePublicKey is not an X25519 public key")
        }
    }

    /// Refuses low-order X25519 public keys (RFC 9180 §7.1.4, RFC 7748 §6.1): the key agreement
    /// with any private key is all zero, so the sealed key would open without one. X25519
    /// clamps every scalar to a multiple of the cofactor 8, so a point of order 1, 2, 4 or 8
    /// (in either encoding, including non-canonical ones) gives the all-zero output for every
    /// private key: one agreement with a throwaway key tells them all apart.
    static func checkNotLowOrder(_ key: Curve25519.KeyAgreement.PublicKey) throws(KeyReleaseError) {
        let probe = Curve25519.KeyAgreement.PrivateKey()
        let shared: [UInt8]
        do { shared = try probe.sharedSecretFromKeyAgreement(with: key).withUnsafeBytes { Array($0) } } catch {
            throw KeyReleaseError(.hpkeKeyWeak, "hpkePublicKey is a low-order X25519 point")
        }
        guard shared.contains(where: { $0 != 0 }) else { throw KeyReleaseError(.hpkeKeyWeak, "hpkePublicKey is a low-order X25519 point") }
    }

    var binding: ReleaseBinding { ReleaseBinding(nonce: nonce, jobID: jobID, hpkePublicKey: hpkeKeyBytes, signerPublicKey: signerKeyBytes) }

    init(_ r: ReleaseRequest) throws(KeyReleaseError) {
        jobID = try Self.hex(r.jobId, "jobId", count: 32)
        datasetRoot = try Self.hex(r.datasetRoot, "datasetRoot", count: 32)
        hpkeKeyBytes = try Self.hex(r.hpkePublicKey, "hpkePublicKey", count: 32)
        try Self.checkNotLowOrder(try Self.x25519(hpkeKeyBytes))
        signerKeyBytes = try Self.hex(r.signerPublicKey, "signerPublicKey", count: nil)
        do { signerKey = try Secp256k1.PublicKey(bytes: signerKeyBytes) } catch {
            throw KeyReleaseError(.badRequest, "signerPublicKey is not a secp256k1 public key (33 or 65 bytes)")
        }
        nonce = try Self.hex(r.nonce, "nonce", count: 32)
        ticketJobID = try Self.hex(r.ticket.jobId, "ticket.jobId", count: 32)
        ticketDatasetRoot = try Self.hex(r.ticket.datasetRoot, "ticket.datasetRoot", count: 32)
        ticketSignature = try Self.hex(r.ticket.signature, "ticket.signature", count: 65)
        let node: Address
        do { node = try Address(r.ticket.node) } catch { throw KeyReleaseError(.badRequest, "ticket.node is not an address") }
        ticket = DispatchTicket(jobID: ticketJobID, datasetRoot: ticketDatasetRoot, node: node, expiry: r.ticket.expiry)
        signerProof = try Self.hex(r.signerProof, "signerProof", count: 65)
        evidence = r.evidence
        guard evidence.format == EvidenceBundle.formatTag else {
            throw KeyReleaseError(.badRequest, "evidence.format is not \(EvidenceBundle.formatTag)")
        }
        evidenceDigest = Array(SHA256.hash(data: (try? CanonicalJSON.encode(r.evidence)) ?? Data()))
    }

    static func hex(_ text: String, _ field: String, count: Int?) throws(KeyReleaseError) -> [UInt8] {
        guard let b = try? Hex.decode(text) else { throw KeyReleaseError(.badRequest, "\(field) is not hex") }
        if let count, b.count != count { throw KeyReleaseError(.badRequest, "\(field) has \(b.count) bytes, not \(count)") }
        return b
    }
}

/// The one JSON form the service hashes and serves: sorted keys, unescaped slashes, ISO 8601
/// dates, no whitespace (audit bodies, evidence digests, response bodies).
enum CanonicalJSON {
    static func encode(_ value: some Encodable) throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .iso8601
        return try e.encode(value)
    }
}

/// `GET /v1/audit/{ref}` body: the public record.
public struct AuditRecordResponse: Codable, Sendable, Hashable {
    /// Position in the chain.
    public let sequence: Int64
    /// `0x`-hex hash (the attestationRef).
    public let hash: String
    /// `0x`-hex previous hash.
    public let previousHash: String
    /// The canonical body exactly as hashed (a JSON text).
    public let body: String
    /// The body decoded.
    public let record: AuditDraft

    /// Renders a stored record.
    public init(_ r: AuditRecord) {
        sequence = r.sequence
        hash = Hex.prefixed(r.hash)
        previousHash = Hex.prefixed(r.previousHash)
        body = String(decoding: r.body, as: UTF8.self)
        record = r.draft
    }
}

/// Refuses bodies that are not strict RFC 8259 JSON, or that give one key twice: Foundation's
/// decoder would silently keep one of the two values, so a signature or a check could see a
/// value the decision does not use.
func strictJSON(_ body: some DataProtocol, _ what: String) throws(KeyReleaseError) {
    do { _ = try JSONValue(parsing: Array(body)) } catch { throw KeyReleaseError(.badRequest, "the \(what) is not strict JSON: \(error.message)") }
}
