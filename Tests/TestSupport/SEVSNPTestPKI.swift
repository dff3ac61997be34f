import Attestation
import ByteEncoding
import Crypto
import _CryptoExtras
import Foundation
import SwiftASN1
import X509

/// An AMD-shaped SEV-SNP PKI minted for tests: ARK → ASK → VCEK, all RSASSA-PSS / SHA-384 like
/// AMD's (RSA-2048 here for speed), a VCEK with AMD's TCB, hwID and productName extensions, an
/// ARK-signed CRL, and attestation reports signed by the VCEK's P-384 key.
///
/// Real reports come from the shared test vectors; this exists for what they cannot show (a
/// VCEK whose TCB differs from REPORTED_TCB, a Turin report, a revoked ASK). Verify with
/// `SEVSNP.ReportVerifier(trustAnchors: [pki.options.product: pki.ark])`.
public struct SEVSNPTestPKI: @unchecked Sendable {
    /// What to mint. Defaults: a Milan v2 report whose TCB, chip ID and VCEK all agree, every
    /// certificate valid 2029-01-01 … 2031-01-01, the CRL 2030-01-01 … 2030-02-01.
    public struct Options: Sendable {
        /// The product (ARK-/SEV- names, TCB layout, CPUID); default Milan.
        public var product: SEVSNP.Product = .milan
        /// Report version; v3+ carries CPUID family/model for `product`.
        public var version: UInt32 = 2
        /// CPUID family/model override (v3+), to make the report disagree with the chain.
        public var cpuid: (family: UInt8, model: UInt8)?
        /// REPORTED_TCB bytes in report order.
        public var reportedTCB: [UInt8] = [3, 0, 0, 0, 0, 0, 8, 115]
        /// The VCEK's TCB extensions (bootloader, tee, snp, microcode, fmc); nil: derived from
        /// `reportedTCB` with the product's layout.
        public var vcekTCB: (bootloader: Int, tee: Int, snp: Int, microcode: Int, fmc: Int?)?
        /// CHIP_ID in the report.
        public var chipID = [UInt8](repeating: 0xC1, count: 64)
        /// hwID in the VCEK; nil: CHIP_ID (its first 8 bytes on Turin).
        public var hwID: [UInt8]?
        /// POLICY.
        public var policy: UInt64 = 0x30000
        /// notBefore of every certificate.
        public var notBefore = instant("2029-01-01T00:00:00Z")
        /// notAfter of the ARK and VCEK.
        public var notAfter = instant("2031-01-01T00:00:00Z")
        /// notAfter of the ASK.
        public var askNotAfter = instant("2031-01-01T00:00:00Z")
        /// thisUpdate of the CRL.
        public var crlThis = instant("2030-01-01T00:00:00Z")
        /// nextUpdate of the CRL.
        public var crlNext = instant("2030-02-01T00:00:00Z")
        /// Revoke the ASK in the ARK's CRL.
        public var revokeASK = false
        /// Revoke the VCEK in the ARK's CRL.
        public var revokeVCEK = false
        /// Generate new ARK/ASK keys instead of the shared ones (RSA key generation is slow).
        public var freshKeys = false
        /// REPORT_DATA (64 bytes); nil: 0x5A bytes.
        public var reportData: [UInt8]?
        /// HOST_DATA (32 bytes); nil: zero.
        public var hostData: [UInt8]?
        /// The defaults.
        public init() {}
    }

    /// An instant inside every default validity window.
    public static let validInstant = instant("2030-01-15T00:00:00Z")

    /// The options minted with.
    public let options: Options
    /// The self-signed ARK (use it as the trust anchor).
    public let ark: SEVSNP.AMDCertificate
    /// The ASK, signed by the ARK.
    public let ask: SEVSNP.AMDCertificate
    /// The VCEK, signed by the ASK.
    public let vcek: SEVSNP.AMDCertificate
    /// The ARK's CRL (DER).
    public let crlDER: [UInt8]
    /// The signed report (1184 bytes).
    public let report: [UInt8]
    let vcekKey: P384.Signing.PrivateKey

    /// The RSASSA-PSS AlgorithmIdentifier AMD uses (SHA-384, MGF1-SHA-384, salt 48, trailer 1).
    static let pssAlgorithm: [UInt8] = try! Hex.decode(
        "304606092a864886f70d01010a3039a00f300d06096086480165030402020500a11c301a06092a864886f70d010108300d06096086480165030402020500a203020130a303020101")

    /// Mints a PKI and a report with `options`.
    public init(_ options: Options = Options()) throws {
        self.options = options
        let p = options.product.amdName
        let (arkKey, askKey) = options.freshKeys ? (try _RSA.Signing.PrivateKey(keySize: .bits2048), try _RSA.Signing.PrivateKey(keySize: .bits2048)) : try Self.sharedKeys()
        vcekKey = P384.Signing.PrivateKey()
        let arkName = try Self.name("ARK-\(p)"), askName = try Self.name("SEV-\(p)"), vcekName = try Self.name("SEV-VCEK")

        ark = try SEVSNP.AMDCertificate(
            derEncoded: Self.certificate(
                serial: 1, issuer: arkName, subject: arkName, notBefore: options.notBefore, notAfter: options.notAfter,
                spki: [UInt8](arkKey.publicKey.derRepresentation), extensions: [], signer: arkKey))
        ask = try SEVSNP.AMDCertificate(
            derEncoded: Self.certificate(
                serial: 2, issuer: arkName, subject: askName, notBefore: options.notBefore, notAfter: options.askNotAfter,
                spki: [UInt8](askKey.publicKey.derRepresentation), extensions: [], signer: arkKey))

        let turin = options.product == .turin
        let t = options.reportedTCB
        let tcb = options.vcekTCB ?? (turin ? (Int(t[1]), Int(t[2]), Int(t[3]), Int(t[7]), Int(t[0])) : (Int(t[0]), Int(t[1]), Int(t[6]), Int(t[7]), nil))
        var ext = [Certificate.Extension]()
        func integer(_ last: UInt, _ v: Int) throws {
            var s = DER.Serializer()
            try s.serialize(v)
            ext.append(Certificate.Extension(oid: try ASN1ObjectIdentifier(elements: [1, 3, 6, 1, 4, 1, 3704, 1, 3, last]), critical: false, value: s.serializedBytes[...]))
        }
        var nameDER = DER.Serializer()
        try nameDER.serialize(ASN1IA5String(turin ? "Turin" : "\(p)-B0"))
        ext.append(Certificate.Extension(oid: SEVSNP.VCEKExtensions.productNameOID, critical: false, value: nameDER.serializedBytes[...]))
        try integer(1, tcb.bootloader)
        try integer(2, tcb.tee)
        try integer(3, tcb.snp)
        try integer(8, tcb.microcode)
        if let fmc = tcb.fmc { try integer(9, fmc) }
        let hwID = options.hwID ?? (turin ? Array(options.chipID.prefix(8)) : options.chipID)
        ext.append(Certificate.Extension(oid: SEVSNP.VCEKExtensions.hwIDOID, critical: false, value: hwID[...]))
        vcek = try SEVSNP.AMDCertificate(
            derEncoded: Self.certificate(
                serial: 3, issuer: askName, subject: vcekName, notBefore: options.notBefore, notAfter: options.notAfter,
                spki: [UInt8](vcekKey.publicKey.derRepresentation), extensions: ext, signer: askKey))

        crlDER = try Self.crl(
            issuer: arkName, this: options.crlThis, next: options.crlNext,
            revoked: (options.revokeASK ? [2] : []) + (options.revokeVCEK ? [3] : []), signer: arkKey)
        report = try Self.report(options, key: vcekKey)
    }

    /// An Azure HCL report around a report minted with `options`, whose REPORT_DATA is the
    /// SHA-256 of `runtimeData` (the layout ``SEVSNP/HCLReport`` reads).
    public static func hcl(runtimeData: [UInt8], options: Options = Options()) throws -> (pki: SEVSNPTestPKI, hcl: [UInt8]) {
        let pki = try SEVSNPTestPKI(options)
        return (pki, try pki.hcl(runtimeData: runtimeData))
    }

    /// An Azure HCL report signed by this PKI's VCEK around a report whose REPORT_DATA is the
    /// SHA-256 of `runtimeData`.
    public func hcl(runtimeData: [UInt8]) throws -> [UInt8] {
        var o = options
        o.reportData = Array(SHA256.hash(data: runtimeData)) + [UInt8](repeating: 0, count: 32)
        let report = try Self.report(o, key: vcekKey)
        func le(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
        var out = SEVSNP.HCLReport.magic + le(1) + le(UInt32(SEVSNP.reportSize)) + le(2) + le(0) + [UInt8](repeating: 0, count: 12)
        out += report
        out += le(UInt32(20 + runtimeData.count)) + le(1) + le(SEVSNP.HCLReport.reportTypeSNP) + le(1) + le(UInt32(runtimeData.count))
        out += runtimeData
        return out
    }

    /// The ASK and VCEK as a bundle (the ARK comes from the pinned anchors).
    public var bundle: SEVSNP.CertificateBundle {
        get throws { try SEVSNP.CertificateBundle([vcek, ask]) }
    }

    /// A verifier pinned to this PKI's ARK.
    public var verifier: SEVSNP.ReportVerifier {
        SEVSNP.ReportVerifier(trustAnchors: [options.product: ark])
    }

    /// The CRL, parsed.
    public var crl: CertificateRevocationList {
        get throws { try CertificateRevocationList(derEncoded: crlDER) }
    }

    // MARK: - Minting

    private static let shared = Result { (try _RSA.Signing.PrivateKey(keySize: .bits2048), try _RSA.Signing.PrivateKey(keySize: .bits2048)) }

    static func sharedKeys() throws -> (_RSA.Signing.PrivateKey, _RSA.Signing.PrivateKey) { try shared.get() }

    static func name(_ cn: String) throws -> DistinguishedName {
        try DistinguishedName {
            OrganizationalUnitName("Engineering")
            CountryName("US")
            OrganizationName("Advanced Micro Devices")
            CommonName(cn)
        }
    }

    static func time(_ d: Date) throws -> GeneralizedTime {
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: "UTC")!
        let c = cal.dateComponents([.year, .month, .day, .hour, .minute, .second], from: d)
        return try GeneralizedTime(year: c.year!, month: c.month!, day: c.day!, hours: c.hour!, minutes: c.minute!, seconds: c.second!, fractionalSeconds: 0)
    }

    static func signed(_ tbs: [UInt8], signer: _RSA.Signing.PrivateKey) throws -> [UInt8] {
        let sig = try signer.signature(for: SHA384.hash(data: tbs), padding: .PSS)
        var s = DER.Serializer()
        try s.appendConstructedNode(identifier: .sequence) { s in
            s.serializeRawBytes(tbs)
            s.serializeRawBytes(pssAlgorithm)
            try s.serialize(ASN1BitString(bytes: [UInt8](sig.rawRepresentation)[...]))
        }
        return s.serializedBytes
    }

    static func certificate(
        serial: Int, issuer: DistinguishedName, subject: DistinguishedName, notBefore: Date, notAfter: Date,
        spki: [UInt8], extensions: [Certificate.Extension], signer: _RSA.Signing.PrivateKey
    ) throws -> [UInt8] {
        var s = DER.Serializer()
        try s.appendConstructedNode(identifier: .sequence) { s in
            try s.appendConstructedNode(identifier: ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific)) { s in try s.serialize(2) }
            try s.serialize(serial)
            s.serializeRawBytes(pssAlgorithm)
            try s.serialize(issuer)
            try s.appendConstructedNode(identifier: .sequence) { s in
                try s.serialize(time(notBefore))
                try s.serialize(time(notAfter))
            }
            try s.serialize(subject)
            s.serializeRawBytes(spki)
            if !extensions.isEmpty {
                try s.appendConstructedNode(identifier: ASN1Identifier(tagWithNumber: 3, tagClass: .contextSpecific)) { s in
                    try s.serializeSequenceOf(extensions)
                }
            }
        }
        return try signed(s.serializedBytes, signer: signer)
    }

    static func crl(issuer: DistinguishedName, this: Date, next: Date, revoked: [Int], signer: _RSA.Signing.PrivateKey) throws -> [UInt8] {
        var s = DER.Serializer()
        try s.appendConstructedNode(identifier: .sequence) { s in
            try s.serialize(1)
            s.serializeRawBytes(pssAlgorithm)
            try s.serialize(issuer)
            try s.serialize(time(this))
            try s.serialize(time(next))
            if !revoked.isEmpty {
                try s.appendConstructedNode(identifier: .sequence) { s in
                    for serial in revoked {
                        try s.appendConstructedNode(identifier: .sequence) { s in
                            try s.serialize(serial)
                            try s.serialize(time(this))
                        }
                    }
                }
            }
        }
        return try signed(s.serializedBytes, signer: signer)
    }

    static func report(_ o: Options, key: P384.Signing.PrivateKey) throws -> [UInt8] {
        var r = [UInt8](repeating: 0, count: SEVSNP.reportSize)
        func put(_ bytes: [UInt8], at offset: Int) { r.replaceSubrange(offset..<offset + bytes.count, with: bytes) }
        func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
        put(le(o.version), at: 0x00)
        put(le(UInt32(1)), at: 0x04)  // GUEST_SVN
        put(le(o.policy), at: 0x08)
        put(le(UInt32(1)), at: 0x34)  // SIGNATURE_ALGO: ECDSA P-384 with SHA-384
        put(o.reportedTCB, at: 0x38)  // CURRENT_TCB
        put(o.reportData ?? [UInt8](repeating: 0x5A, count: 64), at: 0x50)  // REPORT_DATA
        if let h = o.hostData { put(h, at: 0xC0) }  // HOST_DATA
        put([UInt8](repeating: 0x4D, count: 48), at: 0x90)  // MEASUREMENT
        put(o.reportedTCB, at: 0x180)
        if o.version >= 3 {
            let (family, model): (UInt8, UInt8) = o.cpuid ?? (o.product == .turin ? (0x1A, 0x02) : o.product == .genoa ? (0x19, 0x11) : (0x19, 0x01))
            put([family, model, 1], at: 0x188)
        }
        put(o.chipID, at: 0x1A0)
        put(o.reportedTCB, at: 0x1E0)  // COMMITTED_TCB
        put([4, 52, 1, 0, 4, 52, 1, 0], at: 0x1E8)
        put(o.reportedTCB, at: 0x1F0)  // LAUNCH_TCB
        let sig = try key.signature(for: r[0..<SEVSNP.signedSize]).rawRepresentation
        put(Array(sig.prefix(48).reversed()), at: 0x2A0)
        put(Array(sig.suffix(48).reversed()), at: 0x2E8)
        return r
    }
}
