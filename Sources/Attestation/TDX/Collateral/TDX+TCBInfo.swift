import Foundation

extension TDX {
    /// Intel PCS TCB Info (v3, id `TDX` or `SGX`): the TCB levels of one FMSPC.
    public struct TCBInfo: Sendable {
        /// `TDX` or `SGX`.
        public let id: String
        /// Format version (3 for TDX).
        public let version: Int
        /// When Intel issued this TCB Info.
        public let issueDate: Date
        /// When it must be refreshed; after this it is expired.
        public let nextUpdate: Date
        /// FMSPC (6 bytes) the levels apply to.
        public let fmspc: FixedBytes<6>
        /// PCE ID (2 bytes).
        public let pceID: FixedBytes<2>
        /// TCB evaluation data number.
        public let tcbEvaluationDataNumber: Int
        /// The base TDX module identity (MRSIGNERSEAM, SEAMATTRIBUTES under mask).
        public let tdxModule: TDXModule?
        /// Per-version TDX module identities (TD 1.5 era TCB Info).
        public let tdxModuleIdentities: [TDXModuleIdentity]
        /// TCB levels, most recent first once sorted by ``QuoteVerifier``.
        public let tcbLevels: [TCBLevel]

        /// The base TDX module entry.
        public struct TDXModule: Sendable {
            /// Expected MRSIGNERSEAM.
            public let mrsigner: FixedBytes<48>
            /// Expected SEAMATTRIBUTES.
            public let attributes: FixedBytes<8>
            /// Mask applied to SEAMATTRIBUTES before comparing.
            public let attributesMask: FixedBytes<8>
        }

        /// A TDX module identity (`TDX_01`, `TDX_03`, …) with its own TCB levels.
        public struct TDXModuleIdentity: Sendable {
            /// `TDX_` followed by the module major version in two hex digits.
            public let id: String
            /// Expected MRSIGNERSEAM.
            public let mrsigner: FixedBytes<48>
            /// Expected SEAMATTRIBUTES.
            public let attributes: FixedBytes<8>
            /// Mask applied to SEAMATTRIBUTES.
            public let attributesMask: FixedBytes<8>
            /// Levels by module ISVSVN, highest first.
            public let tcbLevels: [ModuleLevel]

            /// One module TCB level.
            public struct ModuleLevel: Sendable {
                /// Minimum module ISVSVN.
                public let isvsvn: Int
                /// Status at this level.
                public let tcbStatus: TCBStatus
                /// Advisories at this level.
                public let advisoryIDs: [String]
            }
        }

        /// One platform TCB level.
        public struct TCBLevel: Sendable {
            /// Minimum SGX TCB component SVNs (16).
            public let sgxComponents: [UInt8]
            /// Minimum PCESVN.
            public let pceSVN: UInt16
            /// Minimum TDX TCB component SVNs (16; empty for SGX).
            public let tdxComponents: [UInt8]
            /// Status at this level.
            public let tcbStatus: TCBStatus
            /// Advisories at this level.
            public let advisoryIDs: [String]
        }
    }

    /// Intel PCS QE Identity (`TD_QE` for TDX, `QE` for SGX).
    public struct QEIdentity: Sendable {
        /// `TD_QE` or `QE`.
        public let id: String
        /// Format version (2).
        public let version: Int
        /// When Intel issued it.
        public let issueDate: Date
        /// When it expires.
        public let nextUpdate: Date
        /// TCB evaluation data number.
        public let tcbEvaluationDataNumber: Int
        /// Expected MISCSELECT.
        public let miscselect: FixedBytes<4>
        /// Mask for MISCSELECT.
        public let miscselectMask: FixedBytes<4>
        /// Expected ATTRIBUTES.
        public let attributes: FixedBytes<16>
        /// Mask for ATTRIBUTES.
        public let attributesMask: FixedBytes<16>
        /// Expected MRSIGNER of the QE.
        public let mrsigner: FixedBytes<32>
        /// Expected ISVPRODID.
        public let isvprodid: UInt16
        /// Levels by QE ISVSVN, highest first.
        public let tcbLevels: [TCBInfo.TDXModuleIdentity.ModuleLevel]
    }
}

extension TDX.QEIdentity: TDX.SignedJSONBody {
    /// Reads QE Identity from its JSON (the `enclaveIdentity` value).
    public init(json v: JSONValue) throws(AttestationError) {
        let f = JSONFields(v, "enclaveIdentity")
        id = try f.string("id")
        version = try f.int("version")
        issueDate = try f.date("issueDate")
        nextUpdate = try f.date("nextUpdate")
        tcbEvaluationDataNumber = try f.int("tcbEvaluationDataNumber")
        miscselect = try f.hex("miscselect")
        miscselectMask = try f.hex("miscselectMask")
        attributes = try f.hex("attributes")
        attributesMask = try f.hex("attributesMask")
        mrsigner = try f.hex("mrsigner")
        isvprodid = try f.uint16("isvprodid")
        tcbLevels = try f.array("tcbLevels").map { (l: JSONFields) throws(AttestationError) in try TDX.TCBInfo.TDXModuleIdentity.ModuleLevel(l) }
    }
}

extension TDX.TCBInfo: TDX.SignedJSONBody {
    /// Reads TCB Info from its JSON (the `tcbInfo` value).
    public init(json v: JSONValue) throws(AttestationError) {
        let f = JSONFields(v, "tcbInfo")
        id = try f.string("id")
        version = try f.int("version")
        issueDate = try f.date("issueDate")
        nextUpdate = try f.date("nextUpdate")
        fmspc = try f.hex("fmspc")
        pceID = try f.hex("pceId")
        tcbEvaluationDataNumber = try f.int("tcbEvaluationDataNumber")
        tdxModule = try f.optional("tdxModule").map { (m: JSONFields) throws(AttestationError) in
            TDXModule(mrsigner: try m.hex("mrsigner"), attributes: try m.hex("attributes"), attributesMask: try m.hex("attributesMask"))
        }
        tdxModuleIdentities = try (f.optionalArray("tdxModuleIdentities") ?? []).map { (m: JSONFields) throws(AttestationError) in
            TDXModuleIdentity(
                id: try m.string("id"), mrsigner: try m.hex("mrsigner"), attributes: try m.hex("attributes"), attributesMask: try m.hex("attributesMask"),
                tcbLevels: try m.array("tcbLevels").map { (l: JSONFields) throws(AttestationError) in try TDXModuleIdentity.ModuleLevel(l) })
        }
        tcbLevels = try f.array("tcbLevels").map { (l: JSONFields) throws(AttestationError) in
            let t = try l.object("tcb")
            return TCBLevel(
                sgxComponents: try t.array("sgxtcbcomponents").map { (c: JSONFields) throws(AttestationError) in try c.uint8("svn") },
                pceSVN: try t.uint16("pcesvn"),
                tdxComponents: try (t.optionalArray("tdxtcbcomponents") ?? []).map { (c: JSONFields) throws(AttestationError) in try c.uint8("svn") },
                tcbStatus: try l.status("tcbStatus"), advisoryIDs: try l.strings("advisoryIDs"))
        }
    }
}

extension TDX.TCBInfo.TDXModuleIdentity.ModuleLevel {
    init(_ l: JSONFields) throws(AttestationError) {
        self.init(isvsvn: try l.object("tcb").int("isvsvn"), tcbStatus: try l.status("tcbStatus"), advisoryIDs: try l.strings("advisoryIDs"))
    }
}

/// Typed, path-naming access to the members of a JSON object (see ``JSONValue``).
struct JSONFields {
    let value: JSONValue
    // The path is spelled out only when asked for (error messages, nested objects): building
    // "tcbInfo.tcbLevels[3].tcb.sgxtcbcomponents[12]" for each of a TCB Info's hundreds of
    // array elements was most of the cost of reading one.
    private let base: String
    private let element: (key: String, index: Int)?

    init(_ value: JSONValue, _ path: String) {
        self.value = value
        self.base = path
        self.element = nil
    }

    private init(_ value: JSONValue, base: String, key: String, index: Int) {
        self.value = value
        self.base = base
        self.element = (key, index)
    }

    /// Where this value sits in the document, for messages.
    var path: String {
        guard let element else { return base }
        return "\(base).\(element.key)[\(element.index)]"
    }

    func bad(_ key: String, _ why: String) -> AttestationError { AttestationError(.collateralMalformed, "\(path).\(key): \(why)") }

    func member(_ key: String) throws(AttestationError) -> JSONValue {
        guard case .object = value else { throw AttestationError(.collateralMalformed, "\(path): not an object") }
        guard let v = value[key] else { throw AttestationError(.collateralMalformed, "missing field \(path).\(key)") }
        return v
    }

    func string(_ key: String) throws(AttestationError) -> String {
        guard let s = try member(key).string else { throw bad(key, "not a string") }
        return s
    }

    func int(_ key: String) throws(AttestationError) -> Int {
        guard let n = try member(key).int else { throw bad(key, "not an integer") }
        return n
    }

    func uint16(_ key: String) throws(AttestationError) -> UInt16 {
        guard let n = UInt16(exactly: try int(key)) else { throw bad(key, "out of range") }
        return n
    }

    func uint8(_ key: String) throws(AttestationError) -> UInt8 {
        guard let n = UInt8(exactly: try int(key)) else { throw bad(key, "out of range") }
        return n
    }

    func hex<let n: Int>(_ key: String) throws(AttestationError) -> FixedBytes<n> {
        do { return try FixedBytes(hex: try string(key)) } catch { throw bad(key, "not \(n) bytes of hex") }
    }

    func date(_ key: String) throws(AttestationError) -> Date {
        guard let d = UTCDate.iso8601(try string(key)) else { throw bad(key, "not an ISO 8601 UTC time") }
        return d
    }

    func status(_ key: String) throws(AttestationError) -> TDX.TCBStatus {
        let s = try string(key)
        guard let status = TDX.TCBStatus(rawValue: s) else { throw bad(key, "unknown TCB status \"\(s)\"") }
        return status
    }

    func strings(_ key: String) throws(AttestationError) -> [String] {
        guard let v = value[key] else { return [] }
        guard let a = v.array else { throw bad(key, "not an array") }
        var out = [String]()
        for e in a {
            guard let s = e.string else { throw bad(key, "not an array of strings") }
            out.append(s)
        }
        return out
    }

    func object(_ key: String) throws(AttestationError) -> JSONFields {
        let v = try member(key)
        guard case .object = v else { throw bad(key, "not an object") }
        return JSONFields(v, "\(path).\(key)")
    }

    func optional(_ key: String) throws(AttestationError) -> JSONFields? {
        guard let v = value[key], v != .null else { return nil }
        return try object(key)
    }

    func array(_ key: String) throws(AttestationError) -> [JSONFields] {
        guard let a = try member(key).array else { throw bad(key, "not an array") }
        let base = path
        return a.enumerated().map { JSONFields($0.element, base: base, key: key, index: $0.offset) }
    }

    func optionalArray(_ key: String) throws(AttestationError) -> [JSONFields]? {
        guard let v = value[key], v != .null else { return nil }
        return try array(key)
    }
}
