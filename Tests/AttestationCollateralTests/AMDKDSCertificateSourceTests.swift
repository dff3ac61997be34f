import Attestation
import ByteEncoding
import Foundation
import AttestationCollateral
import TestSupport
import Testing

/// The AMD KDS certificate source against a real loopback HTTP server serving the certificates
/// from the test vectors at KDS's paths (VCEK by hardware ID and SPLs, ASK/ARK and ASVK/ARK chains).
@Suite("AMD KDS certificate source")
struct AMDKDSCertificateSourceTests {
    static let vcekReport = "snp/trustee/snp/test-report.bin"
    static let vlekReport = "snp/trustee/snp/test-vlek-report.bin"
    static let at = instant("2026-11-24T00:00:00Z")

    /// Starts a KDS that serves the vectors, or answers every request with `status`, or serves
    /// garbage when `corrupt`.
    static func kds(status: Int? = nil, corrupt: Bool = false) throws -> LoopbackHTTPServer {
        let report = try SEVSNP.Report(rawRepresentation: TestVectors.bytes(vcekReport))
        let hwid = Hex.encode(report.chipID.bytes)
        let vcek = try TestVectors.bytes("snp/trustee/snp/test-vcek.der")
        let askArk = try TestVectors.bytes("snp/go-sev-guest/ask_ark_milan.pem")
        let asvkArk = try TestVectors.bytes("snp/trustee/milan_ask_ark_asvk.pem")
        return try LoopbackHTTPServer { request in
            if let status { return .init(status: status) }
            if corrupt { return .init(body: Array("<html>maintenance</html>".utf8)) }
            switch (request.path, request.query) {
            case ("/vcek/v1/Milan/\(hwid)", let q) where q == ["blSPL": "3", "teeSPL": "0", "snpSPL": "8", "ucodeSPL": "115"]:
                return .init(headers: [("Content-Type", "application/pkix-cert")], body: vcek)
            case ("/vcek/v1/Milan/cert_chain", _): return .init(body: askArk)
            case ("/vlek/v1/Milan/cert_chain", _): return .init(body: asvkArk)
            default: return .init(status: 404)
            }
        }
    }

    static func tempDir() -> String { (NSTemporaryDirectory() as NSString).appendingPathComponent("kds-cache-\(UUID().uuidString)") }

    static func verify(_ report: String, source: AMDKDSCertificateSource, certificates: [String] = [], at now: Date = at) async throws -> VerificationReport {
        var useCase = QuoteVerification(platform: .snp, collateralPaths: try certificates.map { try TestVectors.path($0) }, now: now)
        useCase.snpCertificateSource = source
        return await useCase.run(evidence: try TestVectors.bytes(report))
    }

    @Test("fetches the VCEK and its chain, then serves them from the cache")
    func vcekFetchedAndCached() async throws {
        let server = try Self.kds()
        defer { server.shutdown() }
        let cache = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: cache) }
        // A version 2 report has no CPUID: without a product to assume, nothing is fetched.
        let unnamed = try await Self.verify(Self.vcekReport, source: AMDKDSCertificateSource(kdsURL: server.baseURL, cacheDirectory: cache))
        #expect(unnamed.error?.code == "collateralMissing")
        #expect(unnamed.exitCode == 3)
        #expect(server.requests.isEmpty)

        let source = AMDKDSCertificateSource(kdsURL: server.baseURL, defaultProduct: .milan, cacheDirectory: cache, timeout: .seconds(10))
        let first = try await Self.verify(Self.vcekReport, source: source)
        #expect(first.error == nil, "\(first.error?.message ?? "")")
        #expect(first.accepted)
        let offline = await QuoteVerification(
            platform: .snp, collateralPaths: [try TestVectors.path("snp/trustee/snp/test-vcek.der"), try TestVectors.path("snp/go-sev-guest/ask_ark_milan.pem")],
            now: Self.at
        ).run(evidence: try TestVectors.bytes(Self.vcekReport))
        #expect(first.json == offline.json)
        #expect(server.requests.map(\.path).sorted().last == "/vcek/v1/Milan/cert_chain")
        #expect(server.requests.count == 2)
        let second = try await Self.verify(Self.vcekReport, source: source)
        #expect(second.accepted)
        #expect(server.requests.count == 2, "the second verification must be served from the cache")

        // A corrupt cache file is fetched again and replaced.
        let files = try FileManager.default.contentsOfDirectory(atPath: cache)
        let vcekFile = try #require(files.first { $0.hasPrefix("vcek-milan-") })
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: (cache as NSString).appendingPathComponent(vcekFile)))
        #expect(try await Self.verify(Self.vcekReport, source: source).accepted)
        #expect(server.requests.count == 3)
        // Past the VCEK's notAfter its cached copy is fetched again (the chain, valid to 2045, is not).
        let late = try await Self.verify(Self.vcekReport, source: source, at: instant("2031-01-01T00:00:00Z"))
        #expect(server.requests.count == 4)
        #expect(server.requests.last?.path.hasPrefix("/vcek/v1/Milan/") == true && server.requests.last?.path.hasSuffix("cert_chain") == false)
        #expect(!late.accepted)
    }

    @Test("a VLEK report takes its VLEK from the evidence and the ASVK chain from KDS")
    func vlekChainFetched() async throws {
        let server = try Self.kds()
        defer { server.shutdown() }
        let source = AMDKDSCertificateSource(kdsURL: server.baseURL, cacheDirectory: nil, timeout: .seconds(10))
        let r = try await Self.verify(Self.vlekReport, source: source, certificates: ["snp/trustee/snp/test-vlek.der"], at: instant("2025-06-01T00:00:00Z"))
        #expect(r.error == nil, "\(r.error?.message ?? "")")
        #expect(r.verified)
        #expect(server.requests.map(\.path) == ["/vlek/v1/Milan/cert_chain"])
        // Without the VLEK the chain alone proves nothing.
        let without = try await Self.verify(Self.vlekReport, source: source, at: instant("2025-06-01T00:00:00Z"))
        #expect(!without.verified)
    }

    @Test("KDS trouble is collateralUnavailable or collateralMissing, never a verdict on the report")
    func faults() async throws {
        for (status, code) in [(500, "collateralUnavailable"), (429, "collateralUnavailable"), (404, "collateralMissing")] {
            let server = try Self.kds(status: status)
            defer { server.shutdown() }
            let r = try await Self.verify(Self.vcekReport, source: AMDKDSCertificateSource(kdsURL: server.baseURL, defaultProduct: .milan, cacheDirectory: nil, timeout: .seconds(10)))
            #expect(r.error?.code == code, "HTTP \(status)")
            #expect(r.exitCode == 3)
        }
        let cache = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let corrupt = try Self.kds(corrupt: true)
        defer { corrupt.shutdown() }
        let r = try await Self.verify(Self.vcekReport, source: AMDKDSCertificateSource(kdsURL: corrupt.baseURL, defaultProduct: .milan, cacheDirectory: cache, timeout: .seconds(10)))
        #expect(r.error?.code == "collateralUnavailable")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: cache)) ?? []).isEmpty, "garbage must not be cached")
        let down = try await Self.verify(Self.vcekReport, source: AMDKDSCertificateSource(kdsURL: "http://127.0.0.1:1", defaultProduct: .milan, cacheDirectory: nil, timeout: .seconds(5)))
        #expect(down.error?.code == "collateralUnavailable")
    }

    @Test("verify-quote --online fetches SEV-SNP certificates from --kds-url")
    func cli() throws {
        let server = try Self.kds()
        defer { server.shutdown() }
        let args = [
            "verify-quote", try TestVectors.path(Self.vcekReport), "--platform", "snp", "--online", "--kds-url", server.baseURL,
            "--cache-dir", "none", "--at", "2026-11-24T00:00:00Z", "--json",
        ]
        let missing = try CLIRunner.run("keyrelease", args)
        #expect(missing.status == 3, "\(missing.stdout)")
        let ok = try CLIRunner.run("keyrelease", args + ["--kds-product", "milan"])
        #expect(ok.status == 0, "\(ok.stdout) \(ok.stderr)")
        #expect(((try ok.json()["claims"] as? [String: Any])?["signingKey"] as? String) == "vcek")
        #expect(try CLIRunner.run("keyrelease", ["verify-quote", try TestVectors.path(Self.vcekReport), "--kds-product", "milan"]).status == 3)  // only with --online
    }
}
