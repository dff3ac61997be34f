import ByteEncoding
import EVMCrypto
import Foundation
import Testing

/// Keccak-256 against published vectors (the Keccak team's and Ethereum's well-known values).
@Suite("Keccak-256")
struct Keccak256Tests {
    static let vectors: [(String, String)] = [
        ("", "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"),
        ("abc", "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"),
        ("The quick brown fox jumps over the lazy dog", "4d741b6f1eb29cb2a9b9911c82f56fa8d73b04959d3d9d222895df6c0b28aa15"),
        ("transfer(address,uint256)", "a9059cbb2ab09eb219583f4a59a5d0623ade346d962bcd4e46b11da047c9049b"),
        ("Transfer(address,address,uint256)", "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"),
    ]

    @Test(arguments: vectors)
    func publishedVectors(_ input: String, _ digest: String) {
        #expect(Hex.encode(Keccak256.hash(Array(input.utf8))) == digest)
    }

    @Test func incrementalEqualsOneShotAtEveryBoundary() {
        let data = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        for n in [0, 1, 135, 136, 137, 271, 272, 273, 999] {
            let whole = Keccak256.hash(Array(data.prefix(n)))
            for split in Set([0, 1, n / 2, n]) where split <= n {
                var h = Keccak256()
                h.update(Array(data.prefix(split)))
                h.update(Array(data[split..<n]))
                #expect(h.finalize() == whole, "n=\(n) split=\(split)")
            }
            var out = [UInt8](repeating: 0, count: 32)
            data.withUnsafeBytes { d in out.withUnsafeMutableBytes { Keccak256.hash(d.baseAddress!, count: n, into: $0.baseAddress!) } }
            #expect(out == whole, "pointer form n=\(n)")
        }
        // 256 zero bytes: 0G's empty-chunk hash.
        #expect(Hex.encode(Keccak256.hash([UInt8](repeating: 0, count: 256))) == "d397b3b043d87fcd6fad1291ff0bfd16401c274896d8c63a923727f077b8e0b5")
        // A million 'a's (long input, many blocks).
        #expect(Hex.encode(Keccak256.hash([UInt8](repeating: 0x61, count: 1_000_000))) == "fadae6b49f129bbb812be8407b7b2894f34aecf6dbd1f9b0f0c7e9853098fc96")
    }
}
