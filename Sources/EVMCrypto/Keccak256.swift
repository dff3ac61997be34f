/// Keccak-256 as Ethereum and 0G Storage use it: Keccak-f[1600], rate 136 bytes, the original
/// Keccak padding (0x01 … 0x80), not NIST SHA3-256's (0x06 … 0x80).
///
/// Written by hand: no Swift library on the allowed list offers Keccak (swift-crypto has SHA-2 and
/// SHA-3 only through BoringSSL internals it does not expose). The permutation is unrolled with
/// the state in locals (generated code, see the comment on ``permute(_:)``) because 0G merkle
/// roots hash every 256-byte chunk of a dataset. Checked against the published Keccak-256
/// vectors, the dev chain's selectors and the 0G merkle-root vectors.
public struct Keccak256: Sendable {
    /// The digest size in bytes.
    public static let byteCount = 32
    /// The rate (block size) in bytes.
    public static let rate = 136

    private var state = [UInt64](repeating: 0, count: 25)
    private var buffer = [UInt8](repeating: 0, count: Keccak256.rate)
    private var buffered = 0

    /// An empty hasher.
    public init() {}

    /// Absorbs `data`.
    public mutating func update(_ data: some Collection<UInt8>) {
        if let done = data.withContiguousStorageIfAvailable({ update(UnsafeRawBufferPointer($0)) }) { return done }
        update(Array(data))
    }

    /// Absorbs raw bytes.
    public mutating func update(_ data: UnsafeRawBufferPointer) {
        var offset = 0
        let count = data.count
        state.withUnsafeMutableBufferPointer { st in
            let s = st.baseAddress!
            if buffered > 0 {
                let take = min(Self.rate - buffered, count)
                for i in 0..<take { buffer[buffered + i] = data[i] }
                buffered += take
                offset = take
                if buffered == Self.rate {
                    buffer.withUnsafeBytes { Self.absorb(s, $0.baseAddress!) }
                    buffered = 0
                }
            }
            while count - offset >= Self.rate {
                Self.absorb(s, data.baseAddress! + offset)
                offset += Self.rate
            }
        }
        if offset < count {
            for i in 0..<(count - offset) { buffer[buffered + i] = data[offset + i] }
            buffered += count - offset
        }
    }

    /// Pads, squeezes and returns the 32-byte digest.
    public mutating func finalize() -> [UInt8] {
        for i in buffered..<Self.rate { buffer[i] = 0 }
        buffer[buffered] ^= 0x01
        buffer[Self.rate - 1] ^= 0x80
        var out = [UInt8](repeating: 0, count: 32)
        state.withUnsafeMutableBufferPointer { st in
            buffer.withUnsafeBytes { Self.absorb(st.baseAddress!, $0.baseAddress!) }
            for i in 0..<4 {
                let w = st[i].littleEndian
                for j in 0..<8 { out[i * 8 + j] = UInt8(truncatingIfNeeded: w >> (8 * UInt64(j))) }
            }
        }
        return out
    }

    /// Keccak-256 of `data` in one call.
    public static func hash(_ data: some Collection<UInt8>) -> [UInt8] {
        var h = Keccak256()
        h.update(data)
        return h.finalize()
    }

    /// Keccak-256 of `left ‖ right` (two 32-byte nodes: a merkle parent) without allocation
    /// beyond the result. `out` receives 32 bytes.
    public static func hashPair(_ left: UnsafeRawPointer, _ right: UnsafeRawPointer, into out: UnsafeMutableRawPointer) {
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: 25) { st in
            let s = st.baseAddress!
            s.initialize(repeating: 0, count: 25)
            for i in 0..<4 { s[i] = UInt64(littleEndian: left.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)) }
            for i in 0..<4 { s[4 + i] = UInt64(littleEndian: right.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)) }
            s[8] ^= 0x01
            s[16] ^= 0x8000_0000_0000_0000
            permute(s)
            for i in 0..<4 { out.storeBytes(of: s[i].littleEndian, toByteOffset: 8 * i, as: UInt64.self) }
        }
    }

    /// Keccak-256 of exactly `count` bytes at `data` (one-shot, no allocation beyond the result);
    /// `out` receives 32 bytes. Used for 256-byte chunks.
    public static func hash(_ data: UnsafeRawPointer, count: Int, into out: UnsafeMutableRawPointer) {
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: 25) { st in
            let s = st.baseAddress!
            s.initialize(repeating: 0, count: 25)
            var offset = 0
            while count - offset >= rate {
                absorb(s, data + offset)
                offset += rate
            }
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: rate) { last in
                let b = last.baseAddress!
                b.initialize(repeating: 0, count: rate)
                (b).update(from: data.assumingMemoryBound(to: UInt8.self) + offset, count: count - offset)
                b[count - offset] ^= 0x01
                b[rate - 1] ^= 0x80
                absorb(s, UnsafeRawPointer(b))
            }
            for i in 0..<4 { out.storeBytes(of: s[i].littleEndian, toByteOffset: 8 * i, as: UInt64.self) }
        }
    }

    @inline(__always)
    static func absorb(_ s: UnsafeMutablePointer<UInt64>, _ block: UnsafeRawPointer) {
        for i in 0..<17 { s[i] ^= UInt64(littleEndian: block.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)) }
        permute(s)
    }

    static let roundConstants: [UInt64] = [
        0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000,
        0x000000000000808B, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
        0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
        0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003,
        0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
        0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008,
    ]

    // Keccak-f[1600], 24 rounds, theta / rho+pi / chi / iota unrolled over the 25 lanes held in
    // locals. Generated from the FIPS 202 step definitions (lane (x, y) is a[x + 5y]).
    @inline(__always)
    static func permute(_ s: UnsafeMutablePointer<UInt64>) {
        var a0 = s[0]
        var a1 = s[1]
        var a2 = s[2]
        var a3 = s[3]
        var a4 = s[4]
        var a5 = s[5]
        var a6 = s[6]
        var a7 = s[7]
        var a8 = s[8]
        var a9 = s[9]
        var a10 = s[10]
        var a11 = s[11]
        var a12 = s[12]
        var a13 = s[13]
        var a14 = s[14]
        var a15 = s[15]
        var a16 = s[16]
        var a17 = s[17]
        var a18 = s[18]
        var a19 = s[19]
        var a20 = s[20]
        var a21 = s[21]
        var a22 = s[22]
        var a23 = s[23]
        var a24 = s[24]
        for round in 0..<24 {
            let c0 = a0 ^ a5 ^ a10 ^ a15 ^ a20
            let c1 = a1 ^ a6 ^ a11 ^ a16 ^ a21
            let c2 = a2 ^ a7 ^ a12 ^ a17 ^ a22
            let c3 = a3 ^ a8 ^ a13 ^ a18 ^ a23
            let c4 = a4 ^ a9 ^ a14 ^ a19 ^ a24
            let d0 = c4 ^ ((c1 << 1) | (c1 >> 63))
            let d1 = c0 ^ ((c2 << 1) | (c2 >> 63))
            let d2 = c1 ^ ((c3 << 1) | (c3 >> 63))
            let d3 = c2 ^ ((c4 << 1) | (c4 >> 63))
            let d4 = c3 ^ ((c0 << 1) | (c0 >> 63))
            a0 ^= d0
            a1 ^= d1
            a2 ^= d2
            a3 ^= d3
            a4 ^= d4
            a5 ^= d0
            a6 ^= d1
            a7 ^= d2
            a8 ^= d3
            a9 ^= d4
            a10 ^= d0
            a11 ^= d1
            a12 ^= d2
            a13 ^= d3
            a14 ^= d4
            a15 ^= d0
            a16 ^= d1
            a17 ^= d2
            a18 ^= d3
            a19 ^= d4
            a20 ^= d0
            a21 ^= d1
            a22 ^= d2
            a23 ^= d3
            a24 ^= d4
            let b0 = a0
            let b1 = ((a6 << 44) | (a6 >> 20))
            let b2 = ((a12 << 43) | (a12 >> 21))
            let b3 = ((a18 << 21) | (a18 >> 43))
            let b4 = ((a24 << 14) | (a24 >> 50))
            let b5 = ((a3 << 28) | (a3 >> 36))
            let b6 = ((a9 << 20) | (a9 >> 44))
            let b7 = ((a10 << 3) | (a10 >> 61))
            let b8 = ((a16 << 45) | (a16 >> 19))
            let b9 = ((a22 << 61) | (a22 >> 3))
            let b10 = ((a1 << 1) | (a1 >> 63))
            let b11 = ((a7 << 6) | (a7 >> 58))
            let b12 = ((a13 << 25) | (a13 >> 39))
            let b13 = ((a19 << 8) | (a19 >> 56))
            let b14 = ((a20 << 18) | (a20 >> 46))
            let b15 = ((a4 << 27) | (a4 >> 37))
            let b16 = ((a5 << 36) | (a5 >> 28))
            let b17 = ((a11 << 10) | (a11 >> 54))
            let b18 = ((a17 << 15) | (a17 >> 49))
            let b19 = ((a23 << 56) | (a23 >> 8))
            let b20 = ((a2 << 62) | (a2 >> 2))
            let b21 = ((a8 << 55) | (a8 >> 9))
            let b22 = ((a14 << 39) | (a14 >> 25))
            let b23 = ((a15 << 41) | (a15 >> 23))
            let b24 = ((a21 << 2) | (a21 >> 62))
            a0 = b0 ^ (~b1 & b2)
            a1 = b1 ^ (~b2 & b3)
            a2 = b2 ^ (~b3 & b4)
            a3 = b3 ^ (~b4 & b0)
            a4 = b4 ^ (~b0 & b1)
            a5 = b5 ^ (~b6 & b7)
            a6 = b6 ^ (~b7 & b8)
            a7 = b7 ^ (~b8 & b9)
            a8 = b8 ^ (~b9 & b5)
            a9 = b9 ^ (~b5 & b6)
            a10 = b10 ^ (~b11 & b12)
            a11 = b11 ^ (~b12 & b13)
            a12 = b12 ^ (~b13 & b14)
            a13 = b13 ^ (~b14 & b10)
            a14 = b14 ^ (~b10 & b11)
            a15 = b15 ^ (~b16 & b17)
            a16 = b16 ^ (~b17 & b18)
            a17 = b17 ^ (~b18 & b19)
            a18 = b18 ^ (~b19 & b15)
            a19 = b19 ^ (~b15 & b16)
            a20 = b20 ^ (~b21 & b22)
            a21 = b21 ^ (~b22 & b23)
            a22 = b22 ^ (~b23 & b24)
            a23 = b23 ^ (~b24 & b20)
            a24 = b24 ^ (~b20 & b21)
            a0 ^= roundConstants.withUnsafeBufferPointer { $0[round] }
        }
        s[0] = a0
        s[1] = a1
        s[2] = a2
        s[3] = a3
        s[4] = a4
        s[5] = a5
        s[6] = a6
        s[7] = a7
        s[8] = a8
        s[9] = a9
        s[10] = a10
        s[11] = a11
        s[12] = a12
        s[13] = a13
        s[14] = a14
        s[15] = a15
        s[16] = a16
        s[17] = a17
        s[18] = a18
        s[19] = a19
        s[20] = a20
        s[21] = a21
        s[22] = a22
        s[23] = a23
        s[24] = a24
    }
}
