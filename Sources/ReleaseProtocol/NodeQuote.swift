import Attestation
import ByteEncoding
import Crypto
import EVMCrypto
import Foundation

/// What a provider node's evidence must bind to answer the coordinator's `GET /v1/quote?nonce=HEX`
/// (Docs/protocol.md §2.1): `report_data = SHA-512("licen-node-quote-v1" ‖ signer ‖ nonce)`,
/// 64 bytes, with `signer` the 20-byte address of the node's attested signer key and `nonce` the
/// coordinator's 32 fresh bytes. A TPM quote carries the first 32 bytes as extraData. The domain
/// differs from ``ReleaseBinding``'s, so a node quote never passes as a release and back.
public struct NodeQuoteBinding: Sendable, Hashable {
    /// The domain separator.
    public static let domain = Array("licen-node-quote-v1".utf8)

    /// The address of the node's signer key (the key that signs result manifests).
    public let signer: Address
    /// The coordinator's 32-byte nonce.
    public let nonce: [UInt8]
    /// The 64-byte value TDX and SEV-SNP evidence must carry as REPORTDATA.
    public let reportData: [UInt8]

    /// Creates the binding of one quote request.
    public init(signer: Address, nonce: [UInt8]) {
        self.signer = signer
        self.nonce = nonce
        var h = SHA512()
        h.update(data: Self.domain)
        h.update(data: signer.bytes)
        h.update(data: nonce)
        reportData = Array(h.finalize())
    }

    /// The 32-byte value a TPM quote must carry as extraData (the first half of ``reportData``).
    public var tpmExtraData: [UInt8] { Array(reportData.prefix(32)) }
}

/// A provider node's `GET /v1/quote?nonce=HEX` answer: 0G's `{quote, provider_signer}` shape
/// (zerog.md §2.6) extended with the nonce echoed and the evidence as a `licen-evidence/v1`
/// bundle whose binding is ``NodeQuoteBinding``. JSON:
/// `{"provider_signer": "0x…EIP-55", "nonce": "0x…32 bytes", "evidence": {…}, "quote": "base64"?}`.
/// Parsing checks the shapes (``ReleaseProtocolError/Code/malformed``); only
/// `EvidenceVerifier` with ``binding`` says whether the evidence is genuine and fresh.
public struct NodeQuote: Codable, Sendable, Hashable {
    /// The node's signer address (`provider_signer`).
    public let signer: Address
    /// The nonce the node says it answered (32 bytes); the coordinator checks its own.
    public let nonce: [UInt8]
    /// The evidence.
    public let evidence: EvidenceBundle
    /// The platform quote alone (for 0G clients that read `quote`); nil when absent. Never
    /// trusted: the coordinator verifies ``evidence``.
    public let quote: [UInt8]?

    /// Creates an answer. Throws unless `nonce` is 32 bytes.
    public init(signer: Address, nonce: [UInt8], evidence: EvidenceBundle, quote: [UInt8]? = nil) throws(ReleaseProtocolError) {
        guard nonce.count == 32 else { throw ReleaseProtocolError(.malformed, "a node quote nonce is 32 bytes, not \(nonce.count)") }
        self.signer = signer
        self.nonce = nonce
        self.evidence = evidence
        self.quote = quote
    }

    /// What the evidence must bind for this answer's signer and `nonce`.
    public func binding(nonce: [UInt8]) -> NodeQuoteBinding { NodeQuoteBinding(signer: signer, nonce: nonce) }

    /// Parses the JSON form (dates in the evidence as ISO 8601, as ``EvidenceBundle/json`` writes them).
    public init(json: Data) throws(ReleaseProtocolError) {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        do { self = try d.decode(Self.self, from: json) } catch let e as ReleaseProtocolError { throw e } catch {
            throw ReleaseProtocolError(.malformed, "not a node quote: \(error)")
        }
        guard evidence.format == EvidenceBundle.formatTag else { throw ReleaseProtocolError(.malformed, "node quote evidence format is not \(EvidenceBundle.formatTag)") }
    }

    /// The JSON form, keys sorted.
    public var json: Data {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .iso8601
        return (try? e.encode(self)) ?? Data()
    }

    private enum CodingKeys: String, CodingKey {
        case signer = "provider_signer"
        case nonce, evidence, quote
    }

    /// Decodes and checks the JSON form: a malformed signer, nonce or quote throws
    /// ``ReleaseProtocolError`` (``ReleaseProtocolError/Code/malformed``).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let signerText = try c.decode(String.self, forKey: .signer)
        let signer: Address
        do { signer = try Address(signerText) } catch { throw ReleaseProtocolError(.malformed, "node quote provider_signer: \(error.message)") }
        let nonceText = try c.decode(String.self, forKey: .nonce)
        guard nonceText.hasPrefix("0x") else { throw ReleaseProtocolError(.malformed, "node quote nonce is not 0x-hex") }
        let nonce = try Hex.decode(nonceText) { ReleaseProtocolError(.malformed, "node quote nonce: \($0.message)") }
        var quote: [UInt8]?
        if let q = try c.decodeIfPresent(String.self, forKey: .quote) {
            guard let b = Data(base64Encoded: q) else { throw ReleaseProtocolError(.malformed, "node quote quote is not base64") }
            quote = [UInt8](b)
        }
        try self.init(signer: signer, nonce: nonce, evidence: try c.decode(EvidenceBundle.self, forKey: .evidence), quote: quote)
    }

    /// Encodes the JSON form (the signer in EIP-55).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(signer.checksummed, forKey: .signer)
        try c.encode(Hex.prefixed(nonce), forKey: .nonce)
        try c.encode(evidence, forKey: .evidence)
        try c.encodeIfPresent(quote.map { Data($0).base64EncodedString() }, forKey: .quote)
    }
}
