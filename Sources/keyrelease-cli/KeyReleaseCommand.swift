import ArgumentParser
import Attestation
import AttestationCollateral
import ByteEncoding
import Foundation
import KeyRelease
import X509

/// `keyrelease`: the key-release service and its operator tools.
@main
struct KeyReleaseCommand: AsyncParsableCommand {
    /// The package version `keyrelease --version` prints; defined here only.
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "keyrelease",
        abstract: "Attestation-gated key release: verify TEE evidence, and serve dataset keys to it.",
        discussion: """
            Exit codes (every subcommand): 0 accepted / success; 1 evidence authentic but rejected \
            (TCB status, debug, no TCB level, policy); 2 evidence invalid (format, signature, chain, \
            revoked, expired collateral); 3 usage, I/O or missing collateral. Errors are one line on \
            stderr; with --json, standard output is one JSON object even then.
            """,
        version: version,
        subcommands: [VerifyQuote.self, Serve.self, PolicyCommand.self, EvidenceCommand.self, EscrowCommand.self, AuditCommand.self, DatasetCommand.self, ChainCommand.self, Bench.self]
    )

    /// Runs the command with the documented exit codes: argument errors exit 3, not 64; a
    /// failure a subcommand throws is one line on stderr (and, with `--json`, one JSON object on
    /// stdout) with its own exit status (``CLIFailure``).
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        let path = CommandPath(arguments)
        var command: any ParsableCommand
        do {
            command = try parseAsRoot(arguments)
        } catch {
            if exitCode(for: error) == .success {  // --help, --version
                print(fullMessage(for: error))
                Foundation.exit(0)
            }
            if arguments.contains("--json"), let json = path.type as? any JSONOutputCommand.Type {
                print(json.jsonObject(for: .usage(message(for: error))))
            }
            FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
            Foundation.exit(3)
        }
        do {
            if var async = command as? any AsyncParsableCommand {
                try await async.run()
            } else {
                try command.run()
            }
        } catch let code as ExitCode {
            Foundation.exit(code.rawValue)
        } catch  where exitCode(for: error) == .success {  // `keyrelease` alone: its help
            print(fullMessage(for: error))
            Foundation.exit(0)
        } catch {
            let failure = CLIFailure(error).withHint
            if let json = command as? any JSONOutputCommand, json.json {
                print(type(of: json).jsonObject(for: failure))
            }
            // A library's own code is kept (`emptyFile`, `store_unavailable`); `usage` and `io` go without saying.
            let code = ["usage", "io"].contains(failure.code) ? "" : "\(failure.code): "
            FileHandle.standardError.write(Data("\(path.name): \(code)\(failure.oneLineMessage)\n".utf8))
            Foundation.exit(failure.status)
        }
    }
}

/// The subcommand the leading arguments name (`bench verify …` → ``BenchVerify``), found
/// without parsing, so that a usage error can still be reported in that command's shape.
struct CommandPath {
    /// The deepest subcommand named.
    let type: any ParsableCommand.Type
    /// Its name for messages: `keyrelease bench verify`.
    let name: String

    init(_ arguments: [String]) {
        var type: any ParsableCommand.Type = KeyReleaseCommand.self
        var names = ["keyrelease"]
        for argument in arguments {
            guard let next = type.configuration.subcommands.first(where: { $0._commandName == argument }) else { break }
            type = next
            names.append(argument)
        }
        self.type = type
        name = names.joined(separator: " ")
    }
}

/// One evidence file and the options for verifying it (verify-quote, bench verify).
struct EvidenceOptions: ParsableArguments {
    @Argument(
        help:
            "Evidence file: an evidence bundle (licen-evidence/v1), a DCAP quote, an SNP report (binary, hex with or without 0x, or base64; Azure HCL reports too), or a TPMS_ATTEST / go-tpm-tools protobuf with --platform tpm."
    )
    var file: String

    @OptionGroup var options: VerificationOptions

    /// The evidence bytes (separate TPM files packed into a bundle).
    func readEvidence() throws -> [UInt8] { try options.readEvidence(file) }
}

/// Options shared by the commands that verify evidence.
struct VerificationOptions: ParsableArguments {
    @Option(name: .customLong("platform"), help: ArgumentHelp("Evidence platform: auto (a bundle's platform, or a DCAP quote header), tdx, snp or tpm.", valueName: "auto|tdx|snp|tpm"))
    var platformName = "auto"

    /// The platform asked for; nil for auto.
    var platform: Platform? { Platform(rawValue: platformName) }

    @Option(
        help: ArgumentHelp(
            "TDX collateral file or folder; repeatable, later pieces replace earlier ones. Accepts dcap-qvl collateral JSON, Intel PCS v4 responses (TCB Info, QE Identity), CRLs (DER/PEM/hex) and PEM issuer chains.",
            valueName: "FILE|DIR"))
    var collateral: [String] = []

    @Option(
        name: .customLong("cert"),
        help: ArgumentHelp(
            "SEV-SNP certificate file (VCEK or VLEK, ASK/ASVK, ARK; PEM or DER, bundles too; the ARKs themselves are pinned in the binary), or for TPM an AK certificate chain, leaf first (checked against --ak-root); repeatable.",
            valueName: "FILE"))
    var certificates: [String] = []

    @Option(help: ArgumentHelp("TPM: the TPMT_SIGNATURE file (FILE is then the TPMS_ATTEST).", valueName: "FILE"))
    var signature: String?

    @Option(help: ArgumentHelp("TPM: the AK public key (TPMT_PUBLIC, TPM2B_PUBLIC, or PEM/DER SubjectPublicKeyInfo).", valueName: "FILE"))
    var ak: String?

    @Option(help: ArgumentHelp("TPM: the PCR values, JSON {bank: {index: hex}} or tpm2-tools' binary output (tpm2_quote -o).", valueName: "FILE"))
    var pcrs: String?

    @Option(
        help: ArgumentHelp(
            "Event log to replay: TCG crypto-agile (TPM: must reproduce the quoted PCRs) or the TDX CCEL area (must reproduce RTMR0–3). Workload events (PCR 23 / RTMR3) become the workload identity. Overrides a bundle's log.",
            valueName: "FILE"))
    var eventLog: String?

    @Option(
        name: .customLong("ak-root"),
        help: ArgumentHelp(
            "TPM: a CA certificate (root, or an intermediate pinned as anchor) that AK certificate chains (--cert, or those inside the evidence) must end at; PEM or DER, repeatable. AK certificates with no anchor configured are refused.",
            valueName: "FILE"))
    var akRoots: [String] = []

    @Option(help: ArgumentHelp("TPM: the nonce the quote must carry in extraData (hex). Without it any nonce is accepted: only for reference evidence.", valueName: "HEX"))
    var nonce: String?

    @Option(
        name: .customLong("ak-parent-qn"),
        help: ArgumentHelp(
            "TPM: the qualified name (hex) of the AK's parent, when the AK is not a primary key of a hierarchy (the quote's qualifiedSigner must be H(parent QN ‖ AK name)).", valueName: "HEX"))
    var akParentQualifiedName: String?

    @Flag(name: .customLong("ak-from-hardware-report"), help: "TPM: let an Azure HCL report carried in the evidence (verified like SEV-SNP evidence) anchor the AK its runtime data names as HCLAkPub.")
    var akFromHardwareReport = false

    @Flag(
        name: .customLong("dangerously-trust-presented-ak"),
        help:
            "TPM, LAB USE ONLY: treat the AK the evidence presents as trusted when no certificate chain, hardware report or policy pin anchors it. Anyone can forge such evidence with a software key; the key-release service has no such switch."
    )
    var dangerouslyTrustPresentedAK = false

    @Flag(
        help:
            "Fetch TDX collateral from Intel PCS v4 (cached on disk until each piece's nextUpdate) and SEV-SNP certificates from AMD KDS (cached while valid; --cert files are added to them, e.g. a VLEK). Not combinable with --collateral."
    )
    var online = false

    @Option(name: .customLong("kds-url"), help: ArgumentHelp("AMD KDS base URL for --online (a mirror or caching proxy).", valueName: "URL"))
    var kdsURL = AMDKDSCertificateSource.defaultKDSURL

    @Option(name: .customLong("kds-product"), help: ArgumentHelp("SEV-SNP product for --online when a version 2 report does not name it: milan, genoa or turin.", valueName: "NAME"))
    var kdsProduct: SEVSNP.Product?

    @Option(name: .customLong("pcs-url"), help: ArgumentHelp("Intel PCS base URL for --online (a mirror or caching proxy).", valueName: "URL"))
    var pcsURL = IntelPCSCollateralSource.defaultPCSURL

    @Option(name: .customLong("root-crl-url"), help: ArgumentHelp("Intel SGX Root CA CRL URL for --online.", valueName: "URL"))
    var rootCRLURL = IntelPCSCollateralSource.defaultRootCRLURL

    @Option(
        name: .customLong("cache-dir"),
        help: ArgumentHelp("Collateral cache folder for --online; 'none' disables the cache. Default: $XDG_CACHE_HOME/licen-broker/intel-pcs or ~/.cache/licen-broker/intel-pcs.", valueName: "DIR"))
    var cacheDir: String?

    @Option(help: ArgumentHelp("Verify as of this instant (ISO 8601, e.g. 2025-07-01T00:00:00Z). Default: now.", valueName: "ISO8601"))
    var at: String?

    func validate() throws {
        if platformName != "auto" && platform == nil { throw ValidationError("--platform \(platformName) is not one of auto, tdx, snp, tpm") }
        if online && !collateral.isEmpty { throw ValidationError("--online and --collateral cannot be combined: pick one source of collateral") }
        if !online
            && (cacheDir != nil || pcsURL != IntelPCSCollateralSource.defaultPCSURL || rootCRLURL != IntelPCSCollateralSource.defaultRootCRLURL
                || kdsURL != AMDKDSCertificateSource.defaultKDSURL || kdsProduct != nil)
        {
            throw ValidationError("--pcs-url, --root-crl-url, --kds-url, --kds-product and --cache-dir only apply with --online")
        }
    }

    /// The network collateral source, when `--online` is given.
    var collateralSource: IntelPCSCollateralSource? {
        guard online else { return nil }
        let cache = cacheDir == "none" ? nil : (cacheDir ?? IntelPCSCollateralSource.defaultCacheDirectory)
        return IntelPCSCollateralSource(pcsURL: pcsURL, rootCRLURL: rootCRLURL, cacheDirectory: cache)
    }

    /// The AMD KDS source, when `--online` is given (same cache folder as Intel PCS when
    /// `--cache-dir` is set; the file names do not overlap).
    var snpCertificateSource: AMDKDSCertificateSource? {
        guard online else { return nil }
        let cache = cacheDir == "none" ? nil : (cacheDir ?? AMDKDSCertificateSource.defaultCacheDirectory)
        return AMDKDSCertificateSource(kdsURL: kdsURL, defaultProduct: kdsProduct, cacheDirectory: cache)
    }

    func instant() throws -> Date {
        guard let at else { return Date() }
        guard let d = ISO8601DateFormatter().date(from: at) else {
            throw ValidationError("--at \(at) is not an ISO 8601 instant like 2025-07-01T00:00:00Z")
        }
        return d
    }

    /// The use case these options describe, verifying at `--at`. Reads the files the options
    /// name (event log, AK roots); each unreadable one is an I/O failure (exit 3).
    func useCase(validator: TDX.Validator = TDX.Validator(), policy: Policy? = nil) throws -> QuoteVerification {
        for path in collateral { try InputFile.checkExists(path, "--collateral") }
        for path in certificates { try InputFile.check(path, "--cert") }
        var useCase = QuoteVerification(
            platform: platform, collateralPaths: collateral + certificates, collateralSource: collateralSource,
            now: try instant(), validator: validator, policy: policy)
        try configure(&useCase)
        return useCase
    }

    /// Reads `file`; with `--platform tpm` and separate files, packs them into a bundle. An
    /// unreadable file is an I/O failure (3); a PCR file that does not parse is invalid evidence (2).
    func readEvidence(_ file: String) throws -> [UInt8] {
        let d = try InputFile.read(file, "evidence file")
        guard signature != nil || ak != nil || pcrs != nil else {
            if platform == .tpm, (try? EvidenceEncoding.decode([UInt8](d)))?.starts(with: [0xff, 0x54, 0x43, 0x47]) == true {  // TPM_GENERATED_VALUE
                throw CLIFailure.usage("\(file) is a TPMS_ATTEST: pass its companions with --signature, --ak and --pcrs, or give an evidence bundle or a go-tpm-tools attest.Attestation protobuf")
            }
            return [UInt8](d)
        }
        guard platform == .tpm else { throw CLIFailure.usage("--signature, --ak and --pcrs are the separate files of a TPM quote: they need --platform tpm") }
        guard !EvidenceBundle.looksLikeBundle([UInt8](d)) else {
            throw CLIFailure.usage("\(file) is an evidence bundle: --signature, --ak and --pcrs only go with a separate TPMS_ATTEST file")
        }
        // Separate TPM files: pack them into a bundle, as `evidence pack` does.
        guard let signature, let ak, let pcrs else { throw CLIFailure.usage("--platform tpm with separate files needs all of --signature, --ak and --pcrs") }
        let signatureData = try InputFile.read(signature, "--signature"), akData = try InputFile.read(ak, "--ak"), pcrData = try InputFile.read(pcrs, "--pcrs")
        var akCertificates = [Data]()
        for path in certificates { akCertificates.append(try InputFile.read(path, "--cert")) }
        var tpm: EvidenceBundle.TPMEvidence
        do {
            tpm = try EvidenceBundle.TPMEvidence(attest: d, signature: signatureData, akPublic: akData, pcrFile: pcrData, akCertificates: akCertificates)
        } catch {
            let e = CLIFailure(error)
            throw CLIFailure.invalidEvidence(e.code, "--pcrs \(pcrs): \(e.message)")
        }
        tpm.akParentQualifiedName = akParentQualifiedName
        return [UInt8](EvidenceBundle(platform: .tpm, nonce: nonce, tpm: tpm).json)
    }

    /// Every file these options read (an output must never be one of them).
    var inputPaths: [String] {
        collateral + certificates + [signature, ak, pcrs, eventLog].compactMap { $0 } + akRoots
    }

    /// The bytes of a file an option names (an I/O failure, exit 3, if it cannot be read).
    static func read(_ p: String, _ what: String = "file") throws -> Data {
        try InputFile.read(p, what)
    }

    /// The evidence's platform as far as it can be told before verifying: `--platform`, else a
    /// bundle's declared platform, else a DCAP quote header; nil when it cannot be told (the
    /// verification then reports why). Evidence that declares another platform than
    /// `--platform` is a usage failure (exit 3).
    func evidencePlatform(_ raw: [UInt8]) throws -> Platform? {
        let declared = EvidenceBundle.looksLikeBundle(raw) ? (try? QuoteVerification(platform: nil).bundle(from: raw).get())?.platform : nil
        if let platform, let declared, declared != platform {
            throw CLIFailure.usage("the evidence is \(declared.rawValue), not \(platform.rawValue): drop --platform or pass --platform \(declared.rawValue)")
        }
        if let platform { return platform }
        if let declared { return declared }
        return (try? EvidenceEncoding.decode(raw)).flatMap(QuoteVerification.detectPlatform)
    }

    /// Refuses, as a usage failure (exit 3), every flag given that `platform`'s evidence has no
    /// use for: silently ignoring it would judge the evidence without what the operator meant to
    /// check (a nonce, an AK root, an event log). `extra` adds a subcommand's own flags with the
    /// platforms they apply to.
    func checkFlags(for platform: Platform?, extra: [(flag: String, given: Bool, platforms: Set<Platform>)] = []) throws {
        guard let platform else { return }
        let flags: [(flag: String, given: Bool, platforms: Set<Platform>)] =
            [
                ("--collateral", !collateral.isEmpty, [.tdx]),
                ("--pcs-url", pcsURL != IntelPCSCollateralSource.defaultPCSURL, [.tdx]),
                ("--root-crl-url", rootCRLURL != IntelPCSCollateralSource.defaultRootCRLURL, [.tdx]),
                ("--cert", !certificates.isEmpty, [.snp, .tpm]),
                ("--kds-url", kdsURL != AMDKDSCertificateSource.defaultKDSURL, [.snp, .tpm]),
                ("--kds-product", kdsProduct != nil, [.snp, .tpm]),
                ("--event-log", eventLog != nil, [.tdx, .tpm]),
                ("--signature", signature != nil, [.tpm]),
                ("--ak", ak != nil, [.tpm]),
                ("--pcrs", pcrs != nil, [.tpm]),
                ("--nonce", nonce != nil, [.tpm]),
                ("--ak-root", !akRoots.isEmpty, [.tpm]),
                ("--ak-parent-qn", akParentQualifiedName != nil, [.tpm]),
                ("--ak-from-hardware-report", akFromHardwareReport, [.tpm]),
                ("--dangerously-trust-presented-ak", dangerouslyTrustPresentedAK, [.tpm]),
            ] + extra
        let misplaced = flags.filter { $0.given && !$0.platforms.contains(platform) }
        guard misplaced.isEmpty else {
            let list = misplaced.map { "\($0.flag) (\($0.platforms.map(\.rawValue).sorted().joined(separator: ", ")))" }.joined(separator: ", ")
            throw CLIFailure.usage("the evidence is \(platform.rawValue): \(list) \(misplaced.count == 1 ? "does" : "do") not apply to it")
        }
    }

    /// Applies the TPM and event-log options to a verification use case.
    func configure(_ useCase: inout QuoteVerification) throws {
        useCase.snpCertificateSource = snpCertificateSource
        useCase.expectedBinding = try nonceBytes()
        useCase.eventLog = try eventLog.map { [UInt8](try Self.read($0, "--event-log")) }
        var roots = [Certificate]()
        for path in akRoots {
            let bytes = [UInt8](try Self.read(path, "--ak-root"))
            do { roots += try CertificateChain(files: [bytes]).certificates } catch {
                throw CLIFailure.usage("--ak-root \(path): \(error.message)")
            }
        }
        useCase.tpmVerifier = TPM.QuoteVerifier(akRoots: roots)
        useCase.tpmVerifier.dangerouslyTrustPresentedAK = dangerouslyTrustPresentedAK
        useCase.akHardwareBinding = akFromHardwareReport
    }

    /// The `--nonce` bytes: exactly those, or any nonce when `--nonce` is not given.
    func nonceBytes() throws -> ExpectedBinding {
        guard let nonce else { return .anyForReferenceEvidence }
        guard let b = try? Hex.decode(nonce) else { throw ValidationError("--nonce \(nonce) is not hex") }
        return .nonce(b)
    }
}

extension SEVSNP.Product: ExpressibleByArgument {}
