/// A strict DER walker over the elements of one constructed value's contents, one level deep:
/// tag (single byte: low tag numbers only) and definite, minimally encoded length, nothing read
/// into the contents. Written by hand because SwiftASN1 offers no lazy walk (its `DER.parse`
/// decodes every nested element eagerly); callers decode the elements they use with SwiftASN1.
struct DERElements {
    /// One element: its tag byte, its whole encoding and its contents (slices of the input).
    struct Element: Equatable {
        let tag: UInt8
        let encoded: ArraySlice<UInt8>
        let content: ArraySlice<UInt8>
    }

    private let bytes: ArraySlice<UInt8>
    private var index: Int
    private let what: String
    /// The code every structural error carries (the caller's "malformed" code).
    let code: AttestationError.Code

    init(_ bytes: ArraySlice<UInt8>, _ what: String, code: AttestationError.Code) {
        self.bytes = bytes
        self.index = bytes.startIndex
        self.what = what
        self.code = code
    }

    /// A walker over `element`'s contents, with this walker's error code.
    func children(of element: Element, _ what: String) -> DERElements { DERElements(element.content, what, code: code) }

    /// The next element, nil at the end; throws ``code`` on a truncated, indefinite, non-minimal or high-tag-number encoding.
    mutating func next() throws(AttestationError) -> Element? {
        guard index < bytes.endIndex else { return nil }
        let start = index
        let tag = bytes[index]
        guard tag & 0x1F != 0x1F else { throw AttestationError(code, "\(what): high tag number form is not supported") }
        guard index + 1 < bytes.endIndex else { throw AttestationError(code, "\(what): truncated element header") }
        let first = bytes[index + 1]
        index += 2
        var length = 0
        if first < 0x80 {
            length = Int(first)
        } else {
            let n = Int(first & 0x7F)
            guard n >= 1, n <= 4 else { throw AttestationError(code, "\(what): indefinite or oversized length") }
            guard bytes.endIndex - index >= n else { throw AttestationError(code, "\(what): truncated length") }
            guard bytes[index] != 0 else { throw AttestationError(code, "\(what): length is not minimally encoded") }
            for _ in 0..<n { length = length << 8 | Int(bytes[index]); index += 1 }
            guard length >= 0x80 else { throw AttestationError(code, "\(what): length is not minimally encoded") }
        }
        guard bytes.endIndex - index >= length else { throw AttestationError(code, "\(what): element runs past its container") }
        let content = bytes[index..<index + length]
        index += length
        return Element(tag: tag, encoded: bytes[start..<index], content: content)
    }

    /// The single element that makes up `bytes` (no trailing bytes).
    static func sole(_ bytes: ArraySlice<UInt8>, _ what: String, code: AttestationError.Code) throws(AttestationError) -> Element {
        var w = DERElements(bytes, what, code: code)
        guard let e = try w.next() else { throw AttestationError(code, "\(what) is empty") }
        guard try w.next() == nil else { throw AttestationError(code, "\(what) has trailing bytes") }
        return e
    }

    /// Checks INTEGER contents as DER requires: not empty, no redundant leading 0x00 or 0xFF.
    /// (SwiftASN1 checks the same, but only through a parsed node: one allocation per revoked
    /// serial, which is what walking lazily avoids.)
    static func checkMinimalInteger(_ c: ArraySlice<UInt8>, code: AttestationError.Code) throws(AttestationError) {
        guard let first = c.first else { throw AttestationError(code, "empty INTEGER") }
        if c.count > 1 {
            let second = c[c.startIndex + 1]
            guard !(first == 0 && second & 0x80 == 0), !(first == 0xFF && second & 0x80 != 0) else {
                throw AttestationError(code, "INTEGER is not minimally encoded")
            }
        }
    }
}
