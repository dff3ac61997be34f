import Foundation
import TestSupport
import Testing

/// The `keyrelease verify-quote` contract, exercised through the real binary.
@Suite("CLI: keyrelease verify-quote")
struct VerifyQuoteCLITests {
    struct Row: Sendable, CustomStringConvertible {
        let quote: String
        let collateral: [String]
        let at: String
        let exit: Int32
        let tcbStatus: String?
        let mrTD: String
        let rtmr3: String
        let fmspc: String
        var description: String { quote }
    }

    static let rows: [Row] = [
        Row(
            quote: "tdx/dcap-qvl/tdx_quote", collateral: ["tdx/dcap-qvl/tdx_quote_collateral.json"], at: "2025-07-01T00:00:00Z", exit: 0, tcbStatus: "UpToDate",
            mrTD: "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7", rtmr3: String(repeating: "0", count: 96), fmspc: "b0c06f000000"),
        Row(
            quote: "tdx/dcap-qvl/tdx_quote_outdated", collateral: ["tdx/dcap-qvl/tdx_quote_outdated_collateral.json"], at: "2026-03-01T00:00:00Z", exit: 1, tcbStatus: nil,
            mrTD: "273828c46252fcbdd8ad2dd907130222b03466d52a2911d70c1a5950895d6bd1ae451d382d5a9b1b4c0ed0e5ae9a3dbd", rtmr3: String(repeating: "0", count: 96), fmspc: "90c06f000000"),
        Row(
            quote: "tdx/dcap-qvl/tdx-quote.hex", collateral: ["tdx/dcap-qvl/tdx_quote_collateral.json"], at: "2025-07-01T00:00:00Z", exit: 1, tcbStatus: nil,
            mrTD: "7ba9e262ce6979087e34632603f354dd8f8a870f5947d116af8114db6c9d0d74c48bec4280e5b4f4a37025a10905bb29",
            rtmr3: "547fcba4630bfb981169a8a1903b79c244933413409dd0387acbd8e3b985bcc9164cf52735cd31f60bf2c5d1220c113f", fmspc: "b0c06f000000"),
        Row(
            quote: "tdx/go-tdx-guest/tdx_prod_quote_SPR_E4.dat", collateral: ["tdx/go-tdx-guest"], at: "2023-07-01T01:00:00Z", exit: 1, tcbStatus: nil,
            mrTD: "6363b8043668a3ad953278e10389574d326c6749fb78aa810ecd9336923db86f22fc00b8dcd404bc10d5e119d7215cbb", rtmr3: String(repeating: "0", count: 96), fmspc: "50806f000000"),
        Row(
            quote: "tdx/go-tdx-guest/quote_v5_sample.dat", collateral: ["tdx/dcap-qvl/tdx_quote_outdated_collateral.json", "tdx/go-tdx-guest/sample_tcbinfo_response_v5"],
            at: "2026-03-01T00:00:00Z", exit: 0, tcbStatus: "UpToDate",
            mrTD: "7348651a34b2d2d3462822e3a750ec6110125f36757c78480bbfc69cc0d21fb001a1ced3ee19747dda8f750c3bc8f876", rtmr3: String(repeating: "0", count: 96), fmspc: "90c06f000000"),
    ]

    static func args(_ row: Row) throws -> [String] {
        try ["verify-quote", TestVectors.path(row.quote), "--at", row.at, "--json"] + row.collateral.flatMap { ["--collateral", try TestVectors.path($0)] }
    }

    @Test(arguments: rows)
    func manifestRow(_ row: Row) throws {
        let r = try CLIRunner.run("keyrelease", try Self.args(row))
        #expect(r.status == row.exit, "stderr: \(r.stderr)")
        let j = try r.json()
        #expect(j["platform"] as? String == "tdx")
        #expect(j["verified"] as? Bool == true)
        #expect(j["accepted"] as? Bool == (row.exit == 0))
        #expect(j["tcbStatus"] as? String == row.tcbStatus)
        #expect(j["tcbStatus"] != nil, "tcbStatus key must be present even when null")
        #expect((j["advisories"] as? [String]) == [])
        #expect(j["error"] is NSNull)
        #expect(j["claimsVerified"] as? Bool == true)
        let failures = j["failures"] as? [[String: String]] ?? []
        #expect(failures.map { $0["code"] } == (row.exit == 0 ? [] : ["noMatchingTCBLevel"]))
        let claims = try #require(j["claims"] as? [String: Any])
        #expect(claims["mrTD"] as? String == row.mrTD)
        let rtmrs = try #require(claims["rtmrs"] as? [String])
        #expect(rtmrs.count == 4)
        #expect(rtmrs[3] == row.rtmr3)
        #expect(claims["fmspc"] as? String == row.fmspc)
        #expect(claims["debug"] as? Bool == false)
        for key in ["mrSeam", "reportData", "tdAttributes", "teeTCBSVN"] {
            let v = try #require(claims[key] as? String, "claims.\(key)")
            #expect(v == v.lowercased() && !v.isEmpty)
        }
    }

    @Test func invalidEvidenceExits2() throws {
        let r = try CLIRunner.run(
            "keyrelease",
            ["verify-quote", TestVectors.path("tdx/dcap-qvl/sgx_quote"), "--collateral", TestVectors.path("tdx/dcap-qvl/sgx_quote_collateral.json"), "--at", "2025-07-01T00:00:00Z", "--json"])
        #expect(r.status == 2)
        let error = try #require(try r.json()["error"] as? [String: String])
        #expect(error["code"] == "wrongTEEType")
    }

    @Test func expiredCollateralExits2() throws {
        var args = try Self.args(Self.rows[0])
        args[3] = "2025-07-20T00:00:00Z"
        let r = try CLIRunner.run("keyrelease", args)
        #expect(r.status == 2)
        let code = try #require((try r.json()["error"] as? [String: String])?["code"])
        #expect(code.hasSuffix("Expired"))
    }

    @Test func tamperedQuoteExits2() throws {
        var bytes = try TestVectors.bytes("tdx/dcap-qvl/tdx_quote")
        bytes[0x100] ^= 1
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("tampered-\(UUID()).quote")
        try Data(bytes).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let r = try CLIRunner.run("keyrelease", ["verify-quote", file.path, "--collateral", TestVectors.path("tdx/dcap-qvl/tdx_quote_collateral.json"), "--at", "2025-07-01T00:00:00Z", "--json"])
        #expect(r.status == 2)
        #expect((try r.json()["error"] as? [String: String])?["code"] == "quoteSignatureInvalid")
    }

    @Test("evidence that parses but fails verification still shows its claims, marked unverified; unparsable input has none")
    func failedEvidenceShowsUnverifiedClaims() throws {
        // TDX: one byte of REPORTDATA changed breaks the quote signature (exit 2); the claims are
        // the quote's own, MRTD as MANIFEST.md states it.
        var bytes = try TestVectors.bytes("tdx/dcap-qvl/tdx_quote")
        bytes[48 + 520] ^= 1
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("tampered-\(UUID()).quote")
        try Data(bytes).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let args = ["verify-quote", file.path, "--collateral", try TestVectors.path("tdx/dcap-qvl/tdx_quote_collateral.json"), "--at", "2025-07-01T00:00:00Z"]
        let r = try CLIRunner.run("keyrelease", args + ["--json"])
        #expect(r.status == 2)
        let j = try r.json()
        #expect(j["verified"] as? Bool == false)
        #expect(j["accepted"] as? Bool == false)
        #expect(j["claimsVerified"] as? Bool == false)
        #expect((j["error"] as? [String: String])?["code"] == "quoteSignatureInvalid")
        let claims = try #require(j["claims"] as? [String: Any])
        #expect(claims["mrTD"] as? String == Self.rows[0].mrTD)
        #expect(claims["fmspc"] as? String == "b0c06f000000")
        let text = try CLIRunner.run("keyrelease", args)
        #expect(text.status == 2)
        #expect(text.stdout.contains("claims (unverified"))
        #expect(text.stdout.contains("mrTD:        \(Self.rows[0].mrTD)"))

        // Expired collateral (2): the genuine quote's claims, unverified.
        var expired = try Self.args(Self.rows[0])
        expired[3] = "2025-07-20T00:00:00Z"
        let e = try CLIRunner.run("keyrelease", expired)
        #expect(e.status == 2)
        #expect(try e.json()["claimsVerified"] as? Bool == false)
        #expect((try e.json()["claims"] as? [String: Any])?["mrTD"] as? String == Self.rows[0].mrTD)

        // SEV-SNP: the VLEK report after the VLEK expired (2); MEASUREMENT from MANIFEST.md.
        let snp = try CLIRunner.run(
            "keyrelease",
            [
                "verify-quote", try TestVectors.path("snp/trustee/snp/test-vlek-report.bin"), "--platform", "snp",
                "--cert", try TestVectors.path("snp/trustee/snp/test-vlek.der"), "--cert", try TestVectors.path("snp/trustee/milan_ask_ark_asvk.pem"),
                "--at", "2026-11-24T00:00:00Z", "--json",
            ])
        #expect(snp.status == 2)
        #expect(try snp.json()["claimsVerified"] as? Bool == false)
        let snpClaims = try #require(try snp.json()["claims"] as? [String: Any])
        #expect(snpClaims["measurement"] as? String == "8922ebbdd00ec2c541f36a6e7a82a8773a7accb451ed67bc94e740dbe92c93c4e8c9af857f5ceeb5a493df2a570d7bf0")
        #expect(snpClaims["signingKey"] as? String == "vlek")

        // Input that does not parse: no claims at all.
        let garbage = try CLIRunner.run("keyrelease", ["verify-quote", try TestVectors.path("tdx/go-tdx-guest/trusted_root.pem"), "--platform", "tdx", "--json"])
        #expect(garbage.status == 2)
        #expect(try garbage.json()["claims"] is NSNull)
        #expect(try garbage.json()["claimsVerified"] as? Bool == false)
    }

    /// --inspect without collateral: the genuine SPR E4 quote (whose full verification lacks a TCB
    /// level) passes every check that ran (0) at MANIFEST.md's instant and fails the PCK chain
    /// in 2053 (2); a tampered quote fails its signature (2). Never verified, never accepted.
    @Test func inspectTDX() throws {
        let quote = try TestVectors.path("tdx/go-tdx-guest/tdx_prod_quote_SPR_E4.dat")
        let ok = try CLIRunner.run("keyrelease", ["verify-quote", quote, "--inspect", "--at", "2023-07-01T01:00:00Z", "--json"])
        #expect(ok.status == 0, "\(ok.stdout) \(ok.stderr)")
        let j = try ok.json()
        #expect(j["inspected"] as? Bool == true)
        #expect(j["verified"] as? Bool == false)
        #expect(j["accepted"] as? Bool == false)
        #expect(j["error"] is NSNull)
        #expect((j["checked"] as? [String])?.count == 4)
        #expect((j["unchecked"] as? [String])?.contains { $0.hasPrefix("TCB Info") } == true)
        #expect((j["claims"] as? [String: Any])?["mrTD"] as? String == "6363b8043668a3ad953278e10389574d326c6749fb78aa810ecd9336923db86f22fc00b8dcd404bc10d5e119d7215cbb")
        let late = try CLIRunner.run("keyrelease", ["verify-quote", quote, "--inspect", "--at", "2053-07-01T01:00:00Z", "--json"])
        #expect(late.status == 2)
        #expect((try late.json()["error"] as? [String: String])?["code"] == "certificateExpired")
        var bytes = try TestVectors.bytes("tdx/go-tdx-guest/tdx_prod_quote_SPR_E4.dat")
        bytes[0x3C] = 0x32  // go-tdx-guest TestNegativeVerification: quote signature
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("tampered-\(UUID()).quote")
        try Data(bytes).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let bad = try CLIRunner.run("keyrelease", ["verify-quote", file.path, "--inspect", "--at", "2023-07-01T01:00:00Z"])
        #expect(bad.status == 2)
        #expect(bad.stdout.contains("quoteSignatureInvalid"))
        #expect(bad.stdout.contains("unchecked:"))
        #expect(!bad.stdout.contains("accepted:"))
        // An inspection asks for no collateral or verdict: such flags are refused.
        #expect(try CLIRunner.run("keyrelease", ["verify-quote", quote, "--inspect", "--collateral", try TestVectors.path("tdx/go-tdx-guest")]).status == 3)
    }

    /// The library says what is missing in its own terms; the CLI adds the flags.
    @Test func missingCollateralNamesTheFlags() throws {
        let r = try CLIRunner.run("keyrelease", ["verify-quote", try TestVectors.path("tdx/dcap-qvl/tdx_quote"), "--json"])
        #expect(r.status == 3)
        let message = try #require((try r.json()["error"] as? [String: String])?["message"])
        #expect(message.hasPrefix("no TDX collateral"))
        #expect(message.contains("--collateral FILE|DIR, or --online"))
        let snp = try CLIRunner.run("keyrelease", ["verify-quote", try TestVectors.path("snp/trustee/snp/test-report.bin"), "--platform", "snp"])
        #expect(snp.status == 3)
        #expect(snp.stdout.contains("--cert FILE"))
    }

    @Test func usageAndMissingCollateralExit3() throws {
        let quote = try TestVectors.path("tdx/dcap-qvl/tdx_quote")
        let missing = try CLIRunner.run("keyrelease", ["verify-quote", quote, "--json"])
        #expect(missing.status == 3)
        #expect((try missing.json()["error"] as? [String: String])?["code"] == "collateralMissing")
        #expect(try CLIRunner.run("keyrelease", ["verify-quote", quote, "--accept-tcb", "Bogus"]).status == 3)
        #expect(try CLIRunner.run("keyrelease", ["verify-quote", quote, "--at", "yesterday"]).status == 3)
        #expect(try CLIRunner.run("keyrelease", ["verify-quote", "/nonexistent/quote"]).status == 3)
        #expect(try CLIRunner.run("keyrelease", ["verify-quote", quote, "--collateral", "/nonexistent"]).status == 3)
    }

    @Test func acceptTCBAndHelp() throws {
        let help = try CLIRunner.run("keyrelease", ["verify-quote", "--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("--accept-tcb") && help.stdout.contains("Exit codes"))
        // The v5 outdated quote has no TCB level: accepting every status still rejects it.
        var args = try Self.args(Self.rows[1])
        args += ["--accept-tcb", "OutOfDate,ConfigurationNeeded,SWHardeningNeeded,Revoked", "--allow-debug"]
        #expect(try CLIRunner.run("keyrelease", args).status == 1)
    }

    @Test func benchReportsAllFigures() throws {
        let r = try CLIRunner.run(
            "keyrelease",
            [
                "bench", "verify", TestVectors.path("tdx/dcap-qvl/tdx_quote"), "--collateral", TestVectors.path("tdx/dcap-qvl/tdx_quote_collateral.json"),
                "--at", "2025-07-01T00:00:00Z", "--iterations", "5", "--json",
            ])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let j = try r.json()
        for key in ["coldMicros", "warmMicros", "p256VerifyMicros"] {
            let v = try #require(j[key] as? Double, "\(key)")
            #expect(v > 0)
        }
        // Only that the figures are reported: how they compare (cold slower than warm) is a
        // performance goal for `make bench` (Benchmarks/run), never for a unit test.
    }
}

@Suite("CLI: keyrelease evidence pack")
struct EvidencePackCLITests {
    @Test func packedTDXBundleVerifiesLikeItsParts() throws {
        let bundle = FileManager.default.temporaryDirectory.appendingPathComponent("\(UUID()).json").path
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let pack = try CLIRunner.run(
            "keyrelease",
            [
                "evidence", "pack", "--platform", "tdx", "--report", TestVectors.path("tdx/dcap-qvl/tdx-quote.hex"),
                "--collateral", TestVectors.path("tdx/dcap-qvl/tdx_quote_collateral.json"), "--nonce", "00ff", "-o", bundle,
            ])
        #expect(pack.status == 0, "\(pack.stderr)")
        let r = try CLIRunner.run("keyrelease", ["verify-quote", bundle, "--at", "2025-07-01T00:00:00Z", "--json"])
        #expect(r.status == 1)  // the hex quote verifies but has no TCB level (MANIFEST)
        let j = try r.json()
        #expect(j["verified"] as? Bool == true)
        #expect((j["claims"] as? [String: Any])?["mrTD"] as? String == "7ba9e262ce6979087e34632603f354dd8f8a870f5947d116af8114db6c9d0d74c48bec4280e5b4f4a37025a10905bb29")
        // A bundle with a flipped quote byte is invalid evidence.
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: bundle))) as! [String: Any]
        var quote = [UInt8](Data(base64Encoded: json["report"] as! String)!)
        quote[0x40] ^= 1
        json["report"] = Data(quote).base64EncodedString()
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: bundle))
        #expect(try CLIRunner.run("keyrelease", ["verify-quote", bundle, "--at", "2025-07-01T00:00:00Z"]).status == 2)
        // Usage errors.
        #expect(try CLIRunner.run("keyrelease", ["evidence", "pack", "--platform", "tdx"]).status == 3)
        #expect(try CLIRunner.run("keyrelease", ["evidence", "pack", "--platform", "tpm", "--attest", "/nonexistent"]).status == 3)
    }
}
