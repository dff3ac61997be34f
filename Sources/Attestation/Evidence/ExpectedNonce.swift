/// The nonce evidence must carry. A decision always names the nonce it issued; accepting any
/// nonce is for recorded reference evidence only, and must be said out loud.
public enum ExpectedNonce: Sendable, Hashable {
    /// Exactly these bytes (empty: an empty nonce).
    case exactly([UInt8])
    /// Any nonce: reference evidence recorded elsewhere (policy derivation, offline checks).
    /// Never for a key-release decision: it gives no freshness.
    case anyForReferenceEvidence
}
