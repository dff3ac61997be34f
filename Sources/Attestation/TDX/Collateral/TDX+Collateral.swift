import ByteEncoding
import Foundation
import SwiftASN1
import X509

extension TDX {
    /// Everything besides the quote that TDX verification needs, for one FMSPC.
    public struct Collateral: Sendable {
        /// Whether every piece of this collateral is at least as new as `other`'s: TCB Info and
        /// QE Identity by TCB evaluation data number (Intel raises it at each TCB recovery), the
        /// PCK and Root CA CRLs by thisUpdate. Collateral that fails this is a possible downgrade
        /// (an older TCB Info still within its window, a CRL from before a revocation).
        public func isAtLeastAsNew(as other: Collateral) -> Bool {
            tcbInfo.body.tcbEvaluationDataNumber >= other.tcbInfo.body.tcbEvaluationDataNumber
                && qeIdentity.body.tcbEvaluationDataNumber >= other.qeIdentity.body.tcbEvaluationDataNumber
                && pckCRL.thisUpdate >= other.pckCRL.thisUpdate
                && rootCACRL.thisUpdate >= other.rootCACRL.thisUpdate
        }

        /// Signed TCB Info for the platform's FMSPC.
        public var tcbInfo: SignedDocument<TCBInfo>
        /// The chain that signs TCB Info (TCB Signing certificate, Root CA).
        public var tcbInfoIssuerChain: CertificateChain
        /// Signed QE Identity (`TD_QE`).
        public var qeIdentity: SignedDocument<QEIdentity>
        /// The chain that signs QE Identity (TCB Signing certificate, Root CA).
        public var qeIdentityIssuerChain: CertificateChain
        /// The CRL of the PCK Platform or Processor CA.
        public var pckCRL: CertificateRevocationList
        /// The CRL of the Intel SGX Root CA.
        public var rootCACRL: CertificateRevocationList

        /// Assembles collateral from its pieces.
        public init(
            tcbInfo: SignedDocument<TCBInfo>, tcbInfoIssuerChain: CertificateChain, qeIdentity: SignedDocument<QEIdentity>, qeIdentityIssuerChain: CertificateChain, pckCRL: CertificateRevocationList,
            rootCACRL: CertificateRevocationList
        ) {
            self.tcbInfo = tcbInfo
            self.tcbInfoIssuerChain = tcbInfoIssuerChain
            self.qeIdentity = qeIdentity
            self.qeIdentityIssuerChain = qeIdentityIssuerChain
            self.pckCRL = pckCRL
            self.rootCACRL = rootCACRL
        }
    }

    /// Collateral gathered piece by piece from files, folders or a network source.
    ///
    /// Accepts, by content rather than by name: a dcap-qvl `QuoteCollateralV3` JSON file (every
    /// piece), Intel PCS v4 response bodies (TCB Info, QE Identity), CRLs (DER, PEM or hex; the
    /// issuer decides whether it is the Root CA or PCK CRL) and PEM issuer chains (the leaf's
    /// subject decides which). A later piece replaces an earlier one of the same kind; TCB Infos
    /// are kept per FMSPC and the one matching the quote's PCK certificate is chosen.
    public struct CollateralParts: Sendable {
        /// TCB Infos by FMSPC (lowercase hex), in arrival order.
        public var tcbInfos: [(fmspc: String, document: SignedDocument<TCBInfo>)] = []
        /// TCB Info signing chain.
        public var tcbInfoIssuerChain: CertificateChain?
        /// QE Identity.
        public var qeIdentity: SignedDocument<QEIdentity>?
        /// QE Identity signing chain.
        public var qeIdentityIssuerChain: CertificateChain?
        /// PCK CA CRL.
        public var pckCRL: CertificateRevocationList?
        /// Root CA CRL.
        public var rootCACRL: CertificateRevocationList?
        /// PCK CRL issuer chain, when supplied (kept for reference: the PCK CRL is checked against
        /// the CA certificate that the quote's own, verified chain presents).
        public var pckCRLIssuerChain: CertificateChain?

        /// No pieces yet.
        /// Certificates already parsed (per verification), reused for issuer chains; nil parses all.
        public var cache: VerificationCache?

        /// Empty parts; `cache` lets issuer chains reuse certificates already parsed.
        public init(cache: VerificationCache? = nil) { self.cache = cache }

        /// Adds or replaces the TCB Info for its FMSPC.
        public mutating func add(tcbInfo: SignedDocument<TCBInfo>) {
            let key = tcbInfo.body.fmspc.hex
            tcbInfos.removeAll { $0.fmspc == key }
            tcbInfos.append((key, tcbInfo))
        }

        /// Adds a CRL, classified by its issuer (Intel SGX Root CA or a PCK CA).
        public mutating func add(crl: CertificateRevocationList) {
            if Self.commonName(crl.issuer)?.contains("Root CA") == true { rootCACRL = crl } else { pckCRL = crl }
        }

        /// Adds an issuer chain, classified by its leaf (TCB Signing or PCK CA).
        public mutating func add(issuerChain chain: CertificateChain) throws(AttestationError) {
            let cn = Self.commonName(chain.leaf.subject) ?? ""
            if cn.contains("TCB Signing") {
                tcbInfoIssuerChain = chain
                qeIdentityIssuerChain = chain
            } else if cn.contains("PCK") {
                pckCRLIssuerChain = chain
            } else {
                throw AttestationError(.collateralMalformed, "certificate chain with leaf \"\(cn)\" is neither a TCB Signing nor a PCK CA chain")
            }
        }

        /// Adds every piece found in one file's bytes. Throws ``AttestationError/Code/collateralMalformed``
        /// if nothing in it is recognised.
        public mutating func add(fileContents data: [UInt8], name: String) throws(AttestationError) {
            guard try addIfRecognised(data, name: name) else {
                throw AttestationError(.collateralMalformed, "\(name) is not TDX collateral (dcap-qvl JSON, PCS response, CRL or issuer chain)")
            }
        }

        /// Adds a file or every regular file of a folder (not recursive; unrecognised files in a
        /// folder are skipped, since a missing piece fails later anyway). Throws
        /// ``AttestationError/Code/collateralMissing`` if the path cannot be read.
        public mutating func add(path: String) throws(AttestationError) {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
                throw AttestationError(.collateralMissing, "collateral path \(path) does not exist")
            }
            if isDir.boolValue {
                let names = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
                var members = [(String, [UInt8])]()
                for n in names {
                    let p = (path as NSString).appendingPathComponent(n)
                    var sub: ObjCBool = false
                    guard FileManager.default.fileExists(atPath: p, isDirectory: &sub), !sub.boolValue,
                        let d = FileManager.default.contents(atPath: p)
                    else { continue }
                    members.append((n, [UInt8](d)))
                }
                guard add(folder: members) else { throw AttestationError(.collateralMissing, "no collateral found in folder \(path)") }
            } else {
                guard let d = FileManager.default.contents(atPath: path) else {
                    throw AttestationError(.collateralMissing, "cannot read collateral file \(path)")
                }
                try add(fileContents: [UInt8](d), name: path)
            }
        }

        /// Adds the recognised files of a folder (or an evidence bundle's `collateral` map), in
        /// name order, skipping the rest. Returns whether any piece was found.
        @discardableResult
        public mutating func add(folder members: [(name: String, contents: [UInt8])]) -> Bool {
            var found = false
            for (name, contents) in members.sorted(by: { $0.name < $1.name }) where (try? addIfRecognised(contents, name: name)) == true { found = true }
            return found
        }

        /// Merges `other` into this, `other`'s pieces replacing these.
        public mutating func merge(_ other: CollateralParts) {
            for t in other.tcbInfos { add(tcbInfo: t.document) }
            tcbInfoIssuerChain = other.tcbInfoIssuerChain ?? tcbInfoIssuerChain
            qeIdentity = other.qeIdentity ?? qeIdentity
            qeIdentityIssuerChain = other.qeIdentityIssuerChain ?? qeIdentityIssuerChain
            pckCRL = other.pckCRL ?? pckCRL
            rootCACRL = other.rootCACRL ?? rootCACRL
            pckCRLIssuerChain = other.pckCRLIssuerChain ?? pckCRLIssuerChain
        }

        /// Returns complete collateral for `fmspc`: the TCB Info for that FMSPC, or, if none
        /// matches and exactly one was given, that one (so the verifier reports the mismatch).
        /// Throws ``AttestationError/Code/collateralMissing`` naming every missing piece.
        public func complete(for fmspc: FixedBytes<6>?) throws(AttestationError) -> Collateral {
            let tcb = tcbInfos.last(where: { $0.fmspc == fmspc?.hex })?.document ?? (tcbInfos.count == 1 ? tcbInfos[0].document : nil)
            var missing = [String]()
            if tcb == nil { missing.append(tcbInfos.isEmpty ? "TCB Info" : "TCB Info for FMSPC \(fmspc?.hex ?? "?") (have \(tcbInfos.map(\.fmspc).joined(separator: ", ")))") }
            if tcbInfoIssuerChain == nil { missing.append("TCB Info issuer chain") }
            if qeIdentity == nil { missing.append("QE Identity") }
            if qeIdentityIssuerChain == nil { missing.append("QE Identity issuer chain") }
            if pckCRL == nil { missing.append("PCK CRL") }
            if rootCACRL == nil { missing.append("Root CA CRL") }
            guard let tcb, let ti = tcbInfoIssuerChain, let qe = qeIdentity, let qi = qeIdentityIssuerChain, let pck = pckCRL, let root = rootCACRL else {
                throw AttestationError(.collateralMissing, "collateral is incomplete: missing \(missing.joined(separator: ", "))")
            }
            return Collateral(tcbInfo: tcb, tcbInfoIssuerChain: ti, qeIdentity: qe, qeIdentityIssuerChain: qi, pckCRL: pck, rootCACRL: root)
        }

        private mutating func addIfRecognised(_ data: [UInt8], name: String) throws(AttestationError) -> Bool {
            // Classify on bytes: trimming or searching the whole file as a Foundation string
            // cost more than verifying its signature.
            let start = data.firstIndex(where: { !Hex.isSpace($0) }) ?? data.endIndex
            let end = (data.lastIndex(where: { !Hex.isSpace($0) }) ?? data.endIndex - 1) + 1
            let body = start < end ? data[start..<end] : []
            func has(_ marker: String) -> Bool { Hex.find(Array(marker.utf8), in: body) != nil }
            if body.first == UInt8(ascii: "{") {
                guard let j = try? JSONValue(parsing: body) else {
                    throw AttestationError(.collateralMalformed, "\(name): not valid JSON")
                }
                if j["tcb_info"] != nil {
                    // dcap-qvl `QuoteCollateralV3`: every piece as a string member.
                    let f = JSONFields(j, name)
                    add(tcbInfo: try SignedDocument(signedBytes: Array(try f.string("tcb_info").utf8), signatureHex: try f.string("tcb_info_signature"), name: "tcb_info"))
                    qeIdentity = try SignedDocument(signedBytes: Array(try f.string("qe_identity").utf8), signatureHex: try f.string("qe_identity_signature"), name: "qe_identity")
                    let tcbChainPEM = try f.string("tcb_info_issuer_chain"), qeChainPEM = try f.string("qe_identity_issuer_chain")
                    let tcbChain = try CertificateChain(pemEncoded: tcbChainPEM, cache: cache)
                    tcbInfoIssuerChain = tcbChain
                    // Both documents are normally signed by the same TCB Signing chain: parse it once.
                    qeIdentityIssuerChain = qeChainPEM == tcbChainPEM ? tcbChain : try CertificateChain(pemEncoded: qeChainPEM, cache: cache)
                    // Not parsed: the PCK CRL is checked against the PCK CA certificate of the
                    // quote's own, verified chain, so this copy would only cost time.
                    _ = try f.string("pck_crl_issuer_chain")
                    pckCRL = try CertificateRevocationList(derEncoded: try Hex.decode(try f.string("pck_crl"), or: AttestationError.init))
                    rootCACRL = try CertificateRevocationList(derEncoded: try Hex.decode(try f.string("root_ca_crl"), or: AttestationError.init))
                    return true
                }
                if j["tcbInfo"] != nil {
                    add(tcbInfo: try SignedDocument(pcsResponse: data, member: "tcbInfo"))
                    return true
                }
                if j["enclaveIdentity"] != nil {
                    qeIdentity = try SignedDocument(pcsResponse: data, member: "enclaveIdentity")
                    return true
                }
                return false
            }
            if has("-----BEGIN CERTIFICATE-----") {
                let chain = try CertificateChain(pemEncoded: String(decoding: body, as: UTF8.self), cache: cache)
                if chain.certificates.count < 2 { return false }  // a lone anchor, not an issuer chain
                try add(issuerChain: chain)
                return true
            }
            if has("-----BEGIN X509 CRL-----") {
                guard let doc = try? PEMDocument(pemString: String(decoding: body, as: UTF8.self)) else { throw AttestationError(.crlMalformed, "\(name): bad PEM CRL") }
                add(crl: try CertificateRevocationList(derEncoded: [UInt8](doc.derBytes)))
                return true
            }
            if data.first == 0x30 {
                guard let crl = try? CertificateRevocationList(derEncoded: data) else { return false }
                add(crl: crl)
                return true
            }
            if body.starts(with: Array("30".utf8)), let der = try? Hex.decode(utf8: Array(body)), let crl = try? CertificateRevocationList(derEncoded: der) {
                add(crl: crl)
                return true
            }
            return false
        }

        /// The first common name (CN) in `name`, if any.
        public static func commonName(_ name: DistinguishedName) -> String? {
            for rdn in name {
                for attr in rdn where attr.type == .RDNAttributeType.commonName {
                    return String(describing: attr.value)
                }
            }
            return nil
        }
    }
}
