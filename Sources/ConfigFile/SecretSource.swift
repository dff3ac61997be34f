import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a secret comes from: a file readable by its owner only, or an environment variable;
/// never the configuration text itself. Errors name the file or the variable, never the value.
public enum SecretSource: Codable, Sendable, Hashable {
    /// A file whose mode grants nothing to group or others (0600, 0400); its content, trimmed.
    case file(String)
    /// An environment variable's value, trimmed.
    case env(String)

    private enum CodingKeys: String, CodingKey { case file, env }

    /// Decodes `{file: PATH}` or `{env: NAME}`: exactly one.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let file = try c.decodeIfPresent(String.self, forKey: .file)
        let env = try c.decodeIfPresent(String.self, forKey: .env)
        switch (file, env) {
        case (let f?, nil) where !f.isEmpty: self = .file(f)
        case (nil, let e?) where !e.isEmpty: self = .env(e)
        default:
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "give exactly one of file or env"))
        }
    }

    /// Encodes `{file: PATH}` or `{env: NAME}`.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .file(let f): try c.encode(f, forKey: .file)
        case .env(let e): try c.encode(e, forKey: .env)
        }
    }

    /// Reads the secret. Fails closed: a file that group or others may read or write (any bit of
    /// 0o077), a missing file, an unset or empty variable are
    /// ``ConfigFileError/Code/secretUnavailable``.
    public func read(environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigFileError) -> String {
        switch self {
        case .env(let name):
            guard let v = environment[name] else { throw ConfigFileError(.secretUnavailable, "environment variable \(name) is not set") }
            let trimmed = v.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !trimmed.isEmpty else { throw ConfigFileError(.secretUnavailable, "environment variable \(name) is empty") }
            return trimmed
        case .file(let path):
            var st = stat()
            guard stat(path, &st) == 0 else { throw ConfigFileError(.secretUnavailable, "cannot stat secret file \(path)") }
            guard (st.st_mode & S_IFMT) == S_IFREG else { throw ConfigFileError(.secretUnavailable, "secret file \(path) is not a regular file") }
            // Why: a key others can read is already leaked; refusing to start makes the operator
            // fix the mode instead of running with it.
            let mode = st.st_mode & 0o777
            guard mode & 0o077 == 0 else {
                throw ConfigFileError(.secretUnavailable, "secret file \(path) has mode \(String(mode, radix: 8)); it must be 0600 or stricter")
            }
            guard let data = FileManager.default.contents(atPath: path) else { throw ConfigFileError(.secretUnavailable, "cannot read secret file \(path)") }
            let trimmed = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !trimmed.isEmpty else { throw ConfigFileError(.secretUnavailable, "secret file \(path) is empty") }
            return trimmed
        }
    }

    /// Where the secret is, for messages: `file PATH` or `environment variable NAME`.
    public var location: String {
        switch self {
        case .file(let p): "file \(p)"
        case .env(let e): "environment variable \(e)"
        }
    }
}
