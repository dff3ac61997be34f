import Foundation
import TestSupport
import Testing

/// `keyrelease verify-quote --platform tpm` and TPM policies, through the real binary (keylime's
/// tpm2-tools quote from MANIFEST.md).
@Suite("CLI: keyrelease verify-quote (TPM)")
struct VerifyQuoteTPMCLITests {
    static let nonce = "db1db298db6d60e6385b7231743e9c3056a18003"

    static func pcrFile(_ dir: String) throws -> String {
        let p = dir + "/pcrs.json"
        let json = #"{"sha256": {"15": "\#(String(repeating: "00", count: 32))", "16": "9dbb22387e019c04da95477333546082ce313152c4a7f8a6e1d5f0c77f4fb6f0", "22": "\#(String(repeating: "ff", count: 32))"}}"#
        try json.write(toFile: p, atomically: true, encoding: .utf8)
        return p
    }

    static func files(_ dir: String, ak: String = "akpub.pem") throws -> [String] {
        try [TestVectors.path("tpm/keylime/quote.out"), "--platform", "tpm", "--signature", TestVectors.path("tpm/keylime/quotesig.out"),
             "--ak", TestVectors.path("tpm/keylime/\(ak)"), "--pcrs", pcrFile(dir)]
    }

    @Test func separateFilesNonceAndPolicy() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tpm-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }

        let ok = try CLIRunner.run("keyrelease", ["verify-quote"] + Self.files(dir, ak: "ak.pub") + ["--nonce", Self.nonce, "--json"])
        #expect(ok.status == 0, "\(ok.stdout) \(ok.stderr)")
        let j = try ok.json()
        #expect(j["platform"] as? String == "tpm")
        let claims = try #require(j["claims"] as? [String: Any])
        #expect(claims["extraData"] as? String == Self.nonce)
        #expect(claims["akName"] as? String == "000b2d3fb7830f6cb214fac7d7cb213a21a0609148c4505927db61287e1e80322336")
        #expect((claims["pcrs"] as? [String: [String: String]])?["sha256"]?["16"] == "9dbb22387e019c04da95477333546082ce313152c4a7f8a6e1d5f0c77f4fb6f0")

        let wrong = try CLIRunner.run("keyrelease", ["verify-quote"] + Self.files(dir) + ["--nonce", "00", "--json"])
        #expect(wrong.status == 2)
        #expect((try wrong.json()["error"] as? [String: String])?["code"] == "nonceMismatch")

        // Pack, derive a PCR policy, accept; one PCR changed in the policy is rejected by name.
        let bundle = dir + "/e.json", policy = dir + "/p.yaml"
        let pack = try CLIRunner.run("keyrelease", ["evidence", "pack", "--platform", "tpm", "--attest", try TestVectors.path("tpm/keylime/quote.out"),
                                                    "--signature", try TestVectors.path("tpm/keylime/quotesig.out"), "--ak", try TestVectors.path("tpm/keylime/akpub.pem"),
                                                    "--pcrs", try Self.pcrFile(dir), "--nonce", Self.nonce, "-o", bundle])
        #expect(pack.status == 0, "\(pack.stderr)")
        #expect(try CLIRunner.run("keyrelease", ["policy", "derive", bundle, "-o", policy]).status == 0)
        #expect(try CLIRunner.run("keyrelease", ["verify-quote", bundle, "--nonce", Self.nonce, "--policy", policy]).status == 0)
        let text = try String(contentsOfFile: policy, encoding: .utf8)
        let changed = dir + "/changed.yaml"
        try text.replacingOccurrences(of: "9dbb22387e019c04", with: "9dbb22387e019c05").write(toFile: changed, atomically: true, encoding: .utf8)
        let r = try CLIRunner.run("keyrelease", ["verify-quote", bundle, "--nonce", Self.nonce, "--policy", changed, "--json"])
        #expect(r.status == 1, "\(r.stdout)")
        let failures = try #require(try r.json()["failures"] as? [[String: String]])
        #expect(failures.map { $0["code"] } == ["measurementMismatch"])
        #expect(failures.first?["message"]?.contains("16") == true, "\(failures)")
    }

    /// tpm2-tools' binary PCR file is read as well as JSON.
    @Test func binaryPCRFile() throws {
        let r = try CLIRunner.run("keyrelease", ["verify-quote", try TestVectors.path("tpm/keylime/quote.out"), "--platform", "tpm",
                                                 "--signature", try TestVectors.path("tpm/keylime/quotesig.out"), "--ak", try TestVectors.path("tpm/keylime/ak.pub"),
                                                 "--pcrs", try TestVectors.path("tpm/keylime/quotepcr.out"), "--nonce", Self.nonce, "--json"])
        #expect(r.status == 0, "\(r.stdout) \(r.stderr)")
        #expect(((try r.json()["claims"] as? [String: Any])?["pcrDigest"] as? String) == "ec1636c69c548fd09a165a4f874e5d1610a8fbe36241566017e92b17e144b971")
    }

    /// The GCE vTPM quote with its event log and AK certificate chain (MANIFEST.md rows for
    /// gce-cos-85-nonce9009): accepted with --ak-root; refused without a root, with a wrong
    /// nonce, and with an event log from elsewhere.
    @Test func gceQuoteWithEventLogAndAKCertificates() throws {
        let x = "tpm/go-tpm-tools/extracted/gce-cos-85-nonce9009"
        let base = [try TestVectors.path("\(x).quote1.sha256.attest.bin"), "--platform", "tpm",
                    "--signature", try TestVectors.path("\(x).quote1.sha256.sig.tpmt"), "--ak", try TestVectors.path("\(x).ak.tpmt_public"),
                    "--pcrs", try TestVectors.path("\(x).quote1.sha256.pcrs.json"),
                    "--cert", try TestVectors.path("\(x).akcert.der"), "--cert", try TestVectors.path("tpm/go-tpm-tools/tpm_ek_intermediate_2.crt"),
                    "--at", "2026-11-24T00:00:00Z", "--json"]
        let root = ["--ak-root", try TestVectors.path("tpm/go-tpm-tools/tpm_ek_root_1.cer")]
        let log = ["--event-log", try TestVectors.path("\(x).eventlog.bin")]
        let ok = try CLIRunner.run("keyrelease", ["verify-quote"] + base + root + log + ["--nonce", "9009"])
        #expect(ok.status == 0, "\(ok.stdout) \(ok.stderr)")
        let claims = try #require(try ok.json()["claims"] as? [String: Any])
        #expect(claims["extraData"] as? String == "9009")
        #expect((claims["akCertificate"] as? String)?.hasPrefix("serial ") == true)
        #expect(claims["imageDigests"] as? [String] == [])

        func code(_ args: [String]) throws -> (Int32, String?) {
            let r = try CLIRunner.run("keyrelease", ["verify-quote"] + args)
            return (r.status, (try r.json()["error"] as? [String: String])?["code"])
        }
        #expect(try code(base + log + ["--nonce", "9009"]) == (2, "untrustedRoot"))
        #expect(try code(base + root + log + ["--nonce", "9010"]) == (2, "nonceMismatch"))
        let ccel = ["--event-log", try TestVectors.path("tdx/go-tdx-guest/ccel/ccel_data.dat")]
        #expect(try code(base + root + ccel + ["--nonce", "9009"]) == (2, "eventLogMismatch"))
    }

    /// MANIFEST.md's go-tpm-tools protobuf rows through the CLI: the SHA-256 quote, its event log
    /// and AK certificate (trusting Google's intermediate CA as the anchor).
    @Test(arguments: [("gce-cos-85-no-nonce.pb", ""), ("gce-cos-85-nonce9009.pb", "9009")])
    func goTPMToolsProtobuf(_ file: String, _ nonce: String) throws {
        let args = ["verify-quote", try TestVectors.path("tpm/go-tpm-tools/\(file)"), "--platform", "tpm",
                    "--ak-root", try TestVectors.path("tpm/go-tpm-tools/tpm_ek_intermediate_2.crt"), "--at", "2026-11-24T00:00:00Z", "--json"]
        let ok = try CLIRunner.run("keyrelease", args + ["--nonce", nonce.isEmpty ? "" : nonce])
        #expect(ok.status == 0, "\(ok.stdout) \(ok.stderr)")
        let claims = try #require(try ok.json()["claims"] as? [String: Any])
        #expect(claims["pcrDigest"] as? String == "048937cbaaf28af85a5b0c0997e725097a0d94e05fcda104a82ee3fb6b2e1808")
        #expect(claims["extraData"] as? String == nonce)
        let wrong = try CLIRunner.run("keyrelease", args + ["--nonce", "9010"])
        #expect(wrong.status == 2)
        let noRoot = try CLIRunner.run("keyrelease", ["verify-quote", try TestVectors.path("tpm/go-tpm-tools/\(file)"), "--platform", "tpm", "--json"])
        #expect((try noRoot.json()["error"] as? [String: String])?["code"] == "untrustedRoot")
    }
}
