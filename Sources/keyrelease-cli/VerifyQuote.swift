import ArgumentParser
import Attestation
import AttestationCollateral
import Foundation

/// `keyrelease verify-quote`: verify and validate one piece of TEE evidence.
struct VerifyQuote: AsyncParsableCommand, JSONOutputCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify-quote",
        abstract: "Verify TEE evidence (TDX quote, SEV-SNP report, TPM quote, or a bundle) and judge it.",
        discussion: """
            TDX: verification checks the quote signature, the QE report and its binding to the attestation \
            key, the PCK chain to the embedded Intel SGX Root CA with both CRLs, TCB Info and QE \
            Identity (signatures, validity windows, FMSPC, PCE ID), the QE identity and the TDX module, \
            and matches TCB levels. Validation then accepts only UpToDate (see --accept-tcb) and \
            rejects debug TDs (see --allow-debug). SEV-SNP: the report signature, VCEK/VLEK → ASK/ASVK → \
            pinned ARK, the VCEK's TCB and chip ID against the report (Docs/snp-verification.md). TPM: \
            the AK signature, the PCR digest, the nonce, the AK certificate chain and the event log \
            (Docs/tpm-verification.md). --policy judges every platform against a policy file.

            Evidence is read in every form it ships in: an evidence bundle, a DCAP quote, an SEV-SNP or \
            Azure HCL report, Azure vTPM evidence JSON (versions 0 and 1), a go-tpm-tools protobuf or \
            separate TPM files; binary, hex, base64 or base64url.

            --json prints one object: platform, verified, tcbStatus, advisories, accepted, failures \
            [{code,message}], claims (mrTD, rtmrs, mrSeam, reportData, tdAttributes, debug, teeTCBSVN, \
            fmspc, … as lowercase hex), claimsVerified, error {code,message} or null, verifiedAt, \
            validUntil, inspected, checked, unchecked. Evidence that parses but fails verification \
            still shows its claims, with claimsVerified false.

            --inspect checks signatures and chains without collateral and gives no verdict: checked \
            and unchecked list what it covered; verified and accepted stay false.

            Exit codes: 0 accepted (--inspect: every check that ran passed); 1 authentic but rejected; \
            2 evidence invalid; 3 usage (including a flag for another platform's evidence), I/O, or \
            collateral missing, unreadable or for another platform (FMSPC). With --json a usage or I/O \
            error is the same object, with error set.
            """
    )

    @OptionGroup var evidence: EvidenceOptions

    @Option(
        name: .customLong("accept-tcb"),
        help: ArgumentHelp("TCB statuses to accept besides UpToDate, comma-separated: \(TDX.TCBStatus.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "S,..."))
    var acceptTCB: String?

    @Flag(help: "Accept debug TDs (their memory is readable by the host: never in production).")
    var allowDebug = false

    @Option(help: ArgumentHelp("Judge with this policy file instead of the defaults (see policies/README.md). Not combinable with --accept-tcb or --allow-debug.", valueName: "FILE"))
    var policy: String?

    @Flag(
        help:
            "Check only what the evidence proves without collateral: signatures and chains (TDX: quote, QE report, PCK chain; SEV-SNP: report and chain when --cert is given; TPM: quote, PCR digest, AK attributes). No verdict: exit 0 when every check that ran passed, 2 when one failed."
    )
    var inspect = false

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func validate() throws {
        if policy != nil && (acceptTCB != nil || allowDebug) {
            throw ValidationError("--accept-tcb and --allow-debug cannot be combined with --policy: the policy file decides")
        }
        if inspect {
            // Why refuse rather than ignore: each of these asks for a check or a verdict an
            // inspection does not make.
            let o = evidence.options
            let given = [
                ("--policy", policy != nil), ("--accept-tcb", acceptTCB != nil), ("--allow-debug", allowDebug), ("--collateral", !o.collateral.isEmpty),
                ("--online", o.online), ("--nonce", o.nonce != nil), ("--event-log", o.eventLog != nil), ("--ak-root", !o.akRoots.isEmpty),
                ("--ak-from-hardware-report", o.akFromHardwareReport), ("--dangerously-trust-presented-ak", o.dangerouslyTrustPresentedAK),
            ]
            .filter(\.1).map(\.0)
            guard given.isEmpty else {
                throw ValidationError("--inspect checks signatures and chains only: \(given.joined(separator: ", ")) \(given.count == 1 ? "does" : "do") not apply to it")
            }
        }
    }

    func run() async throws {
        let raw = try evidence.readEvidence()
        try evidence.options.checkFlags(
            for: try evidence.options.evidencePlatform(raw),
            extra: [
                ("--accept-tcb", acceptTCB != nil, [.tdx]), ("--allow-debug", allowDebug, [.tdx, .snp]),
            ])
        let validator = TDX.Validator(acceptedTCBStatuses: try Self.statuses(acceptTCB), allowDebug: allowDebug)
        let useCase = try evidence.options.useCase(validator: validator, policy: try policy.map(PolicyCommand.load))
        let report = OperatorHint.adding(to: inspect ? await useCase.inspect(evidence: raw) : await useCase.run(evidence: raw))
        print(json ? report.json : report.text)
        throw ExitCode(report.exitCode)
    }

    /// A failure before verification is the report's shape too: every key present, `error` set.
    static func jsonObject(for failure: CLIFailure) -> String {
        VerificationReport.failed(platform: nil, error: .init(code: failure.code, message: failure.message), at: Date()).json
    }

    /// Parses `--accept-tcb`; UpToDate is always accepted. Unknown names are a usage error.
    static func statuses(_ list: String?) throws -> Set<TDX.TCBStatus> {
        var set: Set<TDX.TCBStatus> = [.upToDate]
        for name in (list ?? "").split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !name.isEmpty {
            guard let s = TDX.TCBStatus(name: name) else {
                throw ValidationError("--accept-tcb: unknown TCB status \"\(name)\"; known: \(TDX.TCBStatus.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            set.insert(s)
        }
        return set
    }
}
