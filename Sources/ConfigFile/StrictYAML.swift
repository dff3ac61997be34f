import Foundation
import Yams

/// YAML decoding that refuses keys the target type does not know, at any depth, naming each by
/// its line and dotted path (`providers[0].polices`, line 12): a misspelt setting is an error,
/// never a silently applied default.
///
/// How: the text is decoded with Yams' `YAMLDecoder`; the decoded value is encoded again with
/// `YAMLEncoder`, which writes every key the type knows (with its value or default). Every
/// mapping key of the input must then exist at the same path in that re-encoding. An input key
/// whose value is YAML null counts as known (an optional left empty encodes to nothing). This
/// needs types whose `encode(to:)` writes the keys their `init(from:)` reads, which synthesized
/// `Codable` does.
public enum StrictYAML {
    /// Decodes `T` from YAML `text`, refusing unknown keys (``ConfigFileError/Code/unknownKey``)
    /// and anything that does not decode as `T` (``ConfigFileError/Code/malformed``).
    public static func decode<T: Codable>(_ type: T.Type, from text: String) throws(ConfigFileError) -> T {
        let input: Node
        do {
            guard let node = try Yams.compose(yaml: text) else { throw ConfigFileError(.malformed, "the document is empty") }
            input = node
        } catch let e as ConfigFileError { throw e } catch {
            throw ConfigFileError(.malformed, "not YAML: \(describe(error))")
        }
        let value: T
        do { value = try YAMLDecoder().decode(T.self, from: input) } catch {
            throw ConfigFileError(.malformed, describe(error))
        }
        let known: Node
        do {
            guard let node = try Yams.compose(yaml: try YAMLEncoder().encode(value)) else { throw ConfigFileError(.malformed, "the decoded value encodes to nothing") }
            known = node
        } catch let e as ConfigFileError { throw e } catch {
            throw ConfigFileError(.malformed, "the decoded value does not encode again: \(describe(error))")
        }
        if let unknown = firstUnknownKey(in: input, known: known, path: "") { throw unknown }
        return value
    }

    /// Reads a file and decodes it like ``decode(_:from:)``.
    public static func decode<T: Codable>(_ type: T.Type, file path: String) throws(ConfigFileError) -> T {
        guard let data = FileManager.default.contents(atPath: path) else { throw ConfigFileError(.malformed, "cannot read \(path)") }
        do { return try decode(type, from: String(decoding: data, as: UTF8.self)) } catch {
            throw ConfigFileError(error.code, "\(path): \(error.message)")
        }
    }

    /// The first key of `input` with no counterpart in `known`, in document order.
    static func firstUnknownKey(in input: Node, known: Node?, path: String) -> ConfigFileError? {
        switch input {
        case .mapping(let m):
            for (key, value) in m {
                let name = key.string ?? "?"
                let child = path.isEmpty ? name : "\(path).\(name)"
                let counterpart = known?.mapping?[key]
                if counterpart == nil {
                    if case .scalar = value, value.null != nil { continue }
                    let line = key.mark.map { "line \($0.line): " } ?? ""
                    return ConfigFileError(.unknownKey, "\(line)unknown key \"\(child)\"\(allowed(known))")
                }
                if let e = firstUnknownKey(in: value, known: counterpart, path: child) { return e }
            }
            return nil
        case .sequence(let s):
            let counterparts = known?.sequence.map { Array($0) } ?? []
            for (i, item) in s.enumerated() {
                if let e = firstUnknownKey(in: item, known: i < counterparts.count ? counterparts[i] : nil, path: "\(path)[\(i)]") { return e }
            }
            return nil
        case .scalar, .alias:
            return nil
        }
    }

    private static func allowed(_ known: Node?) -> String {
        guard let keys = known?.mapping?.keys.compactMap(\.string), !keys.isEmpty else { return "" }
        return " (known here: \(keys.sorted().joined(separator: ", ")))"
    }

    /// A decoding error in a line: the coding path and what was wrong, without values.
    static func describe(_ error: any Error) -> String {
        func path(_ p: [any CodingKey]) -> String {
            var out = ""
            for k in p {
                if let i = k.intValue { out += "[\(i)]" } else { out += out.isEmpty ? k.stringValue : ".\(k.stringValue)" }
            }
            return out.isEmpty ? "the document" : out
        }
        switch error {
        case DecodingError.keyNotFound(let key, let c): return "\(path(c.codingPath + [key])): missing"
        case DecodingError.typeMismatch(let type, let c): return "\(path(c.codingPath)): expected \(type)"
        case DecodingError.valueNotFound(let type, let c): return "\(path(c.codingPath)): expected \(type), found nothing"
        case DecodingError.dataCorrupted(let c): return "\(path(c.codingPath)): \(c.debugDescription)"
        case let e as YamlError: return "\(e)"
        default: return "\(error)"
        }
    }
}
