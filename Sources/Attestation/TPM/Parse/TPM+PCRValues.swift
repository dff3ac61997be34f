import ByteEncoding
import Foundation

extension TPM {
    /// Reads PCR values in either form an operator has: JSON `{bank: {index: hex}}`, or the
    /// binary file `tpm2_quote -o` / `tpm2_pcrread -o` writes.
    ///
    /// tpm2-tools' layout (host little-endian, C structs written whole): a TPML_PCR_SELECTION of
    /// 4 + 16 × 8 bytes (count, then hash u16, sizeofSelect u8, pcrSelect[4], one pad byte per
    /// entry), a u32 count of TPML_DIGESTs, then that many TPML_DIGESTs of 4 + 8 × 66 bytes
    /// (count, then TPM2B_DIGEST{u16 size, 64-byte buffer}). Values follow the selection in bank
    /// order, ascending PCR index. Written by hand: no Swift library reads these files.
    /// Throws ``AttestationError/Code/malformed`` or ``AttestationError/Code/truncated``.
    public static func pcrValues(parsing bytes: [UInt8]) throws(AttestationError) -> PCRValues {
        if EvidenceBundle.looksLikeBundle(bytes) {
            let json: JSONValue
            do { json = try JSONValue(parsing: bytes) } catch { throw AttestationError(.malformed, "PCR values: \(error.message)") }
            guard case .object(let banks) = json else { throw AttestationError(.malformed, "PCR values must be a JSON object {bank: {index: hex}}") }
            var out = PCRValues()
            for bank in banks {
                guard Alg(bankName: bank.key) != nil, case .object(let values) = bank.value else {
                    throw AttestationError(.malformed, "PCR values: \"\(bank.key)\" is not a bank (sha1, sha256, sha384, sha512) holding {index: hex}")
                }
                for v in values {
                    guard let i = Int(v.key), (0..<24).contains(i), let hex = v.value.string else {
                        throw AttestationError(.malformed, "PCR values: \(bank.key)[\(v.key)] must be a PCR index 0–23 holding a hex string")
                    }
                    out[bank.key.lowercased(), default: [:]][String(i)] = hex
                }
            }
            return out
        }
        return try tpm2ToolsPCRValues(bytes)
    }

    private static func tpm2ToolsPCRValues(_ bytes: [UInt8]) throws(AttestationError) -> PCRValues {
        var r = ByteReader(bytes)
        let count = try r.u32("TPML_PCR_SELECTION.count")
        guard count <= 16 else { throw AttestationError(.malformed, "tpm2-tools PCR file selects \(count) banks (at most 16)") }
        var selections = [PCRSelection]()
        for i in 0..<16 {
            var entry = ByteReader(try r.read(8, "TPMS_PCR_SELECTION[\(i)]"))
            guard i < count else { continue }
            let hash = try entry.u16("hash")
            let size = Int(try entry.read(1, "sizeofSelect")[0])
            let bitmap = try entry.read(4, "pcrSelect")
            guard let bank = Alg(rawValue: hash), bank.bankName != nil, size <= 4 else {
                throw AttestationError(.malformed, "tpm2-tools PCR file: selection \(i) has hash 0x\(String(hash, radix: 16)) and \(size) select bytes")
            }
            var indices = [Int]()
            for (byte, bits) in bitmap.prefix(size).enumerated() { for bit in 0..<8 where bits & (1 << bit) != 0 { indices.append(byte * 8 + bit) } }
            selections.append(PCRSelection(bank: bank, indices: indices))
        }
        let lists = try r.u32("TPML_DIGEST count")
        let wanted = selections.reduce(0) { $0 + $1.indices.count }
        guard Int(lists) == (wanted + 7) / 8 else { throw AttestationError(.malformed, "tpm2-tools PCR file has \(lists) digest lists for \(wanted) selected PCRs") }
        var digests = [[UInt8]]()
        for l in 0..<Int(lists) {
            var list = ByteReader(try r.read(4 + 8 * 66, "TPML_DIGEST[\(l)]"))
            let n = try list.u32("TPML_DIGEST.count")
            guard n <= 8 else { throw AttestationError(.malformed, "tpm2-tools PCR file: digest list \(l) claims \(n) digests (at most 8)") }
            for d in 0..<Int(n) {
                let size = Int(try list.u16("digest \(d) size"))
                let buffer = try list.read(64, "digest \(d) buffer")
                guard size <= 64 else { throw AttestationError(.malformed, "tpm2-tools PCR file: digest of \(size) bytes") }
                digests.append(Array(buffer.prefix(size)))
            }
        }
        guard digests.count == wanted else { throw AttestationError(.malformed, "tpm2-tools PCR file holds \(digests.count) values for \(wanted) selected PCRs") }
        guard r.remaining == 0 else { throw AttestationError(.malformed, "\(r.remaining) bytes after the tpm2-tools PCR values") }
        var out = PCRValues()
        var next = 0
        for s in selections {
            for i in s.indices {
                guard digests[next].count == s.bank.digestSize! else {
                    throw AttestationError(.malformed, "tpm2-tools PCR file: \(s.bank.bankName!):\(i) has \(digests[next].count) bytes")
                }
                out[s.bank.bankName!, default: [:]][String(i)] = Hex.encode(digests[next])
                next += 1
            }
        }
        return out
    }
}
