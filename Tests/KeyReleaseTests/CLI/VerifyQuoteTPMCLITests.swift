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
        let json =
            #"{"sha256": {"15": "\#(String(repeating: "00", count: 32))", "16": "9dbb22387e019c04da95477333546082ce313152c4a7f8a6e1d5f0c77f4fb6f0", "22": "\#(String(repeating: "ff", count: 32))"}}"#
        try json.write(toFile: p, atomically: true, encoding: .utf8)
        return p
    }

    /// The GCE vTPM quote (MANIFEST.md, gce-cos-85-nonce9009) as separate tpm2-tools-style files.
    static let gce = "tpm/go-tpm-tools/extracted/gce-cos-85-nonce9009"

    static func gceFiles(ak: String = "ak.tpmt_public") throws -> [String] {
        try [
            TestVectors.path("\(gce).quote1.sha256.attest.bin"), "--platform", "tpm", "--signature", TestVectors.path("\(gce).quote1.sha256.sig.tpmt"),
            "--ak", TestVectors.path("\(gce).\(ak)"), "--pcrs", TestVectors.path("\(gce).quote1.sha256.pcrs.json"), "--at", "2026-11-24T00:00:00Z",
        ]
    }

    static func gceAnchor() throws -> [String] {
        try [
            "--cert", TestVectors.path("\(gce).akcert.der"), "--cert", TestVectors.path("tpm/go-tpm-tools/tpm_ek_intermediate_2.crt"),
            "--ak-root", TestVectors.path("tpm/go-tpm-tools/tpm_ek_root_1.cer"),
        ]
    }

    /// A quote is judged only through an anchor: a certificate chain to --ak-root, a policy pin,
    /// or (lab only, loudly) the presented key. Without one it verifies but is not accepted.
    @Test func separateFilesAnchorsNonceAndPolicy() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tpm-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }

        let ok = try CLIRunner.run("keyrelease", ["verify-quote"] + Self.gceFiles() + Self.gceAnchor() + ["--nonce", "9009", "--json"])
        #expect(ok.status == 0, "\(ok.stdout) \(ok.stderr)")
        let j = try ok.json()
        #expect(j["platform"] as? String == "tpm")
        #expect(j["accepted"] as? Bool == true)
        let claims = try #require(j["claims"] as? [String: Any])
        #expect(claims["extraData"] as? String == "9009")
        #expect(claims["akName"] as? String == "000bf175bdb57297b2b289973f819863d6c9d09c236725676914f4248c9a2404c2a4")
        #expect(claims["akAnchor"] as? String == "certificate")
        #expect((claims["akKeyDigest"] as? String)?.hasPrefix("sha256:") == true)

        // No anchor: verified, not accepted, akUntrusted (exit 1).
        let bare = try CLIRunner.run("keyrelease", ["verify-quote"] + Self.gceFiles() + ["--nonce", "9009", "--json"])
        #expect(bare.status == 1, "\(bare.stdout) \(bare.stderr)")
        let bj = try bare.json()
        #expect(bj["verified"] as? Bool == true && bj["accepted"] as? Bool == false)
        #expect((bj["failures"] as? [[String: String]])?.map { $0["code"] } == ["akUntrusted"])
        #expect((bj["claims"] as? [String: Any])?["akAnchor"] as? String == nil)
        // The lab switch says what it did.
        let lab = try CLIRunner.run("keyrelease", ["verify-quote"] + Self.gceFiles() + ["--nonce", "9009", "--dangerously-trust-presented-ak", "--json"])
        #expect(lab.status == 0, "\(lab.stdout)")
        #expect((try lab.json()["claims"] as? [String: Any])?["akAnchor"] as? String == "presented-key-trusted-for-lab")

        // A bare SubjectPublicKeyInfo is no attestation key, whatever signed with it.
        let spki = try CLIRunner.run("keyrelease", ["verify-quote"] + Self.gceFiles(ak: "ak.spki.pem") + Self.gceAnchor() + ["--nonce", "9009", "--json"])
        #expect(spki.status == 2)
        #expect((try spki.json()["error"] as? [String: String])?["code"] == "akAttributesInvalid")

        let wrong = try CLIRunner.run("keyrelease", ["verify-quote"] + Self.gceFiles() + Self.gceAnchor() + ["--nonce", "00", "--json"])
        #expect(wrong.status == 2)
        #expect((try wrong.json()["error"] as? [String: String])?["code"] == "nonceMismatch")

        // Pack without certificates, derive a policy: it pins the AK by name and accepts without
        // any other anchor; one PCR changed in the policy is rejected by name; another pinned AK
        // is akUntrusted.
        let bundle = dir + "/e.json", policy = dir + "/p.yaml"
        let pack = try CLIRunner.run(
            "keyrelease",
            [
                "evidence", "pack", "--platform", "tpm", "--attest", try TestVectors.path("\(Self.gce).quote1.sha256.attest.bin"),
                "--signature", try TestVectors.path("\(Self.gce).quote1.sha256.sig.tpmt"), "--ak", try TestVectors.path("\(Self.gce).ak.tpmt_public"),
                "--pcrs", try TestVectors.path("\(Self.gce).quote1.sha256.pcrs.json"), "--nonce", "9009", "-o", bundle,
            ])
        #expect(pack.status == 0, "\(pack.stderr)")
        let derive = try CLIRunner.run("keyrelease", ["policy", "derive", bundle, "-o", policy])
        #expect(derive.status == 0, "\(derive.stdout) \(derive.stderr)")
        let text = try String(contentsOfFile: policy, encoding: .utf8)
        #expect(text.contains("attestationKeys:\n      - \"000bf175bdb57297b2b289973f819863d6c9d09c236725676914f4248c9a2404c2a4\""), "\(text)")
        let pinned = try CLIRunner.run("keyrelease", ["verify-quote", bundle, "--nonce", "9009", "--policy", policy, "--json"])
        #expect(pinned.status == 0, "\(pinned.stdout)")
        let pcrs = try JSONSerialization.jsonObject(with: Data(TestVectors.bytes("\(Self.gce).quote1.sha256.pcrs.json"))) as? [String: [String: String]]
        let pcr0 = try #require(pcrs?["sha256"]?["0"])
        let changed = dir + "/changed.yaml"
        try text.replacingOccurrences(of: pcr0, with: String(pcr0.dropLast()) + (pcr0.last == "0" ? "1" : "0")).write(toFile: changed, atomically: true, encoding: .utf8)
        let r = try CLIRunner.run("keyrelease", ["verify-quote", bundle, "--nonce", "9009", "--policy", changed, "--json"])
        #expect(r.status == 1, "\(r.stdout)")
        let failures = try #require(try r.json()["failures"] as? [[String: String]])
        #expect(failures.map { $0["code"] } == ["measurementMismatch"])
        #expect(failures.first?["message"]?.contains("pcr.sha256.0") == true, "\(failures)")
        let otherKey = dir + "/other-key.yaml"
        try text.replacingOccurrences(of: "000bf175bdb5", with: "000bf175bdb6").write(toFile: otherKey, atomically: true, encoding: .utf8)
        let o = try CLIRunner.run("keyrelease", ["verify-quote", bundle, "--nonce", "9009", "--policy", otherKey, "--json"])
        #expect(o.status == 1)
        #expect((try o.json()["failures"] as? [[String: String]])?.map { $0["code"] } == ["akUntrusted"])
    }

    /// keylime's tpm2-tools quote (binary PCR file): its AK is a child of the EK, so the quote's
    /// qualifiedSigner cannot be tied to the AK without the parent's qualified name. Reaching
    /// that check proves the binary PCR file was read (the PCR digest is checked before it).
    @Test func binaryPCRFileAndChildAK() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tpm-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func run(pcrs: String) throws -> CLIRunner.Result {
            try CLIRunner.run(
                "keyrelease",
                [
                    "verify-quote", try TestVectors.path("tpm/keylime/quote.out"), "--platform", "tpm",
                    "--signature", try TestVectors.path("tpm/keylime/quotesig.out"), "--ak", try TestVectors.path("tpm/keylime/ak.pub"),
                    "--pcrs", pcrs, "--nonce", Self.nonce, "--json",
                ])
        }
        let r = try run(pcrs: try TestVectors.path("tpm/keylime/quotepcr.out"))
        #expect(r.status == 2, "\(r.stdout) \(r.stderr)")
        let error = try #require(try r.json()["error"] as? [String: String])
        #expect(error["code"] == "qualifiedSignerMismatch")
        #expect(error["message"]?.contains("akParentQualifiedName") == true)
        // A bent PCR value fails earlier, at the digest.
        let bent = dir + "/bent.json"
        try String(contentsOfFile: try Self.pcrFile(dir), encoding: .utf8).replacingOccurrences(of: "9dbb", with: "9dbc").write(toFile: bent, atomically: true, encoding: .utf8)
        #expect((try run(pcrs: bent).json()["error"] as? [String: String])?["code"] == "pcrDigestMismatch")
    }

    /// The GCE vTPM quote with its event log and AK certificate chain (MANIFEST.md rows for
    /// gce-cos-85-nonce9009): accepted with --ak-root; refused without a root, with a wrong
    /// nonce, and with an event log from elsewhere.
    @Test func gceQuoteWithEventLogAndAKCertificates() throws {
        let x = "tpm/go-tpm-tools/extracted/gce-cos-85-nonce9009"
        let base = [
            try TestVectors.path("\(x).quote1.sha256.attest.bin"), "--platform", "tpm",
            "--signature", try TestVectors.path("\(x).quote1.sha256.sig.tpmt"), "--ak", try TestVectors.path("\(x).ak.tpmt_public"),
            "--pcrs", try TestVectors.path("\(x).quote1.sha256.pcrs.json"),
            "--cert", try TestVectors.path("\(x).akcert.der"), "--cert", try TestVectors.path("tpm/go-tpm-tools/tpm_ek_intermediate_2.crt"),
            "--at", "2026-11-24T00:00:00Z", "--json",
        ]
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
        let args = [
            "verify-quote", try TestVectors.path("tpm/go-tpm-tools/\(file)"), "--platform", "tpm",
            "--ak-root", try TestVectors.path("tpm/go-tpm-tools/tpm_ek_intermediate_2.crt"), "--at", "2026-11-24T00:00:00Z", "--json",
        ]
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

    static func azureArgs(_ file: String) throws -> [String] {
        [
            "verify-quote", try TestVectors.path("tpm/trustee-azure-snp-vtpm/\(file)"), "--cert", try TestVectors.path("snp/go-sev-guest/ask_ark_milan.pem"),
            "--at", "2026-11-24T00:00:00Z", "--json",
        ]
    }

    /// MANIFEST.md's Azure vTPM rows as Azure's guest tools write them, through verify-quote: the
    /// HCL report's HCLAkPub anchors the AK, the nonce is "challenge".
    @Test(arguments: ["evidence-v0.json", "evidence-v1.json"])
    func azureVTPMEvidence(_ file: String) throws {
        let ok = try CLIRunner.run("keyrelease", try Self.azureArgs(file) + ["--ak-from-hardware-report", "--nonce", "6368616c6c656e6765"])
        #expect(ok.status == 0, "\(ok.stdout) \(ok.stderr)")
        let j = try ok.json()
        #expect(j["platform"] as? String == "tpm")
        #expect(j["claimsVerified"] as? Bool == true)
        let claims = try #require(j["claims"] as? [String: Any])
        #expect(claims["extraData"] as? String == "6368616c6c656e6765")
        #expect(claims["akAnchor"] as? String == "hardware-report:snp")
        #expect((claims["pcrs"] as? [String: [String: String]])?["sha256"]?["0"] == "e15c44796beabf46abcec7c57e590942041e47497e4ec27571c8b7664f48dced")
        // Another nonce: invalid (2), claims shown unverified.
        let wrong = try CLIRunner.run("keyrelease", try Self.azureArgs(file) + ["--ak-from-hardware-report", "--nonce", "6368616c6c656e6766"])
        #expect(wrong.status == 2)
        #expect(try wrong.json()["claimsVerified"] as? Bool == false)
        // Without the switch the hardware report is refused, and the operator is told which flag enables it.
        let off = try CLIRunner.run("keyrelease", try Self.azureArgs(file))
        #expect(off.status == 2)
        let error = try #require(try off.json()["error"] as? [String: String])
        #expect(error["code"] == "akBindingMismatch")
        #expect(error["message"]?.contains("--ak-from-hardware-report") == true)
        // bench verify reads the same file through the same reader.
        let bench = try CLIRunner.run("keyrelease", ["bench", "verify", try TestVectors.path("tpm/trustee-azure-snp-vtpm/\(file)"), "--iterations", "1", "--json"])
        #expect(bench.status == 0, "\(bench.stdout) \(bench.stderr)")
        #expect(try bench.json()["coldMicros"] is Double)
    }

    /// --inspect on TPM evidence: signature, PCR digest and AK attributes checked, anchoring not;
    /// a flipped signature byte fails (2).
    @Test func inspectTPM() throws {
        let args = ["verify-quote", try TestVectors.path("tpm/go-tpm-tools/gce-cos-85-nonce9009.pb"), "--platform", "tpm", "--inspect", "--json"]
        let r = try CLIRunner.run("keyrelease", args)
        #expect(r.status == 0, "\(r.stdout) \(r.stderr)")
        let j = try r.json()
        #expect(j["inspected"] as? Bool == true)
        #expect(j["accepted"] as? Bool == false)
        #expect(j["verified"] as? Bool == false)
        #expect((j["checked"] as? [String])?.contains("quote signature by the AK") == true)
        #expect((j["unchecked"] as? [String])?.contains { $0.hasPrefix("AK anchoring") } == true)
        #expect((j["claims"] as? [String: Any])?["extraData"] as? String == "9009")
        try withTemporaryFiles { dir in
            let sig = try TestVectors.bytes("\(Self.gce).quote1.sha256.sig.tpmt")
            var bad = sig
            bad[20] ^= 1
            let path = dir + "/sig.tpmt"
            try Data(bad).write(to: URL(fileURLWithPath: path))
            var files = try Self.gceFiles()
            files[4] = path
            let broken = try CLIRunner.run("keyrelease", ["verify-quote"] + files + ["--inspect", "--json"])
            #expect(broken.status == 2, "\(broken.stdout)")
            #expect((try broken.json()["error"] as? [String: String])?["code"] == "quoteSignatureInvalid")
        }
    }

    func withTemporaryFiles(_ body: (String) throws -> Void) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tpm-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try body(dir)
    }
}
