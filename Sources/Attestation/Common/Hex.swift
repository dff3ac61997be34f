import Foundation

/// Hex and evidence-text decoding shared by every platform's parser.
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    /// Lowercase hex of `bytes`.
    public static func encode<B: Sequence>(_ bytes: B) -> String where B.Element == UInt8 {
        var out = [UInt8]()
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes hex digits (either case, optional `0x` prefix, surrounding whitespace ignored).
    /// Throws ``AttestationError/Code/badEncoding`` on an odd length or a non-hex character.
    public static func decode(_ text: String) throws(AttestationError) -> [UInt8] {
        try decode(utf8: Array(text.utf8))
    }

    /// Decodes hex from UTF-8 bytes; see ``decode(_:)``.
    public static func decode(utf8 raw: [UInt8]) throws(AttestationError) -> [UInt8] {
        var s = raw[...]
        while let f = s.first, isSpace(f) { s = s.dropFirst() }
        while let l = s.last, isSpace(l) { s = s.dropLast() }
        if s.count >= 2, s[s.startIndex] == UInt8(ascii: "0"), s[s.startIndex + 1] | 0x20 == UInt8(ascii: "x") {
            s = s.dropFirst(2)
        }
        guard s.count % 2 == 0 else { throw AttestationError(.badEncoding, "hex text has an odd number of digits") }
        var out = [UInt8]()
        out.reserveCapacity(s.count / 2)
        var i = s.startIndex
        while i < s.endIndex {
            guard let hi = nibble(s[i]), let lo = nibble(s[i + 1]) else {
                throw AttestationError(.badEncoding, "non-hex character at position \(i - raw.startIndex)")
            }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    static func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x0a || c == 0x0d || c == 0x09 }
}

/// How a piece of evidence arrived on disk or over the wire.
public enum EvidenceEncoding {
    /// Returns raw bytes for evidence that may be binary, hex text (with or without `0x`), or
    /// base64 text. Binary is detected first: anything that is not entirely printable text is
    /// taken as-is, so a binary quote that happens to start with hex digits still parses.
    public static func decode(_ data: [UInt8]) throws(AttestationError) -> [UInt8] {
        let isText = !data.isEmpty && data.allSatisfy { (0x20...0x7e).contains($0) || Hex.isSpace($0) }
        guard isText else { return data }
        let trimmed = data.filter { !Hex.isSpace($0) }
        let hexDigits = trimmed.starts(with: Array("0x".utf8)) || trimmed.starts(with: Array("0X".utf8)) ? Array(trimmed.dropFirst(2)) : trimmed
        if hexDigits.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x66) }) {
            return try Hex.decode(utf8: trimmed)
        }
        if let b = Data(base64Encoded: Data(trimmed)) { return [UInt8](b) }
        throw AttestationError(.badEncoding, "evidence is text but neither hex nor base64")
    }
}
