import ArgumentParser
import Attestation
import Foundation
import KeyRelease

/// `keyrelease bench`: in-process benchmarks.
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "In-process benchmarks.",
        subcommands: [BenchVerify.self]
    )
}

/// `keyrelease bench verify`: time TDX verification cold and warm against one raw P-256 verify.
struct BenchVerify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Time quote verification: cold, warm, and one raw P-256 verify in the same run.",
        discussion: """
        coldMicros: parse the quote and the collateral and verify with nothing cached.
        warmMicros: parse the quote and verify with parsed collateral and verified signatures of
        chains and collateral reused (validity windows and revocation still checked; the quote's own
        signature is always verified). p256VerifyMicros: one raw ECDSA P-256 verify on this machine.
        Each is the median over --iterations runs.
        """
    )

    @OptionGroup var evidence: EvidenceOptions

    @Option(help: "Iterations per measurement.")
    var iterations = 200

    @Flag(help: "Print one JSON object.")
    var json = false

    func run() async throws {
        guard iterations > 0 else { throw ValidationError("--iterations must be positive") }
        let raw = try EvidenceEncoding.decode(try evidence.readEvidence())
        let now = try evidence.instant()
        let files = try evidence.collateral.flatMap { try Self.collateralFiles($0) }
        guard !files.isEmpty else { throw ValidationError("bench verify needs --collateral") }
        let result = try Benchmarks.tdxVerify(quote: raw, collateralFiles: files, now: now, iterations: iterations)
        if json {
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try e.encode(result), as: UTF8.self))
        } else {
            print(String(format: "cold %.1f µs, warm %.1f µs, raw P-256 verify %.1f µs; warm/p256 %.2f×, cold/warm %.1f×",
                         result.coldMicros, result.warmMicros, result.p256VerifyMicros, result.warmOverP256, result.coldMicros / result.warmMicros))
        }
    }

    static func collateralFiles(_ path: String) throws -> [(String, [UInt8])] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw ValidationError("no such collateral path \(path)") }
        let paths = isDir.boolValue
            ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { (path as NSString).appendingPathComponent($0) }
            : [path]
        return paths.compactMap { p in FileManager.default.contents(atPath: p).map { (p, [UInt8]($0)) } }
    }
}
