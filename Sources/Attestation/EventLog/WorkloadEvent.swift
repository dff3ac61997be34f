/// A workload-identity event measured into the TEE's log: the container image digest or the
/// training-code hash the node is about to run.
///
/// Encoding (shared by the TPM PCR-23 log and the TDX RTMR3 log, see `Docs/evidence-bundle.md`):
/// TCG event type EV_IPL (0x0000000D), event data the UTF-8 text `licen.image=sha256:<hex>` or
/// `licen.code=sha256:<hex>`, and the measured digest is the bank's hash of that text.
public enum WorkloadEvent: Sendable, Hashable {
    /// A container image digest (`sha256:<64 hex>`).
    case image(String)
    /// A training-code hash (`sha256:<64 hex>`).
    case code(String)

    /// TCG event type used for workload events.
    public static let eventType: UInt32 = 0x0000_000D
    /// The TPM PCR workload events are extended into.
    public static let tpmPCR = 23
    /// The TDX RTMR workload events are extended into (CCEL register index 4).
    public static let tdxRTMR = 3

    /// The event data.
    public var data: [UInt8] {
        switch self {
        case .image(let d): Array("licen.image=\(d)".utf8)
        case .code(let d): Array("licen.code=\(d)".utf8)
        }
    }

    /// Reads an event's data back; nil for data that is not a workload event.
    public init?(data: [UInt8]) {
        let s = String(decoding: data, as: UTF8.self)
        if s.hasPrefix("licen.image=") { self = .image(String(s.dropFirst(12))) } else if s.hasPrefix("licen.code=") { self = .code(String(s.dropFirst(11))) } else { return nil }
    }
}
