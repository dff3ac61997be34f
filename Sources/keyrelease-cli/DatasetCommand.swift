import ArgumentParser
import Attestation
import ByteEncoding
import Chain
import Crypto
import DatasetCrypto
import EVMCrypto
import Foundation
import ZeroG

/// `keyrelease dataset`: dataset owner tools.
struct DatasetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dataset",
        abstract: "Dataset owner tools: 0G Storage roots, encryption and key envelopes.",
        subcommands: [Root.self, Encrypt.self]
    )

    /// `keyrelease dataset root FILE`.
    struct Root: ParsableCommand, JSONOutputCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the 0G Storage root (Flow dataMerkleRoot) of a file.",
            discussion: """
                The root 0G Storage and the DataPolicy contract use as datasetRoot: Keccak-256 over \
                256-byte chunks, 1024-chunk segments, flow padding, odd nodes carried up. The file is \
                streamed (memory stays at a few MiB) and segments are hashed on all cores. \
                Exit codes: 0 printed; 3 unreadable or empty file.
                """
        )

        @Argument(help: "The file (for a dataset: the encrypted file as uploaded).")
        var file: String

        @Flag(help: "Print one JSON object: {root, size, numChunks, paddedChunks, numSegments, submissionNodes: [{chunks, height, root}]}.")
        var json = false

        func run() throws {
            try InputFile.check(file, "file")
            let m = try ZeroG.merkle(ofFileAt: file)
            guard json else { print(m.root); return }
            let out: [String: Any] = [
                "root": m.root.description, "size": m.size, "numChunks": m.numChunks, "paddedChunks": m.paddedChunks, "numSegments": m.numSegmentsPadded,
                "submissionNodes": m.submissionNodes.map { ["chunks": $0.chunks, "height": $0.height, "root": $0.root.description] as [String: Any] },
            ]
            print(String(decoding: try JSONSerialization.data(withJSONObject: out, options: [.prettyPrinted, .sortedKeys]), as: UTF8.self))
        }
    }

    /// `keyrelease dataset encrypt`.
    struct Encrypt: ParsableCommand {
        enum Format: String, ExpressibleByArgument, CaseIterable {
            case licen, stream
        }

        static let configuration = CommandConfiguration(
            abstract: "Encrypt a dataset under a fresh key, seal the key to a secp256k1 public key, print the 0G root and the envelope.",
            discussion: """
                licen: AES-256-GCM over the whole file (ciphertext ‖ tag), the LICEN web app's format; \
                the file is held in memory. stream: LICENSTREAM1 chunked AEAD (1 MiB chunks), bounded \
                memory, for large files. The key and IV are generated here, sealed into the envelope \
                (datapolicy.md: ephemeral key ‖ IV ‖ tag ‖ ciphertext) and never printed or written \
                anywhere else. For stream files the envelope's IV field is unused (zero). \
                Prints {format, root, size, envelope}; the root is of the encrypted file, as uploaded. \
                --out is never --in (compared after resolving links), and an existing file is replaced \
                only with --force; it is written to a temporary file and renamed into place. \
                Exit codes: 0 done; 3 unreadable input, bad key, refused or unwritable output.
                """
        )

        @Option(name: .customLong("in"), help: "The plaintext dataset.")
        var input: String

        @Option(name: .customLong("out"), help: "Where to write the encrypted dataset (never --in; an existing file only with --force).")
        var output: String

        @Flag(help: "Let --out replace an existing file (never --in itself).")
        var force = false

        @Option(name: .customLong("seal-to"), help: ArgumentHelp("The recipient's secp256k1 public key (the key-release service's escrow key), hex, compressed or uncompressed.", valueName: "PUBKEY"))
        var sealTo: String

        @Option(help: "licen (default) or stream.")
        var format: Format = .licen

        func run() throws {
            try InputFile.check(input, "--in")
            let out = try OutputFile(output, flag: "--out", force: force, inputs: [input])
            let recipient: Secp256k1.PublicKey
            do { recipient = try Secp256k1.PublicKey(bytes: try Hex.decode(sealTo)) } catch { throw CLIFailure.usage("--seal-to is not a secp256k1 public key") }
            let key = SymmetricKey(size: .bits256)
            let format = self.format
            // Everything, the envelope included, is done before the file is renamed into place.
            let (m, envelope) = try out.write { (temporary: String) throws(CLIFailure) -> (ZeroG.FileMerkle, KeyEnvelope) in
                do {
                    var iv = [UInt8](repeating: 0, count: 12)
                    switch format {
                    case .licen:
                        let plain = try InputFile.read(input, "--in")
                        iv = (0..<12).map { _ in UInt8.random(in: 0...255) }
                        try Data(LICENFile.seal(plain, key: key, iv: iv)).write(to: URL(fileURLWithPath: temporary))
                    case .stream:
                        try StreamCipher.seal(input: input, output: temporary, key: key)
                    }
                    return (try ZeroG.merkle(ofFileAt: temporary), try KeyEnvelope.seal(datasetKey: key, datasetIV: iv, to: recipient))
                } catch let f as CLIFailure {
                    throw f
                } catch let e as DatasetCryptoError {
                    throw CLIFailure(status: 3, code: e.code.rawValue, message: e.message)
                } catch let e as ZeroGError {
                    throw CLIFailure(status: 3, code: e.code.rawValue, message: e.message)
                } catch {
                    throw CLIFailure.io("cannot write \(output): \(ErrorDescription.describe(error))")
                }
            }
            let result: [String: Any] = ["format": format.rawValue, "root": m.root.description, "size": m.size, "envelope": envelope.hex]
            print(JSONText.object(result))
        }
    }
}
