import Foundation
import Logging

/// A swift-log handler writing one JSON object per line (`time`, `level`, `label`, `message`,
/// then the metadata). swift-log ships no structured handler and none of the libraries this
/// package may use offers one, so it is written here. Values are rendered with `description`;
/// callers put no key material in log messages or metadata (a test greps captured logs for it).
public struct JSONLogHandler: LogHandler {
    /// Where lines go: stderr by default; tests capture them.
    public typealias Sink = @Sendable (String) -> Void

    /// The handler's level.
    public var logLevel: Logger.Level = .info
    /// Metadata added to every line.
    public var metadata: Logger.Metadata = [:]
    private let label: String
    private let sink: Sink

    /// A handler for `label` writing to `sink`.
    public init(label: String, sink: @escaping Sink = JSONLogHandler.standardError) {
        self.label = label
        self.sink = sink
    }

    /// Writes a line to stderr.
    public static let standardError: Sink = { line in FileHandle.standardError.write(Data((line + "\n").utf8)) }

    /// Metadata by key.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Emits one line.
    public func log(event: LogEvent) {
        var object: [String: Any] = [
            "time": ISO8601DateFormatter.string(from: Date(), timeZone: .gmt, formatOptions: [.withInternetDateTime, .withFractionalSeconds]),
            "level": event.level.rawValue, "label": label, "message": event.message.description,
        ]
        for (k, v) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) where object[k] == nil { object[k] = Self.render(v) }
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        sink(String(decoding: data, as: UTF8.self))
    }

    private static func render(_ v: Logger.Metadata.Value) -> Any {
        switch v {
        case .string(let s): s
        case .stringConvertible(let c): c.description
        case .array(let a): a.map(render)
        case .dictionary(let d): d.mapValues(render)
        }
    }
}
