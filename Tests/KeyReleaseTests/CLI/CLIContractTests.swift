import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import KeyRelease
import TestSupport
import Testing

/// The operator CLI's contract beyond reading files (CLISweepTests): outputs never clobber
/// inputs or existing files, usage and collateral problems exit 3 and invalid evidence 2 (the
/// real MANIFEST.md vectors), `--json` is one object even on a usage error, `audit verify`
/// never creates a store, and `--version`.
@Suite("CLI: keyrelease output files, exit codes and JSON errors", .timeLimit(.minutes(5)))
struct CLIContractTests {
    /// A fresh temporary folder, removed after `body`.
    static func withFolder(_ body: (String) throws -> Void) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("clicontract-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try body(dir)
    }

    static func bytes(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

    static let sealTo = "0x0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
    static let tdxAt = ["--at", "2025-07-01T00:00:00Z"]

    // MARK: Output files

    /// A subcommand that writes a file the operator names: its arguments for input `input`
    /// (a copy of a real file in the test's folder) and output `output`.
    struct Writer: Sendable, CustomTestStringConvertible {
        let name: String
        /// The real file copied in as the input.
        let source: String
        let arguments: @Sendable (_ input: String, _ output: String) throws -> [String]
        var testDescription: String { name }
    }

    static let writers: [Writer] = [
        Writer(name: "dataset encrypt (licen)", source: "tdx/dcap-qvl/tdx-quote.hex") { i, o in ["dataset", "encrypt", "--in", i, "--out", o, "--seal-to", sealTo] },
        Writer(name: "dataset encrypt (stream)", source: "tdx/dcap-qvl/tdx-quote.hex") { i, o in ["dataset", "encrypt", "--in", i, "--out", o, "--seal-to", sealTo, "--format", "stream"] },
        Writer(name: "evidence pack -o", source: "tdx/dcap-qvl/tdx_quote") { i, o in ["evidence", "pack", "--platform", "tdx", "--report", i, "-o", o] },
        Writer(name: "policy derive -o", source: "tdx/dcap-qvl/tdx_quote") { i, o in
            ["policy", "derive", i, "--collateral", try TestVectors.path("tdx/dcap-qvl/tdx_quote_collateral.json"), "-o", o] + tdxAt
        },
    ]

    @Test("an output is never an input (same path, ./path, a symbolic or a hard link), even with --force", arguments: writers)
    func outputIsNeverAnInput(_ w: Writer) throws {
        try Self.withFolder { dir in
            let input = dir + "/input"
            try Data(try TestVectors.bytes(w.source)).write(to: URL(fileURLWithPath: input))
            let original = try Self.bytes(input)
            try FileManager.default.createSymbolicLink(atPath: dir + "/symlink", withDestinationPath: input)
            try FileManager.default.linkItem(atPath: input, toPath: dir + "/hardlink")
            let spellings = [input, dir + "/./input", dir + "/../" + (dir as NSString).lastPathComponent + "/input", dir + "/symlink", dir + "/hardlink"]
            for output in spellings {
                for force in [false, true] {
                    let r = try CLIRunner.run("keyrelease", try w.arguments(input, output) + (force ? ["--force"] : []))
                    #expect(r.status == 3, "\(w.name) -> \(output) force \(force): \(r.stdout) \(r.stderr)")
                    #expect(r.stderr.contains("is the input"), "\(r.stderr)")
                    #expect(try Self.bytes(input) == original, "\(w.name) -> \(output) changed the input")
                }
            }
            // The input given through the link, the output as the real path: the same file.
            let r = try CLIRunner.run("keyrelease", try w.arguments(dir + "/symlink", input) + ["--force"])
            #expect(r.status == 3, "\(r.stderr)")
            #expect(try Self.bytes(input) == original)
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["hardlink", "input", "symlink"], "a temporary file was left")
        }
    }

    @Test("an existing output is replaced only with --force; a missing folder is an error", arguments: writers)
    func existingOutputNeedsForce(_ w: Writer) throws {
        try Self.withFolder { dir in
            let input = dir + "/input", output = dir + "/output"
            try Data(try TestVectors.bytes(w.source)).write(to: URL(fileURLWithPath: input))
            let precious = Array("someone's earlier work\n".utf8)
            try Data(precious).write(to: URL(fileURLWithPath: output))
            let refused = try CLIRunner.run("keyrelease", try w.arguments(input, output))
            #expect(refused.status == 3, "\(refused.stdout) \(refused.stderr)")
            #expect(refused.stderr.contains("--force") && refused.stderr.split(separator: "\n").count == 1, "\(refused.stderr)")
            #expect(try Self.bytes(output) == precious)

            let forced = try CLIRunner.run("keyrelease", try w.arguments(input, output) + ["--force"])
            #expect(forced.status == 0, "\(forced.stdout) \(forced.stderr)")
            #expect(try Self.bytes(output) != precious)
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["input", "output"], "a temporary file was left")

            let fresh = try CLIRunner.run("keyrelease", try w.arguments(input, dir + "/fresh"))
            #expect(fresh.status == 0, "\(fresh.stderr)")
            let nowhere = try CLIRunner.run("keyrelease", try w.arguments(input, dir + "/no-such-folder/out"))
            #expect(nowhere.status == 3 && nowhere.stderr.contains("does not exist"), "\(nowhere.stderr)")
            let folder = try CLIRunner.run("keyrelease", try w.arguments(input, dir))
            #expect(folder.status == 3 && folder.stderr.contains("is a directory"), "\(folder.stderr)")
        }
    }

    // MARK: Exit codes on the real vectors

    /// `verify-quote … --json`: its status and error code.
    static func verdict(_ args: [String]) throws -> (status: Int32, code: String?) {
        let r = try CLIRunner.run("keyrelease", ["verify-quote"] + args + ["--json"])
        let error = (try? r.json())?["error"] as? [String: Any]
        return (r.status, error?["code"] as? String)
    }

    @Test("missing SEV-SNP certificates and TDX collateral of another FMSPC are 3, not 2")
    func collateralProblemsAre3() throws {
        let report = try TestVectors.path("snp/virtee-sev/report_milan.hex"), at = ["--at", "2026-11-24T00:00:00Z"]
        let vcek = try TestVectors.path("snp/virtee-sev/vcek_milan.der"), chain = try TestVectors.path("snp/virtee-sev/cert_chain_milan")
        #expect(try Self.verdict([report, "--platform", "snp", "--cert", vcek, "--cert", chain] + at) == (0, nil))
        #expect(try Self.verdict([report, "--platform", "snp", "--cert", vcek] + at) == (3, "collateralMissing"))  // no ASK
        #expect(try Self.verdict([report, "--platform", "snp", "--cert", chain] + at) == (3, "collateralMissing"))  // no VCEK
        // A file that holds no AMD certificate at all.
        #expect(
            try Self.verdict([report, "--platform", "snp", "--cert", vcek, "--cert", try TestVectors.path("tdx/dcap-qvl/tdx_quote_collateral.json")] + at)
                == (3, "collateralMalformed"))
        // MANIFEST.md: tdx_quote is FMSPC b0c06f000000, tdx_quote_outdated_collateral.json is for 90c06f000000.
        let quote = try TestVectors.path("tdx/dcap-qvl/tdx_quote")
        #expect(
            try Self.verdict([quote, "--collateral", try TestVectors.path("tdx/dcap-qvl/tdx_quote_outdated_collateral.json"), "--at", "2026-03-01T00:00:00Z"])
                == (3, "fmspcMismatch"))
        // Still 2: evidence that is invalid whatever the collateral.
        #expect(
            try Self.verdict([try TestVectors.path("tdx/dcap-qvl/sgx_quote"), "--collateral", try TestVectors.path("tdx/dcap-qvl/sgx_quote_collateral.json")] + Self.tdxAt)
                == (2, "wrongTEEType"))
    }

    @Test("a flag for another platform's evidence is a usage error (3), never silently ignored")
    func flagsForAnotherPlatformAre3() throws {
        let quote = try TestVectors.path("tdx/dcap-qvl/tdx_quote"), collateral = try TestVectors.path("tdx/dcap-qvl/tdx_quote_collateral.json")
        let tdx = [quote, "--collateral", collateral] + Self.tdxAt
        #expect(try Self.verdict(tdx) == (0, nil))
        for extra in [
            ["--nonce", "00"], ["--signature", try TestVectors.path("tpm/keylime/quotesig.out")], ["--cert", try TestVectors.path("snp/virtee-sev/vcek_milan.der")],
            ["--ak-root", try TestVectors.path("tpm/go-tpm-tools/tpm_ek_root_1.cer")], ["--dangerously-trust-presented-ak"],
        ] {
            #expect(try Self.verdict(tdx + extra) == (3, "usage"), "\(extra)")
        }
        let snp = [
            try TestVectors.path("snp/virtee-sev/report_milan.hex"), "--platform", "snp", "--cert", try TestVectors.path("snp/virtee-sev/vcek_milan.der"),
            "--cert", try TestVectors.path("snp/virtee-sev/cert_chain_milan"), "--at", "2026-11-24T00:00:00Z",
        ]
        #expect(try Self.verdict(snp) == (0, nil))
        for extra in [["--accept-tcb", "OutOfDate"], ["--collateral", collateral], ["--event-log", try TestVectors.path("tdx/go-tdx-guest/ccel/ccel_data.dat")]] {
            #expect(try Self.verdict(snp + extra) == (3, "usage"), "\(extra)")
        }
        let tpm = [
            try TestVectors.path("tpm/go-tpm-tools/gce-cos-85-nonce9009.pb"), "--platform", "tpm", "--ak-root", try TestVectors.path("tpm/go-tpm-tools/tpm_ek_intermediate_2.crt"),
            "--at", "2026-11-24T00:00:00Z", "--nonce", "9009",
        ]
        #expect(try Self.verdict(tpm) == (0, nil))
        #expect(try Self.verdict(tpm + ["--allow-debug"]) == (3, "usage"))
        // --platform that contradicts a bundle's declared platform.
        try Self.withFolder { dir in
            let bundle = dir + "/snp.json"
            let pack = try CLIRunner.run(
                "keyrelease",
                [
                    "evidence", "pack", "--platform", "snp", "--report", try TestVectors.path("snp/virtee-sev/report_milan.hex"),
                    "--cert", try TestVectors.path("snp/virtee-sev/vcek_milan.der"), "--cert", try TestVectors.path("snp/virtee-sev/cert_chain_milan"), "-o", bundle,
                ])
            #expect(pack.status == 0, "\(pack.stderr)")
            #expect(try Self.verdict([bundle, "--at", "2026-11-24T00:00:00Z"]) == (0, nil))
            #expect(try Self.verdict([bundle, "--platform", "tdx", "--at", "2026-11-24T00:00:00Z"]) == (3, "usage"))
        }
    }

    @Test("bench verify: invalid evidence is 2, missing collateral 3, valid evidence 0")
    func benchVerifyExitCodes() throws {
        let collateral = ["--collateral", try TestVectors.path("tdx/dcap-qvl/tdx_quote_collateral.json")]
        try Self.withFolder { dir in
            var bytes = try TestVectors.bytes("tdx/dcap-qvl/tdx_quote")
            bytes[0x100] ^= 1  // inside the signed body: the quote signature no longer verifies
            let tampered = dir + "/tampered.quote"
            try Data(bytes).write(to: URL(fileURLWithPath: tampered))
            let bad = try CLIRunner.run("keyrelease", ["bench", "verify", tampered, "--iterations", "1", "--json"] + collateral + Self.tdxAt)
            #expect(bad.status == 2, "\(bad.stdout) \(bad.stderr)")
            #expect((try bad.json()["error"] as? [String: Any])?["code"] as? String == "quoteSignatureInvalid")
        }
        let quote = try TestVectors.path("tdx/dcap-qvl/tdx_quote")
        let missing = try CLIRunner.run("keyrelease", ["bench", "verify", quote, "--iterations", "1", "--json"] + Self.tdxAt)
        #expect(missing.status == 3)
        #expect((try missing.json()["error"] as? [String: Any])?["code"] as? String == "usage")
        let ok = try CLIRunner.run("keyrelease", ["bench", "verify", quote, "--iterations", "1", "--json"] + collateral + Self.tdxAt)
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(try ok.json()["coldMicros"] is Double)
    }

    @Test("chain job on a refused port fails at once: exit 3, one line, no retrying")
    func chainJobRefusedPortFailsFast() throws {
        // A port nothing listens on: bind one, note it, close it.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        let port = UInt16(bigEndian: addr.sin_port)
        close(fd)
        let start = Date()
        let r = try CLIRunner.run(
            "keyrelease",
            [
                "chain", "job", "0x" + String(repeating: "11", count: 32), "--rpc", "http://127.0.0.1:\(port)",
                "--contract", "0x" + String(repeating: "22", count: 20),
            ])
        #expect(Date().timeIntervalSince(start) < 5, "took \(Date().timeIntervalSince(start)) s")
        #expect(r.status == 3)
        #expect(r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        #expect(r.stderr.contains("rpcUnavailable"))
    }

    @Test(
        "help is wrapped once: at 80 columns no line is longer, and no paragraph has a ragged short line in its middle",
        arguments: [["verify-quote"], ["bench", "verify"], ["policy", "derive"], ["serve"], []])
    func helpWrappedOnce(_ command: [String]) throws {
        let r = try CLIRunner.run("keyrelease", command + ["--help"], environment: ["COLUMNS": "80", "PATH": "/usr/bin:/bin"])
        #expect(r.status == 0)
        let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        // Only a word longer than the width (a URL) may overflow it.
        let long = lines.filter { $0.count > 80 && $0.trimmingCharacters(in: .whitespaces).contains(" ") }
        #expect(long.isEmpty, "\(long)")
        // A line wrapped twice leaves a short line followed by a long one in the same paragraph.
        for (a, b) in zip(lines, lines.dropFirst()) where !a.isEmpty && !b.isEmpty && !b.hasPrefix("  ") && !a.hasPrefix("  ") {
            #expect(a.count >= 40 || a.hasSuffix(":") || a.hasSuffix("."), "ragged: \"\(a)\" then \"\(b)\"")
        }
    }

    // MARK: --json errors and --version

    @Test("with --json a usage error is one JSON object too, in the subcommand's shape")
    func jsonOnUsageErrors() throws {
        let quote = try TestVectors.path("tdx/dcap-qvl/tdx_quote")
        // An unknown flag fails while parsing: verify-quote still prints its report shape.
        let parse = try CLIRunner.run("keyrelease", ["verify-quote", quote, "--no-such-flag", "--json"])
        #expect(parse.status == 3)
        let report = try parse.json()
        for key in ["platform", "verified", "tcbStatus", "advisories", "accepted", "failures", "claims", "error", "verifiedAt", "validUntil"] {
            #expect(report.keys.contains(key), "\(key) missing: \(parse.stdout)")
        }
        #expect((report["error"] as? [String: Any])?["code"] as? String == "usage")
        #expect(report["accepted"] as? Bool == false)

        let badAt = try CLIRunner.run("keyrelease", ["verify-quote", quote, "--at", "yesterday", "--json"])
        #expect(badAt.status == 3)
        #expect((try badAt.json()["error"] as? [String: Any])?["code"] as? String == "usage")

        let policy = try CLIRunner.run("keyrelease", ["policy", "check", "/nonexistent/policy.yaml", "--json"])
        #expect(policy.status == 3)
        #expect(try policy.json()["valid"] as? Bool == false)

        let jobID = "0x" + String(repeating: "00", count: 32), contract = "0x" + String(repeating: "00", count: 20)
        let shortID = try CLIRunner.run("keyrelease", ["chain", "job", "0x00", "--rpc", "http://127.0.0.1:1", "--contract", contract, "--json"])
        #expect(shortID.status == 3)
        #expect((try shortID.json()["error"] as? [String: Any])?["code"] as? String == "usage")
        // An RPC endpoint that only ever fails: exit 3 with the RPC error as the JSON object.
        let broken = try LoopbackHTTPServer { _ in .init(status: 503, body: Array("down".utf8)) }
        defer { broken.shutdown() }
        let offline = try CLIRunner.run("keyrelease", ["chain", "job", jobID, "--rpc", broken.baseURL, "--contract", contract, "--json"])
        #expect(offline.status == 3, "\(offline.stdout) \(offline.stderr)")
        #expect((try offline.json()["error"] as? [String: Any])?["message"] is String)
        #expect(offline.stderr.split(separator: "\n").count == 1)
    }

    @Test("--version prints the package version; the root help states the exit codes")
    func version() throws {
        let r = try CLIRunner.run("keyrelease", ["--version"])
        #expect(r.status == 0)
        let v = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(v.split(separator: ".").count == 3 && v.split(separator: ".").allSatisfy { Int($0) != nil }, "\(r.stdout)")
        let help = try CLIRunner.run("keyrelease", ["--help"])
        #expect(help.status == 0 && help.stdout.contains("--version") && help.stdout.contains("3 usage, I/O or missing"))
    }

    // MARK: audit verify never creates a store

    @Test("audit verify --store sqlite:TYPO is exit 3 and creates nothing; a real store is read without writing to it")
    func auditVerifyOpensForReading() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("clicontract-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for json in [false, true] {
            let r = try CLIRunner.run("keyrelease", ["audit", "verify", "--store", "sqlite:\(dir)/TYPO.sqlite"] + (json ? ["--json"] : []))
            #expect(r.status == 3, "\(r.stdout) \(r.stderr)")
            #expect(r.stderr.contains("no SQLite store") && r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
            if json {
                #expect(try r.json()["intact"] as? Bool == false)
                #expect((try r.json()["error"] as? [String: Any])?["code"] as? String == KeyReleaseError.Code.storeUnavailable.rawValue)
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty, "audit verify created a file")
        }
        // A store the service made: intact, and reading it changes no byte and adds no file.
        let path = dir + "/store.sqlite"
        let store = try await ReleaseStores.open("sqlite:" + path)
        for i in 0..<3 {
            _ = try await store.appendAudit(AuditDraft(timeMillis: 1_750_000_000_000 + Int64(i), outcome: "released", requestID: "req-\(i)", platform: "tdx"))
        }
        await store.close()
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        let before = try Self.bytes(path)
        let r = try CLIRunner.run("keyrelease", ["audit", "verify", "--store", "sqlite:" + path, "--json"])
        #expect(r.status == 0, "\(r.stdout) \(r.stderr)")
        #expect((try r.json()["records"] as? NSNumber)?.intValue == 3)
        #expect(try Self.bytes(path) == before)
        // Besides the database, only SQLite's own companions of a WAL database may appear (any
        // reader needs the -shm index); nothing is written to the log.
        let after = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        #expect(Set(after).subtracting(["store.sqlite-wal", "store.sqlite-shm"]) == Set(files), "\(after) != \(files)")
        if after.contains("store.sqlite-wal") { #expect(try Self.bytes(path + "-wal").isEmpty) }
    }
}
