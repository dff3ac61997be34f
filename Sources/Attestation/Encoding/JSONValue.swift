import ByteEncoding
import Foundation

/// A parsed JSON value, for Intel collateral documents.
///
/// Written by hand on purpose: Foundation's `JSONDecoder` (Codable containers for every TCB level
/// and component) was half the cost of a cold TDX verification, more than all its signature
/// checks together (Docs/performance.md). This is a strict RFC 8259 parser over bytes: no
/// comments, no trailing commas, no leading zeros, nesting limited to ``maxDepth``, duplicate
/// object keys rejected (a signed document with two values for one key is ambiguous). It is
/// covered by the `fuzz-tdx-collateral` libFuzzer target.
public enum JSONValue: Sendable, Equatable {
    /// An object's members in document order (keys are unique). An array rather than a
    /// dictionary: collateral objects are small and many, and hashing every key cost more than
    /// finding it.
    case object([Member])
    /// An array.
    case array([JSONValue])
    /// A string, unescaped.
    case string(String)
    /// A number, as written (callers convert to the integer type they expect).
    case number(String)
    /// `true` or `false`.
    case bool(Bool)
    /// `null`.
    case null

    /// One member of an object.
    public struct Member: Sendable, Equatable {
        /// The name.
        public var key: String
        /// The value.
        public var value: JSONValue
    }

    /// Deepest nesting accepted.
    public static let maxDepth = 64

    /// Parses one JSON text (surrounding whitespace allowed). Throws
    /// ``AttestationError/Code/malformed`` naming the byte offset of the problem.
    public init(parsing bytes: some Collection<UInt8>) throws(AttestationError) {
        let buffer = Array(bytes)
        var p = Parser(bytes: buffer)
        p.skipSpace()
        let v = try p.value(depth: 0)
        p.skipSpace()
        guard p.i == buffer.count else { throw p.fail("unexpected data after the JSON value") }
        self = v
    }

    /// The member `key` of an object, or nil.
    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o.first(where: { $0.key == key })?.value }
        return nil
    }

    /// The string, or nil if this is not a string.
    public var string: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The elements, or nil if this is not an array.
    public var array: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// The number as an integer, or nil if this is not an integral number in range.
    public var int: Int? {
        if case .number(let n) = self { return Int(n) }
        return nil
    }

    private struct Parser {
        let bytes: [UInt8]
        var i = 0

        func fail(_ why: String) -> AttestationError {
            AttestationError(.malformed, "JSON: \(why) at byte \(i)")
        }

        mutating func skipSpace() {
            while i < bytes.count, Hex.isSpace(bytes[i]) { i += 1 }
        }

        mutating func expect(_ literal: StaticString) throws(AttestationError) {
            let n = literal.utf8CodeUnitCount
            guard i + n <= bytes.count else { throw fail("truncated literal") }
            for k in 0..<n where bytes[i + k] != literal.utf8Start[k] { throw fail("bad literal") }
            i += n
        }

        mutating func value(depth: Int) throws(AttestationError) -> JSONValue {
            guard depth < JSONValue.maxDepth else { throw fail("nesting deeper than \(JSONValue.maxDepth)") }
            guard i < bytes.count else { throw fail("unexpected end") }
            switch bytes[i] {
            case UInt8(ascii: "{"):
                i += 1
                var members = [Member]()
                var seen = Set<String>()  // used once an object is too big for linear duplicate checks
                skipSpace()
                if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
                while true {
                    skipSpace()
                    guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a member name") }
                    let key = try string()
                    skipSpace()
                    guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                    i += 1
                    skipSpace()
                    let v = try value(depth: depth + 1)
                    if members.count < 16 {
                        guard !members.contains(where: { $0.key == key }) else { throw fail("duplicate member \"\(key)\"") }
                        if members.count == 15 { seen = Set(members.map(\.key)); seen.insert(key) }
                    } else {
                        guard seen.insert(key).inserted else { throw fail("duplicate member \"\(key)\"") }
                    }
                    members.append(Member(key: key, value: v))
                    skipSpace()
                    guard i < bytes.count else { throw fail("unterminated object") }
                    if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                    if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
                    throw fail("expected ',' or '}'")
                }
            case UInt8(ascii: "["):
                i += 1
                var elements = [JSONValue]()
                skipSpace()
                if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .array(elements) }
                while true {
                    skipSpace()
                    elements.append(try value(depth: depth + 1))
                    skipSpace()
                    guard i < bytes.count else { throw fail("unterminated array") }
                    if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                    if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(elements) }
                    throw fail("expected ',' or ']'")
                }
            case UInt8(ascii: "\""):
                return .string(try string())
            case UInt8(ascii: "t"):
                try expect("true"); return .bool(true)
            case UInt8(ascii: "f"):
                try expect("false"); return .bool(false)
            case UInt8(ascii: "n"):
                try expect("null"); return .null
            default:
                return .number(try number())
            }
        }

        mutating func number() throws(AttestationError) -> String {
            let start = i
            if i < bytes.count, bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard i < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[i]) else { throw fail("unexpected character") }
            if bytes[i] == UInt8(ascii: "0") {
                i += 1
            } else {
                while i < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[i]) { i += 1 }
            }
            if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
                i += 1
                let d = i
                while i < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[i]) { i += 1 }
                guard i > d else { throw fail("digit expected after '.'") }
            }
            if i < bytes.count, bytes[i] | 0x20 == UInt8(ascii: "e") {
                i += 1
                if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
                let d = i
                while i < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[i]) { i += 1 }
                guard i > d else { throw fail("digit expected in exponent") }
            }
            return Self.ascii(bytes, start..<i)
        }

        /// `bytes[range]`, all ASCII, as a String. Through a buffer pointer: the generic
        /// `String(decoding:)`/`String(validating:)` over an `ArraySlice` looked up generic metadata
        /// on every call, a visible share of a cold collateral parse.
        static func ascii(_ bytes: [UInt8], _ range: Range<Int>) -> String {
            bytes.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[range]), as: UTF8.self) }
        }

        /// `bytes[range]` as a String if it is valid UTF-8 (an ASCII-only run needs no further check).
        static func utf8(_ bytes: [UInt8], _ range: Range<Int>) -> String? {
            bytes.withUnsafeBufferPointer { p in
                let run = UnsafeBufferPointer(rebasing: p[range])
                if !run.contains(where: { $0 >= 0x80 }) { return String(decoding: run, as: UTF8.self) }
                return String(validating: run, as: UTF8.self)
            }
        }

        /// The index of the first quote, backslash or control character at or after `from`
        /// (callers reject control characters), or the end.
        func scanRun(from: Int) -> Int {
            bytes.withUnsafeBufferPointer { p in
                var k = from
                // Eight bytes at a time while no byte of the word can be a quote, a backslash or a
                // control character (the classic has-zero-byte / has-less-than word tests: no
                // false negatives; a word that may hold one is finished byte by byte below).
                // PEM chains and hex CRLs are long runs without any.
                if let base = p.baseAddress {
                    let raw = UnsafeRawPointer(base)
                    let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
                    while k + 8 <= p.count {
                        let w = raw.loadUnaligned(fromByteOffset: k, as: UInt64.self)
                        let q = w ^ (ones &* 0x22), b = w ^ (ones &* 0x5C)
                        let hit = ((q &- ones) & ~q) | ((b &- ones) & ~b) | ((w &- ones &* 0x20) & ~w)
                        if hit & highs != 0 { break }
                        k += 8
                    }
                }
                while k < p.count {
                    let c = p[k]
                    if c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") || c < 0x20 { break }
                    k += 1
                }
                return k
            }
        }

        /// A string starting at the opening quote.
        mutating func string() throws(AttestationError) -> String {
            i += 1
            let start = i
            // Fast path: no escapes.
            i = scanRun(from: i)
            guard i < bytes.count else { throw fail("unterminated string") }
            guard bytes[i] >= 0x20 else { throw fail("control character in string") }
            if bytes[i] == UInt8(ascii: "\"") {
                defer { i += 1 }
                guard let s = Self.utf8(bytes, start..<i) else { throw fail("string is not UTF-8") }
                return s
            }
            var out = [UInt8]()
            out.reserveCapacity(i - start + 64)
            // Runs are copied through a buffer pointer (memcpy); appending an ArraySlice went
            // element by element.
            func copy(_ r: Range<Int>) { bytes.withUnsafeBufferPointer { out.append(contentsOf: UnsafeBufferPointer(rebasing: $0[r])) } }
            copy(start..<i)
            while true {
                // Copy the run up to the next quote or backslash in one go.
                let run = i
                i = scanRun(from: i)
                copy(run..<i)
                guard i < bytes.count else { throw fail("unterminated string") }
                guard bytes[i] >= 0x20 else { throw fail("control character in string") }
                if bytes[i] == UInt8(ascii: "\"") { i += 1; break }
                i += 1
                guard i < bytes.count else { throw fail("unterminated escape") }
                let e = bytes[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0c)
                case UInt8(ascii: "n"): out.append(0x0a)
                case UInt8(ascii: "r"): out.append(0x0d)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800..<0xDC00).contains(scalar) {
                        guard i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") else { throw fail("lone surrogate") }
                        i += 2
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw fail("bad surrogate pair") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw fail("invalid \\u escape") }
                    out.append(contentsOf: Array(String(Character(u)).utf8))
                default: throw fail("invalid escape")
                }
            }
            guard let s = Self.utf8(out, 0..<out.count) else { throw fail("string is not UTF-8") }
            return s
        }

        mutating func hex4() throws(AttestationError) -> UInt32 {
            guard i + 4 <= bytes.count else { throw fail("truncated \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = bytes[i] | 0x20
                let d: UInt8
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): d = c - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): d = c - UInt8(ascii: "a") + 10
                default: throw fail("bad \\u escape")
                }
                v = v << 4 | UInt32(d)
                i += 1
            }
            return v
        }
    }
}
