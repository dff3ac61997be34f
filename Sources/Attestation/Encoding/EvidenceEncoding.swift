import ByteEncoding
import Foundation

/// How a piece of evidence arrived on disk or over the wire.
public enum EvidenceEncoding {
    /// Returns raw bytes for evidence that may be binary, hex text (with or without `0x`), or
    /// base64 text (standard, or base64url with or without padding). Binary is detected first: anything that is not entirely printable text is
    /// taken as-is, so a binary quote that happens to start with hex digits still parses.
    public static func decode(_ data: [UInt8]) throws(AttestationError) -> [UInt8] {
        let isText = !data.isEmpty && data.allSatisfy { (0x20...0x7e).contains($0) || Hex.isSpace($0) }
        guard isText else { return data }
        let trimmed = data.filter { !Hex.isSpace($0) }
        let hexDigits = trimmed.starts(with: Array("0x".utf8)) || trimmed.starts(with: Array("0X".utf8)) ? Array(trimmed.dropFirst(2)) : trimmed
        if hexDigits.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x66) }) {
            return try Hex.decode(utf8: trimmed, or: AttestationError.init)
        }
        if let b = Hex.base64DecodeEitherAlphabet(trimmed[...]) { return b }
        throw AttestationError(.badEncoding, "evidence is text but neither hex nor base64 (standard or base64url)")
    }
}
