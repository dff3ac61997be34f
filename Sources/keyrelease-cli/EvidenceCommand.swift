import ArgumentParser
import Attestation
import ByteEncoding
import Foundation
import KeyRelease

/// `keyrelease evidence`: work with evidence bundles.
struct EvidenceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evidence",
        abstract: "Build evidence bundles (licen-evidence/v1, see Docs/evidence-bundle.md).",
        subcommands: [Pack.self]
    )

    /// `keyrelease evidence pack`.
    struct Pack: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pack separate evidence files into one bundle.",
            discussion: """
                tdx: --report QUOTE [--collateral FILE|DIR]... [--event-log CCEL]
                snp: --report REPORT --cert FILE... [--workload-manifest FILE]
                tpm: --attest FILE --signature FILE --ak FILE --pcrs FILE [--cert AKCERT]... [--event-log FILE]
                Every platform: [--nonce HEX] [--collected-at ISO8601]. The bundle is written to -o or
                standard output; -o never overwrites an input, and an existing file only with --force.
                Nothing is verified here: run verify-quote on the bundle. Exit codes: 0 written; 2 a
                file that must be parsed (a hex quote, the PCR values) is malformed; 3 usage or an
                unreadable file.
                """
        )

        @Option(help: "Platform: tdx, snp or tpm.")
        var platform: Platform

        @Option(help: "TDX quote or SNP report file.")
        var report: String?

        @Option(help: ArgumentHelp("TDX collateral file or folder (repeatable).", valueName: "FILE|DIR"))
        var collateral: [String] = []

        @Option(name: .customLong("cert"), help: "SNP certificate (VCEK/VLEK, ASK, ARK) or TPM AK certificate, leaf first (repeatable).")
        var certificates: [String] = []

        @Option(help: "TPM TPMS_ATTEST file (tpm2_quote -m).")
        var attest: String?

        @Option(help: "TPM TPMT_SIGNATURE file (tpm2_quote -s).")
        var signature: String?

        @Option(help: "TPM AK public key (TPMT_PUBLIC, TPM2B_PUBLIC, or PEM/DER SPKI).")
        var ak: String?

        @Option(help: "TPM PCR values: JSON {bank: {index: hex}} or tpm2-tools binary (tpm2_quote -o).")
        var pcrs: String?

        @Option(help: "Event log (TCG crypto-agile; TDX CCEL).")
        var eventLog: String?

        @Option(help: "SNP workload manifest (its SHA-256 is HOST_DATA).")
        var workloadManifest: String?

        @Option(help: "Nonce the evidence binds, hex.")
        var nonce: String?

        @Option(help: ArgumentHelp("When the evidence was collected (ISO 8601).", valueName: "ISO8601"))
        var collectedAt: String?

        @Option(name: .shortAndLong, help: "Write the bundle here instead of standard output (never over an input; over an existing file only with --force).")
        var output: String?

        @Flag(help: "Let -o replace an existing file (never one of the inputs).")
        var force = false

        func run() throws {
            let inputs = [report, attest, signature, ak, pcrs, eventLog, workloadManifest].compactMap { $0 } + collateral + certificates
            var out: OutputFile?
            if let output { out = try OutputFile(output, flag: "-o", force: force, inputs: inputs) }
            func read(_ path: String, _ what: String) throws -> Data { try InputFile.read(path, what) }
            func files(_ paths: [String], _ what: String) throws -> [String: Data]? {
                var out = [String: Data]()
                for p in paths {
                    try InputFile.checkExists(p, what)
                    var isDir: ObjCBool = false
                    _ = FileManager.default.fileExists(atPath: p, isDirectory: &isDir)
                    let members = isDir.boolValue ? ((try? FileManager.default.contentsOfDirectory(atPath: p)) ?? []).sorted().map { (p as NSString).appendingPathComponent($0) } : [p]
                    var found = false
                    for m in members {
                        var d: ObjCBool = false
                        if FileManager.default.fileExists(atPath: m, isDirectory: &d), !d.boolValue {
                            out[(m as NSString).lastPathComponent] = try read(m, what)
                            found = true
                        }
                    }
                    guard found else { throw CLIFailure.usage("\(what) \(p) is a folder with no files in it") }
                }
                return out.isEmpty ? nil : out
            }
            if let nonce, (try? Hex.decode(nonce)) == nil { throw CLIFailure.usage("--nonce \(nonce) is not hex") }
            var collected: Date?
            if let collectedAt {
                guard let d = ISO8601DateFormatter().date(from: collectedAt) else { throw ValidationError("--collected-at is not ISO 8601") }
                collected = d
            }
            // Flags another platform's bundle would silently drop.
            let misplaced: [(String, Bool, Set<Platform>)] = [
                ("--report", report != nil, [.tdx, .snp]), ("--collateral", !collateral.isEmpty, [.tdx]),
                ("--workload-manifest", workloadManifest != nil, [.snp]), ("--cert", !certificates.isEmpty, [.snp, .tpm]),
                ("--attest", attest != nil, [.tpm]), ("--signature", signature != nil, [.tpm]), ("--ak", ak != nil, [.tpm]),
                ("--pcrs", pcrs != nil, [.tpm]), ("--event-log", eventLog != nil, [.tdx, .tpm]),
            ].filter { $0.1 && !$0.2.contains(platform) }
            guard misplaced.isEmpty else {
                throw CLIFailure.usage("\(misplaced.map(\.0).joined(separator: ", ")) \(misplaced.count == 1 ? "does" : "do") not apply to --platform \(platform.rawValue)")
            }
            var bundle = EvidenceBundle(platform: platform, nonce: nonce?.lowercased(), collectedAt: collected, eventLog: try eventLog.map { try read($0, "--event-log") })
            switch platform {
            case .tdx:
                guard let report else { throw CLIFailure.usage("tdx needs --report QUOTE") }
                bundle.report = try Data(EvidenceEncoding.decode([UInt8](read(report, "--report"))))
                bundle.collateral = try files(collateral, "--collateral")
            case .snp:
                guard let report else { throw CLIFailure.usage("snp needs --report REPORT") }
                guard !certificates.isEmpty else { throw CLIFailure.usage("snp needs --cert (VCEK or VLEK, and the ASK/ARK bundle)") }
                bundle.report = try read(report, "--report")
                bundle.collateral = try files(certificates, "--cert")
                bundle.workloadManifest = try workloadManifest.map { try read($0, "--workload-manifest") }
            case .tpm:
                guard let attest, let signature, let ak, let pcrs else { throw CLIFailure.usage("tpm needs --attest, --signature, --ak and --pcrs") }
                let parts = (
                    try read(attest, "--attest"), try read(signature, "--signature"), try read(ak, "--ak"), try read(pcrs, "--pcrs"),
                    try certificates.map { try read($0, "--cert") }
                )
                do {
                    bundle.tpm = try .init(attest: parts.0, signature: parts.1, akPublic: parts.2, pcrFile: parts.3, akCertificates: parts.4)
                } catch {
                    let e = CLIFailure(error)
                    throw CLIFailure.invalidEvidence(e.code, "--pcrs \(pcrs): \(e.message)")
                }
            }
            if let out {
                try out.write(bundle.json)
            } else {
                print(String(decoding: bundle.json, as: UTF8.self))
            }
        }
    }
}

extension Platform: ExpressibleByArgument {}
