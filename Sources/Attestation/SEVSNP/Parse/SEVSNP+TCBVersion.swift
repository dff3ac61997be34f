extension SEVSNP {
    /// A TCB_VERSION (8 bytes, little-endian u64) split into its security version numbers.
    ///
    /// Layout depends on the product. Milan/Genoa: byte 0 bootloader, byte 1 TEE, bytes 2–5
    /// reserved, byte 6 SNP, byte 7 microcode. Turin: byte 0 FMC, byte 1 bootloader, byte 2 TEE,
    /// byte 3 SNP, bytes 4–6 reserved, byte 7 microcode. Encodes as the components plus `raw`, the
    /// 8 bytes in report order as lowercase hex (the way AMD tools print it: `0300000000000873`).
    public struct TCBVersion: Sendable, Hashable, Codable {
        /// The 8 bytes as they appear in the report.
        public let raw: FixedBytes<8>
        /// Whether the Turin layout applies (then ``fmc`` is present).
        public let isTurinLayout: Bool
        /// Boot loader SVN.
        public let bootloader: UInt8
        /// PSP OS (TEE) SVN.
        public let tee: UInt8
        /// SNP firmware SVN.
        public let snp: UInt8
        /// CPU microcode SVN.
        public let microcode: UInt8
        /// Firmware mask chip (FMC) SVN; Turin only, nil before.
        public let fmc: UInt8?

        /// Splits `raw` (8 bytes in report order) with the layout of `turin` or Milan/Genoa.
        public init(raw: FixedBytes<8>, turin: Bool) {
            let b = raw.bytes
            self.raw = raw
            self.isTurinLayout = turin
            fmc = turin ? b[0] : nil
            bootloader = turin ? b[1] : b[0]
            tee = turin ? b[2] : b[1]
            snp = turin ? b[3] : b[6]
            microcode = b[7]
        }

        /// The components by policy name: bootloader, tee, snp, microcode, and fmc on Turin.
        public var components: [String: Int] {
            var c = ["bootloader": Int(bootloader), "tee": Int(tee), "snp": Int(snp), "microcode": Int(microcode)]
            if let fmc { c["fmc"] = Int(fmc) }
            return c
        }

        /// The raw value as a u64.
        public var value: UInt64 {
            raw.bytes.enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        }

        private enum CodingKeys: String, CodingKey { case raw, bootloader, tee, snp, microcode, fmc }

        /// Decodes from the encoded form; the layout is Turin when `fmc` is present.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let raw = try c.decode(FixedBytes<8>.self, forKey: .raw)
            self.init(raw: raw, turin: c.contains(.fmc))
        }

        /// Encodes the components and `raw` (lowercase hex).
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(raw, forKey: .raw)
            try c.encode(bootloader, forKey: .bootloader)
            try c.encode(tee, forKey: .tee)
            try c.encode(snp, forKey: .snp)
            try c.encode(microcode, forKey: .microcode)
            try c.encodeIfPresent(fmc, forKey: .fmc)
        }
    }
}
