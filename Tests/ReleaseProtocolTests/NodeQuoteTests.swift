import Attestation
import ByteEncoding
import EVMCrypto
import Foundation
import ReleaseProtocol
import Testing

/// A provider node's quote answer: the binding against an independent SHA-512 (Python
/// hashlib), domain separation from the release binding, and the JSON form.
@Suite("ReleaseProtocol: node quote")
struct NodeQuoteTests {
    static let signer = try! Address("0x19E7E376E7C213B7E7e7e46cc70A5dD086DAff2A")
    static let nonce = (0..<32).map { UInt8($0) }

    @Test("report data is SHA-512(\"licen-node-quote-v1\" ‖ signer ‖ nonce)")
    func knownAnswer() {
        let b = NodeQuoteBinding(signer: Self.signer, nonce: Self.nonce)
        // python3: hashlib.sha512(b"licen-node-quote-v1" + signer20 + bytes(range(32))).hexdigest()
        #expect(
            Hex.encode(b.reportData)
                == "7afd6003a18897e8b508c2ce8b22f43d0480c5fbe0a6c30798ad8615428d7be5968f1567c9ca9ccf11b3c407b14170e2edf9ba22bb8fccfc9f56fc934920750e")
        #expect(b.tpmExtraData == Array(b.reportData.prefix(32)))
        #expect(NodeQuoteBinding(signer: .zero, nonce: Self.nonce).reportData != b.reportData)
        #expect(NodeQuoteBinding(signer: Self.signer, nonce: [UInt8](repeating: 0, count: 32)).reportData != b.reportData)
    }

    @Test("the JSON form round-trips with provider_signer in EIP-55; a short nonce or a bad signer is refused")
    func json() throws {
        let evidence = EvidenceBundle(platform: .tdx, collectedAt: Date(timeIntervalSince1970: 1_900_000_000), report: Data([1, 2, 3]))
        let q = try NodeQuote(signer: Self.signer, nonce: Self.nonce, evidence: evidence, quote: [1, 2, 3])
        let object = try #require(try JSONSerialization.jsonObject(with: q.json) as? [String: Any])
        #expect(object["provider_signer"] as? String == "0x19E7E376E7C213B7E7e7e46cc70A5dD086DAff2A")
        #expect(object["nonce"] as? String == Hex.prefixed(Self.nonce))
        #expect(object["quote"] as? String == "AQID")
        #expect((object["evidence"] as? [String: Any])?["format"] as? String == "licen-evidence/v1")
        #expect(try NodeQuote(json: q.json) == q)

        var short = object
        short["nonce"] = "0x0102"
        #expect(throws: ReleaseProtocolError.self) { try NodeQuote(json: try JSONSerialization.data(withJSONObject: short)) }
        var badSigner = object
        badSigner["provider_signer"] = "0x19e7E376E7C213B7E7e7e46cc70A5dD086DAff2A"  // one letter's case flipped: bad checksum
        #expect(throws: ReleaseProtocolError.self) { try NodeQuote(json: try JSONSerialization.data(withJSONObject: badSigner)) }
        var noEvidence = object
        noEvidence["evidence"] = nil
        #expect(throws: ReleaseProtocolError.self) { try NodeQuote(json: try JSONSerialization.data(withJSONObject: noEvidence)) }
    }
}
