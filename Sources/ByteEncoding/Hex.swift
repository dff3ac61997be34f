/// The package's one hex codec (and the base64 and byte-search helpers PEM and evidence text
/// need), shared by evidence parsing, the EVM code and the services. Dependency-free. Written by
/// hand: Foundation has no hex codec, and the table-driven decode matters on the hot path of
/// TPM PCR values and claims.
public enum Hex {
    /// Why text is not hex. Callers map it into their own module's error.
    public struct DecodingError: Error, Sendable, Equatable, CustomStringConvertible {
        /// What is wrong, without echoing the text (it may be key material).
        public let message: String
        /// Creates an error.
        public init(_ message: String) { self.message = message }
        public var description: String { message }
    }

    @usableFromInline static let digits = Array("0123456789abcdef".utf8)

    /// Nibble values by byte; 0xFF for a byte that is not a hex digit.
    private static let nibbleTable: [UInt8] = (0..<256).map { c in
        switch UInt8(c) {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt8(c) - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt8(c) - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt8(c) - UInt8(ascii: "A") + 10
        default: 0xFF
        }
    }

    /// `0x` + lowercase hex of `bytes` (Ethereum's form).
    @inlinable public static func prefixed<B: Sequence>(_ bytes: B) -> String where B.Element == UInt8 { "0x" + encode(bytes) }

    /// Decodes hex, mapping a failure into the caller's error type: `try Hex.decode(s, or: MyError.init)`.
    public static func decode<E: Error>(_ text: String, or makeError: (DecodingError) -> E) throws(E) -> [UInt8] {
        do { return try decode(text) } catch { throw makeError(error) }
    }

    /// ``decode(utf8:)``, mapping a failure into the caller's error type.
    public static func decode<E: Error>(utf8 raw: [UInt8], or makeError: (DecodingError) -> E) throws(E) -> [UInt8] {
        do { return try decode(utf8: raw) } catch { throw makeError(error) }
    }

    /// Lowercase hex of `bytes`. Inlinable: callers in other modules get it specialized for
    /// their sequence type (event-log and claim rendering call it per digest).
    @inlinable public static func encode<B: Sequence>(_ bytes: B) -> String where B.Element == UInt8 {
        var out = [UInt8]()
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes hex digits (either case, optional `0x` prefix, surrounding whitespace ignored).
    /// Throws ``DecodingError`` on an odd length or a non-hex character.
    public static func decode(_ text: String) throws(DecodingError) -> [UInt8] {
        // Fast path for plain even-length hex in contiguous UTF-8 (the common case: PCR values,
        // claims); anything else goes through the general decoder and its error messages.
        var text = text
        let fast: [UInt8]? = text.withUTF8 { u in
            guard u.count % 2 == 0 else { return nil }
            var ok = true
            let out = [UInt8](unsafeUninitializedCapacity: u.count / 2) { buf, count in
                ok = decodePlain(u, into: buf.baseAddress)
                count = u.count / 2
            }
            return ok ? out : nil
        }
        if let fast { return fast }
        return try decode(utf8: Array(text.utf8))
    }

    /// Decodes plain even-length hex `text` (no prefix, no spaces) into `out` at `offset` and
    /// returns how many bytes it wrote; nil when `text` is anything else or does not fit (the
    /// bytes at `offset` may then have been overwritten).
    public static func decodePlain(_ text: String, into out: inout [UInt8], at offset: Int) -> Int? {
        var text = text
        return text.withUTF8 { u -> Int? in
            let n = u.count / 2
            guard u.count % 2 == 0, offset >= 0, offset + n <= out.count else { return nil }
            let ok = out.withUnsafeMutableBufferPointer { buf in decodePlain(u, into: buf.baseAddress.map { $0 + offset }) }
            return ok ? n : nil
        }
    }

    /// Table-driven decode of `u` (even length) into `dst`; false on a non-hex byte.
    private static func decodePlain(_ u: UnsafeBufferPointer<UInt8>, into dst: UnsafeMutablePointer<UInt8>?) -> Bool {
        guard let src = u.baseAddress, let dst else { return u.isEmpty }
        var bad: UInt8 = 0
        nibbleTable.withUnsafeBufferPointer { table in
            // 0xFF marks a non-hex byte; OR-ing the nibbles flags any of them.
            for i in 0..<(u.count / 2) {
                let hi = table[Int(src[2 * i])], lo = table[Int(src[2 * i + 1])]
                bad |= (hi | lo) & 0xF0
                dst[i] = hi << 4 | (lo & 0x0F)
            }
        }
        return bad == 0
    }

    /// Decodes hex from UTF-8 bytes; see ``decode(_:)``.
    public static func decode(utf8 raw: [UInt8]) throws(DecodingError) -> [UInt8] {
        var s = raw[...]
        while let f = s.first, isSpace(f) { s = s.dropFirst() }
        while let l = s.last, isSpace(l) { s = s.dropLast() }
        if s.count >= 2, s[s.startIndex] == UInt8(ascii: "0"), s[s.startIndex + 1] | 0x20 == UInt8(ascii: "x") {
            s = s.dropFirst(2)
        }
        guard s.count % 2 == 0 else { throw DecodingError("hex text has an odd number of digits") }
        var out = [UInt8]()
        out.reserveCapacity(s.count / 2)
        var i = s.startIndex
        while i < s.endIndex {
            guard let hi = nibble(s[i]), let lo = nibble(s[i + 1]) else {
                throw DecodingError("non-hex character at position \(i - raw.startIndex)")
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

    /// The range of the first occurrence of `needle` in `haystack`, or nil.
    public static func find(_ needle: [UInt8], in haystack: ArraySlice<UInt8>) -> Range<Int>? {
        guard let first = needle.first, needle.count <= haystack.count else { return nil }
        var i = haystack.startIndex
        let last = haystack.endIndex - needle.count
        while i <= last {
            if haystack[i] == first && haystack[i..<(i + needle.count)].elementsEqual(needle) { return i..<(i + needle.count) }
            i += 1
        }
        return nil
    }

    /// The two base64 alphabets of RFC 4648.
    public enum Base64Alphabet: Sendable {
        /// §4: `+` and `/`, `=` padding required (PEM, evidence bundles).
        case standard
        /// §5, base64url: `-` and `_`; the padding may be left out, as JOSE (RFC 7515 §2) and
        /// Azure's guest tools write it.
        case url
    }

    /// Decodes base64 of `alphabet` (default standard, RFC 4648 §4, `=` padding), skipping ASCII
    /// whitespace as PEM line breaks require; nil on any other character or bad padding.
    public static func base64Decode(_ text: ArraySlice<UInt8>, alphabet: Base64Alphabet = .standard) -> [UInt8]? {
        // One table lookup per character (0–63 a digit, 64 whitespace, 65 '=', 255 anything
        // else) and writes into uninitialized storage: the switch-and-append form was a visible
        // share of a cold TDX verification (five certificates of PEM).
        var acc: UInt32 = 0, bits = 0, pad = 0, count = 0
        var ok = true
        let out = (alphabet == .standard ? base64Table : base64URLTable).withUnsafeBufferPointer { table in
            text.withUnsafeBufferPointer { src in
                [UInt8](unsafeUninitializedCapacity: text.count * 3 / 4 + 3) { dst, written in
                    written = 0
                    for c in src {
                        let v = table[Int(c)]
                        if v < 64 {
                            guard pad == 0 else { ok = false; return }  // data after padding
                            count += 1
                            acc = acc << 6 | UInt32(v)
                            bits += 6
                            if bits >= 8 {
                                bits -= 8
                                dst[written] = UInt8(truncatingIfNeeded: acc >> UInt32(bits))
                                written += 1
                            }
                        } else if v == 65 {
                            pad += 1
                            count += 1
                        } else if v != 64 {  // 64: whitespace, skipped
                            ok = false
                            return
                        }
                    }
                }
            }
        }
        // Whole quanta only; the padding must match the bits left over (RFC 4648 §4).
        // Unpadded base64url may end after 2 or 3 digits of a quantum (never 1).
        if alphabet == .url, pad == 0, count % 4 != 1 { return ok ? out : nil }
        guard ok, count % 4 == 0, (bits == 0 && pad == 0) || (bits == 2 && pad == 1) || (bits == 4 && pad == 2) else { return nil }
        return out
    }

    /// Decodes text in either alphabet (standard first, then base64url with or without padding),
    /// as evidence arrives from tools that write one or the other; nil if it is neither.
    public static func base64DecodeEitherAlphabet(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        base64Decode(text) ?? base64Decode(text, alphabet: .url)
    }

    /// base64url digit values: the standard table with `-` and `_` in place of `+` and `/`.
    private static let base64URLTable: [UInt8] = (0..<256).map { i in
        switch UInt8(i) {
        case UInt8(ascii: "-"): return 62
        case UInt8(ascii: "_"): return 63
        case UInt8(ascii: "+"), UInt8(ascii: "/"): return 255
        default: return base64Table[i]
        }
    }

    /// base64 digit values; 64 = ASCII whitespace (skipped), 65 = '=', 255 = invalid.
    private static let base64Table: [UInt8] = (0..<256).map { i in
        let c = UInt8(i)
        switch c {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return c - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return c - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0") + 52
        case UInt8(ascii: "+"): return 62
        case UInt8(ascii: "/"): return 63
        case UInt8(ascii: "="): return 65
        case 0x20, 0x0a, 0x0d, 0x09: return 64
        default: return 255
        }
    }

    public static func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x0a || c == 0x0d || c == 0x09 }
}
