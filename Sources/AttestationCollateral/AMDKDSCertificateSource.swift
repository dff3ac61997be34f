import AsyncHTTPClient
import Attestation
import ByteEncoding
import Foundation
import NIOCore

/// SEV-SNP certificates fetched from AMD's Key Distribution Service (KDS), with an on-disk cache
/// kept while each certificate is within its validity window.
///
/// - VCEK: `GET {kds}/vcek/v1/{Milan|Genoa|Turin}/{hwid}?blSPL=&teeSPL=&snpSPL=&ucodeSPL=` (DER),
///   the hardware ID being CHIP_ID in hex (Turin: its first 8 bytes, plus `fmcSPL=`) and the SPLs
///   the report's REPORTED_TCB;
/// - ASK + ARK: `GET {kds}/vcek/v1/{product}/cert_chain` (PEM);
/// - VLEK reports: KDS does not publish VLEKs (AMD provisions them to the cloud provider), so
///   only the ASVK + ARK chain `GET {kds}/vlek/v1/{product}/cert_chain` is fetched and the VLEK
///   itself must come with the evidence (``QuoteVerification`` merges the evidence's certificates
///   with what this source returns).
///
/// The product comes from the CPUID of v3+ reports; v2 reports do not name it, so the source
/// uses ``defaultProduct`` for them, or refuses. Nothing fetched is trusted here: the
/// ``SEVSNP/ReportVerifier`` checks every certificate up to the pinned ARK on every use, so a
/// tampered cache can only make verification fail. Errors as ``IntelPCSCollateralSource``.
public struct AMDKDSCertificateSource: SEVSNP.CertificateSource {
    /// AMD's production KDS.
    public static let defaultKDSURL = "https://kdsintf.amd.com"

    /// The KDS base URL (no trailing slash).
    public let kdsURL: String
    /// The product to assume for v2 reports, which do not carry CPUID.
    public let defaultProduct: SEVSNP.Product?
    /// The cache folder, or nil for no cache.
    public let cacheDirectory: String?
    /// The HTTP client.
    public let client: HTTPClient
    /// Time allowed for each request.
    public let timeout: TimeAmount

    /// Creates a source. `kdsURL` may point at a mirror or caching proxy.
    public init(
        kdsURL: String = Self.defaultKDSURL, defaultProduct: SEVSNP.Product? = nil, cacheDirectory: String? = Self.defaultCacheDirectory,
        client: HTTPClient = .shared, timeout: TimeAmount = .seconds(30)
    ) {
        self.kdsURL = kdsURL.hasSuffix("/") ? String(kdsURL.dropLast()) : kdsURL
        self.defaultProduct = defaultProduct
        self.cacheDirectory = cacheDirectory
        self.client = client
        self.timeout = timeout
    }

    /// `$XDG_CACHE_HOME/licen-broker/amd-kds`, else `~/.cache/licen-broker/amd-kds`.
    public static var defaultCacheDirectory: String { CollateralCache.defaultDirectory("amd-kds") }

    /// The certificates for `report`: its VCEK and the product's ASK/ARK chain, or for a VLEK
    /// report the ASVK/ARK chain only (the VLEK must come with the evidence).
    public func certificates(for report: SEVSNP.Report, now: Date) async throws(AttestationError) -> SEVSNP.CertificateBundle {
        guard let product = report.product ?? defaultProduct else {
            throw AttestationError(.collateralMissing, "a version \(report.version) report does not name its product (no CPUID) and the source has no default product")
        }
        let name = product.amdName
        var files = [[UInt8]]()
        switch report.signerInfo.signingKey {
        case .vcek?:
            let tcb = report.reportedTCB
            var query = "blSPL=\(tcb.bootloader)&teeSPL=\(tcb.tee)&snpSPL=\(tcb.snp)&ucodeSPL=\(tcb.microcode)"
            if product == .turin { query += "&fmcSPL=\(tcb.fmc ?? 0)" }
            let hwid = Hex.encode(product == .turin ? Array(report.chipID.bytes.prefix(8)) : report.chipID.bytes)
            if report.chipID.isZero { throw AttestationError(.collateralMissing, "the report's CHIP_ID is zero (masked): its VCEK cannot be fetched") }
            files.append(
                try await load(
                    url: "\(kdsURL)/vcek/v1/\(name)/\(hwid)?\(query)", cacheName: "vcek-\(product.rawValue)-\(hwid.prefix(32))-\(tcb.raw.hex).der",
                    what: "VCEK for chip \(hwid.prefix(16))… at TCB \(tcb.raw.hex)", now: now))
            files.append(try await load(url: "\(kdsURL)/vcek/v1/\(name)/cert_chain", cacheName: "cert-chain-vcek-\(product.rawValue).pem", what: "\(name) ASK/ARK chain", now: now))
        case .vlek?:
            files.append(try await load(url: "\(kdsURL)/vlek/v1/\(name)/cert_chain", cacheName: "cert-chain-vlek-\(product.rawValue).pem", what: "\(name) ASVK/ARK chain", now: now))
        case nil:
            throw AttestationError(.signingKeyMismatch, "the report names no VCEK or VLEK signing key (SIGNER_INFO \(report.signerInfo.rawValue))")
        }
        return try SEVSNP.CertificateBundle(files: files)
    }

    /// A cached file while every certificate in it is valid at `now`, else a fresh fetch (cached
    /// only if it holds certificates).
    func load(url: String, cacheName: String, what: String, now: Date) async throws(AttestationError) -> [UInt8] {
        let cache = CollateralCache(directory: cacheDirectory)
        if let cached = cache.read(cacheName), Self.isCurrent(cached, now: now) { return cached }
        let http = CollateralHTTP(service: "AMD KDS", client: client, timeout: timeout)
        let (body, _) = try await http.get(url, what: what, accept: "application/pkix-cert, application/x-pem-file, */*")
        guard (try? SEVSNP.CertificateBundle(files: [body])) != nil else {
            throw AttestationError(.collateralUnavailable, "AMD KDS returned a \(what) that is not an AMD certificate")
        }
        try cache.write([(cacheName, body)])
        return body
    }

    /// Whether a cached file parses and every certificate in it is valid at `now`.
    static func isCurrent(_ file: [UInt8], now: Date) -> Bool {
        guard let bundle = try? SEVSNP.CertificateBundle(files: [file]) else { return false }
        let certs = bundle.all
        return !certs.isEmpty && certs.allSatisfy { $0.notValidBefore <= now && now <= $0.notValidAfter }
    }
}
