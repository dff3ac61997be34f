import ByteEncoding
import Chain
import Crypto
import DatasetCrypto
import EVMCrypto
import Foundation
import Testing
import TestSupport
import ZeroG

/// The LICEN dataset file, the chunked stream and the key envelope.
@Suite("Dataset crypto")
struct DatasetCryptoTests {
    static func code(_ body: () throws -> Any) -> DatasetCryptoError.Code? {
        do { _ = try body(); return nil } catch let e as DatasetCryptoError { return e.code } catch { Issue.record("\(error)"); return nil }
    }

    @Test func licenFileRoundTripAndTamper() throws {
        let key = SymmetricKey(size: .bits256)
        let iv = (0..<12).map { _ in UInt8.random(in: 0...255) }
        let plain = Array("instruction,response\nhello,world\n".utf8)
        let sealed = try LICENFile.seal(plain, key: key, iv: iv)
        #expect(sealed.count == plain.count + 16)
        #expect(try LICENFile.open(sealed, key: key, iv: iv) == plain)
        for i in [0, sealed.count / 2, sealed.count - 1] {
            var t = sealed
            t[i] ^= 1
            #expect(Self.code { try LICENFile.open(t, key: key, iv: iv) } == .authenticationFailed, "byte \(i)")
        }
        #expect(Self.code { try LICENFile.open(sealed, key: SymmetricKey(size: .bits256), iv: iv) } == .authenticationFailed)
        #expect(Self.code { try LICENFile.open(Array(sealed.dropLast()), key: key, iv: iv) } == .authenticationFailed)
        #expect(Self.code { try LICENFile.open(sealed, key: key, iv: [1, 2, 3]) } == .malformed)
        #expect(Self.code { try LICENFile.open(sealed, key: SymmetricKey(size: .bits128), iv: iv) } == .invalidKey)
    }

    @Test(arguments: [0, 1, 63, 64, 65, 64 * 5, 1000])
    func streamRoundTrip(_ size: Int) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("stream-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let plain = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let input = dir.appendingPathComponent("in").path, output = dir.appendingPathComponent("out").path
        try Data(plain).write(to: URL(fileURLWithPath: input))
        let key = SymmetricKey(size: .bits256)
        try StreamCipher.seal(input: input, output: output, key: key, chunkSize: 64)
        var got = [UInt8]()
        try StreamCipher.open(fileAt: output, key: key) { got += $0 }
        #expect(got == plain)
        let sealed = try [UInt8](Data(contentsOf: URL(fileURLWithPath: output)))
        #expect(sealed.count == StreamCipher.headerLength + size + 16 * max(1, (size + 63) / 64))  // a full last chunk carries the flag itself
    }

    @Test func streamDetectsReorderTruncationAndTamper() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("stream-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let plain = (0..<(64 * 4 + 10)).map { UInt8(truncatingIfNeeded: $0) }
        let input = dir.appendingPathComponent("in").path, output = dir.appendingPathComponent("out").path
        try Data(plain).write(to: URL(fileURLWithPath: input))
        let key = SymmetricKey(size: .bits256)
        try StreamCipher.seal(input: input, output: output, key: key, chunkSize: 64)
        let sealed = try [UInt8](Data(contentsOf: URL(fileURLWithPath: output)))
        let h = StreamCipher.headerLength, c = 64 + 16
        func opens(_ s: [UInt8]) -> DatasetCryptoError.Code? { Self.code { try StreamCipher.open(s, key: key) { _ in } } }
        #expect(opens(sealed) == nil)
        // Swap chunks 0 and 1.
        var swapped = sealed
        swapped.replaceSubrange(h..<h + c, with: sealed[h + c..<h + 2 * c])
        swapped.replaceSubrange(h + c..<h + 2 * c, with: sealed[h..<h + c])
        #expect(opens(swapped) == .authenticationFailed)
        // Drop the last chunk: the stream now ends on a chunk not flagged last.
        #expect(opens(Array(sealed.prefix(h + 4 * c))) == .authenticationFailed)
        // Drop a middle chunk.
        #expect(opens(Array(sealed[..<(h + c)] + sealed[(h + 2 * c)...])) == .authenticationFailed)
        // Append a chunk, flip a byte in every region, change the header.
        #expect(opens(sealed + Array(sealed[h..<h + c])) == .authenticationFailed)
        for i in [h, h + c + 5, sealed.count - 1, 14, 20] {
            var t = sealed
            t[i] ^= 0x40
            #expect(opens(t) != nil, "byte \(i)")
        }
        #expect(Self.code { try StreamCipher.open(sealed, key: SymmetricKey(size: .bits256)) { _ in } } == .authenticationFailed)
        #expect(opens(Array("not a stream".utf8)) == .malformed)
    }

    @Test func envelopeRoundTripAndTamper() throws {
        let escrow = Secp256k1.PrivateKey()
        let key = SymmetricKey(size: .bits256)
        let iv = (0..<12).map { _ in UInt8.random(in: 0...255) }
        let env = try KeyEnvelope.seal(datasetKey: key, datasetIV: iv, to: escrow.publicKey)
        #expect(env.bytes.count == KeyEnvelope.length)
        #expect(env.bytes[0] == 0x02 || env.bytes[0] == 0x03)
        let (k, i) = try env.open(with: escrow)
        #expect(k == key && i == iv)
        #expect(try KeyEnvelope(hex: env.hex).open(with: escrow).datasetIV == iv)
        #expect(Self.code { try env.open(with: Secp256k1.PrivateKey()) } == .authenticationFailed)
        for idx in [34, 50, 70, 104] {
            var b = env.bytes
            b[idx] ^= 1
            #expect(Self.code { try KeyEnvelope(bytes: b).open(with: escrow) } == .authenticationFailed, "byte \(idx)")
        }
        #expect(Self.code { try KeyEnvelope(bytes: Array(env.bytes.dropLast())) } == .malformed)
        // Two envelopes of the same key differ (fresh ephemeral key and IV).
        #expect(try KeyEnvelope.seal(datasetKey: key, datasetIV: iv, to: escrow.publicKey).bytes != env.bytes)
        // The key never shows in the envelope or its description.
        let keyBytes = key.withUnsafeBytes { Array($0) }
        #expect(env.bytes.firstRange(of: keyBytes) == nil)
    }
}

/// `keyrelease dataset encrypt` through the real binary.
@Suite("CLI: keyrelease dataset encrypt")
struct DatasetEncryptCLITests {
    @Test(arguments: ["licen", "stream"])
    func encryptThenOpenWithTheEscrowKey(_ format: String) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("enc-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let plain = Array(String(repeating: "prompt,completion\n", count: 4000).utf8)
        let input = dir.appendingPathComponent("plain.csv").path, output = dir.appendingPathComponent("enc.bin").path
        try Data(plain).write(to: URL(fileURLWithPath: input))
        let escrow = Secp256k1.PrivateKey()
        let r = try CLIRunner.run(
            "keyrelease",
            [
                "dataset", "encrypt", "--in", input, "--out", output, "--format", format,
                "--seal-to", Hex.encode(escrow.publicKey.serialized(compressed: true)),
            ])
        #expect(r.status == 0, "\(r.stderr)")
        let j = try r.json()
        let envelope = try KeyEnvelope(hex: try #require(j["envelope"] as? String))
        let (key, iv) = try envelope.open(with: escrow)
        let sealed = try [UInt8](Data(contentsOf: URL(fileURLWithPath: output)))
        if format == "licen" {
            #expect(try LICENFile.open(sealed, key: key, iv: iv) == plain)
        } else {
            var got = [UInt8]()
            try StreamCipher.open(sealed, key: key) { got += $0 }
            #expect(got == plain)
        }
        #expect(j["root"] as? String == (try ZeroG.merkle(of: sealed)).root.description)
        // The raw key appears nowhere in what the command printed.
        let keyHex = key.withUnsafeBytes { Hex.encode($0) }
        #expect(!r.stdout.lowercased().contains(keyHex) && !r.stderr.lowercased().contains(keyHex))
        #expect(!r.stdout.contains(key.withUnsafeBytes { Data($0).base64EncodedString() }))
        let bad = try CLIRunner.run("keyrelease", ["dataset", "encrypt", "--in", input, "--out", output, "--seal-to", "02abcd"])
        #expect(bad.status == 3)
    }
}

/// Key envelopes made by an independent implementation (pyca/cryptography, Tests/Interop) open
/// in Swift, and Swift's open there: byte compatibility both ways.
@Suite("Key envelope interoperability with Python")
struct EnvelopeInteropTests {
    static func python(_ args: [String]) throws -> (Int32, String) {
        // The dev-chain venv carries the pinned `cryptography`; `scripts/devchain status` creates
        // it if needed (exit 1 there only means no chain is running).
        _ = try? CLIRunner.runFile(TestVectors.packageRoot.appendingPathComponent("scripts/devchain").path, ["status", "--state-dir", NSTemporaryDirectory() + "/none"])
        let py = TestVectors.packageRoot.appendingPathComponent(".venv-devchain/bin/python").path
        let r = try CLIRunner.runFile(py, [TestVectors.packageRoot.appendingPathComponent("Tests/Interop/envelope_interop.py").path] + args)
        return (r.status, r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) + r.stderr)
    }

    @Test func pythonSealsSwiftOpensAndBack() throws {
        let escrow = Secp256k1.PrivateKey()
        let key = SymmetricKey(size: .bits256)
        let iv = (0..<12).map { _ in UInt8.random(in: 0...255) }
        let plain = key.withUnsafeBytes { Array($0) } + iv
        let (s1, pyEnvelope) = try Self.python(["seal", Hex.encode(escrow.publicKey.serialized(compressed: false)), Hex.encode(plain)])
        #expect(s1 == 0, "\(pyEnvelope)")
        let (k, i) = try KeyEnvelope(hex: pyEnvelope).open(with: escrow)
        #expect(k == key && i == iv)
        let swiftEnvelope = try KeyEnvelope.seal(datasetKey: key, datasetIV: iv, to: escrow.publicKey)
        let (s2, opened) = try Self.python(["open", Hex.encode(escrow.rawRepresentation), swiftEnvelope.hex])
        #expect(s2 == 0, "\(opened)")
        #expect(opened == Hex.encode(plain))
        // A flipped byte fails in Python too.
        var bad = swiftEnvelope.bytes
        bad[70] ^= 1
        #expect(try Self.python(["open", Hex.encode(escrow.rawRepresentation), Hex.encode(bad)]).0 != 0)
    }
}
