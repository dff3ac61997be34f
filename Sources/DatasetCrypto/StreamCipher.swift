import Crypto
import Foundation

/// A chunked AEAD stream for datasets too large to hold in memory (the STREAM construction of
/// Hoang, Reyhanitabar, Rogaway and Vizár, with AES-256-GCM): each chunk is sealed on its own with
/// nonce = prefix (7) ‖ chunk counter (4, big-endian) ‖ last-chunk flag (1), and the header is
/// authenticated with every chunk. Reordered, dropped, duplicated or appended chunks and a
/// truncated stream all fail authentication; memory stays at one chunk.
///
/// Format `LICENSTREAM1`: header = magic "LICENSTREAM1" (12) ‖ chunk size (u32 BE) ‖ nonce
/// prefix (7); then chunks of `chunkSize + 16` bytes (ciphertext ‖ tag), the last one shorter
/// (possibly only a tag) and sealed with the flag set. Our own format: written by hand from the
/// paper's definition since no Swift library implements STREAM.
public enum StreamCipher {
    /// The magic.
    public static let magic = Array("LICENSTREAM1".utf8)
    /// Header length.
    public static let headerLength = 12 + 4 + 7
    /// Default chunk size (1 MiB).
    public static let defaultChunkSize = 1 << 20

    /// Encrypts the file at `input` into `output`, chunk by chunk.
    public static func seal(input: String, output: String, key: SymmetricKey, chunkSize: Int = defaultChunkSize) throws(DatasetCryptoError) {
        guard key.bitCount == 256 else { throw DatasetCryptoError(.invalidKey, "the stream key must be 256 bits") }
        guard (16...(64 << 20)).contains(chunkSize) else { throw DatasetCryptoError(.malformed, "chunk size \(chunkSize) out of range") }
        guard let inHandle = FileHandle(forReadingAtPath: input) else { throw DatasetCryptoError(.io, "cannot open \(input)") }
        defer { try? inHandle.close() }
        guard FileManager.default.createFile(atPath: output, contents: nil), let out = FileHandle(forWritingAtPath: output) else { throw DatasetCryptoError(.io, "cannot create \(output)") }
        defer { try? out.close() }
        let prefix = (0..<7).map { _ in UInt8.random(in: 0...255) }
        let header = magic + withUnsafeBytes(of: UInt32(chunkSize).bigEndian) { Array($0) } + prefix
        do {
            try out.write(contentsOf: header)
            var counter: UInt32 = 0
            var current = try inHandle.read(upToCount: chunkSize) ?? Data()
            while true {
                let next = current.count == chunkSize ? (try inHandle.read(upToCount: chunkSize) ?? Data()) : Data()
                let last = next.isEmpty
                try out.write(contentsOf: try sealChunk(current, key: key, prefix: prefix, counter: counter, last: last, header: header))
                if last { break }
                guard counter < UInt32.max else { throw DatasetCryptoError(.malformed, "stream too long") }
                counter += 1
                current = next
            }
        } catch let e as DatasetCryptoError { throw e } catch { throw DatasetCryptoError(.io, "writing \(output) failed: \(error.localizedDescription)") }
    }

    /// Decrypts `sealed` (a whole stream in memory), handing each authenticated plaintext chunk to
    /// `sink` in order. See ``open(fileAt:key:sink:)``.
    public static func open(_ sealed: [UInt8], key: SymmetricKey, sink: ([UInt8]) throws -> Void) throws(DatasetCryptoError) {
        try open(size: sealed.count, key: key, sink: sink) { offset, count in Array(sealed[offset..<offset + count]) }
    }

    /// Decrypts the stream in the file at `path` one chunk at a time (memory: one chunk). Nothing
    /// unauthenticated reaches `sink`; a stream that ends without its flagged last chunk throws
    /// after the chunks before it were delivered, so callers that must not act on partial data
    /// should discard what they received on error.
    public static func open(fileAt path: String, key: SymmetricKey, sink: ([UInt8]) throws -> Void) throws(DatasetCryptoError) {
        guard let h = FileHandle(forReadingAtPath: path) else { throw DatasetCryptoError(.io, "cannot open \(path)") }
        defer { try? h.close() }
        let size: Int
        do { size = Int(try h.seekToEnd()) } catch { throw DatasetCryptoError(.io, "cannot read \(path)") }
        try open(size: size, key: key, sink: sink) { (offset: Int, count: Int) throws(DatasetCryptoError) -> [UInt8] in
            do {
                try h.seek(toOffset: UInt64(offset))
                let d = try h.read(upToCount: count) ?? Data()
                guard d.count == count else { throw DatasetCryptoError(.io, "short read in \(path)") }
                return [UInt8](d)
            } catch let e as DatasetCryptoError { throw e } catch { throw DatasetCryptoError(.io, "reading \(path) failed") }
        }
    }

    static func open(size: Int, key: SymmetricKey, sink: ([UInt8]) throws -> Void, read: (Int, Int) throws(DatasetCryptoError) -> [UInt8]) throws(DatasetCryptoError) {
        guard size >= headerLength else { throw DatasetCryptoError(.malformed, "not a LICENSTREAM1 stream") }
        let header = try read(0, headerLength)
        guard Array(header.prefix(12)) == magic else { throw DatasetCryptoError(.malformed, "not a LICENSTREAM1 stream") }
        let chunkSize = Int(header[12..<16].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        guard (16...(64 << 20)).contains(chunkSize) else { throw DatasetCryptoError(.malformed, "chunk size \(chunkSize) out of range") }
        let prefix = Array(header[16..<23])
        var offset = headerLength
        var counter: UInt32 = 0
        while true {
            let remaining = size - offset
            guard remaining >= 16 else { throw DatasetCryptoError(.authenticationFailed, "the stream is truncated (no final chunk)") }
            let take = min(remaining, chunkSize + 16)
            let last = take == remaining
            let plain = try openChunk(try read(offset, take), key: key, prefix: prefix, counter: counter, last: last, header: header)
            do { try sink(plain) } catch { throw DatasetCryptoError(.io, "the consumer failed: \(error)") }
            offset += take
            if last { return }
            guard counter < UInt32.max else { throw DatasetCryptoError(.malformed, "stream too long") }
            counter += 1
        }
    }

    static func nonce(_ prefix: [UInt8], _ counter: UInt32, _ last: Bool) -> [UInt8] {
        prefix + withUnsafeBytes(of: counter.bigEndian) { Array($0) } + [last ? 1 : 0]
    }

    static func sealChunk(_ plain: Data, key: SymmetricKey, prefix: [UInt8], counter: UInt32, last: Bool, header: [UInt8]) throws(DatasetCryptoError) -> [UInt8] {
        do {
            let box = try AES.GCM.seal(plain, using: key, nonce: AES.GCM.Nonce(data: nonce(prefix, counter, last)), authenticating: header)
            return Array(box.ciphertext) + Array(box.tag)
        } catch { throw DatasetCryptoError(.malformed, "AES-GCM seal failed") }
    }

    static func openChunk(_ chunk: [UInt8], key: SymmetricKey, prefix: [UInt8], counter: UInt32, last: Bool, header: [UInt8]) throws(DatasetCryptoError) -> [UInt8] {
        do {
            let box = try AES.GCM.SealedBox(nonce: AES.GCM.Nonce(data: nonce(prefix, counter, last)), ciphertext: chunk.dropLast(16), tag: chunk.suffix(16))
            return Array(try AES.GCM.open(box, using: key, authenticating: header))
        } catch {
            throw DatasetCryptoError(.authenticationFailed, "chunk \(counter) does not authenticate (tampered, reordered, truncated or wrong key)")
        }
    }
}
