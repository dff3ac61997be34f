import Foundation

extension TDX {
    /// Intel PCS TCB Info (v3, id `TDX` or `SGX`): the TCB levels of one FMSPC.
    public struct TCBInfo: Sendable, Decodable {
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
        public struct TDXModule: Sendable, Decodable {
            /// Expected MRSIGNERSEAM.
            public let mrsigner: FixedBytes<48>
            /// Expected SEAMATTRIBUTES.
            public let attributes: FixedBytes<8>
            /// Mask applied to SEAMATTRIBUTES before comparing.
            public let attributesMask: FixedBytes<8>
        }

        /// A TDX module identity (`TDX_01`, `TDX_03`, …) with its own TCB levels.
        public struct TDXModuleIdentity: Sendable, Decodable {
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
            public struct ModuleLevel: Sendable, Decodable {
                /// Minimum module ISVSVN.
                public let isvsvn: Int
                /// Status at this level.
                public let tcbStatus: TCBStatus
                /// Advisories at this level.
                public let advisoryIDs: [String]
                enum CodingKeys: String, CodingKey { case tcb, tcbStatus, advisoryIDs }
                enum TCBKeys: String, CodingKey { case isvsvn }
                public init(from decoder: any Decoder) throws {
                    let c = try decoder.container(keyedBy: CodingKeys.self)
                    isvsvn = try c.nestedContainer(keyedBy: TCBKeys.self, forKey: .tcb).decode(Int.self, forKey: .isvsvn)
                    tcbStatus = try c.decode(TCBStatus.self, forKey: .tcbStatus)
                    advisoryIDs = try c.decodeIfPresent([String].self, forKey: .advisoryIDs) ?? []
                }
            }
        }

        /// One platform TCB level.
        public struct TCBLevel: Sendable, Decodable {
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

            enum CodingKeys: String, CodingKey { case tcb, tcbStatus, advisoryIDs }
            enum TCBKeys: String, CodingKey { case sgxtcbcomponents, pcesvn, tdxtcbcomponents }
            struct Component: Decodable { let svn: UInt8 }
            public init(from decoder: any Decoder) throws {
                let c = try decoder.container(keyedBy: CodingKeys.self)
                let t = try c.nestedContainer(keyedBy: TCBKeys.self, forKey: .tcb)
                sgxComponents = try t.decode([Component].self, forKey: .sgxtcbcomponents).map(\.svn)
                pceSVN = try t.decode(UInt16.self, forKey: .pcesvn)
                tdxComponents = try t.decodeIfPresent([Component].self, forKey: .tdxtcbcomponents)?.map(\.svn) ?? []
                tcbStatus = try c.decode(TCBStatus.self, forKey: .tcbStatus)
                advisoryIDs = try c.decodeIfPresent([String].self, forKey: .advisoryIDs) ?? []
            }
        }

        enum CodingKeys: String, CodingKey {
            case id, version, issueDate, nextUpdate, fmspc, pceId, tcbEvaluationDataNumber, tdxModule, tdxModuleIdentities, tcbLevels
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            id = try c.decode(String.self, forKey: .id)
            version = try c.decode(Int.self, forKey: .version)
            issueDate = try c.decode(Date.self, forKey: .issueDate)
            nextUpdate = try c.decode(Date.self, forKey: .nextUpdate)
            fmspc = try c.decode(FixedBytes<6>.self, forKey: .fmspc)
            pceID = try c.decode(FixedBytes<2>.self, forKey: .pceId)
            tcbEvaluationDataNumber = try c.decode(Int.self, forKey: .tcbEvaluationDataNumber)
            tdxModule = try c.decodeIfPresent(TDXModule.self, forKey: .tdxModule)
            tdxModuleIdentities = try c.decodeIfPresent([TDXModuleIdentity].self, forKey: .tdxModuleIdentities) ?? []
            tcbLevels = try c.decode([TCBLevel].self, forKey: .tcbLevels)
        }
    }

    /// Intel PCS QE Identity (`TD_QE` for TDX, `QE` for SGX).
    public struct QEIdentity: Sendable, Decodable {
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

extension JSONDecoder {
    /// A decoder for Intel collateral: ISO 8601 dates.
    static var collateral: JSONDecoder {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        return d
    }
}
