import AsyncHTTPClient
import Attestation
import Foundation
import NIOCore
import NIOHTTP1

/// GETs for collateral services (Intel PCS, AMD KDS) with the error mapping both share: network
/// trouble and unexpected statuses are ``AttestationError/Code/collateralUnavailable``, a 404 is
/// ``AttestationError/Code/collateralMissing`` (the service has no such piece).
struct CollateralHTTP: Sendable {
    /// The service's name for messages ("Intel PCS", "AMD KDS").
    let service: String
    let client: HTTPClient
    let timeout: TimeAmount
    /// Largest body accepted.
    static let maximumBody = 4 << 20

    /// GETs `url`; returns the body and the response headers on 200.
    func get(_ url: String, what: String, accept: String) async throws(AttestationError) -> (body: [UInt8], headers: HTTPHeaders) {
        let response: HTTPClientResponse
        let body: ByteBuffer
        do {
            var request = HTTPClientRequest(url: url)
            request.headers.add(name: "Accept", value: accept)
            response = try await client.execute(request, timeout: timeout)
            body = try await response.body.collect(upTo: Self.maximumBody)
        } catch {
            throw AttestationError(.collateralUnavailable, "fetching \(what) from \(url) failed: \(error)")
        }
        switch response.status.code {
        case 200: return (Array(body.readableBytesView), response.headers)
        case 404: throw AttestationError(.collateralMissing, "\(service) has no \(what) (404 from \(url))")
        default: throw AttestationError(.collateralUnavailable, "\(service) answered \(response.status.code) for \(what) (\(url))")
        }
    }
}

/// A folder of cached collateral files. A convenience, never a trust decision: whatever is read
/// back is verified again by the caller on every use. Writes are atomic (temporary file, then
/// rename), so a reader never sees half a file.
struct CollateralCache: Sendable {
    /// The folder, or nil for no cache.
    let directory: String?

    /// `$XDG_CACHE_HOME/licen-broker/<name>`, else `~/.cache/licen-broker/<name>`.
    static func defaultDirectory(_ name: String) -> String {
        let env = ProcessInfo.processInfo.environment
        let base = env["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? (NSHomeDirectory() as NSString).appendingPathComponent(".cache")
        return (base as NSString).appendingPathComponent("licen-broker/\(name)")
    }

    /// The cached file `name`, if present.
    func read(_ name: String) -> [UInt8]? {
        guard let directory, let d = FileManager.default.contents(atPath: (directory as NSString).appendingPathComponent(name)) else { return nil }
        return [UInt8](d)
    }

    /// Writes the files in order (put the one readers check first last).
    func write(_ files: [(name: String, bytes: [UInt8])]) throws(AttestationError) {
        guard let directory else { return }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            for f in files { try Data(f.bytes).write(to: URL(fileURLWithPath: (directory as NSString).appendingPathComponent(f.name)), options: .atomic) }
        } catch {
            throw AttestationError(.collateralUnavailable, "cannot write the collateral cache in \(directory): \(error.localizedDescription)")
        }
    }
}
