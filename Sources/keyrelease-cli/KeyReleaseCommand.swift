import ArgumentParser
import Attestation
import Foundation
import KeyRelease
import X509

/// `keyrelease`: the key-release service and its operator tools.
@main
struct KeyReleaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keyrelease",
        abstract: "Attestation-gated key release: verify TEE evidence, and serve dataset keys to it.",
        discussion: """
        Exit codes (every subcommand): 0 accepted / success; 1 evidence authentic but rejected
        (TCB status, debug, no TCB level, policy); 2 evidence invalid (format, signature, chain,
        revoked, expired collateral); 3 usage, I/O or missing collateral.
        """,
        subcommands: [VerifyQuote.self, Serve.self, PolicyCommand.self, EvidenceCommand.self, EscrowCommand.self, AuditCommand.self, DatasetCommand.self, ChainCommand.self, Bench.self]
    )

    /// Runs the command with the documented exit codes: argument errors exit 3, not 64.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var async = command as? AsyncParsableCommand {
                try await async.run()
            } else {
                try command.run()
            }
        } catch let code as ExitCode {
            Foundation.exit(code.rawValue)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                print(fullMessage(for: error))
                Foundation.exit(0)
            }
            FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
            Foundation.exit(3)
        }
    }
}

/// One evidence file and the options for verifying it (verify-quote, bench verify).
struct EvidenceOptions: ParsableArguments {
    @Argument(help: "Evidence file: an evidence bundle (licen-evidence/v1), a DCAP quote, an SNP report (binary, hex with or without 0x, or base64; Azure HCL reports too), or a TPMS_ATTEST / go-tpm-tools protobuf with --platform tpm.")
    var file: String

    @OptionGroup var options: VerificationOptions

    /// The evidence bytes (separate TPM files packed into a bundle).
    func readEvidence() throws -> [UInt8] { try options.readEvidence(file) }
}

/// Options shared by the commands that verify evidence.
struct VerificationOptions: ParsableArguments {
    @Option(help: "Evidence platform: auto (a bundle's platform, or a DCAP quote header), tdx, snp or tpm.")
    var platform: QuoteVerification.Platform = .auto

    @Option(help: ArgumentHelp("TDX collateral file or folder; repeatable, later pieces replace earlier ones. Accepts dcap-qvl collateral JSON, Intel PCS v4 responses (TCB Info, QE Identity), CRLs (DER/PEM/hex) and PEM issuer chains.", valueName: "FILE|DIR"))
    var collateral: [String] = []

    @Option(name: .customLong("cert"), help: ArgumentHelp("SEV-SNP certificate file (VCEK or VLEK, ASK/ASVK, ARK; PEM or DER, bundles too; the ARKs themselves are pinned in the binary), or for TPM an AK certificate chain, leaf first (checked against --ak-root); repeatable.", valueName: "FILE"))
    var certificates: [String] = []

    @Option(help: ArgumentHelp("TPM: the TPMT_SIGNATURE file (FILE is then the TPMS_ATTEST).", valueName: "FILE"))
    var signature: String?

    @Option(help: ArgumentHelp("TPM: the AK public key (TPMT_PUBLIC, TPM2B_PUBLIC, or PEM/DER SubjectPublicKeyInfo).", valueName: "FILE"))
    var ak: String?

    @Option(help: ArgumentHelp("TPM: the PCR values, JSON {bank: {index: hex}} or tpm2-tools' binary output (tpm2_quote -o).", valueName: "FILE"))
    var pcrs: String?

    @Option(help: ArgumentHelp("Event log to replay: TCG crypto-agile (TPM: must reproduce the quoted PCRs) or the TDX CCEL area (must reproduce RTMR0–3). Workload events (PCR 23 / RTMR3) become the workload identity. Overrides a bundle's log.", valueName: "FILE"))
    var eventLog: String?

    @Option(name: .customLong("ak-root"), help: ArgumentHelp("TPM: a CA certificate (root, or an intermediate pinned as anchor) that AK certificate chains (--cert, or those inside the evidence) must end at; PEM or DER, repeatable. AK certificates with no anchor configured are refused.", valueName: "FILE"))
    var akRoots: [String] = []

    @Option(help: ArgumentHelp("TPM: the nonce the quote must carry in extraData (hex). Without it any nonce is accepted: only for reference evidence.", valueName: "HEX"))
    var nonce: String?

    @Option(name: .customLong("ak-parent-qn"), help: ArgumentHelp("TPM: the qualified name (hex) of the AK's parent, when the AK is not a primary key of a hierarchy (the quote's qualifiedSigner must be H(parent QN ‖ AK name)).", valueName: "HEX"))
    var akParentQualifiedName: String?

    @Flag(name: .customLong("ak-from-hardware-report"), help: "TPM: let an Azure HCL report carried in the evidence (verified like SEV-SNP evidence) anchor the AK its runtime data names as HCLAkPub.")
    var akFromHardwareReport = false

    @Flag(name: .customLong("dangerously-trust-presented-ak"), help: "TPM, LAB USE ONLY: treat the AK the evidence presents as trusted when no certificate chain, hardware report or policy pin anchors it. Anyone can forge such evidence with a software key; the key-release service has no such switch.")
    var dangerouslyTrustPresentedAK = false

    @Flag(help: "Fetch TDX collateral from Intel PCS v4 (cached on disk until each piece's nextUpdate) and SEV-SNP certificates from AMD KDS (cached while valid; --cert files are added to them, e.g. a VLEK). Not combinable with --collateral.")
    var online = false

    @Option(name: .customLong("kds-url"), help: ArgumentHelp("AMD KDS base URL for --online (a mirror or caching proxy).", valueName: "URL"))
    var kdsURL = AMDKDSCertificateSource.defaultKDSURL

    @Option(name: .customLong("kds-product"), help: ArgumentHelp("SEV-SNP product for --online when a version 2 report does not name it: milan, genoa or turin.", valueName: "NAME"))
    var kdsProduct: SEVSNP.Product?

    @Option(name: .customLong("pcs-url"), help: ArgumentHelp("Intel PCS base URL for --online (a mirror or caching proxy).", valueName: "URL"))
    var pcsURL = IntelPCSCollateralSource.defaultPCSURL

    @Option(name: .customLong("root-crl-url"), help: ArgumentHelp("Intel SGX Root CA CRL URL for --online.", valueName: "URL"))
    var rootCRLURL = IntelPCSCollateralSource.defaultRootCRLURL

    @Option(name: .customLong("cache-dir"), help: ArgumentHelp("Collateral cache folder for --online; 'none' disables the cache. Default: $XDG_CACHE_HOME/licen-broker/intel-pcs or ~/.cache/licen-broker/intel-pcs.", valueName: "DIR"))
    var cacheDir: String?

    @Option(help: ArgumentHelp("Verify as of this instant (ISO 8601, e.g. 2025-07-01T00:00:00Z). Default: now.", valueName: "ISO8601"))
    var at: String?

    func validate() throws {
        if online && !collateral.isEmpty { throw ValidationError("--online and --collateral cannot be combined: pick one source of collateral") }
        if !online && (cacheDir != nil || pcsURL != IntelPCSCollateralSource.defaultPCSURL || rootCRLURL != IntelPCSCollateralSource.defaultRootCRLURL
                       || kdsURL != AMDKDSCertificateSource.defaultKDSURL || kdsProduct != nil) {
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

    /// The use case these options describe, verifying at `--at`.
    func useCase(validator: TDX.Validator = TDX.Validator(), policy: Policy? = nil) throws -> QuoteVerification {
        var useCase = QuoteVerification(platform: platform, collateralPaths: collateral + certificates, collateralSource: collateralSource,
                                        now: try instant(), validator: validator, policy: policy)
        try configure(&useCase)
        return useCase
    }

    /// Reads `file`; with `--platform tpm` and separate files, packs them into a bundle.
    func readEvidence(_ file: String) throws -> [UInt8] {
        guard let d = FileManager.default.contents(atPath: file) else {
            throw ValidationError("cannot read evidence file \(file)")
        }
        guard platform == .tpm, !EvidenceBundle.looksLikeBundle([UInt8](d)), signature != nil || ak != nil || pcrs != nil else { return [UInt8](d) }
        // Separate TPM files: pack them into a bundle, as `evidence pack` does.
        guard let signature, let ak, let pcrs else { throw ValidationError("--platform tpm with separate files needs all of --signature, --ak and --pcrs") }
        var tpm: EvidenceBundle.TPMEvidence
        do {
            tpm = try .init(attest: d, signature: Self.read(signature), akPublic: Self.read(ak), pcrFile: Self.read(pcrs), akCertificates: certificates.map(Self.read))
        } catch let e as AttestationError { throw ValidationError("--pcrs \(pcrs): \(e.message)") }
        var packed = tpm
        packed.akParentQualifiedName = akParentQualifiedName
        tpm = packed
        return [UInt8](EvidenceBundle(platform: .tpm, nonce: nonce, tpm: tpm).json)
    }

    static func read(_ p: String) throws -> Data {
        guard let d = FileManager.default.contents(atPath: p) else { throw ValidationError("cannot read \(p)") }
        return d
    }

    /// Applies the TPM and event-log options to a verification use case.
    func configure(_ useCase: inout QuoteVerification) throws {
        useCase.snpCertificateSource = snpCertificateSource
        useCase.expectedNonce = try nonceBytes()
        useCase.eventLog = try eventLog.map { [UInt8](try Self.read($0)) }
        var roots = [Certificate]()
        for path in akRoots {
            do { roots += try CertificateChain(files: [[UInt8](Self.read(path))]).certificates } catch let e as AttestationError {
                throw ValidationError("--ak-root \(path): \(e.message)")
            }
        }
        useCase.tpmVerifier = TPM.QuoteVerifier(akRoots: roots)
        useCase.tpmVerifier.dangerouslyTrustPresentedAK = dangerouslyTrustPresentedAK
        useCase.akHardwareBinding = akFromHardwareReport
    }

    /// The `--nonce` bytes: exactly those, or any nonce when `--nonce` is not given.
    func nonceBytes() throws -> ExpectedNonce {
        guard let nonce else { return .anyForReferenceEvidence }
        guard let b = try? Hex.decode(nonce) else { throw ValidationError("--nonce \(nonce) is not hex") }
        return .exactly(b)
    }
}

extension QuoteVerification.Platform: ExpressibleByArgument {}
extension SEVSNP.Product: ExpressibleByArgument {}
