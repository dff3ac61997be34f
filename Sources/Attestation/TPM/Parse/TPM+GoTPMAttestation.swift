import ByteEncoding
import Foundation

extension TPM {
    /// go-tpm-tools' `attest.Attestation` protobuf (proto/attest.proto): the AK public area, one
    /// quote per PCR bank (`tpm.Quote`: TPMS_ATTEST, TPMT_SIGNATURE, `tpm.PCRs`), the TCG event
    /// log, and the AK certificate with its intermediates.
    ///
    /// Read with a small protobuf wire-format reader written by hand: swift-protobuf needs
    /// generated message code (and its code-generator plugin in the build) for what are five
    /// fields of three messages here. The reader is bounds-checked, skips unknown fields as
    /// protobuf requires, and is covered by the `fuzz-tpm` libFuzzer target.
    public struct GoTPMAttestation: Sendable {
        /// One quote of the attestation.
        public struct Quote: Sendable {
            /// TPMS_ATTEST bytes.
            public let attest: [UInt8]
            /// TPMT_SIGNATURE bytes.
            public let signature: [UInt8]
            /// The PCR bank.
            public let bank: Alg
            /// The PCR values presented with the quote.
            public let pcrs: PCRValues
        }

        /// The AK as TPMT_PUBLIC.
        public let akPublic: [UInt8]
        /// The quotes, in message order.
        public let quotes: [Quote]
        /// The TCG event log (raw binary), empty when absent.
        public let eventLog: [UInt8]
        /// The AK certificate (DER), when present.
        public let akCertificate: [UInt8]?
        /// Intermediate CA certificates (DER) for the AK certificate.
        public let intermediateCertificates: [[UInt8]]

        /// Parses the protobuf. Throws ``AttestationError/Code/malformed`` or
        /// ``AttestationError/Code/truncated``.
        public init(protobuf bytes: [UInt8]) throws(AttestationError) {
            var ak: [UInt8]?, log = [UInt8](), cert: [UInt8]?, intermediates = [[UInt8]](), quotes = [Quote]()
            var r = ProtobufReader(bytes)
            while let (field, value) = try r.next() {
                switch (field, value) {
                case (1, .bytes(let b)): ak = b
                case (2, .bytes(let b)): quotes.append(try Self.quote(b))
                case (3, .bytes(let b)): log = b
                case (6, .bytes(let b)): cert = b
                case (7, .bytes(let b)): intermediates.append(b)
                case (1, _), (2, _), (3, _), (6, _), (7, _): throw AttestationError(.malformed, "attest.Attestation field \(field) has the wrong wire type")
                default: continue
                }
            }
            guard let ak, !ak.isEmpty, !quotes.isEmpty else { throw AttestationError(.malformed, "attest.Attestation has no ak_pub or no quotes") }
            akPublic = ak
            self.quotes = quotes
            eventLog = log
            akCertificate = cert
            intermediateCertificates = intermediates
        }

        private static func quote(_ bytes: [UInt8]) throws(AttestationError) -> Quote {
            var attest: [UInt8]?, sig: [UInt8]?, bank: Alg?, values = [String: String]()
            var r = ProtobufReader(bytes)
            while let (field, value) = try r.next() {
                switch (field, value) {
                case (1, .bytes(let b)): attest = b
                case (2, .bytes(let b)): sig = b
                case (3, .bytes(let b)):
                    var p = ProtobufReader(b)
                    while let (f, v) = try p.next() {
                        switch (f, v) {
                        case (1, .varint(let h)):
                            guard let a = Alg(rawValue: UInt16(truncatingIfNeeded: h)), h <= 0xFFFF, a.bankName != nil else {
                                throw AttestationError(.unsupportedAlgorithm, "tpm.PCRs hash \(h) is not a supported bank")
                            }
                            bank = a
                        case (2, .bytes(let entry)):
                            var e = ProtobufReader(entry)
                            var index: UInt64?, digest = [UInt8]()
                            while let (ef, ev) = try e.next() {
                                switch (ef, ev) {
                                case (1, .varint(let k)): index = k
                                case (2, .bytes(let d)): digest = d
                                default: continue
                                }
                            }
                            guard let index, index < 24 else { throw AttestationError(.malformed, "tpm.PCRs entry has no PCR index 0–23") }
                            values[String(index)] = Hex.encode(digest)
                        default: continue
                        }
                    }
                default: continue
                }
            }
            guard let attest, let sig, let bank, let name = bank.bankName else { throw AttestationError(.malformed, "tpm.Quote lacks quote, raw_sig or pcrs.hash") }
            return Quote(attest: attest, signature: sig, bank: bank, pcrs: [name: values])
        }

        /// An evidence bundle for the quote over `bank` (default: SHA-256, else the first),
        /// carrying the AK, its certificates and the event log.
        public func bundle(bank: Alg = .sha256, nonce: String? = nil) -> EvidenceBundle {
            let q = quotes.first { $0.bank == bank } ?? quotes[0]
            let certs = ([akCertificate].compactMap { $0 } + intermediateCertificates).map { Data($0) }
            return EvidenceBundle(
                platform: .tpm, nonce: nonce,
                tpm: .init(
                    attest: Data(q.attest), signature: Data(q.signature), akPublic: Data(akPublic), pcrs: q.pcrs,
                    akCertificates: certs.isEmpty ? nil : certs),
                eventLog: eventLog.isEmpty ? nil : Data(eventLog))
        }
    }
}

/// Protobuf wire format (varint, 64-bit, length-delimited, 32-bit), bounds-checked.
struct ProtobufReader {
    enum Value { case varint(UInt64), bytes([UInt8]), fixed }
    private var r: ByteReader

    init(_ bytes: [UInt8]) { r = ByteReader(bytes) }

    /// The next field number and value, or nil at the end.
    mutating func next() throws(AttestationError) -> (UInt64, Value)? {
        guard r.remaining > 0 else { return nil }
        let key = try varint()
        let field = key >> 3
        guard field > 0 else { throw AttestationError(.malformed, "protobuf field number 0") }
        switch key & 7 {
        case 0: return (field, .varint(try varint()))
        case 1: _ = try r.read(8, "protobuf fixed64"); return (field, .fixed)
        case 2:
            let n = try varint()
            guard n <= UInt64(r.remaining) else { throw AttestationError(.truncated, "protobuf field \(field): \(n) bytes declared, \(r.remaining) left") }
            return (field, .bytes(try r.read(Int(n), "protobuf field \(field)")))
        case 5: _ = try r.read(4, "protobuf fixed32"); return (field, .fixed)
        default: throw AttestationError(.malformed, "protobuf wire type \(key & 7) is not supported")
        }
    }

    private mutating func varint() throws(AttestationError) -> UInt64 {
        var v: UInt64 = 0
        for shift in stride(from: 0, to: 70, by: 7) {
            let b = try r.read(1, "protobuf varint")[0]
            guard shift < 64 else { throw AttestationError(.malformed, "protobuf varint longer than 10 bytes") }
            v |= UInt64(b & 0x7f) << UInt64(shift)
            if b & 0x80 == 0 { return v }
        }
        throw AttestationError(.malformed, "protobuf varint longer than 10 bytes")
    }
}
