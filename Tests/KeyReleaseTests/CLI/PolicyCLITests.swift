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
}
