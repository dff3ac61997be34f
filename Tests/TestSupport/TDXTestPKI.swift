import Attestation
import ByteEncoding
import Crypto
import Foundation
import SwiftASN1
import X509

/// A complete, self-consistent Intel-shaped PKI minted for tests: Root CA, PCK Platform CA, PCK
/// leaf with the SGX extension, TCB Signing certificate, both CRLs, signed TCB Info and QE
/// Identity, and DCAP v4/v5 TDX quotes signed the way a real QE signs them.
///
/// Real quotes come from the shared test vectors; this exists for what real vectors cannot show
/// (a revoked PCK serial, one piece of collateral expiring alone). Verify with
/// `TDX.QuoteVerifier(trustAnchor: pki.root)`.
public struct TDXTestPKI: @unchecked Sendable {
    /// Validity windows and revocations to mint with. Defaults: everything valid in
    /// `2030-01-01 … 2030-02-01`.
    public struct Options: Sendable {
        public var notBefore = instant("2029-01-01T00:00:00Z")
        public var notAfter = instant("2031-01-01T00:00:00Z")
        public var pckNotAfter = instant("2031-01-01T00:00:00Z")
        public var tcbInfoIssue = instant("2030-01-01T00:00:00Z")
        public var tcbInfoNext = instant("2030-02-01T00:00:00Z")
        public var qeIdentityIssue = instant("2030-01-01T00:00:00Z")
        public var qeIdentityNext = instant("2030-02-01T00:00:00Z")
        public var pckCRLThis = instant("2030-01-01T00:00:00Z")
        public var pckCRLNext = instant("2030-02-01T00:00:00Z")
        public var rootCRLThis = instant("2030-01-01T00:00:00Z")
        public var rootCRLNext = instant("2030-02-01T00:00:00Z")
        /// Revoke the PCK leaf in the PCK CRL.
        public var revokePCK = false
        /// TCB status of the single TCB level.
        public var tcbStatus = "UpToDate"
        /// PCE ID (4 hex digits) TCB Info is issued for; the PCK certificate certifies `0000`.
        public var tcbInfoPCEID = "0000"
        /// MRSIGNERSEAM TCB Info's base `tdxModule` expects (default: zero, Intel's).
        public var tcbInfoModuleMRSigner = FixedBytes<48>.zero
        /// `tdxModuleIdentities` TCB Info lists (TD 1.5-era TCB Info); empty omits the member.
        public var tcbInfoModuleIdentities: [ModuleIdentity] = []
        /// MRSIGNER QE Identity expects (default: the minted QE's, ``TDXTestPKI/qeMRSigner``).
        public var qeIdentityMRSigner = TDXTestPKI.qeMRSigner
        /// ISVPRODID QE Identity expects (the minted QE's is 2).
        public var qeIdentityISVProdID: UInt16 = 2
        /// TEE_TCB_SVN of minted TD reports: byte 0 the TDX module ISVSVN, byte 1 its major
        /// version (0 selects TCB Info's base `tdxModule`). Default: ISVSVN 3, major 0.
        public var teeTCBSVN = try! FixedBytes<16>(hex: "03000000000000000000000000000000")
        /// MRSIGNERSEAM of minted TD reports (default: zero, Intel's).
        public var mrSignerSeam = FixedBytes<48>.zero
        /// tcbEvaluationDataNumber of TCB Info and QE Identity.
        public var tcbEvaluationDataNumber = 17
        public init() {}
    }

    /// A TDX module identity for TCB Info's `tdxModuleIdentities`: SEAMATTRIBUTES zero under a
    /// full mask, one `UpToDate` level at `minimumISVSVN`.
    public struct ModuleIdentity: Sendable {
        /// `TDX_` and the module major version in two hex digits (`TDX_01`).
        public var id: String
        /// Expected MRSIGNERSEAM.
        public var mrsigner: FixedBytes<48>
        /// Lowest module ISVSVN of the single level.
        public var minimumISVSVN: Int
        /// An identity; defaults: Intel's (zero) signer, every ISVSVN UpToDate.
        public init(id: String, mrsigner: FixedBytes<48> = .zero, minimumISVSVN: Int = 0) {
            self.id = id
            self.mrsigner = mrsigner
            self.minimumISVSVN = minimumISVSVN
        }

        var json: String {
            #"{"id":"\#(id)","mrsigner":"\#(mrsigner.hex.uppercased())","attributes":"0000000000000000","attributesMask":"FFFFFFFFFFFFFFFF","tcbLevels":[{"tcb":{"isvsvn":\#(minimumISVSVN)},"tcbDate":"2029-01-01T00:00:00Z","tcbStatus":"UpToDate"}]}"#
        }
    }

    /// An instant inside every default validity window.
    public static let validInstant = instant("2030-01-15T00:00:00Z")

    public let root: Certificate
    public let pckCA: Certificate
    public let pck: Certificate
    public let tcbSigning: Certificate
    public let collateral: TDX.Collateral
    /// The options this PKI was minted with.
    public let options: Options
    let pckKey: P256.Signing.PrivateKey
    let chainPEM: String
    let rootKey: P256.Signing.PrivateKey
    let caKey: P256.Signing.PrivateKey
    let tcbKey: P256.Signing.PrivateKey
    /// The dcap-qvl `QuoteCollateralV3` JSON of ``collateral`` (as a collateral file or an
    /// evidence bundle's `collateral` map carries it).
    public let collateralJSON: [UInt8]

    /// FMSPC certified in the PCK leaf.
    public static let fmspc = try! FixedBytes<6>(hex: "00906ed50000")
    /// MRSIGNER of the minted QE.
    public static let qeMRSigner = try! FixedBytes<32>(hex: "dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5")

    /// Mints a PKI with `options`.
    public init(_ options: Options = Options()) throws {
        self.options = options
        let rootKey = P256.Signing.PrivateKey()
        let caKey = P256.Signing.PrivateKey()
        pckKey = P256.Signing.PrivateKey()
        let tcbKey = P256.Signing.PrivateKey()
        (self.rootKey, self.caKey, self.tcbKey) = (rootKey, caKey, tcbKey)
        let rootName = try DistinguishedName {
            CommonName("Test SGX Root CA"); OrganizationName("licen-broker tests")
        }
        let caName = try DistinguishedName {
            CommonName("Test SGX PCK Platform CA"); OrganizationName("licen-broker tests")
        }
        let caExt = try Certificate.Extensions { Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil)) }
        root = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(rootKey.publicKey), notValidBefore: options.notBefore, notValidAfter: options.notAfter,
            issuer: rootName, subject: rootName, signatureAlgorithm: .ecdsaWithSHA256, extensions: caExt, issuerPrivateKey: .init(rootKey))
        pckCA = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(caKey.publicKey), notValidBefore: options.notBefore, notValidAfter: options.notAfter,
            issuer: rootName, subject: caName, signatureAlgorithm: .ecdsaWithSHA256, extensions: caExt, issuerPrivateKey: .init(rootKey))
        let sgx = try Self.sgxExtension(fmspc: Self.fmspc.bytes, cpuSVN: [UInt8](repeating: 3, count: 16), pceSVN: 13)
        pck = try Certificate(
            version: .v3, serialNumber: .init(bytes: [0x42, 0x42, 0x42]), publicKey: .init(pckKey.publicKey), notValidBefore: options.notBefore, notValidAfter: options.pckNotAfter,
            issuer: caName, subject: try DistinguishedName { CommonName("Test SGX PCK Certificate") }, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority); sgx
            }, issuerPrivateKey: .init(caKey))
        tcbSigning = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(tcbKey.publicKey), notValidBefore: options.notBefore, notValidAfter: options.notAfter,
            issuer: rootName, subject: try DistinguishedName { CommonName("Test SGX TCB Signing") }, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions { Critical(BasicConstraints.notCertificateAuthority) }, issuerPrivateKey: .init(rootKey))
        chainPEM = try [pck, pckCA, root].map { try $0.serializeAsPEM().pemString }.joined(separator: "\n")

        (collateral, collateralJSON) = try Self.mintCollateral(options, root: root, tcbSigning: tcbSigning, pckCA: pckCA, rootKey: rootKey, caKey: caKey, tcbKey: tcbKey)
    }

    /// Collateral minted by this PKI's keys with other `options` (CRL windows and revocation,
    /// TCB evaluation data number, TCB status…), and its dcap-qvl JSON: an older or newer
    /// edition of the same platform's collateral.
    public func collateral(with options: Options) throws -> (collateral: TDX.Collateral, json: [UInt8]) {
        try Self.mintCollateral(options, root: root, tcbSigning: tcbSigning, pckCA: pckCA, rootKey: rootKey, caKey: caKey, tcbKey: tcbKey)
    }

    static func mintCollateral(
        _ options: Options, root: Certificate, tcbSigning: Certificate, pckCA: Certificate, rootKey: P256.Signing.PrivateKey,
        caKey: P256.Signing.PrivateKey, tcbKey: P256.Signing.PrivateKey
    ) throws -> (TDX.Collateral, [UInt8]) {
        let (rootName, caName) = (root.subject, pckCA.subject)
        let tcbInfo = """
            {"id":"TDX","version":3,"issueDate":"\(options.tcbInfoIssue.iso8601)","nextUpdate":"\(options.tcbInfoNext.iso8601)","fmspc":"\(Self.fmspc.hex.uppercased())","pceId":"\(options.tcbInfoPCEID)","tcbType":0,"tcbEvaluationDataNumber":\(options.tcbEvaluationDataNumber),"tdxModule":{"mrsigner":"\(options.tcbInfoModuleMRSigner.hex)","attributes":"0000000000000000","attributesMask":"FFFFFFFFFFFFFFFF"},\(options.tcbInfoModuleIdentities.isEmpty ? "" : "\"tdxModuleIdentities\":[\(options.tcbInfoModuleIdentities.map(\.json).joined(separator: ","))],")"tcbLevels":[{"tcb":{"sgxtcbcomponents":[\(Array(repeating: "{\"svn\":2}", count: 16).joined(separator: ","))],"pcesvn":11,"tdxtcbcomponents":[\(Array(repeating: "{\"svn\":0}", count: 16).joined(separator: ","))]},"tcbDate":"2029-01-01T00:00:00Z","tcbStatus":"\(options.tcbStatus)","advisoryIDs":\(options.tcbStatus == "UpToDate" ? "[]" : "[\"INTEL-SA-00837\"]")}]}
            """
        let qeIdentity = """
            {"id":"TD_QE","version":2,"issueDate":"\(options.qeIdentityIssue.iso8601)","nextUpdate":"\(options.qeIdentityNext.iso8601)","tcbEvaluationDataNumber":\(options.tcbEvaluationDataNumber),"miscselect":"00000000","miscselectMask":"FFFFFFFF","attributes":"11000000000000000000000000000000","attributesMask":"FBFFFFFFFFFFFFFF0000000000000000","mrsigner":"\(options.qeIdentityMRSigner.hex.uppercased())","isvprodid":\(options.qeIdentityISVProdID),"tcbLevels":[{"tcb":{"isvsvn":4},"tcbDate":"2029-01-01T00:00:00Z","tcbStatus":"UpToDate"}]}
            """
        func sign(_ s: String) throws -> String { Hex.encode(try tcbKey.signature(for: Array(s.utf8)).rawRepresentation) }
        let tcbChain = CertificateChain([tcbSigning, root])
        let (tcbSignature, qeSignature) = (try sign(tcbInfo), try sign(qeIdentity))
        let pckCRL = try Self.crl(
            issuer: caName, key: caKey, this: options.pckCRLThis, next: options.pckCRLNext,
            revoked: options.revokePCK ? [[0x42, 0x42, 0x42], [0x01, 0x02]] : [[0x01, 0x02]])
        let rootCRL = try Self.crl(issuer: rootName, key: rootKey, this: options.rootCRLThis, next: options.rootCRLNext, revoked: [])
        let collateral = TDX.Collateral(
            tcbInfo: try TDX.SignedDocument(signedBytes: Array(tcbInfo.utf8), signatureHex: tcbSignature, name: "tcbInfo"),
            tcbInfoIssuerChain: tcbChain,
            qeIdentity: try TDX.SignedDocument(signedBytes: Array(qeIdentity.utf8), signatureHex: qeSignature, name: "qeIdentity"),
            qeIdentityIssuerChain: tcbChain,
            pckCRL: try CertificateRevocationList(derEncoded: pckCRL),
            rootCACRL: try CertificateRevocationList(derEncoded: rootCRL)
        )
        let chainPEM = try [tcbSigning, root].map { try $0.serializeAsPEM().pemString }.joined(separator: "\n")
        let pckChainPEM = try [pckCA, root].map { try $0.serializeAsPEM().pemString }.joined(separator: "\n")
        let fields: [String: String] = [
            "tcb_info": tcbInfo, "tcb_info_signature": tcbSignature, "tcb_info_issuer_chain": chainPEM,
            "qe_identity": qeIdentity, "qe_identity_signature": qeSignature, "qe_identity_issuer_chain": chainPEM,
            "pck_crl_issuer_chain": pckChainPEM, "pck_crl": Hex.encode(pckCRL), "root_ca_crl": Hex.encode(rootCRL),
        ]
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return (collateral, Array(try encoder.encode(fields)))
    }

    /// Mints a TDX quote (v4 with a TD 1.0 body, or v5 with a TD 1.5 body) whose TD report
    /// carries `reportData`, `rtmr3` and the debug bit as given.
    public func quote(version: UInt16 = 4, reportData: [UInt8] = Array(repeating: 0xab, count: 64), rtmr3: [UInt8] = Array(repeating: 0, count: 48), debug: Bool = false) throws -> [UInt8] {
        func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8)] }
        func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8((v >> (8 * $0)) & 0xff) } }
        let attestationKey = P256.Signing.PrivateKey()
        var header = le16(version) + le16(2) + le32(0x81) + le16(0) + le16(0) + TDX.intelQEVendorID.bytes
        header += [UInt8](repeating: 0, count: 20)
        var body = options.teeTCBSVN.bytes  // TEE_TCB_SVN
        body += [UInt8](repeating: 0x11, count: 48)  // MRSEAM
        body += options.mrSignerSeam.bytes  // MRSIGNERSEAM
        body += [UInt8](repeating: 0, count: 8)  // SEAMATTRIBUTES
        body += [debug ? 0x01 : 0x00, 0, 0, 0x10, 0, 0, 0, 0]  // TDATTRIBUTES
        body += [0xe7, 0x02, 0x06, 0, 0, 0, 0, 0]  // XFAM
        body += [UInt8](repeating: 0x22, count: 48)  // MRTD
        body += [UInt8](repeating: 0, count: 48 * 3)  // MRCONFIGID, MROWNER, MROWNERCONFIG
        body += [UInt8](repeating: 0x33, count: 48 * 3) + rtmr3
        body += reportData
        var signed = header
        if version == 5 {
            body += [UInt8](repeating: 0, count: 16 + 48)  // TEE_TCB_SVN2, MRSERVICETD
            signed += le16(3) + le32(UInt32(body.count))
        }
        signed += body
        let akRaw = [UInt8](attestationKey.publicKey.rawRepresentation)
        let authData = [UInt8](repeating: 0x5a, count: 32)
        var qe = [UInt8](repeating: 0, count: 384)
        qe[48] = 0x11  // ATTRIBUTES
        qe.replaceSubrange(128..<160, with: Self.qeMRSigner.bytes)
        qe.replaceSubrange(256..<258, with: le16(2))  // ISVPRODID
        qe.replaceSubrange(258..<260, with: le16(4))  // ISVSVN
        qe.replaceSubrange(320..<352, with: Array(SHA256.hash(data: akRaw + authData)))
        let qeSig = [UInt8](try pckKey.signature(for: qe).rawRepresentation)
        let pem = Array(chainPEM.utf8)
        let inner = qe + qeSig + le16(UInt16(authData.count)) + authData + le16(5) + le32(UInt32(pem.count)) + pem
        let quoteSig = [UInt8](try attestationKey.signature(for: signed).rawRepresentation)
        let sigData = quoteSig + akRaw + le16(6) + le32(UInt32(inner.count)) + inner
        return signed + le32(UInt32(sigData.count)) + sigData
    }

    /// Signs `message` (ECDSA P-256 over SHA-256, r ‖ s as hex) with the PCK leaf's private key:
    /// what an attacker who extracted one platform's PCK key could sign. Its certificate chains
    /// to the root (`[pck, pckCA, root]`) but is no TCB Signing certificate.
    public func signatureByPCKKey(over message: [UInt8]) throws -> String {
        Hex.encode(try pckKey.signature(for: message).rawRepresentation)
    }

    /// A signature by the PCK CA's key (a CA key, issued by the root, but not to sign collateral).
    public func signatureByPCKCAKey(over message: [UInt8]) throws -> String {
        Hex.encode(try caKey.signature(for: message).rawRepresentation)
    }

    static func sgxExtension(fmspc: [UInt8], cpuSVN: [UInt8], pceSVN: Int) throws -> Certificate.Extension {
        let base: [UInt] = [1, 2, 840, 113741, 1, 13, 1]
        var s = DER.Serializer()
        try s.appendConstructedNode(identifier: .sequence) { s in
            func entry(_ last: [UInt], _ write: (inout DER.Serializer) throws -> Void) throws {
                try s.appendConstructedNode(identifier: .sequence) { s in
                    try s.serialize(try ASN1ObjectIdentifier(elements: base + last))
                    try write(&s)
                }
            }
            try entry([1]) { try $0.serialize(ASN1OctetString(contentBytes: ArraySlice(repeating: 0x77, count: 16))) }
            try entry([2]) { s in
                try s.appendConstructedNode(identifier: .sequence) { s in
                    for (i, svn) in cpuSVN.enumerated() {
                        try s.appendConstructedNode(identifier: .sequence) { s in
                            try s.serialize(try ASN1ObjectIdentifier(elements: base + [2, UInt(i + 1)]))
                            try s.serialize(Int(svn))
                        }
                    }
                    try s.appendConstructedNode(identifier: .sequence) { s in
                        try s.serialize(try ASN1ObjectIdentifier(elements: base + [2, 17]))
                        try s.serialize(pceSVN)
                    }
                    try s.appendConstructedNode(identifier: .sequence) { s in
                        try s.serialize(try ASN1ObjectIdentifier(elements: base + [2, 18]))
                        try s.serialize(ASN1OctetString(contentBytes: ArraySlice(cpuSVN)))
                    }
                }
            }
            try entry([3]) { try $0.serialize(ASN1OctetString(contentBytes: [0, 0])) }
            try entry([4]) { try $0.serialize(ASN1OctetString(contentBytes: ArraySlice(fmspc))) }
        }
        return Certificate.Extension(oid: [1, 2, 840, 113741, 1, 13, 1], critical: false, value: ArraySlice(s.serializedBytes))
    }

    /// A DER CRL (v2) signed with `key`.
    public static func crl(issuer: DistinguishedName, key: P256.Signing.PrivateKey, this: Date, next: Date, revoked: [[UInt8]]) throws -> [UInt8] {
        func time(_ d: Date) throws -> UTCTime {
            let c = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: d)
            return try UTCTime(year: c.year!, month: c.month!, day: c.day!, hours: c.hour!, minutes: c.minute!, seconds: c.second!)
        }
        func algorithm(_ s: inout DER.Serializer) throws {
            try s.appendConstructedNode(identifier: .sequence) { try $0.serialize(ASN1ObjectIdentifier(elements: [1, 2, 840, 10045, 4, 3, 2] as [UInt])) }
        }
        var tbs = DER.Serializer()
        try tbs.appendConstructedNode(identifier: .sequence) { s in
            try s.serialize(1)
            try algorithm(&s)
            try s.serialize(issuer)
            try s.serialize(try time(this))
            try s.serialize(try time(next))
            if !revoked.isEmpty {
                try s.appendConstructedNode(identifier: .sequence) { s in
                    for serial in revoked {
                        try s.appendConstructedNode(identifier: .sequence) { s in
                            try s.serialize(ArraySlice(serial))
                            try s.serialize(try time(this))
                        }
                    }
                }
            }
        }
        let tbsBytes = tbs.serializedBytes
        let sig = try key.signature(for: tbsBytes).derRepresentation
        var out = DER.Serializer()
        try out.appendConstructedNode(identifier: .sequence) { s in
            s.serializeRawBytes(tbsBytes)
            try algorithm(&s)
            try s.serialize(ASN1BitString(bytes: ArraySlice(sig)))
        }
        return out.serializedBytes
    }
}
