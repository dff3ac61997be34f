/// Hex as Ethereum writes it: `0x`-prefixed lowercase on output; with or without `0x`, any
/// case, on input.
public enum ChainHex {
    /// `0x`-less lowercase hex.
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0xf)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `0x` + lowercase hex.
    public static func prefixed(_ bytes: some Sequence<UInt8>) -> String { "0x" + encode(bytes) }

    /// Decodes hex with or without `0x`; an odd digit count or a non-hex character throws.
    public static func decode(_ text: String) throws(ChainError) -> [UInt8] {
        var u = Array(text.utf8)[...]
        if u.count >= 2, u[u.startIndex] == UInt8(ascii: "0"), u[u.startIndex + 1] | 0x20 == UInt8(ascii: "x") { u = u.dropFirst(2) }
        guard u.count % 2 == 0 else { throw ChainError(.encoding, "hex has an odd number of digits") }
        var out = [UInt8]()
        out.reserveCapacity(u.count / 2)
        var i = u.startIndex
        while i < u.endIndex {
            guard let hi = nibble(u[i]), let lo = nibble(u[i + 1]) else { throw ChainError(.encoding, "not hex") }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: c - 0x30
        case 0x61...0x66: c - 0x61 + 10
        case 0x41...0x46: c - 0x41 + 10
        default: nil
        }
    }
}
