import Attestation
import Foundation
import TestSupport
import Testing

/// Cases the real vectors cannot show, on a minted AMD-shaped PKI (RSASSA-PSS like AMD's).
@Suite("SEV-SNP: minted PKI (TCB binding, Turin reports, CRLs, product)")
struct SEVSNPMintedTests {
    static let now = SEVSNPTestPKI.validInstant

    static func verify(_ pki: SEVSNPTestPKI, crls: [CertificateRevocationList] = [], now: Date = now) -> AttestationError.Code? {
        snpCode { _ = try pki.verifier.verify(reportBytes: pki.report, certificates: pki.bundle, crls: crls, now: now) }
    }

    @Test func mintedMilanReportVerifies() throws {
        let pki = try SEVSNPTestPKI()
        let verified = try pki.verifier.verify(reportBytes: pki.report, certificates: pki.bundle, crls: [pki.crl], now: Self.now)
        #expect(verified.product == .milan)
        #expect(verified.validUntil == instant("2030-02-01T00:00:00Z"))
        #expect(SEVSNP.Validator().validate(verified).isAccepted)
        // The real AMD ARK is not this PKI's root.
        #expect(snpCode { _ = try SEVSNP.ReportVerifier().verify(reportBytes: pki.report, certificates: pki.bundle, now: Self.now) } == .certificateSignatureInvalid)
    }

    /// Each VCEK TCB component off by one from REPORTED_TCB.
    @Test(arguments: 0..<4)
    func vcekTCBDiffersFromReportedTCB(component: Int) throws {
        var o = SEVSNPTestPKI.Options()
        var tcb = (bootloader: 3, tee: 0, snp: 8, microcode: 115, fmc: Int?.none)
        switch component {
        case 0: tcb.bootloader += 1
        case 1: tcb.tee += 1
        case 2: tcb.snp -= 1
        default: tcb.microcode += 1
        }
        o.vcekTCB = tcb
        #expect(Self.verify(try SEVSNPTestPKI(o)) == .tcbMismatch)
    }

    @Test func hwIDOfAnotherChip() throws {
        var o = SEVSNPTestPKI.Options()
        o.hwID = [UInt8](repeating: 0xC2, count: 64)
        #expect(Self.verify(try SEVSNPTestPKI(o)) == .chipIDMismatch)
    }

    @Test func turinV3ReportVerifiesWithFMCAndShortHwID() throws {
        var o = SEVSNPTestPKI.Options()
        o.product = .turin
        o.version = 3
        o.reportedTCB = [1, 2, 3, 4, 0, 0, 0, 9]  // fmc 1, bl 2, tee 3, snp 4, ucode 9
        let pki = try SEVSNPTestPKI(o)
        #expect(pki.vcek.extension(SEVSNP.VCEKExtensions.hwIDOID)?.value.count == 8)
        let verified = try pki.verifier.verify(reportBytes: pki.report, certificates: pki.bundle, now: Self.now)
        #expect(verified.product == .turin)
        let tcb = verified.claims.reportedTCB
        #expect(tcb.fmc == 1 && tcb.bootloader == 2 && tcb.tee == 3 && tcb.snp == 4 && tcb.microcode == 9)
        #expect(PolicyInput(snp: verified).tcbComponents == ["fmc": 1, "bootloader": 2, "tee": 3, "snp": 4, "microcode": 9])
    }

    @Test func turinFMCMismatch() throws {
        var o = SEVSNPTestPKI.Options()
        o.product = .turin
        o.version = 3
        o.reportedTCB = [1, 2, 3, 4, 0, 0, 0, 9]
        o.vcekTCB = (bootloader: 2, tee: 3, snp: 4, microcode: 9, fmc: Optional(2))
        #expect(Self.verify(try SEVSNPTestPKI(o)) == .tcbMismatch)
    }

    @Test func turinHwIDMismatch() throws {
        var o = SEVSNPTestPKI.Options()
        o.product = .turin
        o.version = 3
        o.hwID = [UInt8](repeating: 0xC1, count: 7) + [0]
        #expect(Self.verify(try SEVSNPTestPKI(o)) == .chipIDMismatch)
    }

    /// A v3 report whose CPUID names Genoa, signed by a VCEK of a Milan chain.
    @Test func cpuidDisagreesWithChain() throws {
        var o = SEVSNPTestPKI.Options()
        o.version = 3
        o.cpuid = (0x19, 0x11)
        #expect(Self.verify(try SEVSNPTestPKI(o)) == .unsupportedProduct)
        o.cpuid = (0x17, 0x31)  // Rome: no SNP product
        #expect(Self.verify(try SEVSNPTestPKI(o)) == .unsupportedProduct)
    }

    /// A Turin chain can not verify a v2 report (no CPUID, and no Turin firmware emits v2).
    @Test func turinChainForV2Report() throws {
        var o = SEVSNPTestPKI.Options()
        o.product = .turin
        #expect(Self.verify(try SEVSNPTestPKI(o)) == .unsupportedProduct)
    }

    @Test func askExpired() throws {
        var o = SEVSNPTestPKI.Options()
        o.askNotAfter = instant("2030-01-10T00:00:00Z")
        #expect(Self.verify(try SEVSNPTestPKI(o)) == .certificateExpired)
    }

    @Test func revokedASKAndVCEK() throws {
        var o = SEVSNPTestPKI.Options()
        o.revokeASK = true
        let a = try SEVSNPTestPKI(o)
        #expect(Self.verify(a, crls: [try a.crl]) == .certificateRevoked)
        o.revokeASK = false
        o.revokeVCEK = true
        let v = try SEVSNPTestPKI(o)
        #expect(Self.verify(v, crls: [try v.crl]) == .certificateRevoked)
        // Without the CRL the same chain verifies: the revocation is what failed.
        #expect(Self.verify(v) == nil)
    }

    @Test func crlWindowAndSignature() throws {
        let pki = try SEVSNPTestPKI()
        let crl = try pki.crl
        #expect(crl.isRSAPSS)
        #expect(crl.signatureAlgorithm == nil)
        #expect(Self.verify(pki, crls: [crl], now: instant("2030-03-01T00:00:00Z")) == .crlExpired)
        #expect(Self.verify(pki, crls: [crl], now: instant("2029-12-01T00:00:00Z")) == .crlNotYetValid)
        // A CRL from another PKI's ARK (same name, other key).
        var fresh = SEVSNPTestPKI.Options()
        fresh.freshKeys = true
        let other = try SEVSNPTestPKI(fresh)
        #expect(Self.verify(pki, crls: [try other.crl]) == .crlSignatureInvalid)
    }

    @Test func signatureTamperedAfterMinting() throws {
        let pki = try SEVSNPTestPKI()
        var bytes = pki.report
        bytes[0x90] ^= 1  // MEASUREMENT
        #expect(snpCode { _ = try pki.verifier.verify(reportBytes: bytes, certificates: pki.bundle, now: Self.now) } == .reportSignatureInvalid)
        // Non-zero bytes above the 48-byte R are rejected even though ECDSA would ignore them.
        bytes = pki.report
        bytes[0x2A0 + 60] = 1
        #expect(snpCode { _ = try pki.verifier.verify(reportBytes: bytes, certificates: pki.bundle, now: Self.now) } == .reportSignatureInvalid)
    }
}
