@testable import Attestation
import ByteEncoding
import Foundation
import TestSupport
import Testing

/// TPM 2.0 quotes from MANIFEST.md: GCE vTPM (go-tpm-tools) and tpm2-tools output (keylime).
@Suite("TPM: quotes from real TPMs")
struct TPMQuoteTests {
    static let gce = "tpm/go-tpm-tools/extracted/gce-cos-85-no-nonce"

    struct GCEQuote: Sendable, CustomStringConvertible {
        let file: String
        let bank: String
        let pcrDigest: String
        var description: String { file }
    }

    static let gceQuotes = [
        GCEQuote(file: "quote0.sha1", bank: "sha1", pcrDigest: "fda327d4ba5d5978fe3a23db1a47964050e872639ef5d6a99c123cca39e56d8b"),
        GCEQuote(file: "quote1.sha256", bank: "sha256", pcrDigest: "048937cbaaf28af85a5b0c0997e725097a0d94e05fcda104a82ee3fb6b2e1808"),
    ]

    static func pcrs(_ path: String) throws -> TPM.PCRValues {
        try JSONDecoder().decode(TPM.PCRValues.self, from: Data(TestVectors.bytes(path)))
    }

    @Test(arguments: gceQuotes)
    func gceQuoteVerifiesWithEitherAKForm(_ q: GCEQuote) throws {
        let attest = try TPM.Attest(rawRepresentation: TestVectors.bytes("\(Self.gce).\(q.file).attest.bin"))
        let sig = try TPM.Signature(rawRepresentation: TestVectors.bytes("\(Self.gce).\(q.file).sig.tpmt"))
        let pcrs = try Self.pcrs("\(Self.gce).\(q.file).pcrs.json")
        #expect(sig.scheme == .rsassa && sig.hash == .sha256)
        #expect(attest.selection.map(\.bank.bankName) == [q.bank])
        #expect(attest.selection.first?.indices == Array(0...23))
        for akFile in ["ak.spki.pem", "ak.tpmt_public"] {
            let ak = try TPM.PublicKey(bytes: TestVectors.bytes("\(Self.gce).\(akFile)"))
            let v = try TPM.QuoteVerifier().verify(attest: attest, signature: sig, ak: ak, pcrs: pcrs, expectedNonce: .exactly([]))
            let c = v.claims
            #expect(c.pcrDigest == q.pcrDigest, "\(akFile)")
            #expect(c.extraData == "")
            #expect(c.qualifiedSigner == "000bde01fe4b4ade2f8b7ae19b8a8897e0cb77ae417731d8ce38697ec4f6c095030a")
            #expect(c.firmwareVersion == "2016051100162800")
            #expect(c.resetCount == 10)
            #expect(c.pcrs[q.bank]?.count == 24)
            #expect((akFile == "ak.tpmt_public") == (c.akName != nil))
        }
        // Any other expected nonce fails with its own code.
        let ak = try TPM.PublicKey(bytes: TestVectors.bytes("\(Self.gce).ak.spki.pem"))
        #expect(Self.code { try TPM.QuoteVerifier().verify(attest: attest, signature: sig, ak: ak, pcrs: pcrs, expectedNonce: .exactly([0x90, 0x09])) } == .nonceMismatch)
    }

    static func keylime() throws -> (TPM.Attest, TPM.Signature, TPM.PCRValues) {
        let attest = try TPM.Attest(rawRepresentation: TestVectors.bytes("tpm/keylime/quote.out"))
        let sig = try TPM.Signature(rawRepresentation: TestVectors.bytes("tpm/keylime/quotesig.out"))
        // The PCR values MANIFEST.md lists for this quote.
        let pcrs: TPM.PCRValues = [
            "sha256": [
                "15": String(repeating: "00", count: 32),
                "16": "9dbb22387e019c04da95477333546082ce313152c4a7f8a6e1d5f0c77f4fb6f0",
                "22": String(repeating: "ff", count: 32),
            ]
        ]
        return (attest, sig, pcrs)
    }

    @Test func keylimeQuoteVerifiesAndNamesTheAK() throws {
        let (attest, sig, pcrs) = try Self.keylime()
        #expect(attest.selection.first?.indices == [15, 16, 22])
        #expect(Hex.encode(attest.extraData) == "db1db298db6d60e6385b7231743e9c3056a18003")
        #expect(attest.clock == 5994 && attest.resetCount == 0)
        for akFile in ["akpub.pem", "ak.pub"] {
            let ak = try TPM.PublicKey(bytes: TestVectors.bytes("tpm/keylime/\(akFile)"))
            let v = try TPM.QuoteVerifier().verify(attest: attest, signature: sig, ak: ak, pcrs: pcrs, expectedNonce: .exactly(attest.extraData))
            #expect(v.claims.pcrDigest == "ec1636c69c548fd09a165a4f874e5d1610a8fbe36241566017e92b17e144b971")
            #expect(v.claims.qualifiedSigner == "000b7ca54a622c87f30888b6da66f51e4a31ccb723cad8daa111a5006b44342dd623")
        }
        let tpm2b = try TPM.PublicKey(bytes: TestVectors.bytes("tpm/keylime/ak.pub"))
        #expect(tpm2b.name == (try TestVectors.bytes("tpm/keylime/ak.name")))
    }

    @Test func eachFailureHasItsOwnCode() throws {
        let (attest, sig, pcrs) = try Self.keylime()
        let ak = try TPM.PublicKey(bytes: TestVectors.bytes("tpm/keylime/akpub.pem"))
        let v = TPM.QuoteVerifier()
        var changed = pcrs
        changed["sha256"]?["16"] = String(repeating: "11", count: 32)
        #expect(Self.code { try v.verify(attest: attest, signature: sig, ak: ak, pcrs: changed, expectedNonce: .anyForReferenceEvidence) } == .pcrDigestMismatch)
        var missing = pcrs
        missing["sha256"]?["22"] = nil
        #expect(Self.code { try v.verify(attest: attest, signature: sig, ak: ak, pcrs: missing, expectedNonce: .anyForReferenceEvidence) } == .pcrMissing)
        #expect(Self.code { try v.verify(attest: attest, signature: sig, ak: ak, pcrs: pcrs, expectedNonce: .exactly([1, 2, 3])) } == .nonceMismatch)
        var sigBytes = try TestVectors.bytes("tpm/keylime/quotesig.out")
        sigBytes[40] ^= 1
        #expect(
            Self.code { try v.verify(attest: attest, signature: TPM.Signature(rawRepresentation: sigBytes), ak: ak, pcrs: pcrs, expectedNonce: .anyForReferenceEvidence) } == .quoteSignatureInvalid)
        // Every byte of the signed attestation matters.
        let raw = try TestVectors.bytes("tpm/keylime/quote.out")
        for i in raw.indices {
            var t = raw
            t[i] ^= 0x01
            let code = Self.code { try v.verify(attest: TPM.Attest(rawRepresentation: t), signature: sig, ak: ak, pcrs: pcrs, expectedNonce: .anyForReferenceEvidence) }
            #expect(code != nil, "byte \(i)")
        }
    }

    @Test func truncationWalks() throws {
        for file in ["tpm/keylime/quote.out", "tpm/keylime/quotesig.out", "tpm/keylime/ak.pub", "\(Self.gce).ak.tpmt_public"] {
            let raw = try TestVectors.bytes(file)
            for n in 0..<raw.count {
                let prefix = Array(raw.prefix(n))
                let code: AttestationError.Code?
                switch file {
                case "tpm/keylime/quote.out": code = Self.code { _ = try TPM.Attest(rawRepresentation: prefix) }
                case "tpm/keylime/quotesig.out": code = Self.code { _ = try TPM.Signature(rawRepresentation: prefix) }
                default: code = Self.code { _ = try TPM.PublicKey(tpmtPublic: file.hasSuffix("ak.pub") ? Array(prefix.dropFirst(2)) : prefix) }
                }
                #expect(code != nil, "\(file) cut at \(n)")
            }
        }
    }

    /// The code `body` fails with, or nil if it succeeds. Any other error type is a test failure.
    static func code(_ body: () throws -> Any) -> AttestationError.Code? {
        do { _ = try body(); return nil } catch let e as AttestationError { return e.code } catch {
            Issue.record("not an AttestationError: \(error)")
            return nil
        }
    }
}
