import ArgumentParser
import Chain
import Foundation
import ZeroG

/// `keyrelease dataset`: dataset owner tools.
struct DatasetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dataset",
        abstract: "Dataset owner tools: 0G Storage roots.",
        subcommands: [Root.self]
    )

    /// `keyrelease dataset root FILE`.
    struct Root: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the 0G Storage root (Flow dataMerkleRoot) of a file.",
            discussion: """
            The root 0G Storage and the DataPolicy contract use as datasetRoot: Keccak-256 over
            256-byte chunks, 1024-chunk segments, flow padding, odd nodes carried up. The file is
            streamed (memory stays at a few MiB) and segments are hashed on all cores.
            Exit codes: 0 printed; 3 unreadable or empty file.
            """
        )

        @Argument(help: "The file (for a dataset: the encrypted file as uploaded).")
        var file: String

        @Flag(help: "Print one JSON object: {root, size, numChunks, paddedChunks, numSegments, submissionNodes: [{chunks, height, root}]}.")
        var json = false

        func run() throws {
            let m: ZeroG.FileMerkle
            do { m = try ZeroG.merkle(ofFileAt: file) } catch {
                FileHandle.standardError.write(Data("\(file): \(error)\n".utf8))
                throw ExitCode(3)
            }
            guard json else { print(m.root); return }
            let out: [String: Any] = [
                "root": m.root.description, "size": m.size, "numChunks": m.numChunks, "paddedChunks": m.paddedChunks, "numSegments": m.numSegmentsPadded,
                "submissionNodes": m.submissionNodes.map { ["chunks": $0.chunks, "height": $0.height, "root": $0.root.description] as [String: Any] },
            ]
            print(String(decoding: try JSONSerialization.data(withJSONObject: out, options: [.prettyPrinted, .sortedKeys]), as: UTF8.self))
        }
    }
}
