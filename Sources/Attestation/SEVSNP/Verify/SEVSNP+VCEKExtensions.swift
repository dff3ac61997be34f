import SwiftASN1
import X509

extension SEVSNP {
    /// The AMD extensions of a VCEK or VLEK certificate: the TCB it was derived for, the chip it
    /// belongs to (VCEK only) and the product name.
    public struct VCEKExtensions: Sendable, Hashable {
        /// 1.3.6.1.4.1.3704.1.2 productName (IA5String, "Milan-B0", "Genoa", "Turin", …).
        public static let productNameOID: ASN1ObjectIdentifier = [1, 3, 6, 1, 4, 1, 3704, 1, 2]
        /// 1.3.6.1.4.1.3704.1.3.1 blSPL.
        public static let bootloaderOID: ASN1ObjectIdentifier = [1, 3, 6, 1, 4, 1, 3704, 1, 3, 1]
        /// 1.3.6.1.4.1.3704.1.3.2 teeSPL.
        public static let teeOID: ASN1ObjectIdentifier = [1, 3, 6, 1, 4, 1, 3704, 1, 3, 2]
        /// 1.3.6.1.4.1.3704.1.3.3 snpSPL.
        public static let snpOID: ASN1ObjectIdentifier = [1, 3, 6, 1, 4, 1, 3704, 1, 3, 3]
        /// 1.3.6.1.4.1.3704.1.3.8 ucodeSPL.
        public static let microcodeOID: ASN1ObjectIdentifier = [1, 3, 6, 1, 4, 1, 3704, 1, 3, 8]
        /// 1.3.6.1.4.1.3704.1.3.9 fmcSPL (Turin).
        public static let fmcOID: ASN1ObjectIdentifier = [1, 3, 6, 1, 4, 1, 3704, 1, 3, 9]
        /// 1.3.6.1.4.1.3704.1.4 hwID (raw bytes: 64, or 8 on Turin; absent on VLEKs).
        public static let hwIDOID: ASN1ObjectIdentifier = [1, 3, 6, 1, 4, 1, 3704, 1, 4]

        /// The product name, for example "Milan-B0".
        public let productName: String
        /// Boot loader SVN.
        public let bootloader: Int
        /// TEE SVN.
        public let tee: Int
        /// SNP firmware SVN.
        public let snp: Int
        /// Microcode SVN.
        public let microcode: Int
        /// FMC SVN (Turin), nil when absent.
        public let fmc: Int?
        /// The hardware ID (VCEK), nil when absent (VLEK).
        public let hwID: [UInt8]?

        /// Reads the extensions of `certificate`. Throws
        /// ``AttestationError/Code/certificateExtensionMissing`` when a TCB or product extension
        /// is absent and ``AttestationError/Code/certificateChainMalformed`` when one cannot be read.
        public init(certificate: AMDCertificate) throws(AttestationError) {
            func value(_ oid: ASN1ObjectIdentifier, _ name: String) throws(AttestationError) -> ASN1Node? {
                guard let ext = certificate.extension(oid) else { return nil }
                do { return try DER.parse(ext.value) } catch {
                    throw AttestationError(.certificateChainMalformed, "VCEK extension \(name) is not DER")
                }
            }
            func integer(_ oid: ASN1ObjectIdentifier, _ name: String, required: Bool = true) throws(AttestationError) -> Int? {
                guard let node = try value(oid, name) else {
                    if required { throw AttestationError(.certificateExtensionMissing, "certificate has no \(name) extension (\(oid))") }
                    return nil
                }
                guard let v = try? Int(derEncoded: node), (0...255).contains(v) else {
                    throw AttestationError(.certificateChainMalformed, "VCEK extension \(name) is not an INTEGER 0–255")
                }
                return v
            }
            guard let nameNode = try value(Self.productNameOID, "productName") else {
                throw AttestationError(.certificateExtensionMissing, "certificate has no productName extension (\(Self.productNameOID))")
            }
            guard let name = try? ASN1IA5String(derEncoded: nameNode) else {
                throw AttestationError(.certificateChainMalformed, "VCEK productName is not an IA5String")
            }
            productName = String(name)
            bootloader = try integer(Self.bootloaderOID, "blSPL") ?? 0
            tee = try integer(Self.teeOID, "teeSPL") ?? 0
            snp = try integer(Self.snpOID, "snpSPL") ?? 0
            microcode = try integer(Self.microcodeOID, "ucodeSPL") ?? 0
            fmc = try integer(Self.fmcOID, "fmcSPL", required: false)
            // hwID is the raw chip ID in extnValue, not a DER OCTET STRING inside it (as AMD's KDS
            // issues it and go-sev-guest reads it).
            hwID = certificate.extension(Self.hwIDOID).map { [UInt8]($0.value) }
        }
    }
}
