import ArgumentParser
import Attestation
import AttestationCollateral
import Foundation
import KeyRelease
import Crypto
import DatasetCrypto
import Dispatch
import ZeroG

/// `keyrelease bench`: in-process benchmarks.
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "In-process benchmarks.",
        subcommands: [BenchVerify.self, BenchDataset.self]
    )
}

/// `keyrelease bench verify`: time TDX verification cold and warm against one raw P-256 verify.
struct BenchVerify: AsyncParsableCommand, JSONOutputCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Time evidence verification against a raw signature verify measured in the same run.",
        discussion: """
            TDX (default; needs --collateral): \
            coldMicros: parse the quote and the collateral and verify with nothing cached. \
            warmMicros: parse the quote and verify with parsed collateral and verified signatures of \
            chains and collateral reused (validity windows and revocation still checked; the quote's own \
            signature is always verified). p256VerifyMicros: one raw ECDSA P-256 verify on this machine.

            SEV-SNP (--platform snp --cert …): coldMicros, warmMicros (certificates parsed and the \
            chain's RSA-PSS signatures cached; windows, VCEK extensions and the report signature checked \
            every time) and p384VerifyMicros (one raw P-384 verify of the report).

            TPM (a bundle, Azure vTPM JSON, a go-tpm-tools protobuf, or separate files): coldMicros (parse and verify the quote, \
            PCR digest and nonce, replay --event-log if given), verifyMicros (the same with the parsed \
            AK reused) and akVerifyMicros (one raw AK verify).

            Each is the median over --iterations runs. The evidence is read as verify-quote reads it \
            (every form it accepts) and must verify: invalid evidence exits 2, missing collateral or \
            a usage error 3.
            """
    )

    @OptionGroup var evidence: EvidenceOptions

    @Option(help: "Iterations per measurement.")
    var iterations = 200

    @Flag(help: "Print one JSON object.")
    var json = false

    func run() async throws {
        guard iterations > 0 else { throw ValidationError("--iterations must be positive") }
        let options = evidence.options
        let input = try evidence.readEvidence()
        try options.checkFlags(for: try options.evidencePlatform(input))
        let now = try options.instant()
        // The reader verify-quote uses: bundles, Azure vTPM JSON, go-tpm-tools protobufs, raw
        // quotes and reports as binary, hex, base64 or base64url.
        let bundle: EvidenceBundle
        switch QuoteVerification(platform: options.platform, now: now).bundle(from: input) {
        case .success(let b): bundle = b
        case .failure(let report):
            let error = report.error ?? .init(code: AttestationError.Code.malformed.rawValue, message: "unreadable evidence")
            throw CLIFailure(status: report.exitCode, code: error.code, message: error.message)
        }
        let platform = bundle.platform
        try options.checkFlags(for: platform)
        let bundled = (bundle.collateral ?? [:]).sorted { $0.key < $1.key }.map { ($0.key, [UInt8]($0.value)) }
        /// The quote or report the bundle carries.
        func reportBytes() throws -> [UInt8] {
            guard let r = bundle.report else { throw AttestationError(.malformed, "the \(bundle.platform.rawValue) evidence bundle has no report") }
            return try EvidenceEncoding.decode([UInt8](r))
        }
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        switch platform {
        case .snp:
            let files = try options.certificates.map { [UInt8](try VerificationOptions.read($0, "--cert")) } + bundled.map(\.1)
            guard !files.isEmpty else { throw CLIFailure.usage("bench verify --platform snp needs --cert (VCEK or VLEK, ASK/ARK)") }
            let r = try Benchmarks.snpVerify(report: reportBytes(), certificateFiles: files, now: now, iterations: iterations)
            print(
                json
                    ? String(decoding: try e.encode(r), as: UTF8.self)
                    : String(format: "cold %.1f µs, warm %.1f µs, raw P-384 verify %.1f µs; warm/p384 %.2f×", r.coldMicros, r.warmMicros, r.p384VerifyMicros, r.warmOverP384))
        case .tpm:
            guard let tpm = bundle.tpm else { throw CLIFailure.invalidEvidence(AttestationError.Code.malformed.rawValue, "the evidence has no TPM quote") }
            let log = try options.eventLog.map { [UInt8](try VerificationOptions.read($0, "--event-log")) } ?? bundle.eventLog.map { [UInt8]($0) }
            let r = try Benchmarks.tpmVerify(evidence: tpm, eventLog: log, iterations: iterations)
            print(
                json
                    ? String(decoding: try e.encode(r), as: UTF8.self)
                    : String(format: "cold %.1f µs, warm %.1f µs, raw AK verify %.1f µs; warm/AK %.2f×", r.coldMicros, r.verifyMicros, r.akVerifyMicros, r.verifyOverAKVerify))
        case .tdx:
            let files = try options.collateral.flatMap { try Self.collateralFiles($0) } + bundled
            guard !files.isEmpty else { throw CLIFailure.usage("bench verify needs --collateral") }
            let result = try Benchmarks.tdxVerify(quote: reportBytes(), collateralFiles: files, now: now, iterations: iterations)
            if json {
                print(String(decoding: try e.encode(result), as: UTF8.self))
            } else {
                print(
                    String(
                        format: "cold %.1f µs, warm %.1f µs, raw P-256 verify %.1f µs; warm/p256 %.2f×, cold/warm %.1f×",
                        result.coldMicros, result.warmMicros, result.p256VerifyMicros, result.warmOverP256, result.coldMicros / result.warmMicros))
            }
        }
    }

    static func collateralFiles(_ path: String) throws -> [(String, [UInt8])] {
        try InputFile.checkExists(path, "--collateral")
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw CLIFailure.io("cannot read --collateral \(path)") }
        let paths =
            isDir.boolValue
            ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { (path as NSString).appendingPathComponent($0) }
            : [path]
        return paths.compactMap { p in FileManager.default.contents(atPath: p).map { (p, [UInt8]($0)) } }
    }
}

/// `keyrelease bench dataset FILE`: 0G root time and AES-256-GCM decryption throughput.
struct BenchDataset: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dataset",
        abstract: "Time `dataset root` on FILE and AES-256-GCM (LICEN format) decryption of FILE's bytes.",
        discussion:
            "Prints {rootSeconds, rootMiBPerSecond, gcmDecryptMiBPerSecond (LICEN whole file), streamDecryptMiBPerSecond (LICENSTREAM1, 1 MiB chunks), bytes}: medians over --iterations. Benchmarks/run compares them with openssl in the same run."
    )

    @Argument(help: "A file (for example 256 MiB of random bytes).")
    var file: String

    @Option(help: "Iterations per measurement.")
    var iterations = 3

    func run() throws {
        let data = try InputFile.read(file, "file")
        let mib = Double(data.count) / 1_048_576
        var rootTimes = [Double](), gcmTimes = [Double]()
        let key = SymmetricKey(size: .bits256)
        let iv = [UInt8](repeating: 7, count: 12)
        let sealed = Data(try LICENFile.seal(data, key: key, iv: iv))
        // The stream format, chunk by chunk into a sink that keeps nothing (the provider node's
        // path for large datasets).
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bench-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let streamPath = dir.appendingPathComponent("s").path
        try StreamCipher.seal(input: file, output: streamPath, key: key)
        let stream = [UInt8](try Data(contentsOf: URL(fileURLWithPath: streamPath)))
        var streamTimes = [Double]()
        for _ in 0..<iterations {
            let t = DispatchTime.now().uptimeNanoseconds
            var total = 0
            try StreamCipher.open(stream, key: key) { total += $0.count }
            streamTimes.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9)
            guard total == data.count else { throw ValidationError("stream round trip lost bytes") }
        }
        for _ in 0..<iterations {
            var t = DispatchTime.now().uptimeNanoseconds
            _ = try ZeroG.merkle(ofFileAt: file)
            rootTimes.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9)
            t = DispatchTime.now().uptimeNanoseconds
            _ = try LICENFile.open(sealed, key: key, iv: iv)
            gcmTimes.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9)
        }
        let root = rootTimes.sorted()[iterations / 2], gcm = gcmTimes.sorted()[iterations / 2]
        let stream1 = streamTimes.sorted()[iterations / 2]
        let out: [String: Any] = [
            "bytes": data.count, "rootSeconds": root, "rootMiBPerSecond": mib / root, "gcmDecryptMiBPerSecond": mib / gcm,
            "streamDecryptMiBPerSecond": mib / stream1,
        ]
        print(String(decoding: try JSONSerialization.data(withJSONObject: out, options: [.sortedKeys]), as: UTF8.self))
    }
}
