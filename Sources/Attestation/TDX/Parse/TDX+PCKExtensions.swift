import SwiftASN1
import X509

extension TDX {
    /// The Intel SGX extension (OID 1.2.840.113741.1.13.1) of a PCK certificate: the platform's
    /// identity and TCB as certified by Intel.
    public struct PCKExtensions: Sendable, Hashable {
        /// OID of the SGX extension.
        public static let oid: ASN1ObjectIdentifier = [1, 2, 840, 113741, 1, 13, 1]
        // The members read (Intel PCK Certificate and CRL Profile, SGX extension), built once.
        private static let ppidOID = member([1, 2, 840, 113741, 1, 13, 1, 1])
        private static let tcbOID = member([1, 2, 840, 113741, 1, 13, 1, 2])
        private static let pceSVNOID = member([1, 2, 840, 113741, 1, 13, 1, 2, 17])
        private static let cpuSVNOID = member([1, 2, 840, 113741, 1, 13, 1, 2, 18])
        private static let pceIDOID = member([1, 2, 840, 113741, 1, 13, 1, 3])
        private static let fmspcOID = member([1, 2, 840, 113741, 1, 13, 1, 4])

        /// PPID (16 bytes), the platform provisioning ID.
        public let ppid: FixedBytes<16>
        /// CPUSVN (16 bytes): the 16 SGX TCB component SVNs.
        public let cpuSVN: FixedBytes<16>
        /// PCESVN.
        public let pceSVN: UInt16
        /// PCE ID (2 bytes).
        public let pceID: FixedBytes<2>
        /// FMSPC (6 bytes): family-model-stepping-platform-custom SKU, the key for TCB Info.
        public let fmspc: FixedBytes<6>

        /// Extracts the SGX extension from `certificate`. Throws
        /// ``AttestationError/Code/certificateExtensionMissing`` if it is absent and
        /// ``AttestationError/Code/certificateChainMalformed`` if it cannot be read.
        public init(certificate: Certificate) throws(AttestationError) {
            guard let ext = certificate.extensions.first(where: { $0.oid == Self.oid }) else {
                throw AttestationError(.certificateExtensionMissing, "PCK certificate has no SGX extension (\(Self.oid))")
            }
            do {
                // The structure is walked lazily (``DERElements``: SwiftASN1 would decode all of the
                // extension's members up front, most of them unused); each value read is decoded by
                // SwiftASN1.
                let code = AttestationError.Code.certificateChainMalformed
                let outer = try DERElements.sole(ArraySlice(ext.value), "SGX extension", code: code)
                let entries = try Self.entries(outer, code: code)
                func value(_ want: (oid: ASN1ObjectIdentifier, der: [UInt8]), in e: [(oid: ArraySlice<UInt8>, value: DERElements.Element)]) throws -> DERElements.Element {
                    guard let v = e.first(where: { $0.oid.elementsEqual(want.der) })?.value else {
                        throw AttestationError(.certificateExtensionMissing, "SGX extension lacks \(want.oid)")
                    }
                    return v
                }
                func octets(_ e: DERElements.Element) throws -> [UInt8] { [UInt8](try ASN1OctetString(derEncoded: e.encoded).bytes) }
                ppid = try FixedBytes(octets(value(Self.ppidOID, in: entries)))
                pceID = try FixedBytes(octets(value(Self.pceIDOID, in: entries)))
                fmspc = try FixedBytes(octets(value(Self.fmspcOID, in: entries)))
                let tcb = try Self.entries(value(Self.tcbOID, in: entries), code: code)
                pceSVN = try UInt16(derEncoded: value(Self.pceSVNOID, in: tcb).encoded)
                cpuSVN = try FixedBytes(octets(value(Self.cpuSVNOID, in: tcb)))
            } catch let e as AttestationError {
                throw e
            } catch {
                throw AttestationError(.certificateChainMalformed, "PCK SGX extension is malformed: \(error)")
            }
        }

        /// The extensions of `chain`'s leaf, parsed once per `cache` (nil: parsed every time).
        public static func of(_ chain: CertificateChain, cache: VerificationCache?) throws(AttestationError) -> PCKExtensions {
            guard let cache else { return try PCKExtensions(certificate: chain.leaf) }
            return try cache.derive("pck-extensions", from: chain.derEncodings[0]) { () throws(AttestationError) in try PCKExtensions(certificate: chain.leaf) }
        }

        /// A member OID with its DER encoding (members are matched by encoded OID: decoding each
        /// member's OID to compare it cost more than the rest of the extension). An OID that
        /// failed to encode would match nothing, so the member would read as missing.
        private static func member(_ oid: ASN1ObjectIdentifier) -> (oid: ASN1ObjectIdentifier, der: [UInt8]) {
            var s = DER.Serializer()
            return (oid, (try? s.serialize(oid)).map { s.serializedBytes } ?? [])
        }

        /// Each member (OID, value) of a SEQUENCE OF SEQUENCE { OBJECT IDENTIFIER, value }, the
        /// OID as its DER bytes (checked to be a non-empty OBJECT IDENTIFIER).
        private static func entries(_ node: DERElements.Element, code: AttestationError.Code) throws(AttestationError) -> [(oid: ArraySlice<UInt8>, value: DERElements.Element)] {
            guard node.tag == 0x30 else { throw AttestationError(code, "SGX extension entry is not a SEQUENCE") }
            var members = DERElements(node.content, "SGX extension", code: code)
            var out = [(oid: ArraySlice<UInt8>, value: DERElements.Element)]()
            while let m = try members.next() {
                guard m.tag == 0x30 else { throw AttestationError(code, "SGX extension member is not a SEQUENCE") }
                var pair = members.children(of: m, "SGX extension member")
                guard let o = try pair.next(), let v = try pair.next(), try pair.next() == nil else {
                    throw AttestationError(code, "SGX extension entry is not (OID, value)")
                }
                guard o.tag == 0x06, !o.content.isEmpty else {
                    throw AttestationError(code, "SGX extension entry does not start with an OBJECT IDENTIFIER")
                }
                out.append((o.encoded, v))
            }
            return out
        }
    }
}
