import Crypto
import Foundation

/// Writes a TCG PC Client crypto-agile event log (TCG PC Client Platform Firmware Profile §10):
/// a SHA-1-format Spec ID Event03 header naming the banks, then TCG_PCR_EVENT2 records.
///
/// Written by hand: no Swift library produces TCG event logs. Only what the producer extends is
/// logged, in the order extended, so a verifier can replay it into the quoted PCRs.
public struct CryptoAgileLogWriter: Sendable {
    /// Banks recorded in every event (TPM_ALG_ID, digest size); SHA-256 only.
    static let banks: [(UInt16, Int)] = [(0x000B, 32)]
    /// The log bytes so far.
    public private(set) var bytes: [UInt8]

    /// A log holding only the Spec ID header.
    public init() {
        var spec = Array("Spec ID Event03".utf8) + [0]
        spec += le32(0)  // platformClass
        spec += [0, 2, 0, 2]  // specVersionMinor 0, major 2, errata 0, uintnSize 2 (64-bit)
        spec += le32(UInt32(Self.banks.count))
        for (alg, size) in Self.banks { spec += le16(alg) + le16(UInt16(size)) }
        spec += [0]  // vendorInfoSize
        bytes = le32(0) + le32(0x0000_0003) + [UInt8](repeating: 0, count: 20) + le32(UInt32(spec.count)) + spec  // EV_NO_ACTION
    }

    /// Appends an event whose SHA-256 digest is the hash of `data`; returns that digest.
    @discardableResult
    public mutating func append(pcr: Int, type: UInt32, data: [UInt8]) -> [UInt8] {
        let digest = Array(SHA256.hash(data: data))
        bytes += le32(UInt32(pcr)) + le32(type) + le32(1) + le16(0x000B) + digest + le32(UInt32(data.count)) + data
        return digest
    }
}

func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8)] }
func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8((v >> (8 * $0)) & 0xff) } }
