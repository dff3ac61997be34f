/// What a policy expects of one measured value: exactly one value, any of several, or (written
/// out explicitly) nothing.
///
/// There is no implicit default: a policy file that omits a field is rejected, so "unchecked" is
/// always a visible decision, never an accident (the fail-open default of some verifiers).
public enum Expectation<Value: Hashable & Sendable>: Sendable, Hashable {
    /// The value must equal this.
    case exactly(Value)
    /// The value must be one of these (never empty).
    case anyOf([Value])
    /// The value is not checked. Written `unchecked` in policy files.
    case unchecked

    /// Whether `value` meets the expectation.
    public func admits(_ value: Value) -> Bool {
        switch self {
        case .exactly(let v): v == value
        case .anyOf(let vs): vs.contains(value)
        case .unchecked: true
        }
    }

    /// Whether at least one of `values` meets the expectation (`unchecked` admits none too).
    public func admitsAny(_ values: [Value]) -> Bool {
        if case .unchecked = self { return true }
        return values.contains(where: admits)
    }

    /// The allowed values, for messages (empty when unchecked).
    public var allowed: [Value] {
        switch self {
        case .exactly(let v): [v]
        case .anyOf(let vs): vs
        case .unchecked: []
        }
    }
}
