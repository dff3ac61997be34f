import ArgumentParser
import Attestation
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
            standard output. Nothing is verified here: run verify-quote on the bundle.
            """
        )

        @Option(help: "Platform: tdx, snp or tpm.")
        var platform: Policy.Platform

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

        @Option(name: .shortAndLong, help: "Write the bundle here instead of standard output.")
        var output: String?

        func run() throws {
            func read(_ path: String) throws -> Data {
                guard let d = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read \(path)") }
                return d
            }
            func files(_ paths: [String]) throws -> [String: Data]? {
                var out = [String: Data]()
                for p in paths {
                    var isDir: ObjCBool = false
                    guard FileManager.default.fileExists(atPath: p, isDirectory: &isDir) else { throw ValidationError("no such file \(p)") }
                    let members = isDir.boolValue ? ((try? FileManager.default.contentsOfDirectory(atPath: p)) ?? []).sorted().map { (p as NSString).appendingPathComponent($0) } : [p]
                    for m in members {
                        var d: ObjCBool = false
                        if FileManager.default.fileExists(atPath: m, isDirectory: &d), !d.boolValue { out[(m as NSString).lastPathComponent] = try read(m) }
                    }
                }
                return out.isEmpty ? nil : out
            }
            if let nonce { _ = try Hex.decode(nonce) }
            var collected: Date?
            if let collectedAt {
                guard let d = ISO8601DateFormatter().date(from: collectedAt) else { throw ValidationError("--collected-at is not ISO 8601") }
                collected = d
            }
            var bundle = EvidenceBundle(platform: platform, nonce: nonce?.lowercased(), collectedAt: collected, eventLog: try eventLog.map(read))
            switch platform {
            case .tdx:
                guard let report else { throw ValidationError("tdx needs --report QUOTE") }
                bundle.report = try Data(EvidenceEncoding.decode([UInt8](read(report))))
                bundle.collateral = try files(collateral)
            case .snp:
                guard let report else { throw ValidationError("snp needs --report REPORT") }
                guard !certificates.isEmpty else { throw ValidationError("snp needs --cert (VCEK or VLEK, and the ASK/ARK bundle)") }
                bundle.report = try read(report)
                bundle.collateral = try files(certificates)
                bundle.workloadManifest = try workloadManifest.map(read)
            case .tpm:
                guard let attest, let signature, let ak, let pcrs else { throw ValidationError("tpm needs --attest, --signature, --ak and --pcrs") }
                do {
                    bundle.tpm = try .init(attest: read(attest), signature: read(signature), akPublic: read(ak), pcrFile: read(pcrs), akCertificates: certificates.map(read))
                } catch let e as AttestationError { throw ValidationError("--pcrs \(pcrs): \(e.message)") }
            }
            if let output {
                try bundle.json.write(to: URL(fileURLWithPath: output))
            } else {
                print(String(decoding: bundle.json, as: UTF8.self))
            }
        }
    }
}

extension Policy.Platform: ExpressibleByArgument {}
