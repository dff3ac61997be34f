import Foundation

extension TDX {
    /// A quote whose signatures, chains and collateral have all been checked at a given instant.
    ///
    /// Only ``QuoteVerifier`` creates one. "Verified" means authentic, not acceptable: whether the
    /// TCB status, debug bit or measurements are acceptable is ``Validator``'s decision.
    public struct VerifiedQuote: Sendable {
        /// The quote.
        public let quote: Quote
        /// The SGX extension of the verified PCK certificate.
        public let pck: PCKExtensions
        /// The merged TCB verdict (platform, QE, TDX module), or nil when no TCB level of the
        /// TCB Info matches the platform ("TCB not supported"): authentic but never acceptable.
        public let tcb: TCBVerdict?
        /// Why there is no TCB verdict, when ``tcb`` is nil.
        public let tcbUnmatchedReason: String?
        /// The platform TCB level's verdict alone.
        public let platformTCB: TCBVerdict?
        /// The QE Identity level's verdict alone.
        public let qeTCB: TCBVerdict?
        /// The TDX module identity level's verdict alone, when TCB Info has module identities.
        public let moduleTCB: TCBVerdict?
        /// The instant the verification was done for.
        public let verifiedAt: Date
        /// The TCB evaluation data number of the collateral judged with (the lower of TCB Info's
        /// and QE Identity's): Intel raises it at each TCB recovery, so a policy can refuse
        /// judgements made with collateral from before one.
        public var tcbEvaluationDataNumber: Int = 0
        /// The earliest expiry among the collateral and certificates used: after this instant the
        /// same evidence no longer verifies.
        public let validUntil: Date

        /// The claims of the TD, for policy and display.
        public var claims: Claims { Claims(quote: quote, pck: pck) }
        /// The CC event log, when one was attached and its replay matched RTMR0–RTMR3.
        public private(set) var eventLog: EventLog.Verified? = nil

        /// Replays a CC event log (the CCEL area: TCG crypto-agile, SHA-384, register index 1–4
        /// = RTMR0–3) against this quote's RTMRs; on success the quote carries it, and the
        /// workload events of RTMR3 become its workload identity. Throws
        /// ``AttestationError/Code/eventLogMismatch`` and leaves the quote unchanged otherwise.
        public mutating func attach(ccEventLog bytes: [UInt8]) throws(AttestationError) {
            eventLog = try EventLog(parsing: bytes).verify(againstRTMRs: quote.report.rtmrs)
        }
    }

    /// What a verified TDX quote says about the TD, in the spec's words.
    public struct Claims: Sendable, Codable, Hashable {
        /// Quote format version (4 or 5).
        public let quoteVersion: Int
        /// MRTD.
        public let mrTD: FixedBytes<48>
        /// RTMR0 … RTMR3.
        public let rtmrs: [FixedBytes<48>]
        /// MRSEAM.
        public let mrSeam: FixedBytes<48>
        /// MRSIGNERSEAM.
        public let mrSignerSeam: FixedBytes<48>
        /// MRCONFIGID.
        public let mrConfigID: FixedBytes<48>
        /// MROWNER.
        public let mrOwner: FixedBytes<48>
        /// MROWNERCONFIG.
        public let mrOwnerConfig: FixedBytes<48>
        /// REPORTDATA.
        public let reportData: FixedBytes<64>
        /// TDATTRIBUTES.
        public let tdAttributes: FixedBytes<8>
        /// XFAM.
        public let xfam: FixedBytes<8>
        /// Whether the TD is a debug TD.
        public let debug: Bool
        /// TEE_TCB_SVN.
        public let teeTCBSVN: FixedBytes<16>
        /// TEE_TCB_SVN2 (TD 1.5).
        public let teeTCBSVN2: FixedBytes<16>?
        /// MRSERVICETD (TD 1.5).
        public let mrServiceTD: FixedBytes<48>?
        /// FMSPC from the PCK certificate.
        public let fmspc: FixedBytes<6>
        /// PCE ID from the PCK certificate.
        public let pceID: FixedBytes<2>
        /// PCESVN from the PCK certificate.
        public let pceSVN: Int
        /// CPUSVN from the PCK certificate.
        public let cpuSVN: FixedBytes<16>

        /// The claims a quote states before (or without) verification: the TD report's fields and
        /// the SGX extension of the PCK certificate the quote carries. Nothing here is vouched
        /// for: show them marked unverified, never judge them. Throws when the PCK chain or its
        /// extension does not parse.
        public init(unverified quote: Quote) throws(AttestationError) {
            let chain = try CertificateChain(pemEncoded: String(decoding: quote.pckCertificateChainPEM, as: UTF8.self))
            self.init(quote: quote, pck: try PCKExtensions(certificate: chain.leaf))
        }

        init(quote: Quote, pck: PCKExtensions) {
            let r = quote.report
            quoteVersion = Int(quote.header.version)
            mrTD = r.mrTD
            rtmrs = r.rtmrs
            mrSeam = r.mrSeam
            mrSignerSeam = r.mrSignerSeam
            mrConfigID = r.mrConfigID
            mrOwner = r.mrOwner
            mrOwnerConfig = r.mrOwnerConfig
            reportData = r.reportData
            tdAttributes = r.tdAttributes
            xfam = r.xfam
            debug = r.debug
            teeTCBSVN = r.teeTCBSVN
            teeTCBSVN2 = r.teeTCBSVN2
            mrServiceTD = r.mrServiceTD
            fmspc = pck.fmspc
            pceID = pck.pceID
            pceSVN = Int(pck.pceSVN)
            cpuSVN = pck.cpuSVN
        }
    }
}
