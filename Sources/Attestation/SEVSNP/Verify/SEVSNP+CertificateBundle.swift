import Foundation
import SwiftASN1
import X509

extension SEVSNP {
    /// The AMD certificates offered for verifying a report, classified by subject common name.
    ///
    /// Built from any mix of PEM bundles and DER files: "SEV-VCEK" and "SEV-VLEK" are the
    /// endorsement keys, "SEV-<Product>" the ASKs, "SEV-VLEK-<Product>" the ASVKs and
    /// "ARK-<Product>" the roots (trustee bundles carry ASK, ARK and ASVK together). Nothing here
    /// is trusted: ``ReportVerifier`` checks every link and pins the ARK itself, so an ARK in the
    /// bundle only has to equal the pinned one.
    public struct CertificateBundle: Sendable {
        /// The VCEK, if one was supplied.
        public private(set) var vcek: AMDCertificate?
        /// The VLEK, if one was supplied.
        public private(set) var vlek: AMDCertificate?
        /// ASKs by product (they sign VCEKs).
        public private(set) var asks: [Product: AMDCertificate] = [:]
        /// ASVKs by product (they sign VLEKs).
        public private(set) var asvks: [Product: AMDCertificate] = [:]
        /// ARKs by product, as supplied (compared with the pinned ones, never trusted as given).
        public private(set) var arks: [Product: AMDCertificate] = [:]

        /// An empty bundle.
        public init() {}

        /// Classifies `certificates`. Throws ``AttestationError/Code/certificateChainMalformed``
        /// for a certificate whose subject is not an AMD SEV-SNP name, or for two different
        /// certificates in one role.
        public init(_ certificates: [AMDCertificate]) throws(AttestationError) {
            for c in certificates { try add(c) }
        }

        /// Parses and classifies files, each either PEM (one or more `CERTIFICATE` blocks) or
        /// a single DER certificate.
        public init(files: [[UInt8]]) throws(AttestationError) {
            for f in files { try add(file: f) }
        }

        /// Parses a PEM bundle or a DER certificate and adds its certificates.
        public mutating func add(file: [UInt8]) throws(AttestationError) {
            // DER starts with a SEQUENCE tag; anything else is taken as PEM text.
            guard file.first != 0x30 else {
                try add(AMDCertificate(derEncoded: file))
                return
            }
            let text = String(decoding: file, as: UTF8.self)
            let docs: [PEMDocument]
            do { docs = try PEMDocument.parseMultiple(pemString: text) } catch {
                throw AttestationError(.certificateChainMalformed, "PEM bundle could not be parsed: \(error)")
            }
            let certs = docs.filter { $0.discriminator == "CERTIFICATE" }
            guard !certs.isEmpty else { throw AttestationError(.certificateChainMalformed, "no certificate in the PEM bundle") }
            for d in certs { try add(AMDCertificate(derEncoded: d.derBytes)) }
        }

        /// Adds one certificate in the role its subject common name names.
        public mutating func add(_ certificate: AMDCertificate) throws(AttestationError) {
            guard let role = Role(commonName: certificate.commonName ?? "") else {
                throw AttestationError(.certificateChainMalformed, "certificate \(certificate.subject) is not an AMD SEV-SNP certificate (VCEK, VLEK, ASK, ASVK or ARK)")
            }
            func put(_ slot: inout AMDCertificate?) throws(AttestationError) {
                if let existing = slot, existing != certificate {
                    throw AttestationError(.certificateChainMalformed, "two different \(certificate.commonName ?? "?") certificates were supplied")
                }
                slot = certificate
            }
            switch role {
            case .vcek: try put(&vcek)
            case .vlek: try put(&vlek)
            case .ask(let p): try put(&asks[p])
            case .asvk(let p): try put(&asvks[p])
            case .ark(let p): try put(&arks[p])
            }
        }

        /// Every certificate in the bundle.
        public var all: [AMDCertificate] {
            [vcek, vlek].compactMap { $0 } + [asks, asvks, arks].flatMap { $0.sorted { $0.key.rawValue < $1.key.rawValue }.map(\.value) }
        }

        /// The role of an AMD certificate, from its subject common name.
        public enum Role: Sendable, Hashable {
            /// "SEV-VCEK".
            case vcek
            /// "SEV-VLEK".
            case vlek
            /// "SEV-<Product>": signs VCEKs.
            case ask(Product)
            /// "SEV-VLEK-<Product>": signs VLEKs.
            case asvk(Product)
            /// "ARK-<Product>": the root.
            case ark(Product)

            /// Classifies a subject common name; nil when it is not an AMD SEV-SNP name.
            public init?(commonName cn: String) {
                switch cn {
                case "SEV-VCEK": self = .vcek
                case "SEV-VLEK": self = .vlek
                default:
                    if cn.hasPrefix("SEV-VLEK-"), let p = Product(amdName: String(cn.dropFirst(9))) {
                        self = .asvk(p)
                    } else if cn.hasPrefix("SEV-"), let p = Product(amdName: String(cn.dropFirst(4))) {
                        self = .ask(p)
                    } else if cn.hasPrefix("ARK-"), let p = Product(amdName: String(cn.dropFirst(4))) {
                        self = .ark(p)
                    } else {
                        return nil
                    }
                }
            }
        }
    }
}
