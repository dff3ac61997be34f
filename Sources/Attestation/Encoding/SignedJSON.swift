import ByteEncoding

/// Finds the exact bytes of one member's value in a JSON object, without re-serialising.
///
/// Intel PCS signs the bytes of the `tcbInfo` / `enclaveIdentity` value as served, so the
/// verifier must hash those bytes, not a re-encoding. Foundation's JSON decoders do not expose
/// source spans, so this small scanner is written by hand: it walks the top-level object,
/// skipping nested values by structure (strings with escapes, balanced brackets).
enum JSONSpan {
    /// Returns the raw bytes of the value of top-level member `key`, or throws
    /// ``AttestationError/Code/collateralMalformed``.
    static func value(of key: String, in json: [UInt8]) throws(AttestationError) -> [UInt8] {
        var i = 0
        func fail(_ why: String) -> AttestationError { AttestationError(.collateralMalformed, "JSON: \(why) at byte \(i)") }
        func skipSpace() { while i < json.count, Hex.isSpace(json[i]) { i += 1 } }
        func scanString() throws(AttestationError) -> Range<Int> {
            guard i < json.count, json[i] == UInt8(ascii: "\"") else { throw fail("expected string") }
            let start = i + 1
            i += 1
            while i < json.count {
                switch json[i] {
                case UInt8(ascii: "\\"): i += 2
                case UInt8(ascii: "\""): i += 1; return start..<(i - 1)
                default: i += 1
                }
            }
            throw fail("unterminated string")
        }
        func skipValue() throws(AttestationError) -> Range<Int> {
            skipSpace()
            let start = i
            guard i < json.count else { throw fail("expected value") }
            switch json[i] {
            case UInt8(ascii: "\""):
                _ = try scanString()
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                var depth = 0
                repeat {
                    guard i < json.count else { throw fail("unbalanced brackets") }
                    switch json[i] {
                    case UInt8(ascii: "\""): _ = try scanString(); continue
                    case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                    case UInt8(ascii: "}"), UInt8(ascii: "]"): depth -= 1
                    default: break
                    }
                    i += 1
                } while depth > 0
            default:
                while i < json.count, !Hex.isSpace(json[i]), json[i] != UInt8(ascii: ","), json[i] != UInt8(ascii: "}") { i += 1 }
            }
            return start..<i
        }
        skipSpace()
        guard i < json.count, json[i] == UInt8(ascii: "{") else { throw fail("expected object") }
        i += 1
        let wanted = Array(key.utf8)
        while true {
            skipSpace()
            guard i < json.count else { throw fail("unterminated object") }
            if json[i] == UInt8(ascii: "}") { break }
            let k = try scanString()
            skipSpace()
            guard i < json.count, json[i] == UInt8(ascii: ":") else { throw fail("expected ':'") }
            i += 1
            let v = try skipValue()
            if json[k].elementsEqual(wanted) { return Array(json[v]) }
            skipSpace()
            if i < json.count, json[i] == UInt8(ascii: ",") { i += 1 }
        }
        throw AttestationError(.collateralMalformed, "JSON has no member \"\(key)\"")
    }
}
