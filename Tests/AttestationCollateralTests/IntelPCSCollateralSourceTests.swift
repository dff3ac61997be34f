import Attestation
import Foundation
import AttestationCollateral
import TestSupport
import Testing

/// The Intel PCS v4 collateral source against a real loopback HTTP server that serves the
/// responses go-tdx-guest recorded from Intel PCS (bodies and issuer-chain headers).
@Suite("Intel PCS collateral source")
struct IntelPCSCollateralSourceTests {
    static let quote = "tdx/go-tdx-guest/tdx_prod_quote_SPR_E4.dat"
    static let fmspc = "50806f000000"
    static let at = instant("2023-07-01T01:00:00Z")

    /// What the fake PCS does besides serving the recordings.
    struct Faults: Sendable {
        var status: Int?
        var dropChainHeader = false
    }

    /// Starts a PCS that serves the recordings, or `faults`.
    static func pcs(_ faults: Faults = Faults()) throws -> LoopbackHTTPServer {
        let tcb = try TestVectors.bytes("tdx/go-tdx-guest/sample_tcbInfo_response")
        let qe = try TestVectors.bytes("tdx/go-tdx-guest/sample_qeIdentity_response")
        let pckCRL = try TestVectors.bytes("tdx/go-tdx-guest/pckcrl")
        let rootCRL = try TestVectors.bytes("tdx/go-tdx-guest/rootcrl.der")
        // PCS sends issuer chains percent-encoded in headers.
        let encode = { (p: String) throws -> String in
            String(decoding: try TestVectors.bytes(p), as: UTF8.self).addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        }
        let tcbChain = try encode("tdx/go-tdx-guest/tcbInfoIssuerChain.pem")
        let pckChain = try encode("tdx/go-tdx-guest/pckCrlIssuerChain.pem")
        return try LoopbackHTTPServer { request in
            if let status = faults.status { return .init(status: status, body: Array("{\"error\":\"injected\"}".utf8)) }
            func chain(_ name: String, _ value: String) -> [(String, String)] { faults.dropChainHeader ? [] : [(name, value)] }
            switch (request.path, request.query) {
            case ("/tdx/certification/v4/tcb", let q) where q["fmspc"] == fmspc:
                return .init(headers: chain("TCB-Info-Issuer-Chain", tcbChain) + [("Content-Type", "application/json")], body: tcb)
            case ("/tdx/certification/v4/qe/identity", _):
                return .init(headers: chain("SGX-Enclave-Identity-Issuer-Chain", tcbChain) + [("Content-Type", "application/json")], body: qe)
            case ("/sgx/certification/v4/pckcrl", let q) where q["ca"] == "platform" && q["encoding"] == "der":
                return .init(headers: chain("SGX-PCK-CRL-Issuer-Chain", pckChain), body: pckCRL)
            case ("/IntelSGXRootCA.der", _):
                return .init(body: rootCRL)
            default:
                return .init(status: 404)
            }
        }
    }

    static func source(_ server: LoopbackHTTPServer, cache: String?) -> IntelPCSCollateralSource {
        IntelPCSCollateralSource(pcsURL: server.baseURL, rootCRLURL: server.baseURL + "/IntelSGXRootCA.der", cacheDirectory: cache, timeout: .seconds(10))
    }

    static func tempDir() -> String {
        let d = (NSTemporaryDirectory() as NSString).appendingPathComponent("pcs-cache-\(UUID().uuidString)")
        return d
    }

    static func verify(_ source: IntelPCSCollateralSource, at now: Date) async throws -> VerificationReport {
        let useCase = QuoteVerification(collateralSource: source, now: now)
        return await useCase.run(evidence: try TestVectors.bytes(quote))
    }

    @Test("fetches all four pieces from PCS and verifies the quote like the recorded folder does")
    func fetchesAndVerifies() async throws {
        let server = try Self.pcs()
        defer { server.shutdown() }
        let cache = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: cache) }

        let online = try await Self.verify(Self.source(server, cache: cache), at: Self.at)
        let offline = await QuoteVerification(collateralPaths: [try TestVectors.path("tdx/go-tdx-guest")], now: Self.at).run(evidence: try TestVectors.bytes(Self.quote))
        #expect(online.error == nil, "\(online.error?.message ?? "")")
        #expect(online.verified)
        #expect(online.exitCode == 1)  // MANIFEST: signatures valid, no TCB level matches
        #expect(online.json == offline.json)

        let paths = server.requests.map(\.uri).sorted()
        #expect(
            paths == [
                "/IntelSGXRootCA.der",
                "/sgx/certification/v4/pckcrl?ca=platform&encoding=der",
                "/tdx/certification/v4/qe/identity",
                "/tdx/certification/v4/tcb?fmspc=\(Self.fmspc)",
            ])
        #expect(server.requests.allSatisfy { $0.method == "GET" })
        let files = try FileManager.default.contentsOfDirectory(atPath: cache)
        #expect(files.contains("tdx-tcbinfo-\(Self.fmspc).body"))
        #expect(files.contains("tdx-tcbinfo-\(Self.fmspc).issuer-chain.pem"))
        #expect(files.contains("rootcrl.body"))
    }

    @Test("a second use inside every piece's window is served from the cache: no request")
    func cacheHit() async throws {
        let server = try Self.pcs()
        defer { server.shutdown() }
        let cache = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: cache) }
        _ = try await Self.verify(Self.source(server, cache: cache), at: Self.at)
        server.clearRequests()

        let again = try await Self.verify(Self.source(server, cache: cache), at: Self.at.addingTimeInterval(3600))
        #expect(again.verified)
        #expect(server.requests.isEmpty)
    }

    @Test("pieces past their nextUpdate are fetched again; current ones are not")
    func refetchAfterNextUpdate() async throws {
        let server = try Self.pcs()
        defer { server.shutdown() }
        let cache = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: cache) }
        _ = try await Self.verify(Self.source(server, cache: cache), at: Self.at)
        server.clearRequests()

        // 2023-07-10: QE Identity and the PCK CRL (nextUpdate 2023-07-08) have lapsed; TCB Info
        // (until 2023-07-18) and the Root CA CRL (until 2024-04-02) have not.
        let later = try await Self.verify(Self.source(server, cache: cache), at: instant("2023-07-10T00:00:00Z"))
        #expect(server.requests.map(\.path).sorted() == ["/sgx/certification/v4/pckcrl", "/tdx/certification/v4/qe/identity"])
        // PCS still serves the lapsed recordings, so verification must say so.
        #expect(!later.verified)
        #expect(later.exitCode == 2)
    }

    @Test("a corrupt or chain-less cache entry is fetched again and replaced")
    func corruptCacheIsRefetched() async throws {
        let server = try Self.pcs()
        defer { server.shutdown() }
        let cache = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: cache) }
        _ = try await Self.verify(Self.source(server, cache: cache), at: Self.at)
        server.clearRequests()

        let body = (cache as NSString).appendingPathComponent("tdx-tcbinfo-\(Self.fmspc).body")
        try Data("{\"tcbInfo\": garbage".utf8).write(to: URL(fileURLWithPath: body))
        try FileManager.default.removeItem(atPath: (cache as NSString).appendingPathComponent("tdx-qe-identity.issuer-chain.pem"))

        let again = try await Self.verify(Self.source(server, cache: cache), at: Self.at)
        #expect(again.verified)
        #expect(server.requests.map(\.path).sorted() == ["/tdx/certification/v4/qe/identity", "/tdx/certification/v4/tcb"])
        #expect(try Data(contentsOf: URL(fileURLWithPath: body)) == Data(try TestVectors.bytes("tdx/go-tdx-guest/sample_tcbInfo_response")))
    }

    @Test("HTTP 500 is collateralUnavailable and nothing is cached")
    func serverErrorIsUnavailable() async throws {
        let server = try Self.pcs(Faults(status: 500))
        defer { server.shutdown() }
        let cache = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let error = await Self.failure(Self.source(server, cache: cache))
        #expect(error?.code == .collateralUnavailable)
        #expect(error?.message.contains("500") == true)
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: cache)) ?? []).isEmpty)
        // Through the use case, the operator gets exit 3 (I/O), not "evidence invalid".
        let report = try await Self.verify(Self.source(server, cache: cache), at: Self.at)
        #expect(report.error?.code == "collateralUnavailable")
        #expect(report.exitCode == 3)
    }

    @Test("404 is collateralMissing; a missing issuer-chain header or a closed port is collateralUnavailable")
    func otherFailures() async throws {
        let notFound = try Self.pcs(Faults(status: 404))
        defer { notFound.shutdown() }
        await Self.expectCode(.collateralMissing, Self.source(notFound, cache: nil))

        let noChain = try Self.pcs(Faults(dropChainHeader: true))
        defer { noChain.shutdown() }
        await Self.expectCode(.collateralUnavailable, Self.source(noChain, cache: nil))

        let closed = try Self.pcs()
        let deadURL = closed.baseURL
        closed.shutdown()
        await Self.expectCode(.collateralUnavailable, IntelPCSCollateralSource(pcsURL: deadURL, rootCRLURL: deadURL + "/r.der", cacheDirectory: nil, timeout: .seconds(2)))
    }

    @Test("keyrelease verify-quote --online fetches from the given PCS, caches, and keeps the CLI contract")
    func cliOnline() throws {
        let server = try Self.pcs()
        defer { server.shutdown() }
        let cache = Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: cache) }
        let args = [
            "verify-quote", try TestVectors.path(Self.quote), "--online", "--pcs-url", server.baseURL, "--root-crl-url", server.baseURL + "/IntelSGXRootCA.der",
            "--cache-dir", cache, "--at", "2023-07-01T01:00:00Z", "--json",
        ]
        let r = try CLIRunner.run("keyrelease", args)
        #expect(r.status == 1, "stderr: \(r.stderr)")
        let j = try r.json()
        #expect(j["verified"] as? Bool == true)
        #expect((j["failures"] as? [[String: String]])?.map { $0["code"] } == ["noMatchingTCBLevel"])
        #expect(server.requests.count == 4)
        #expect(try CLIRunner.run("keyrelease", args).status == 1)
        #expect(server.requests.count == 4, "second run must be served from the cache")

        let mixed = try CLIRunner.run("keyrelease", args + ["--collateral", cache])
        #expect(mixed.status == 3)
        #expect(mixed.stderr.contains("cannot be combined"))
    }

    /// The error fetching collateral gives, or nil if it succeeds.
    static func failure(_ source: IntelPCSCollateralSource) async -> AttestationError? {
        do {
            _ = try await source.collateral(fmspc: FixedBytes(hex: fmspc), pckCA: .platform, now: at)
            return nil
        } catch {
            return error
        }
    }

    static func expectCode(_ code: AttestationError.Code, _ source: IntelPCSCollateralSource) async {
        let error = await failure(source)
        #expect(error?.code == code, "\(String(describing: error))")
    }
}
