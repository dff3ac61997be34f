import Foundation
import SwiftASN1
import X509

extension SEVSNP {
    /// An AMD SEV-SNP certificate (ARK, ASK, ASVK, VCEK or VLEK), parsed by hand from DER.
    ///
    /// Why not `X509.Certificate`: AMD signs every certificate with RSASSA-PSS, and
    /// swift-certificates refuses to construct a `Certificate` whose signature algorithm is PSS.
    /// So the outer SEQUENCE is split with SwiftASN1 into TBSCertificate / signatureAlgorithm /
    /// signature, the TBS fields this verifier needs are read, and signatures are checked with
    /// `_CryptoExtras` RSA-PSS (SHA-384, MGF1-SHA-384, salt 48) in ``isSigned(by:)``.
    public struct AMDCertificate: Sendable, Hashable {
        private typealias TBSFields = (
            serial: [UInt8], issuer: DistinguishedName, notBefore: Date, notAfter: Date,
            subject: DistinguishedName, spki: [UInt8], extensions: [Certificate.Extension]
        )

        /// The certificate's DER bytes, as received.
        public let derRepresentation: [UInt8]
        /// The DER bytes of `tbsCertificate`, which the signature covers.
        public let tbsBytes: [UInt8]
        /// The signature value (RSASSA-PSS, big-endian, as long as the issuer's modulus).
        public let signature: [UInt8]
        /// The serial number's content bytes as encoded (AMD encodes some as negative INTEGERs;
        /// they are compared as bytes, never interpreted).
        public let serialNumber: [UInt8]
        /// The issuer name.
        public let issuer: DistinguishedName
        /// The subject name.
        public let subject: DistinguishedName
        /// Start of the validity window.
        public let notValidBefore: Date
        /// End of the validity window.
        public let notValidAfter: Date
        /// The DER SubjectPublicKeyInfo (RSA for ARK/ASK/ASVK, P-384 for VCEK/VLEK).
        public let subjectPublicKeyInfo: [UInt8]
        /// The extensions (empty when there are none).
        public let extensions: [Certificate.Extension]

        /// Parses one DER certificate. Throws ``AttestationError/Code/certificateChainMalformed``
        /// on a structural error or a signature algorithm other than RSASSA-PSS with SHA-384.
        public init(derEncoded der: [UInt8]) throws(AttestationError) {
            do {
                let root = try DER.parse(der)
                let parts = try DER.sequence(root, identifier: .sequence) { nodes throws -> (ASN1Node, ASN1Node, ASN1BitString) in
                    guard let tbs = nodes.next(), let alg = nodes.next(), let sig = nodes.next(), nodes.next() == nil else {
                        throw AttestationError(.certificateChainMalformed, "certificate is not (tbsCertificate, signatureAlgorithm, signature)")
                    }
                    return (tbs, alg, try ASN1BitString(derEncoded: sig))
                }
                guard RSAPSS.isSHA384Parameters(parts.1) else {
                    throw AttestationError(.certificateChainMalformed, "AMD certificate is not signed with RSASSA-PSS / SHA-384 / MGF1-SHA-384 / salt 48")
                }
                let outerAlg = [UInt8](parts.1.encodedBytes)
                let fields = try DER.sequence(parts.0, identifier: .sequence) { n throws -> TBSFields in
                    var node = n.next()
                    if let v = node, v.identifier == ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific) { node = n.next() }
                    guard let serialNode = node, serialNode.identifier == .integer, case .primitive(let serial) = serialNode.content,
                        let innerAlg = n.next(), let issuerNode = n.next(), let validity = n.next(),
                        let subjectNode = n.next(), let spki = n.next()
                    else {
                        throw AttestationError(.certificateChainMalformed, "tbsCertificate lacks a field")
                    }
                    guard [UInt8](innerAlg.encodedBytes) == outerAlg else {
                        throw AttestationError(.certificateChainMalformed, "tbsCertificate signature algorithm differs from the outer one")
                    }
                    let (before, after) = try DER.sequence(validity, identifier: .sequence) { v throws -> (Date, Date) in
                        guard let b = v.next(), let a = v.next(), let bd = try ASN1Time.date(b), let ad = try ASN1Time.date(a) else {
                            throw AttestationError(.certificateChainMalformed, "validity is not two times")
                        }
                        return (bd, ad)
                    }
                    var extensions = [Certificate.Extension]()
                    while let next = n.next() {
                        // [1] issuerUniqueID and [2] subjectUniqueID are skipped; [3] holds extensions.
                        guard next.identifier == ASN1Identifier(tagWithNumber: 3, tagClass: .contextSpecific) else { continue }
                        guard case .constructed(let wrapped) = next.content, let seq = Array(wrapped).first else {
                            throw AttestationError(.certificateChainMalformed, "extensions are not wrapped in [3]")
                        }
                        extensions = try DER.sequence(of: Certificate.Extension.self, identifier: .sequence, rootNode: seq)
                    }
                    return (
                        [UInt8](serial), try DistinguishedName(derEncoded: issuerNode), before, after,
                        try DistinguishedName(derEncoded: subjectNode), [UInt8](spki.encodedBytes), extensions
                    )
                }
                derRepresentation = der
                tbsBytes = [UInt8](parts.0.encodedBytes)
                signature = [UInt8](parts.2.bytes)
                (serialNumber, issuer, notValidBefore, notValidAfter, subject, subjectPublicKeyInfo, extensions) = fields
            } catch let e as AttestationError {
                throw e
            } catch {
                throw AttestationError(.certificateChainMalformed, "AMD certificate is not valid DER: \(error)")
            }
        }

        /// The subject's common name (for example "SEV-VCEK", "SEV-Milan", "ARK-Genoa").
        public var commonName: String? { Self.commonName(of: subject) }

        /// The issuer's common name.
        public var issuerCommonName: String? { Self.commonName(of: issuer) }

        /// Whether this certificate's signature verifies under `issuer`'s RSA key (RSASSA-PSS,
        /// SHA-384, salt 48). Checks the signature only; names are checked by the caller.
        public func isSigned(by issuer: AMDCertificate) -> Bool {
            RSAPSS.isValidSHA384Signature(signature, for: tbsBytes, spki: issuer.subjectPublicKeyInfo)
        }

        /// The extension with `oid`, if present.
        public func `extension`(_ oid: ASN1ObjectIdentifier) -> Certificate.Extension? {
            extensions.first { $0.oid == oid }
        }

        static func commonName(of name: DistinguishedName) -> String? {
            for rdn in name {
                for attribute in rdn where attribute.type == .RDNAttributeType.commonName {
                    return String(describing: attribute.value)
                }
            }
            return nil
        }
    }
}
