@testable import Attestation
import ByteEncoding
import Foundation
import Testing

/// The hand-written parsers on the cold verification path: JSON for Intel documents, PEM/base64
/// for certificate chains, RFC 3339 times.
@Suite("Common: JSON, PEM/base64 and time parsers")
struct ParserTests {
    @Test func jsonValues() throws {
        let v = try JSONValue(parsing: Array(#" {"a": [1, -2.5e3, true, false, null], "s": "x\"\\\/\n\u00e9\ud83d\ude00", "o": {}} "#.utf8))
        #expect(v["a"]?.array?.count == 5)
        #expect(v["a"]?.array?.first?.int == 1)
        #expect(v["s"]?.string == "x\"\\/\né😀")
        #expect(v["o"] == .object([]))
        #expect(v["missing"] == nil)
    }

    @Test(arguments: [
        #"{"a": 1, "a": 2}"#, #"[1, 2,]"#, #"{"a": 1,}"#, "[01]", "\"tab\there\"", #""\ud800""#, #""\x""#, "[1] 2", "", "{", #"{"a"}"#, "tru", "-", "1.", "1e",
    ])
    func jsonRejects(_ text: String) {
        #expect(throws: AttestationError.self) { try JSONValue(parsing: Array(text.utf8)) }
    }

    @Test func jsonDepthIsBounded() {
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: AttestationError.self) { try JSONValue(parsing: Array(deep.utf8)) }
        let ok = String(repeating: "[", count: 10) + String(repeating: "]", count: 10)
        #expect((try? JSONValue(parsing: Array(ok.utf8))) != nil)
    }

    @Test func base64MatchesFoundation() {
        for n in 0..<40 {
            let bytes = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            let text = Data(bytes).base64EncodedString(options: .lineLength64Characters)
            #expect(Hex.base64Decode(Array(text.utf8)[...]) == bytes, "length \(n)")
        }
        for bad in ["QQ", "QQ=", "Q===", "QQ==QQ==", "QQ=A", "Q*==", "QUJD\u{1}"] {
            #expect(Hex.base64Decode(Array(bad.utf8)[...]) == nil, "\(bad)")
        }
    }

    @Test func iso8601Times() {
        #expect(UTCDate.iso8601("2025-07-01T00:00:00Z") == ISO8601DateFormatter().date(from: "2025-07-01T00:00:00Z"))
        #expect(UTCDate.iso8601("2024-02-29T23:59:59Z") == ISO8601DateFormatter().date(from: "2024-02-29T23:59:59Z"))
        #expect(UTCDate.iso8601("2025-06-19T10:32:27.5Z")?.timeIntervalSince1970 == (ISO8601DateFormatter().date(from: "2025-06-19T10:32:27Z")?.timeIntervalSince1970 ?? 0) + 0.5)
        for bad in ["2023-02-29T00:00:00Z", "2025-13-01T00:00:00Z", "2025-07-01T24:00:00Z", "2025-07-01 00:00:00Z", "2025-07-01T00:00:00", "2025-07-01T00:00:00+01:00"] {
            #expect(UTCDate.iso8601(bad) == nil, "\(bad)")
        }
    }
}
