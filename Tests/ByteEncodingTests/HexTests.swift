import ByteEncoding
import Foundation
import Testing

/// The package's one hex codec and its base64 helpers, against Foundation where it has an
/// equivalent, and on the inputs each refuses.
@Suite("ByteEncoding: hex and base64")
struct HexTests {
    @Test("hex round-trips every byte, takes 0x, either case and surrounding spaces, and refuses the rest")
    func hex() throws {
        let all = (0...255).map(UInt8.init)
        let text = Hex.encode(all)
        #expect(text.count == 512 && text == text.lowercased())
        #expect(try Hex.decode(text) == all)
        #expect(try Hex.decode("0X" + text.uppercased()) == all)
        #expect(try Hex.decode("  0xabCD\n") == [0xab, 0xcd])
        #expect(Hex.prefixed([1, 2]) == "0x0102")
        for bad in ["abc", "0xg0", "zz", "ab cd"] { #expect(throws: Hex.DecodingError.self) { _ = try Hex.decode(bad) } }
        struct Mine: Error { let message: String }
        #expect(throws: Mine.self) { _ = try Hex.decode("0x1", or: { Mine(message: $0.message) }) }
        var out = [UInt8](repeating: 0, count: 4)
        #expect(Hex.decodePlain("0a0b", into: &out, at: 1) == 2 && out == [0, 10, 11, 0])
        #expect(Hex.decodePlain("0a0b", into: &out, at: 3) == nil)  // does not fit
    }

    @Test("base64 agrees with Foundation; base64url reads with or without padding; bad padding is refused")
    func base64() {
        for n in [0, 1, 2, 3, 4, 5, 31, 32, 33] {
            let bytes = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 250) }
            let std = Data(bytes).base64EncodedString()
            #expect(Hex.base64Decode(Array(std.utf8)[...]) == bytes)
            let url = std.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            #expect(Hex.base64Decode(Array(url.utf8)[...], alphabet: .url) == bytes)
            let unpadded = url.replacingOccurrences(of: "=", with: "")
            #expect(Hex.base64Decode(Array(unpadded.utf8)[...], alphabet: .url) == bytes)
        }
        #expect(Hex.base64Decode(Array("QQ=".utf8)[...]) == nil)  // a quantum short
        #expect(Hex.base64Decode(Array("QQ==QQ==".utf8)[...]) == nil)  // data after padding
        #expect(Hex.base64Decode(Array("Q-==".utf8)[...]) == nil)  // url digit in standard text
    }
}
