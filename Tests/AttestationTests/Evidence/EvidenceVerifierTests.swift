@testable import Attestation
import ByteEncoding
import Crypto
import Foundation
import TestSupport
import Testing

/// One verifier for every platform: the binding is checked the same way (TDX and SEV-SNP
/// REPORTDATA, TPM extraData), collateral is what the caller passed and nothing else, and a TPM
/// attestation key must be anchored. The attacks: evidence bound to another request, a software
/// key in place of a TPM, collateral withheld.
@Suite("Evidence: one verifier, one binding check")
struct EvidenceVerifierTests {
    static let binding = Array(SHA512.hash(data: Array("licen-keyrelease-v1 request A".utf8)))
    static let otherBinding = Array(SHA512.hash(data: Array("licen-keyrelease-v1 request B".utf8)))

    static func code(_ body: () throws -> Any) -> AttestationError.Code? {
        do { _ = try body(); return nil } catch let e as AttestationError { return e.code } catch { return nil }
    }

    @Test("TDX: REPORTDATA must equal the binding; another request's is refused; no collateral, no verdict")
    func tdxBinding() throws {
        let pki = try TDXTestPKI()
        let bundle = EvidenceBundle(platform: .tdx, report: Data(try pki.quote(reportData: Self.binding)))
        let v = EvidenceVerifier(tdx: TDX.QuoteVerifier(trustAnchor: pki.root))
        let collateral = EvidenceCollateral(tdx: pki.collateral)
        let verified = try v.verify(bundle, collateral: collateral, expectedBinding: .reportData(Self.binding), now: TDXTestPKI.validInstant)
        guard case .tdx(let q) = verified else { Issue.record("not tdx"); return }
        #expect(q.claims.reportData.bytes == Self.binding)
        #expect(Self.code { try v.verify(bundle, collateral: collateral, expectedBinding: .reportData(Self.otherBinding), now: TDXTestPKI.validInstant) } == .bindingMismatch)
        // A truncated binding is not a prefix match.
        #expect(Self.code { try v.verify(bundle, collateral: collateral, expectedBinding: .reportData(Array(Self.binding.prefix(32))), now: TDXTestPKI.validInstant) } == .bindingMismatch)
        #expect(Self.code { try v.verify(bundle, collateral: EvidenceCollateral(), expectedBinding: .reportData(Self.binding), now: TDXTestPKI.validInstant) } == .collateralMissing)
        // A nonce is REPORTDATA's prefix followed by zeros only.
        let nonce = Array(Self.binding.prefix(16))
        let padded = EvidenceBundle(platform: .tdx, report: Data(try pki.quote(reportData: nonce + Array(repeating: 0, count: 48))))
        _ = try v.verify(padded, collateral: collateral, expectedBinding: .nonce(nonce), now: TDXTestPKI.validInstant)
        #expect(Self.code { try v.verify(bundle, collateral: collateral, expectedBinding: .nonce(nonce), now: TDXTestPKI.validInstant) } == .nonceMismatch)
    }

    @Test("SEV-SNP: REPORT_DATA must equal the binding; certificates must be supplied")
    func snpBinding() throws {
        var options = SEVSNPTestPKI.Options()
        options.reportData = Self.binding
        let pki = try SEVSNPTestPKI(options)
        let bundle = EvidenceBundle(platform: .snp, report: Data(pki.report))
        let v = EvidenceVerifier(snp: pki.verifier)
        let certs = EvidenceCollateral(snpCertificates: try SEVSNP.CertificateBundle(files: [pki.vcek.derRepresentation, pki.ask.derRepresentation, pki.ark.derRepresentation]))
        _ = try v.verify(bundle, collateral: certs, expectedBinding: .reportData(Self.binding), now: SEVSNPTestPKI.validInstant)
        #expect(Self.code { try v.verify(bundle, collateral: certs, expectedBinding: .reportData(Self.otherBinding), now: SEVSNPTestPKI.validInstant) } == .bindingMismatch)
        #expect(Self.code { try v.verify(bundle, collateral: EvidenceCollateral(), expectedBinding: .reportData(Self.binding), now: SEVSNPTestPKI.validInstant) } == .collateralMissing)
    }

    @Test("TPM: extraData must be the binding's first half, and the AK must be anchored or pinned")
    func tpmBindingAndAnchor() throws {
        let genuine = try TPMAnchorTests.genuine()
        let forger = try ForgedTPMQuote()
        let forged = EvidenceBundle(platform: .tpm, tpm: try forger.forge(like: genuine, extraData: Array(Self.binding.prefix(32))))
        let at = TPMAnchorTests.at
        // A software key that nothing anchors: refused by the verifier itself, not left to a policy.
        #expect(Self.code { try EvidenceVerifier().verify(forged, collateral: EvidenceCollateral(), expectedBinding: .reportData(Self.binding), now: at) } == .akUntrusted)
        // A pin for the key (a policy vouching for it) lets it verify; a pin for another does not.
        let name = Hex.encode(try forger.name())
        let pinned = EvidenceVerifier(attestationKeyAnchoring: .required(pins: [name]))
        let other = EvidenceVerifier(attestationKeyAnchoring: .required(pins: [Hex.encode(try ForgedTPMQuote().name())]))
        _ = try pinned.verify(forged, collateral: EvidenceCollateral(), expectedBinding: .reportData(Self.binding), now: at)
        #expect(Self.code { try other.verify(forged, collateral: EvidenceCollateral(), expectedBinding: .reportData(Self.binding), now: at) } == .akUntrusted)
        // Bound to another request: refused even for a pinned key.
        #expect(Self.code { try pinned.verify(forged, collateral: EvidenceCollateral(), expectedBinding: .reportData(Self.otherBinding), now: at) } == .bindingMismatch)
        // The operator's report mode verifies the quote and leaves anchoring to the policy.
        let reported = try EvidenceVerifier(attestationKeyAnchoring: .judgedByPolicy).verify(forged, collateral: EvidenceCollateral(), expectedBinding: .reportData(Self.binding), now: at)
        guard case .tpm(let q) = reported else { Issue.record("not tpm"); return }
        #expect(q.anchor == nil)
        // A hardware report in TPM evidence is refused unless hardware binding is on.
        var withReport = forged
        withReport.report = Data(try SEVSNPTestPKI.hcl(runtimeData: Array("{}".utf8)).hcl)
        #expect(Self.code { try pinned.verify(withReport, collateral: EvidenceCollateral(), expectedBinding: .reportData(Self.binding), now: at) } == .akBindingMismatch)
    }

    @Test("a bundle without its platform's section is malformed")
    func emptyBundles() {
        for p in Platform.allCases {
            #expect(Self.code { try ParsedEvidence(bundle: EvidenceBundle(platform: p)) } == .malformed)
        }
    }

    @Test("a policy set accepts by the first that accepts and otherwise names the closest and its most telling failure")
    func policySet() throws {
        let genuine = try TPMAnchorTests.genuine()
        let golden = PolicyInput(tpm: try TPM.QuoteVerifier().verify(genuine, eventLog: nil, expectedNonce: .exactly([0x90, 0x09]), now: TPMAnchorTests.at))
        let accepting = try Policy.derived(from: [golden], name: "accepting")
        var wrongPCR = accepting
        wrongPCR.name = "wrong-pcr"
        let pcr = try #require(wrongPCR.platforms[.tpm]?.measurements.keys.sorted().first)
        wrongPCR.platforms[.tpm]?.measurements[pcr] = .anyOf([String(repeating: "00", count: 32)])
        var wrongTwice = wrongPCR
        wrongTwice.name = "wrong-twice"
        wrongTwice.platforms[.tpm]?.attestationKeys = ["sha256:" + String(repeating: "11", count: 32)]

        guard case .accepted(let i) = PolicySet([wrongPCR, accepting]).decide(golden, now: TPMAnchorTests.at) else { Issue.record("refused"); return }
        #expect(i == 1)
        guard case .refused(let j, let failures, let reason) = PolicySet([wrongTwice, wrongPCR]).decide(golden, now: TPMAnchorTests.at) else { Issue.record("accepted"); return }
        #expect(j == 1)
        #expect(failures.map(\.code) == [.measurementMismatch])
        #expect(reason.code == .measurementMismatch)
        guard case .refused(_, _, let worst) = PolicySet([wrongTwice]).decide(golden, now: TPMAnchorTests.at) else { Issue.record("accepted"); return }
        #expect(worst.code == .akUntrusted)  // the AK outranks the PCR
        guard case .refused(nil, _, _) = PolicySet([]).decide(golden, now: TPMAnchorTests.at) else { Issue.record("an empty set decided"); return }
        #expect(PolicySet([wrongTwice, accepting]).attestationKeyPins == Set(["sha256:" + String(repeating: "11", count: 32), golden.attestationKey!.name]))
        // Every failure code has a rank.
        #expect(Set(ValidationFailure.severityOrder) == Set(ValidationFailure.Code.allCases))
    }
}
