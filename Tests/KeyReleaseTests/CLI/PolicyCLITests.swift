import Foundation
import TestSupport
import Testing

/// `keyrelease policy check|derive` and `verify-quote --policy`, through the real binary.
@Suite("CLI: keyrelease policy")
struct PolicyCLITests {
    static func temp(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("\(UUID())-\(name)").path
    }

    static func quoteArgs() throws -> [String] {
        [try TestVectors.path("tdx/dcap-qvl/tdx_quote"), "--collateral", try TestVectors.path("tdx/dcap-qvl/tdx_quote_collateral.json"), "--at", "2025-07-01T00:00:00Z"]
    }

    @Test func deriveThenVerifyAcceptsAndOneChangeRejectsNamingTheField() throws {
        let policy = Self.temp("golden.yaml")
        defer { try? FileManager.default.removeItem(atPath: policy) }
        let derive = try CLIRunner.run("keyrelease", ["policy", "derive"] + Self.quoteArgs() + ["--name", "golden", "-o", policy])
        #expect(derive.status == 0, "\(derive.stderr)")
        #expect(try CLIRunner.run("keyrelease", ["policy", "check", policy]).status == 0)
        let ok = try CLIRunner.run("keyrelease", ["verify-quote"] + Self.quoteArgs() + ["--policy", policy, "--json"])
        #expect(ok.status == 0)
        #expect(try ok.json()["accepted"] as? Bool == true)

        let text = try String(contentsOfFile: policy, encoding: .utf8)
        for field in ["mrTD", "rtmr0", "rtmr1", "rtmr2", "rtmr3", "mrSeam", "mrConfigID", "mrOwner", "mrOwnerConfig"] {
            // Change the last hex digit of that field's value.
            var lines = text.components(separatedBy: "\n")
            let i = try #require(lines.firstIndex { $0.trimmingCharacters(in: .whitespaces).hasPrefix("\(field):") })
            let last = lines[i].index(lines[i].endIndex, offsetBy: -2)
            lines[i].replaceSubrange(last...last, with: lines[i][last] == "0" ? "1" : "0")
            let changed = Self.temp("changed.yaml")
            defer { try? FileManager.default.removeItem(atPath: changed) }
            try lines.joined(separator: "\n").write(toFile: changed, atomically: true, encoding: .utf8)
            let r = try CLIRunner.run("keyrelease", ["verify-quote"] + Self.quoteArgs() + ["--policy", changed, "--json"])
            #expect(r.status == 1, "\(field)")
            let failures = try #require(try r.json()["failures"] as? [[String: String]])
            #expect(failures.count == 1)
            #expect(failures.first?["code"] == "measurementMismatch")
            #expect(failures.first?["message"]?.hasPrefix("tdx.\(field):") == true, "\(failures)")
        }
    }

    @Test func checkReportsLines() throws {
        let bad = Self.temp("bad.yaml")
        defer { try? FileManager.default.removeItem(atPath: bad) }
        let repo = TestVectors.packageRoot.appendingPathComponent("policies/dcap-qvl-sample-tdx.yaml").path
        let text = try String(contentsOfFile: repo, encoding: .utf8).replacingOccurrences(of: "allowDebug: false", with: "alowDebug: false")
        try text.write(toFile: bad, atomically: true, encoding: .utf8)
        let r = try CLIRunner.run("keyrelease", ["policy", "check", bad, "--json"])
        #expect(r.status == 2)
        let problems = try #require(try r.json()["problems"] as? [[String: Any]])
        let line = text.components(separatedBy: "\n").firstIndex { $0.contains("alowDebug") }! + 1
        #expect(problems.contains { ($0["line"] as? Int) == line && ($0["message"] as? String)?.contains("did you mean \"allowDebug\"") == true })
        #expect(try CLIRunner.run("keyrelease", ["policy", "check", repo]).status == 0)
    }

    @Test func policyExcludesAcceptFlags() throws {
        let repo = TestVectors.packageRoot.appendingPathComponent("policies/dcap-qvl-sample-tdx.yaml").path
        #expect(try CLIRunner.run("keyrelease", ["verify-quote"] + Self.quoteArgs() + ["--policy", repo, "--allow-debug"]).status == 3)
        #expect(try CLIRunner.run("keyrelease", ["verify-quote"] + Self.quoteArgs() + ["--policy", repo]).status == 0)
    }

    // MARK: - What derive refuses, and complete measurement sets

    static let snpAt = ["--at", "2026-11-24T00:00:00Z"]

    /// The go-sev-guest report (POLICY.DEBUG set) with its certificates.
    static func debugSNPArgs() throws -> [String] {
        [
            try TestVectors.path("snp/go-sev-guest/attestation.bin"), "--platform", "snp",
            "--cert", try TestVectors.path("snp/go-sev-guest/vcek.testcer"), "--cert", try TestVectors.path("snp/go-sev-guest/ask_ark_milan.pem"),
        ] + snpAt
    }

    /// The dcap-qvl hex quote: authentic, but no TCB level of its collateral matches.
    static func unknownTCBArgs() throws -> [String] {
        [try TestVectors.path("tdx/dcap-qvl/tdx-quote.hex"), "--collateral", try TestVectors.path("tdx/dcap-qvl/tdx_quote_collateral.json"), "--at", "2025-07-01T00:00:00Z"]
    }

    /// A refusal: exit 3, one line on stderr naming the flag, and with --json one object whose
    /// error is goldenEvidenceRefused; no file written.
    static func expectRefused(_ args: [String], flag: String) throws {
        let out = Self.temp("refused.yaml")
        let r = try CLIRunner.run("keyrelease", ["policy", "derive"] + args + ["-o", out])
        #expect(r.status == 3, "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1 && r.stderr.contains("refused as golden evidence") && r.stderr.contains(flag), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
        let j = try CLIRunner.run("keyrelease", ["policy", "derive"] + args + ["--json"])
        #expect(j.status == 3)
        let object = try j.json()
        let error = try #require(object["error"] as? [String: Any], "\(j.stdout)")
        #expect(error["code"] as? String == "goldenEvidenceRefused")
        #expect((error["message"] as? String)?.contains(flag) == true)
        #expect(object["policy"] is NSNull && object["output"] is NSNull)
    }

    @Test func deriveRefusesDebugEvidenceUnlessAllowed() throws {
        try Self.expectRefused(try Self.debugSNPArgs(), flag: "--allow-debug")
        let policy = Self.temp("lab.yaml")
        defer { try? FileManager.default.removeItem(atPath: policy) }
        let r = try CLIRunner.run("keyrelease", ["policy", "derive"] + (try Self.debugSNPArgs()) + ["--allow-debug", "-o", policy, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try r.json()["output"] as? String == policy)
        #expect(try r.json()["error"] is NSNull)
        let text = try String(contentsOfFile: policy, encoding: .utf8)
        #expect(text.contains("allowDebug: true"))
        #expect(try r.json()["policy"] as? String == text)
        #expect(try CLIRunner.run("keyrelease", ["verify-quote"] + (try Self.debugSNPArgs()) + ["--policy", policy]).status == 0)
        // An allowance for a platform none of the files is is refused, like any flag for another platform.
        let otherPlatform = try CLIRunner.run("keyrelease", ["policy", "derive"] + (try Self.debugSNPArgs()) + ["--allow-debug", "--allow-unknown-tcb"])
        #expect(otherPlatform.status == 3 && otherPlatform.stderr.contains("--allow-unknown-tcb applies to tdx evidence"), "\(otherPlatform.stderr)")
    }

    @Test func deriveRefusesUnknownTCBUnlessAllowed() throws {
        try Self.expectRefused(try Self.unknownTCBArgs(), flag: "--allow-unknown-tcb")
        let policy = Self.temp("unknown-tcb.yaml")
        defer { try? FileManager.default.removeItem(atPath: policy) }
        let r = try CLIRunner.run("keyrelease", ["policy", "derive"] + (try Self.unknownTCBArgs()) + ["--allow-unknown-tcb", "-o", policy])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try String(contentsOfFile: policy, encoding: .utf8).contains("7ba9e262ce6979087e34632603f354dd8f8a870f5947d116af8114db6c9d0d74c48bec4280e5b4f4a37025a10905bb29"))
        // Its measurements are taken; the evidence itself is still refused: no TCB level.
        let v = try CLIRunner.run("keyrelease", ["verify-quote"] + (try Self.unknownTCBArgs()) + ["--policy", policy, "--json"])
        #expect(v.status == 1)
        #expect((try v.json()["failures"] as? [[String: String]])?.map { $0["code"] } == ["noMatchingTCBLevel"])
    }

    /// Two real SNP reports (virtee and trustee, each packed with its certificates): the policy
    /// lists two complete sets and accepts each report.
    @Test func deriveFromTwoGoldensWritesCompleteSets() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sets-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let reports = [
            ("snp/virtee-sev/report_milan.hex", ["snp/virtee-sev/vcek_milan.der", "snp/virtee-sev/cert_chain_milan"]),
            ("snp/trustee/snp/test-report.bin", ["snp/trustee/snp/test-vcek.der", "snp/trustee/milan_ask_ark_asvk.pem"]),
        ]
        var bundles = [String]()
        for (i, (report, certs)) in reports.enumerated() {
            let bundle = dir + "/evidence\(i).json"
            let pack = try CLIRunner.run(
                "keyrelease",
                ["evidence", "pack", "--platform", "snp", "--report", try TestVectors.path(report), "-o", bundle]
                    + certs.flatMap { ["--cert", try TestVectors.path($0)] })
            #expect(pack.status == 0, "\(pack.stderr)")
            bundles.append(bundle)
        }
        let policy = dir + "/two.yaml"
        let derive = try CLIRunner.run("keyrelease", ["policy", "derive"] + bundles + ["-o", policy] + Self.snpAt)
        #expect(derive.status == 0, "\(derive.stderr)")
        let text = try String(contentsOfFile: policy, encoding: .utf8)
        #expect(text.contains("    measurementSets:\n      - measurement: \"7a1e5c26") && !text.contains("    measurements:"), "\(text)")
        #expect(text.components(separatedBy: "\n      - measurement: ").count == 3)
        #expect(try CLIRunner.run("keyrelease", ["policy", "check", policy]).status == 0)
        for bundle in bundles {
            let r = try CLIRunner.run("keyrelease", ["verify-quote", bundle, "--policy", policy, "--json"] + Self.snpAt)
            #expect(r.status == 0, "\(bundle): \(r.stdout)")
        }
    }
}
