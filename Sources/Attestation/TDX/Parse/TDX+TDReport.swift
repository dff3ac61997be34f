extension TDX {
    /// The TD report body of a TDX quote: TD 1.0 (584 bytes) or TD 1.5 (648 bytes).
    public struct TDReport: Sendable, Hashable {
        /// Size of a TD 1.0 report body.
        public static let sizeTD10 = 584
        /// Size of a TD 1.5 report body.
        public static let sizeTD15 = 648

        /// TEE_TCB_SVN: byte 0 is the TDX module ISVSVN, byte 1 its major version.
        public let teeTCBSVN: FixedBytes<16>
        /// MRSEAM: measurement of the TDX module.
        public let mrSeam: FixedBytes<48>
        /// MRSIGNERSEAM: signer of the TDX module (zero for Intel's).
        public let mrSignerSeam: FixedBytes<48>
        /// SEAMATTRIBUTES.
        public let seamAttributes: FixedBytes<8>
        /// TDATTRIBUTES; bit 0 of byte 0 is DEBUG.
        public let tdAttributes: FixedBytes<8>
        /// XFAM.
        public let xfam: FixedBytes<8>
        /// MRTD: measurement of the initial TD contents.
        public let mrTD: FixedBytes<48>
        /// MRCONFIGID.
        public let mrConfigID: FixedBytes<48>
        /// MROWNER.
        public let mrOwner: FixedBytes<48>
        /// MROWNERCONFIG.
        public let mrOwnerConfig: FixedBytes<48>
        /// RTMR0 … RTMR3 (always four).
        public let rtmrs: [FixedBytes<48>]
        /// REPORTDATA: 64 bytes chosen by the TD (binds nonces and keys).
        public let reportData: FixedBytes<64>
        /// TEE_TCB_SVN2 (TD 1.5 only).
        public let teeTCBSVN2: FixedBytes<16>?
        /// MRSERVICETD (TD 1.5 only).
        public let mrServiceTD: FixedBytes<48>?

        /// Whether the TD runs in debug mode (TDATTRIBUTES.TUD.DEBUG, bit 0): its memory is
        /// readable by the host, so such a TD must never receive a key.
        public var debug: Bool { tdAttributes.bytes[0] & 0x01 != 0 }

        init(reading r: inout ByteReader, td15: Bool) throws(AttestationError) {
            teeTCBSVN = try r.readFixed("body.teeTCBSVN")
            mrSeam = try r.readFixed("body.mrSeam")
            mrSignerSeam = try r.readFixed("body.mrSignerSeam")
            seamAttributes = try r.readFixed("body.seamAttributes")
            tdAttributes = try r.readFixed("body.tdAttributes")
            xfam = try r.readFixed("body.xfam")
            mrTD = try r.readFixed("body.mrTD")
            mrConfigID = try r.readFixed("body.mrConfigID")
            mrOwner = try r.readFixed("body.mrOwner")
            mrOwnerConfig = try r.readFixed("body.mrOwnerConfig")
            var rtmrs = [FixedBytes<48>]()
            for i in 0..<4 { rtmrs.append(try r.readFixed("body.rtmr\(i)")) }
            self.rtmrs = rtmrs
            reportData = try r.readFixed("body.reportData")
            if td15 {
                teeTCBSVN2 = try r.readFixed("body.teeTCBSVN2")
                mrServiceTD = try r.readFixed("body.mrServiceTD")
            } else {
                teeTCBSVN2 = nil
                mrServiceTD = nil
            }
        }
    }

    /// An SGX enclave report (384 bytes), as the QE report inside a quote.
    public struct EnclaveReport: Sendable, Hashable {
        /// Size of an enclave report.
        public static let size = 384
        /// The report's bytes, which the PCK key signs.
        public let rawRepresentation: [UInt8]
        /// CPUSVN.
        public let cpuSVN: FixedBytes<16>
        /// MISCSELECT.
        public let miscSelect: UInt32
        /// ATTRIBUTES (flags ‖ XFRM).
        public let attributes: FixedBytes<16>
        /// MRENCLAVE.
        public let mrEnclave: FixedBytes<32>
        /// MRSIGNER.
        public let mrSigner: FixedBytes<32>
        /// ISVPRODID.
        public let isvProdID: UInt16
        /// ISVSVN.
        public let isvSVN: UInt16
        /// REPORTDATA.
        public let reportData: FixedBytes<64>

        init(reading r: inout ByteReader, field: String) throws(AttestationError) {
            let start = r.offset
            rawRepresentation = try r.read(Self.size, field)
            var e = ByteReader(rawRepresentation)
            cpuSVN = try e.readFixed("\(field).cpuSVN")
            miscSelect = try e.u32("\(field).miscSelect")
            try e.skip(28, "\(field).reserved1")
            attributes = try e.readFixed("\(field).attributes")
            mrEnclave = try e.readFixed("\(field).mrEnclave")
            try e.skip(32, "\(field).reserved2")
            mrSigner = try e.readFixed("\(field).mrSigner")
            try e.skip(96, "\(field).reserved3")
            isvProdID = try e.u16("\(field).isvProdID")
            isvSVN = try e.u16("\(field).isvSVN")
            try e.skip(60, "\(field).reserved4")
            reportData = try e.readFixed("\(field).reportData")
            _ = start
        }
    }
}
