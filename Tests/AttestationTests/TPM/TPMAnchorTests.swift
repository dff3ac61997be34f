@testable import Attestation
import ByteEncoding
import Crypto
import Foundation
import TestSupport
import Testing
import X509

/// A TPM quote is evidence of a TPM only through an anchor the operator configured. These tests
/// forge quotes the way a provider without a TPM would (a software key, genuine public PCR values
/// copied, the right nonce) and check that nothing but an anchor lets them through.
@Suite("TPM: attestation-key anchors")
struct TPMAnchorTests {
    static let gce = "tpm/go-tpm-tools/extracted/gce-cos-85-nonce9009"
    static let at = instant("2026-11-24T00:00:00Z")

    /// The genuine GCE vTPM evidence (MANIFEST.md), without its AK certificate.
    static func genuine() throws -> EvidenceBundle.TPMEvidence {
        try EvidenceBundle.TPMEvidence(
            attest: Data(TestVectors.bytes("\(gce).quote1.sha256.attest.bin")), signature: Data(TestVectors.bytes("\(gce).quote1.sha256.sig.tpmt")),
            akPublic: Data(TestVectors.bytes("\(gce).ak.tpmt_public")), pcrFile: Data(TestVectors.bytes("\(gce).quote1.sha256.pcrs.json")))
    }

    static func googleRoot() throws -> Certificate { try CertificateChain(files: [TestVectors.bytes("tpm/go-tpm-tools/tpm_ek_root_1.cer")]).leaf }

    static func code(_ body: () throws -> Any) -> AttestationError.Code? { TPMQuoteTests.code(body) }

    @Test("a software-key quote verifies but nothing trusts its AK", arguments: [false, true])
    func forgedQuoteIsNeverAnchored(rsa: Bool) throws {
        let forger = try ForgedTPMQuote(rsa: rsa)
        let genuine = try Self.genuine()
        let nonce = Array("release-binding".utf8)
        let golden = PolicyInput(tpm: try TPM.QuoteVerifier().verify(genuine, eventLog: nil, expectedNonce: .exactly([0x90, 0x09]), now: Self.at))
        let pinnedPolicy = try Policy.derived(from: [golden], name: "gce")
        #expect(pinnedPolicy.platforms[.tpm]?.attestationKeys == [golden.attestationKey!.name])
        var unpinned = pinnedPolicy
        unpinned.platforms[.tpm]?.attestationKeys = nil

        for certs in [nil, [Data]()] as [[Data]?] {
            let forged = try forger.forge(like: genuine, extraData: nonce, akCertificates: certs)
            for verifier in [TPM.QuoteVerifier(), TPM.QuoteVerifier(akRoots: [try Self.googleRoot()])] {
                let q = try verifier.verify(forged, eventLog: nil, expectedNonce: .exactly(nonce), now: Self.at)
                #expect(q.anchor == nil)
                let input = PolicyInput(tpm: q)
                #expect(input.measurements == golden.measurements)  // every PCR the policy wants
                #expect(Policy.judgeAttestationKey(input.attestationKey, pins: nil)?.code == .akUntrusted)
                #expect(pinnedPolicy.validate(input, now: Self.at).failures.map(\.code) == [.akUntrusted])
                #expect(unpinned.validate(input, now: Self.at).failures.map(\.code) == [.akUntrusted])
            }
        }
        // The genuine quote passes the pinned policy, and an unpinned one only with its certificate.
        #expect(pinnedPolicy.validate(golden, now: Self.at).isAccepted)
        #expect(unpinned.validate(golden, now: Self.at).failures.map(\.code) == [.akUntrusted])
        var certified = genuine
        certified.akCertificates = [Data(try TestVectors.bytes("\(Self.gce).akcert.der")), Data(try TestVectors.bytes("tpm/go-tpm-tools/tpm_ek_intermediate_2.crt"))]
        let q = try TPM.QuoteVerifier(akRoots: [try Self.googleRoot()]).verify(certified, eventLog: nil, expectedNonce: .exactly([0x90, 0x09]), now: Self.at)
        #expect(q.anchor?.label == "certificate")
        #expect(unpinned.validate(PolicyInput(tpm: q), now: Self.at).isAccepted)
        // The lab switch anchors the presented key, and says so.
        var lab = TPM.QuoteVerifier()
        lab.dangerouslyTrustPresentedAK = true
        let labbed = try lab.verify(try forger.forge(like: genuine, extraData: nonce), eventLog: nil, expectedNonce: .exactly(nonce), now: Self.at)
        #expect(labbed.anchor == .presentedKeyTrustedForLab)
    }

    @Test("AK certificates: only a configured CA's certificate for this very key, in its window, anchors")
    func certificateAnchor() throws {
        let ca = try AKTestCA()
        let forger = try ForgedTPMQuote()
        let nonce: [UInt8] = [1, 2, 3]
        let ak = try forger.tpmtPublic()
        let v = TPM.QuoteVerifier(akRoots: [ca.root])
        func verify(_ certs: [[UInt8]]) throws -> TPM.VerifiedQuote {
            try v.verify(try forger.forge(like: try Self.genuine(), extraData: nonce, akCertificates: certs.map { Data($0) }), eventLog: nil, expectedNonce: .exactly(nonce), now: Date())
        }
        let ok = try verify([try ca.issue(for: ak)])
        #expect(ok.anchor == .certificate(subject: "CN=licen test AK"))
        #expect(ok.attestationKeyIdentity.certificateSubject == "CN=licen test AK")
        let other = try ForgedTPMQuote()
        #expect(Self.code { try verify([try ca.issue(for: try other.tpmtPublic())]) } == .signingKeyMismatch)
        #expect(Self.code { try verify([try ca.issue(for: ak, notBefore: Date().addingTimeInterval(-7200), notAfter: Date().addingTimeInterval(-3600))]) } == .certificateExpired)
        let rogue = try AKTestCA(commonName: "licen-broker test AK CA")  // same name, another key
        #expect(Self.code { try verify([try rogue.issue(for: ak)]) } != nil)
        let elsewhere = try AKTestCA(commonName: "another CA")
        #expect(Self.code { try verify([try elsewhere.issue(for: ak)]) } == .untrustedRoot)
    }

    @Test("the AK must be a restricted signing key fixed to its TPM, and the quote must name it")
    func akAttributesAndQualifiedSigner() throws {
        let forger = try ForgedTPMQuote()
        let nonce: [UInt8] = [9]
        let genuine = try Self.genuine()
        func code(attributes: UInt32) throws -> AttestationError.Code? {
            let forged = try forger.forge(
                like: genuine, extraData: nonce, akPublic: try forger.tpmtPublic(attributes: attributes),
                qualifiedSigner: try forger.qualifiedName(attributes: attributes))
            return Self.code { try TPM.QuoteVerifier().verify(forged, eventLog: nil, expectedNonce: .exactly(nonce), now: Self.at) }
        }
        #expect(try code(attributes: ForgedTPMQuote.akAttributes) == nil)
        for bit in TPM.PublicKey.requiredAKAttributes {
            #expect(try code(attributes: ForgedTPMQuote.akAttributes & ~bit.rawValue) == .akAttributesInvalid, "without \(bit)")
        }
        #expect(try code(attributes: ForgedTPMQuote.akAttributes | TPM.PublicKey.ObjectAttribute.decrypt.rawValue) == .akAttributesInvalid)
        // A bare key, PEM or DER: refused whatever its signature.
        let spki = try forger.forge(like: genuine, extraData: nonce, akPublic: forger.spkiPEM)
        #expect(Self.code { try TPM.QuoteVerifier().verify(spki, eventLog: nil, expectedNonce: .exactly(nonce), now: Self.at) } == .akAttributesInvalid)
        // A quote whose qualifiedSigner names another key.
        let other = try ForgedTPMQuote()
        let misnamed = try forger.forge(like: genuine, extraData: nonce, qualifiedSigner: try other.qualifiedName())
        #expect(Self.code { try TPM.QuoteVerifier().verify(misnamed, eventLog: nil, expectedNonce: .exactly(nonce), now: Self.at) } == .qualifiedSignerMismatch)
        // The genuine GCE AK is a primary key of the endorsement hierarchy: its qualified name is
        // the quote's qualifiedSigner; its key digest is the same in both encodings.
        let gceAK = try TPM.PublicKey(bytes: TestVectors.bytes("\(Self.gce).ak.tpmt_public"))
        let attest = try TPM.Attest(rawRepresentation: [UInt8](genuine.attest))
        #expect(gceAK.qualifiedNames()[1] == attest.qualifiedSigner)
        #expect(gceAK.keyDigest == (try TPM.PublicKey(bytes: TestVectors.bytes("\(Self.gce).ak.spki.pem"))).keyDigest)
        #expect(gceAK.keyDigest.count == 32)
    }

    /// Azure SEV-SNP vTPM evidence (MANIFEST.md, trustee az-snp-vtpm): the HCL report's runtime
    /// data names the AK (HCLAkPub); the AK's TPMT_PUBLIC, rebuilt from Azure's AK template and
    /// that key, has exactly the name the quote's qualifiedSigner qualifies.
    static func azure() throws -> (EvidenceBundle.TPMEvidence, SEVSNP.HCLReport) {
        let json = try JSONSerialization.jsonObject(with: Data(TestVectors.bytes("tpm/trustee-azure-snp-vtpm/tpm-quote-v1.json"))) as! [String: Any]
        let message = try Hex.decode(json["message"] as! String)
        let rawSignature = try Hex.decode(json["signature"] as! String)
        let pcrs = json["pcrs"] as! [String]
        let hcl = try SEVSNP.HCLReport(bytesOrText: TestVectors.bytes("snp/trustee/az-snp-vtpm/hcl-report.bin"))
        let runtime = try JSONSerialization.jsonObject(with: Data(hcl.runtimeData)) as! [String: Any]
        let jwk = (runtime["keys"] as! [[String: Any]]).first { $0["kid"] as? String == "HCLAkPub" }!
        let n = try #require(TPM.base64URL(jwk["n"] as! String))
        var area: [UInt8] = [0x00, 0x01, 0x00, 0x0B, 0x00, 0x05, 0x04, 0x72, 0x00, 0x00, 0x00, 0x10, 0x00, 0x14, 0x00, 0x0B, 0x08, 0x00, 0, 0, 0, 0]
        area += [UInt8(n.count >> 8), UInt8(n.count & 0xff)] + n
        let signature: [UInt8] = [0x00, 0x14, 0x00, 0x0B, UInt8(rawSignature.count >> 8), UInt8(rawSignature.count & 0xff)] + rawSignature
        let values = Dictionary(uniqueKeysWithValues: pcrs.enumerated().map { (String($0.offset), $0.element) })
        return (EvidenceBundle.TPMEvidence(attest: Data(message), signature: Data(signature), akPublic: Data(area), pcrs: ["sha256": values]), hcl)
    }

    @Test("a verified Azure HCL report anchors the AK it names, and no other")
    func hardwareReportAnchor() throws {
        let (evidence, hcl) = try Self.azure()
        let challenge = Array("challenge".utf8)
        var q = try TPM.QuoteVerifier().verify(evidence, eventLog: nil, expectedNonce: .exactly(challenge), now: Self.at)
        #expect(q.anchor == nil)
        try hcl.verifyRuntimeDataBinding()
        _ = try SEVSNP.ReportVerifier().verify(hcl.report, certificates: try SEVSNP.CertificateBundle(files: [TestVectors.bytes("snp/trustee/az-snp-vtpm/vcek.pem")]), now: Self.at)
        try q.anchor(byHardwareReport: "snp", runtimeData: hcl.runtimeData)
        #expect(q.anchor == .hardwareReport(platform: "snp"))
        #expect(Policy.judgeAttestationKey(q.attestationKeyIdentity, pins: nil) == nil)

        // The same runtime data does not vouch for a forger's key.
        let forger = try ForgedTPMQuote(rsa: true)
        let forged = try forger.forge(like: evidence, extraData: challenge)
        var f = try TPM.QuoteVerifier().verify(forged, eventLog: nil, expectedNonce: .exactly(challenge), now: Self.at)
        #expect(Self.code { try f.anchor(byHardwareReport: "snp", runtimeData: hcl.runtimeData) } == .akBindingMismatch)
        #expect(f.anchor == nil)
        // Runtime data without HCLAkPub, or not JSON, anchors nothing.
        #expect(Self.code { try f.anchor(byHardwareReport: "snp", runtimeData: Array(#"{"keys": []}"#.utf8)) } == .akBindingMismatch)
        #expect(Self.code { try f.anchor(byHardwareReport: "snp", runtimeData: [0x7b]) } == .akBindingMismatch)
    }

    /// MANIFEST.md's Azure vTPM evidence rows, read as Azure's guest tools write them: the
    /// bundle carries the quote, the HCL report and the VCEK; the AK rebuilt from HCLAkPub is the
    /// key the quote's qualifiedSigner names, and the evidence verifies with nonce "challenge".
    @Test("Azure vTPM evidence (v0 byte arrays, v1 hex and base64url) reads into a bundle that verifies", arguments: ["evidence-v0.json", "evidence-v1.json"])
    func azureEvidenceJSON(_ file: String) throws {
        let evidence = try TPM.AzureVTPMEvidence(json: TestVectors.bytes("tpm/trustee-azure-snp-vtpm/\(file)"))
        #expect(evidence.pcrs.count == 24)
        #expect(evidence.signature.count == 256)
        #expect(Hex.encode(evidence.pcrs[0]) == "e15c44796beabf46abcec7c57e590942041e47497e4ec27571c8b7664f48dced")
        let bundle = try evidence.bundle()
        let ask = try TestVectors.bytes("snp/go-sev-guest/ask_ark_milan.pem")
        let certificates = try SEVSNP.CertificateBundle(files: [[UInt8](bundle.collateral!["vcek"]!), ask])
        let verifier = EvidenceVerifier(akHardwareBinding: true)
        let verified = try verifier.verify(bundle, collateral: EvidenceCollateral(snpCertificates: certificates), expectedBinding: .nonce(Array("challenge".utf8)), now: Self.at)
        guard case .tpm(let q) = verified else { Issue.record("not TPM"); return }
        #expect(q.anchor == .hardwareReport(platform: "snp"))
        #expect(
            Self.code { try verifier.verify(bundle, collateral: EvidenceCollateral(snpCertificates: certificates), expectedBinding: .nonce(Array("challengf".utf8)), now: Self.at) } == .nonceMismatch)
        // One flipped signature bit fails.
        var broken = bundle
        broken.tpm!.signature[10] ^= 1
        #expect(
            Self.code { try verifier.verify(broken, collateral: EvidenceCollateral(snpCertificates: certificates), expectedBinding: .nonce(Array("challenge".utf8)), now: Self.at) }
                == .quoteSignatureInvalid)
    }

    /// An Azure TDX CVM's HCL report (report type 4, a TD report inside) is refused by type with
    /// a clear reason, not misread as an SNP report.
    @Test func hclReportOfTDXTypeIsRefusedByType() throws {
        var bytes = try TestVectors.bytes("snp/trustee/az-snp-vtpm/hcl-report.bin")
        let typeOffset = SEVSNP.HCLReport.runtimeDataOffset + 8
        #expect(bytes[typeOffset] == 2)
        bytes[typeOffset] = 4
        do {
            _ = try SEVSNP.HCLReport(rawRepresentation: bytes)
            Issue.record("a TDX HCL report parsed as SNP")
        } catch {
            #expect(error.code == .wrongTEEType)
            #expect(error.message.contains("TDX"))
        }
    }

    /// Evidence text in base64url without padding decodes wherever base64 does.
    @Test func base64URLEvidenceText() throws {
        let hcl = try TestVectors.bytes("snp/trustee/az-snp-vtpm/hcl-report.bin")
        let url = Data(hcl).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        #expect(try EvidenceEncoding.decode(Array(url.utf8)) == hcl)
        #expect(try SEVSNP.HCLReport(bytesOrText: Array(url.utf8)).report.rawRepresentation == SEVSNP.HCLReport(rawRepresentation: hcl).report.rawRepresentation)
        for n in 1...3 {
            let bytes = Array(hcl.prefix(n))
            let text = Data(bytes).base64EncodedString().replacingOccurrences(of: "=", with: "")
            #expect(Hex.base64Decode(Array(text.utf8)[...], alphabet: .url) == bytes)
        }
        #expect(Hex.base64Decode(Array("AAAAA".utf8)[...], alphabet: .url) == nil)
    }
}
