import Crypto

/// TPM 2.0 quotes: parse (TPMS_ATTEST, TPMT_SIGNATURE, AK public areas, PCR values), verify
/// (AK signature, PCR digest, nonce) and map to policy input. Structures are big-endian as the
/// TPM 2.0 Library spec, Part 2 defines them.
public enum TPM {
    /// TPM_ALG_ID values used here (Part 2, §6.3).
    public enum Alg: UInt16, Sendable, CaseIterable {
        /// TPM_ALG_RSA
        case rsa = 0x0001
        /// TPM_ALG_SHA1
        case sha1 = 0x0004
        /// TPM_ALG_SHA256
        case sha256 = 0x000B
        /// TPM_ALG_SHA384
        case sha384 = 0x000C
        /// TPM_ALG_SHA512
        case sha512 = 0x000D
        /// TPM_ALG_NULL
        case null = 0x0010
        /// TPM_ALG_RSASSA
        case rsassa = 0x0014
        /// TPM_ALG_RSAPSS
        case rsapss = 0x0016
        /// TPM_ALG_ECDSA
        case ecdsa = 0x0018
        /// TPM_ALG_ECC
        case ecc = 0x0023

        /// The PCR bank name used in JSON (`sha1`, `sha256`, …), for hash algorithms.
        public var bankName: String? {
            switch self {
            case .sha1: "sha1"
            case .sha256: "sha256"
            case .sha384: "sha384"
            case .sha512: "sha512"
            default: nil
            }
        }

        /// The hash algorithm for a bank name.
        public init?(bankName: String) {
            guard let a = Self.allCases.first(where: { $0.bankName == bankName.lowercased() }) else { return nil }
            self = a
        }

        /// The digest size in bytes; nil for non-hash algorithms.
        public var digestSize: Int? {
            switch self {
            case .sha1: 20
            case .sha256: 32
            case .sha384: 48
            case .sha512: 64
            default: nil
            }
        }

        /// Digest of `data` with this hash algorithm; nil for non-hash algorithms.
        public func hash(_ data: [UInt8]) -> [UInt8]? {
            switch self {
            case .sha1: Array(Insecure.SHA1.hash(data: data))
            case .sha256: Array(SHA256.hash(data: data))
            case .sha384: Array(SHA384.hash(data: data))
            case .sha512: Array(SHA512.hash(data: data))
            default: nil
            }
        }
    }

    /// TPM_GENERATED_VALUE, the magic every TPM-signed attestation starts with.
    public static let generatedValue: UInt32 = 0xff54_4347
    /// TPM_ST_ATTEST_QUOTE.
    public static let attestQuote: UInt16 = 0x8018
}
