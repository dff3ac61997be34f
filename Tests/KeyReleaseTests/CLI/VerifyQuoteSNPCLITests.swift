import Foundation
import TestSupport
import Testing

/// `keyrelease verify-quote --platform snp`, evidence bundles and SNP policies, through the real binary.
@Suite("CLI: keyrelease verify-quote (SEV-SNP)")
struct VerifyQuoteSNPCLITests {
    struct Row: Sendable, CustomStringConvertible {
        let report: String
        let certs: [String]
        let at: String
        let exit: Int32
        let failure: String?
        let error: String?
        let measurement: String
        var description: String { "\(report) at \(at)" }
    }

    static let rows: [Row] = [
        Row(
            report: "snp/go-sev-guest/attestation.bin", certs: ["snp/go-sev-guest/vcek.testcer", "snp/go-sev-guest/ask_ark_milan.pem"], at: "2026-11-24T00:00:00Z",
            exit: 1, failure: "debugNotAllowed", error: nil,
            measurement: "b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01"),
        Row(
            report: "snp/virtee-sev/report_milan.hex", certs: ["snp/virtee-sev/vcek_milan.der", "snp/virtee-sev/cert_chain_milan"], at: "2026-11-24T00:00:00Z",
            exit: 0, failure: nil, error: nil,
            measurement: "7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f"),
        Row(
            report: "snp/trustee/snp/test-report.bin", certs: ["snp/trustee/snp/test-vcek.der", "snp/trustee/milan_ask_ark_asvk.pem"], at: "2026-11-24T00:00:00Z",
            exit: 0, failure: nil, error: nil,
            measurement: "a1f3930413247bb38cfc171579ea3c12d5fe4901f0c792f63fd75d98f1ef827c23500644e0e692e6be917f9050d3d38c"),
        Row(
            report: "snp/trustee/snp/test-vlek-report.bin", certs: ["snp/trustee/snp/test-vlek.der", "snp/trustee/milan_ask_ark_asvk.pem"], at: "2025-06-01T00:00:00Z",
            exit: 0, failure: nil, error: nil,
            measurement: "8922ebbdd00ec2c541f36a6e7a82a8773a7accb451ed67bc94e740dbe92c93c4e8c9af857f5ceeb5a493df2a570d7bf0"),
        Row(
            report: "snp/trustee/snp/test-vlek-report.bin", certs: ["snp/trustee/snp/test-vlek.der", "snp/trustee/milan_ask_ark_asvk.pem"], at: "2026-11-24T00:00:00Z",
            exit: 2, failure: nil, error: "certificateExpired", measurement: ""),
        Row(
            report: "snp/trustee/az-snp-vtpm/hcl-report.bin", certs: ["snp/trustee/az-snp-vtpm/vcek.pem"], at: "2026-11-24T00:00:00Z",
            exit: 0, failure: nil, error: nil,
            measurement: "9ac48fcac8a2d88aeeff8d427ad4f2be0e3917c748a18bdf52cc317e7fe20308b459d5ef1a12e0c22944eb386d17c315"),
    ]

    static func args(_ row: Row) throws -> [String] {
        try ["verify-quote", TestVectors.path(row.report), "--platform", "snp", "--at", row.at, "--json"] + row.certs.flatMap { ["--cert", try TestVectors.path($0)] }
    }

    @Test(arguments: rows)
    func manifestRow(_ row: Row) throws {
        let r = try CLIRunner.run("keyrelease", try Self.args(row))
        #expect(r.status == row.exit, "stderr: \(r.stderr) stdout: \(r.stdout)")
        let j = try r.json()
        #expect(j["platform"] as? String == "snp")
        #expect(j["tcbStatus"] is NSNull)
        if let error = row.error {
            #expect((j["error"] as? [String: String])?["code"] == error)
            #expect(j["verified"] as? Bool == false)
            return
        }
        #expect(j["verified"] as? Bool == true)
        #expect(j["error"] is NSNull)
        #expect((j["failures"] as? [[String: String]])?.map { $0["code"] } == (row.failure.map { [$0] } ?? []))
        let claims = try #require(j["claims"] as? [String: Any])
        #expect(claims["measurement"] as? String == row.measurement)
        for key in ["reportData", "hostData", "chipID", "familyID", "imageID", "signingKey", "reportedTCB", "currentTCB", "policy", "guestSVN", "vmpl", "debug"] {
            #expect(claims[key] != nil, "claims.\(key)")
        }
    }

    @Test func allowDebugAcceptsTheDebugGuest() throws {
        let r = try CLIRunner.run("keyrelease", try Self.args(Self.rows[0]) + ["--allow-debug"])
        #expect(r.status == 0, "\(r.stdout)")
    }

    @Test func missingCertificatesIsExit3() throws {
        let r = try CLIRunner.run("keyrelease", ["verify-quote", try TestVectors.path("snp/trustee/snp/test-report.bin"), "--platform", "snp", "--json"])
        #expect(r.status == 3)
        #expect((try r.json()["error"] as? [String: String])?["code"] == "collateralMissing")
    }

    @Test func bundleDeriveAndPolicyNamingTheChangedField() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("snp-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bundle = dir + "/evidence.json", policy = dir + "/golden.yaml"
        let pack = try CLIRunner.run(
            "keyrelease",
            [
                "evidence", "pack", "--platform", "snp", "--report", try TestVectors.path("snp/trustee/snp/test-report.bin"),
                "--cert", try TestVectors.path("snp/trustee/snp/test-vcek.der"), "--cert", try TestVectors.path("snp/trustee/milan_ask_ark_asvk.pem"), "-o", bundle,
            ])
        #expect(pack.status == 0, "\(pack.stderr)")
        let at = ["--at", "2026-11-24T00:00:00Z"]
        let plain = try CLIRunner.run("keyrelease", ["verify-quote", bundle, "--json"] + at)
        #expect(plain.status == 0, "\(plain.stdout)")
        #expect(try plain.json()["platform"] as? String == "snp")

        let derive = try CLIRunner.run("keyrelease", ["policy", "derive", bundle, "-o", policy] + at)
        #expect(derive.status == 0, "\(derive.stderr)")
        #expect(try CLIRunner.run("keyrelease", ["verify-quote", bundle, "--policy", policy] + at).status == 0)

        let text = try String(contentsOfFile: policy, encoding: .utf8)
        for field in ["measurement", "hostData", "idKeyDigest", "familyID", "imageID"] {
            var lines = text.components(separatedBy: "\n")
            let i = try #require(lines.firstIndex { $0.trimmingCharacters(in: .whitespaces).hasPrefix("\(field):") })
            let last = lines[i].index(lines[i].endIndex, offsetBy: -2)
            lines[i].replaceSubrange(last...last, with: lines[i][last] == "0" ? "1" : "0")
            let changed = dir + "/changed.yaml"
            try lines.joined(separator: "\n").write(toFile: changed, atomically: true, encoding: .utf8)
            let r = try CLIRunner.run("keyrelease", ["verify-quote", bundle, "--policy", changed, "--json"] + at)
            #expect(r.status == 1, "\(field)")
            let failures = try #require(try r.json()["failures"] as? [[String: String]])
            #expect(failures.map { $0["code"] } == ["measurementMismatch"], "\(field): \(failures)")
            #expect(failures.first?["message"]?.hasPrefix("snp.\(field):") == true, "\(failures)")
        }
        // A TDX-only policy rejects SNP evidence: the platform is not allowed.
        let tdxOnly = TestVectors.packageRoot.appendingPathComponent("policies/dcap-qvl-sample-tdx.yaml").path
        let r = try CLIRunner.run("keyrelease", ["verify-quote", bundle, "--policy", tdxOnly, "--json"] + at)
        #expect(r.status == 1)
        #expect((try r.json()["failures"] as? [[String: String]])?.first?["code"] == "platformNotAllowed")
    }

    /// Text output has no TCB status line for SEV-SNP (it has none; only TDX does).
    @Test func textHasNoTCBStatusLine() throws {
        var args = try Self.args(Self.rows[1])
        args.removeAll { $0 == "--json" }
        let r = try CLIRunner.run("keyrelease", args)
        #expect(r.status == 0)
        #expect(!r.stdout.contains("tcb status"))
        #expect(r.stdout.contains("measurement: \(Self.rows[1].measurement)"))
    }

    /// --inspect on SEV-SNP: with certificates the chain and signature are checked (0; a flipped
    /// bit of byte 21, as virtee's milan_report_invalid, fails: 2); without, the report only
    /// parses and the lists say the signature is unchecked.
    @Test func inspectSNP() throws {
        let row = Self.rows[1]
        let ok = try CLIRunner.run("keyrelease", try Self.args(row) + ["--inspect"])
        #expect(ok.status == 0, "\(ok.stdout) \(ok.stderr)")
        #expect((try ok.json()["checked"] as? [String])?.contains("report signature by the VCEK/VLEK") == true)
        let bare = try CLIRunner.run("keyrelease", ["verify-quote", try TestVectors.path(row.report), "--platform", "snp", "--inspect", "--json"])
        #expect(bare.status == 0)
        #expect((try bare.json()["checked"] as? [String]) == [])
        #expect((try bare.json()["unchecked"] as? [String])?.contains("report signature by the VCEK/VLEK") == true)
        #expect((try bare.json()["claims"] as? [String: Any])?["measurement"] as? String == row.measurement)
        let hex = try String(contentsOfFile: try TestVectors.path(row.report), encoding: .utf8).filter(\.isHexDigit)
        var bytes = try Array(hex.utf8).chunks2()
        bytes[21] ^= 0x80
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("snp-\(UUID()).bin")
        try Data(bytes).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        var args = try Self.args(row)
        args[1] = file.path
        let bad = try CLIRunner.run("keyrelease", args + ["--inspect"])
        #expect(bad.status == 2, "\(bad.stdout)")
    }
}

extension Array where Element == UInt8 {
    /// Hex text (UTF-8) to bytes.
    func chunks2() throws -> [UInt8] {
        stride(from: 0, to: count - 1, by: 2).map { UInt8(String(decoding: self[$0..<$0 + 2], as: UTF8.self), radix: 16)! }
    }
}
