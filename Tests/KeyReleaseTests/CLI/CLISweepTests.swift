import Foundation
import TestSupport
import Testing

/// Every `keyrelease` subcommand that reads a file, run through the real binary on the inputs a
/// new operator gets wrong: a directory, an empty file, 4 KiB of random bytes and a missing path,
/// with and without `--json` where the subcommand has it. The contract (README, CLI reference):
/// an exit status in {0, 1, 2, 3} fitting the case (a directory or a missing path is unreadable:
/// 3; garbage where evidence belongs is invalid evidence: 2; garbage where collateral,
/// configuration or a key belongs: 3), no crash or backtrace, one line on stderr, with `--json`
/// exactly one JSON object on stdout (an `error` object when it exits 3), and the input left as
/// it was (a missing store is never created).
@Suite("CLI: every file argument against a directory, an empty file, random bytes and a missing path", .serialized, .timeLimit(.minutes(10)))
struct CLISweepTests {
    /// The bad inputs.
    enum Input: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case directory, empty, random, missing

        var testDescription: String { rawValue }
    }

    /// One place a subcommand reads a file.
    struct Case: Sendable {
        /// The subcommand (`["bench", "verify"]`).
        let command: [String]
        /// The arguments after the subcommand, given the bad path and a scratch folder.
        let arguments: @Sendable (_ path: String, _ scratch: String) throws -> [String]
        /// Whether to run it with `--json` too.
        let hasJSON: Bool
        /// The statuses allowed for an empty file (a directory or a missing path must always
        /// exit 3).
        let onEmpty: Set<Int32>
        /// The statuses allowed for random bytes.
        let onRandom: Set<Int32>

        init(command: [String], arguments: @escaping @Sendable (String, String) throws -> [String], hasJSON: Bool, onContent: Set<Int32>) {
            self.init(command: command, arguments: arguments, hasJSON: hasJSON, onEmpty: onContent, onRandom: onContent)
        }

        init(command: [String], arguments: @escaping @Sendable (String, String) throws -> [String], hasJSON: Bool, onEmpty: Set<Int32>, onRandom: Set<Int32>) {
            self.command = command
            self.arguments = arguments
            self.hasJSON = hasJSON
            self.onEmpty = onEmpty
            self.onRandom = onRandom
        }
    }

    static let evidenceInvalid: Set<Int32> = [2]
    static let unusable: Set<Int32> = [3]

    static func vector(_ p: String) throws -> String { try TestVectors.path(p) }
    static let tdxAt = ["--at", "2025-07-01T00:00:00Z"]
    static func tdxCollateral() throws -> [String] { ["--collateral", try vector("tdx/dcap-qvl/tdx_quote_collateral.json")] }
    static func keylime(signature: String? = nil, ak: String? = nil, pcrs: String? = nil) throws -> [String] {
        [
            try vector("tpm/keylime/quote.out"), "--platform", "tpm",
            "--signature", try signature ?? vector("tpm/keylime/quotesig.out"),
            "--ak", try ak ?? vector("tpm/keylime/akpub.pem"),
            "--pcrs", try pcrs ?? vector("tpm/keylime/quotepcr.out"),
        ]
    }

    /// Every file argument of every subcommand (`keyrelease chain job` reads none; `escrow
    /// keygen` only writes, see CLIContractTests).
    static let cases: [Case] = [
        // verify-quote: the evidence and each of its parts (2), then what the operator supplies
        // to judge it: collateral, certificates, policy, AK roots (3).
        Case(command: ["verify-quote"], arguments: { p, _ in [p] }, hasJSON: true, onContent: evidenceInvalid),
        Case(command: ["verify-quote"], arguments: { p, _ in [p, "--platform", "snp"] }, hasJSON: true, onContent: evidenceInvalid),
        Case(command: ["verify-quote"], arguments: { p, _ in [p, "--platform", "tpm"] }, hasJSON: true, onContent: evidenceInvalid),
        Case(command: ["verify-quote"], arguments: { p, _ in try keylime(signature: p) }, hasJSON: true, onContent: evidenceInvalid),
        Case(command: ["verify-quote"], arguments: { p, _ in try keylime(ak: p) }, hasJSON: true, onContent: evidenceInvalid),
        Case(command: ["verify-quote"], arguments: { p, _ in try keylime(pcrs: p) }, hasJSON: true, onContent: evidenceInvalid),
        Case(
            command: ["verify-quote"], arguments: { p, _ in [try vector("tdx/dcap-qvl/tdx_quote")] + (try tdxCollateral()) + tdxAt + ["--event-log", p] },
            hasJSON: true, onContent: evidenceInvalid),
        Case(command: ["verify-quote"], arguments: { p, _ in [try vector("tdx/dcap-qvl/tdx_quote"), "--collateral", p] + tdxAt }, hasJSON: true, onContent: unusable),
        Case(
            command: ["verify-quote"], arguments: { p, _ in [try vector("tdx/dcap-qvl/tdx_quote")] + (try tdxCollateral()) + tdxAt + ["--policy", p] },
            hasJSON: true, onContent: unusable),
        Case(
            command: ["verify-quote"], arguments: { p, _ in [try vector("snp/virtee-sev/report_milan.hex"), "--platform", "snp", "--cert", p] },
            hasJSON: true, onContent: unusable),
        Case(command: ["verify-quote"], arguments: { p, _ in try keylime() + ["--ak-root", p] }, hasJSON: true, onContent: unusable),
        // bench verify: invalid evidence is 2, unusable collateral 3.
        Case(command: ["bench", "verify"], arguments: { p, _ in [p, "--iterations", "1"] + (try tdxCollateral()) + tdxAt }, hasJSON: true, onContent: evidenceInvalid),
        Case(
            command: ["bench", "verify"], arguments: { p, _ in [p, "--platform", "snp", "--iterations", "1", "--cert", try vector("snp/virtee-sev/vcek_milan.der")] },
            hasJSON: true, onContent: evidenceInvalid),
        Case(command: ["bench", "verify"], arguments: { p, _ in [p, "--platform", "tpm", "--iterations", "1"] }, hasJSON: true, onContent: evidenceInvalid),
        Case(
            command: ["bench", "verify"], arguments: { p, _ in [try vector("tdx/dcap-qvl/tdx_quote"), "--iterations", "1", "--collateral", p] + tdxAt },
            hasJSON: true, onContent: unusable),
        Case(command: ["bench", "dataset"], arguments: { p, _ in [p, "--iterations", "1"] }, hasJSON: false, onEmpty: [3], onRandom: [0]),
        // policy: check judges the file (2 when invalid); derive verifies evidence (2).
        Case(command: ["policy", "check"], arguments: { p, _ in [p] }, hasJSON: true, onContent: [2]),
        Case(command: ["policy", "derive"], arguments: { p, s in [p] + (try tdxCollateral()) + tdxAt + ["-o", s + "/derived.yaml"] }, hasJSON: true, onContent: evidenceInvalid),
        // evidence pack verifies nothing: any readable bytes are packed, except a PCR file it
        // must parse (2).
        Case(command: ["evidence", "pack"], arguments: { p, s in ["--platform", "tdx", "--report", p, "-o", s + "/bundle.json"] }, hasJSON: false, onContent: [0]),
        Case(
            command: ["evidence", "pack"], arguments: { p, s in ["--platform", "tdx", "--report", try vector("tdx/dcap-qvl/tdx_quote"), "--collateral", p, "-o", s + "/bundle.json"] },
            hasJSON: false, onContent: [0]),
        Case(
            command: ["evidence", "pack"], arguments: { p, s in ["--platform", "tdx", "--report", try vector("tdx/dcap-qvl/tdx_quote"), "--event-log", p, "-o", s + "/bundle.json"] },
            hasJSON: false, onContent: [0]),
        Case(
            command: ["evidence", "pack"], arguments: { p, s in ["--platform", "snp", "--report", p, "--cert", try vector("snp/virtee-sev/vcek_milan.der"), "-o", s + "/bundle.json"] },
            hasJSON: false, onContent: [0]),
        Case(
            command: ["evidence", "pack"], arguments: { p, s in ["--platform", "snp", "--report", try vector("snp/virtee-sev/report_milan.hex"), "--cert", p, "-o", s + "/bundle.json"] },
            hasJSON: false, onContent: [0]),
        Case(
            command: ["evidence", "pack"], arguments: { p, s in ["--platform", "tpm", "--attest", p, "--signature", p, "--ak", p, "--pcrs", p, "-o", s + "/bundle.json"] },
            hasJSON: false, onContent: evidenceInvalid),
        // dataset: a root of random bytes is fine, of nothing is not (3); anything readable encrypts.
        Case(command: ["dataset", "root"], arguments: { p, _ in [p] }, hasJSON: true, onEmpty: [3], onRandom: [0]),
        Case(command: ["dataset", "encrypt"], arguments: { p, s in ["--in", p, "--out", s + "/licen.enc", "--seal-to", sealTo] }, hasJSON: false, onContent: [0]),
        Case(
            command: ["dataset", "encrypt"], arguments: { p, s in ["--in", p, "--out", s + "/stream.enc", "--seal-to", sealTo, "--format", "stream"] },
            hasJSON: false, onContent: [0]),
        // The service's files: a store that is not one, a key that is not one, a bad config (3).
        Case(command: ["audit", "verify"], arguments: { p, _ in ["--store", "sqlite:" + p] }, hasJSON: true, onContent: unusable),
        Case(
            command: ["escrow", "upload"],
            arguments: { p, _ in
                [
                    "--dataset-root", "0x" + String(repeating: "11", count: 32), "--envelope", "0x" + String(repeating: "22", count: 105),
                    "--version", "1", "--owner-key", p,
                ]
            }, hasJSON: false, onContent: unusable),
        Case(command: ["serve"], arguments: { p, _ in ["--config", p, "--check"] }, hasJSON: false, onContent: unusable),
    ]

    /// The secp256k1 generator point, compressed: a valid public key to seal to.
    static let sealTo = "0x0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"

    /// Subcommands that read no file the operator names.
    static let readNoFile: Set<[String]> = [["chain", "job"], ["escrow", "keygen"]]

    /// 4 KiB of pseudo-random bytes (SplitMix64, fixed seed: the same bytes every run).
    static func randomBytes() -> [UInt8] {
        var state: UInt64 = 0x5eed_1234_abcd_0042
        var out = [UInt8]()
        out.reserveCapacity(4096)
        while out.count < 4096 {
            state &+= 0x9e37_79b9_7f4a_7c15
            var z = state
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            z ^= z >> 31
            withUnsafeBytes(of: z.littleEndian) { out += $0 }
        }
        return out
    }

    /// Markers of a crash report or a leaked build path.
    static let crashMarkers = ["Program crashed", "Fatal error", "Backtrace", "Backtracing", "Swift runtime failure", ".build/"]

    @Test("each file argument keeps the exit-code contract", arguments: Input.allCases)
    func sweep(_ input: Input) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("clisweep-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let random = Self.randomBytes()
        let path: String
        switch input {
        case .directory:
            path = dir + "/a-directory"
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        case .empty:
            path = dir + "/empty"
            #expect(FileManager.default.createFile(atPath: path, contents: Data(), attributes: [.posixPermissions: 0o600]))
        case .random:
            path = dir + "/random"
            #expect(FileManager.default.createFile(atPath: path, contents: Data(random), attributes: [.posixPermissions: 0o600]))
        case .missing:
            path = dir + "/missing"
        }

        for c in Self.cases {
            for json in c.hasJSON ? [false, true] : [false] {
                let scratch = dir + "/scratch-\(UUID())"
                try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: false)
                defer { try? FileManager.default.removeItem(atPath: scratch) }
                let args = c.command + (try c.arguments(path, scratch)) + (json ? ["--json"] : [])
                let label = "keyrelease \(args.joined(separator: " "))"
                let r = try CLIRunner.run("keyrelease", args)
                let allowed: Set<Int32> =
                    switch input {
                    case .directory, .missing: [3]
                    case .empty: c.onEmpty
                    case .random: c.onRandom
                    }
                #expect(allowed.contains(r.status), "\(label): exit \(r.status), expected \(allowed.sorted()): \(r.stderr) \(r.stdout.prefix(300))")
                for marker in Self.crashMarkers {
                    #expect(!r.stdout.contains(marker) && !r.stderr.contains(marker), "\(label): \(marker): \(r.stderr.prefix(500))")
                }
                // One line on stderr at most; a failure says something (on stderr, or as the
                // error of the report printed on stdout).
                let errLines = r.stderr.split(separator: "\n", omittingEmptySubsequences: true)
                #expect(errLines.count <= 1, "\(label): stderr has \(errLines.count) lines: \(r.stderr)")
                if r.status == 3 {
                    #expect(!errLines.isEmpty || r.stdout.contains("error"), "\(label): exit 3 without a message")
                }
                if json {
                    let object = try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
                    #expect(object != nil, "\(label): stdout is not one JSON object: \(r.stdout.prefix(300))")
                    if r.status == 3, let object {
                        let error = object["error"] as? [String: Any]
                        #expect(error?["code"] is String && error?["message"] is String, "\(label): no error object: \(r.stdout.prefix(300))")
                    }
                }
                // The input is left as it was.
                switch input {
                case .missing:
                    #expect(!FileManager.default.fileExists(atPath: path), "\(label) created the missing path")
                    try? FileManager.default.removeItem(atPath: path)
                case .directory:
                    #expect(try FileManager.default.contentsOfDirectory(atPath: path).isEmpty, "\(label) wrote into the directory")
                case .empty:
                    #expect(try Data(contentsOf: URL(fileURLWithPath: path)).isEmpty, "\(label) changed the empty file")
                case .random:
                    #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) == random, "\(label) changed the file")
                }
            }
        }
    }

    /// Walks `keyrelease --help` and each group's `--help` for the leaf subcommands.
    static func leafSubcommands(_ path: [String] = []) throws -> [[String]] {
        let help = try CLIRunner.run("keyrelease", path + ["--help"]).stdout
        guard let section = help.components(separatedBy: "SUBCOMMANDS:").dropFirst().first else { return [path] }
        var leaves = [[String]]()
        for line in section.split(separator: "\n") {
            // A subcommand's line starts with its name after two spaces; descriptions wrap deeper.
            guard line.hasPrefix("  "), !line.hasPrefix("   "), let name = line.split(separator: " ").first.map(String.init),
                name.first?.isLowercase == true, name != "help"
            else { continue }
            leaves += try leafSubcommands(path + [name])
        }
        return leaves
    }

    @Test("the sweep covers every subcommand the help lists")
    func coversEverySubcommand() throws {
        let leaves = try Self.leafSubcommands()
        #expect(leaves.count >= 12, "\(leaves)")
        let covered = Set(Self.cases.map(\.command))
        for leaf in leaves {
            #expect(covered.contains(leaf) || Self.readNoFile.contains(leaf), "keyrelease \(leaf.joined(separator: " ")) reads files but is not swept")
        }
    }
}
