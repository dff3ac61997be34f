import Foundation

/// The package's one way to turn a foreign error (a `Codable` decoding failure, a Foundation
/// file error) into a short operator-facing reason: the field path for decoding errors, the
/// POSIX reason for I/O, without Foundation's domain boilerplate.
public enum ErrorDescription {
    /// A short description of `error`.
    public static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let k, let ctx): return "missing field \((ctx.codingPath + [k]).map(\.stringValue).joined(separator: "."))"
        case DecodingError.typeMismatch(_, let ctx), DecodingError.valueNotFound(_, let ctx), DecodingError.dataCorrupted(let ctx):
            return "bad value at \(ctx.codingPath.map(\.stringValue).joined(separator: ".")): \(ctx.debugDescription)"
        default: break
        }
        let ns = error as NSError
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if ns.domain == NSCocoaErrorDomain || ns.domain == NSPOSIXErrorDomain { return ns.localizedDescription }
        return "\(error)"
    }
}
