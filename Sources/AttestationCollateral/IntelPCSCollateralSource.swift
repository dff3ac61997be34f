import AsyncHTTPClient
import Attestation
import Foundation
import NIOCore
import NIOHTTP1

/// TDX collateral fetched from Intel's Provisioning Certification Service (PCS, API v4), with an
/// on-disk cache that honours each piece's `nextUpdate`.
///
/// Four pieces are fetched, each with its issuer chain from a response header (percent-encoded
/// PEM, decoded here):
/// - TCB Info: `GET {pcs}/tdx/certification/v4/tcb?fmspc=HEX` (header `TCB-Info-Issuer-Chain`);
/// - QE Identity: `GET {pcs}/tdx/certification/v4/qe/identity` (`SGX-Enclave-Identity-Issuer-Chain`);
/// - PCK CRL: `GET {pcs}/sgx/certification/v4/pckcrl?ca=platform|processor&encoding=der`
///   (`SGX-PCK-CRL-Issuer-Chain`);
/// - Root CA CRL: `GET {rootCRLURL}` (DER, from Intel's certificate site).
///
/// The cache is a convenience, not a trust decision: every piece is verified again (signatures,
/// chains, windows) by ``TDX/QuoteVerifier`` on every use, so a tampered cache file can only make
/// verification fail, never pass. A cached piece is used while `now` lies inside its
/// issueDate/thisUpdate … nextUpdate window; otherwise, or when the file does not parse, it is
/// fetched again and replaced atomically (write to a temporary file, then rename).
///
/// Network trouble, HTTP errors and cache I/O errors are ``AttestationError/Code/collateralUnavailable``;
/// a 404 for a piece is ``AttestationError/Code/collateralMissing``.
public struct IntelPCSCollateralSource: TDX.CollateralSource {
    /// Intel's production PCS.
    public static let defaultPCSURL = "https://api.trustedservices.intel.com"
    /// Where Intel publishes the Intel SGX Root CA CRL.
    public static let defaultRootCRLURL = "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der"

    /// The PCS base URL (no trailing slash).
    public let pcsURL: String
    /// The Root CA CRL URL.
    public let rootCRLURL: String
    /// The cache folder, or nil for no cache.
    public let cacheDirectory: String?
    /// The HTTP client (default: the process-wide shared client).
    public let client: HTTPClient
    /// Time allowed for each request.
    public let timeout: TimeAmount

    /// Creates a source. `pcsURL` and `rootCRLURL` may point at a mirror or a caching proxy.
    public init(
        pcsURL: String = Self.defaultPCSURL, rootCRLURL: String = Self.defaultRootCRLURL, cacheDirectory: String? = Self.defaultCacheDirectory,
        client: HTTPClient = .shared, timeout: TimeAmount = .seconds(30)
    ) {
        self.pcsURL = pcsURL.hasSuffix("/") ? String(pcsURL.dropLast()) : pcsURL
        self.rootCRLURL = rootCRLURL
        self.cacheDirectory = cacheDirectory
        self.client = client
        self.timeout = timeout
    }

    /// `$XDG_CACHE_HOME/licen-broker/intel-pcs`, else `~/.cache/licen-broker/intel-pcs`.
    public static var defaultCacheDirectory: String { CollateralCache.defaultDirectory("intel-pcs") }

    /// One piece of collateral: where it comes from and where it is cached.
    enum Piece: Sendable {
        case tcbInfo(fmspc: String)
        case qeIdentity
        case pckCRL(TDX.PCKCAKind)
        case rootCRL

        var cacheName: String {
            switch self {
            case .tcbInfo(let fmspc): "tdx-tcbinfo-\(fmspc)"
            case .qeIdentity: "tdx-qe-identity"
            case .pckCRL(let kind): "pckcrl-\(kind.rawValue)"
            case .rootCRL: "rootcrl"
            }
        }

        var issuerChainHeader: String? {
            switch self {
            case .tcbInfo: "TCB-Info-Issuer-Chain"
            case .qeIdentity: "SGX-Enclave-Identity-Issuer-Chain"
            case .pckCRL: "SGX-PCK-CRL-Issuer-Chain"
            case .rootCRL: nil
            }
        }

        var description: String {
            switch self {
            case .tcbInfo(let fmspc): "TCB Info for FMSPC \(fmspc)"
            case .qeIdentity: "QE Identity"
            case .pckCRL(let kind): "PCK \(kind.rawValue) CA CRL"
            case .rootCRL: "Root CA CRL"
            }
        }
    }

    /// A piece's body and its issuer chain (PEM), as fetched or cached.
    struct Fetched: Sendable {
        var body: [UInt8]
        var issuerChain: [UInt8]?
    }

    public func collateral(fmspc: FixedBytes<6>, pckCA: TDX.PCKCAKind, now: Date) async throws(AttestationError) -> TDX.Collateral {
        var parts = TDX.CollateralParts()
        for piece in [Piece.tcbInfo(fmspc: fmspc.hex), .qeIdentity, .pckCRL(pckCA), .rootCRL] {
            let got = try await load(piece, now: now)
            try parts.add(fileContents: got.body, name: piece.description)
            if let chain = got.issuerChain { try parts.add(fileContents: chain, name: "\(piece.description) issuer chain") }
        }
        return try parts.complete(for: fmspc)
    }

    /// The URL a piece is fetched from.
    func url(for piece: Piece) -> String {
        switch piece {
        case .tcbInfo(let fmspc): "\(pcsURL)/tdx/certification/v4/tcb?fmspc=\(fmspc)"
        case .qeIdentity: "\(pcsURL)/tdx/certification/v4/qe/identity"
        case .pckCRL(let kind): "\(pcsURL)/sgx/certification/v4/pckcrl?ca=\(kind.rawValue)&encoding=der"
        case .rootCRL: rootCRLURL
        }
    }

    /// A cached piece if it parses and is current at `now`, else a fresh fetch (then cached).
    func load(_ piece: Piece, now: Date) async throws(AttestationError) -> Fetched {
        if let cached = readCache(piece), Self.isCurrent(cached, piece: piece, now: now) { return cached }
        let fetched = try await fetch(piece)
        // Never cache what does not even parse: the next call should ask PCS again.
        guard Self.window(of: fetched, piece: piece) != nil else {
            throw AttestationError(.collateralUnavailable, "Intel PCS returned a \(piece.description) that does not parse")
        }
        try writeCache(piece, fetched)
        return fetched
    }

    /// Fetches one piece over HTTP.
    func fetch(_ piece: Piece) async throws(AttestationError) -> Fetched {
        let http = CollateralHTTP(service: "Intel PCS", client: client, timeout: timeout)
        let (body, headers) = try await http.get(url(for: piece), what: piece.description, accept: "application/json, application/pkix-crl, */*")
        var chain: [UInt8]?
        if let header = piece.issuerChainHeader {
            guard let raw = headers.first(name: header), let pem = raw.removingPercentEncoding, pem.contains("-----BEGIN CERTIFICATE-----") else {
                throw AttestationError(.collateralUnavailable, "Intel PCS response for \(piece.description) lacks a usable \(header) header")
            }
            chain = Array(pem.utf8)
        }
        return Fetched(body: body, issuerChain: chain)
    }

    /// The validity window a piece states (issueDate/thisUpdate, nextUpdate), or nil if it does not parse.
    static func window(of fetched: Fetched, piece: Piece) -> ClosedRange<Date>? {
        switch piece {
        case .tcbInfo:
            guard let d = try? TDX.SignedDocument<TDX.TCBInfo>(pcsResponse: fetched.body, member: "tcbInfo") else { return nil }
            return d.body.issueDate <= d.body.nextUpdate ? d.body.issueDate...d.body.nextUpdate : nil
        case .qeIdentity:
            guard let d = try? TDX.SignedDocument<TDX.QEIdentity>(pcsResponse: fetched.body, member: "enclaveIdentity") else { return nil }
            return d.body.issueDate <= d.body.nextUpdate ? d.body.issueDate...d.body.nextUpdate : nil
        case .pckCRL, .rootCRL:
            guard let c = try? CertificateRevocationList(derEncoded: fetched.body) else { return nil }
            return c.thisUpdate <= c.nextUpdate ? c.thisUpdate...c.nextUpdate : nil
        }
    }

    /// Whether a cached piece may be served at `now`: it parses, its issuer chain (if the piece
    /// has one) is present, and `now` is inside its window.
    static func isCurrent(_ cached: Fetched, piece: Piece, now: Date) -> Bool {
        if piece.issuerChainHeader != nil && cached.issuerChain == nil { return false }
        guard let window = window(of: cached, piece: piece) else { return false }
        return window.contains(now)
    }

    private func readCache(_ piece: Piece) -> Fetched? {
        let cache = CollateralCache(directory: cacheDirectory)
        guard let body = cache.read(piece.cacheName + ".body") else { return nil }
        return Fetched(body: body, issuerChain: piece.issuerChainHeader == nil ? nil : cache.read(piece.cacheName + ".issuer-chain.pem"))
    }

    private func writeCache(_ piece: Piece, _ fetched: Fetched) throws(AttestationError) {
        // Chain first: a reader that sees the new body also sees its chain.
        var files = [(name: String, bytes: [UInt8])]()
        if let chain = fetched.issuerChain { files.append((piece.cacheName + ".issuer-chain.pem", chain)) }
        files.append((piece.cacheName + ".body", fetched.body))
        try CollateralCache(directory: cacheDirectory).write(files)
    }
}
