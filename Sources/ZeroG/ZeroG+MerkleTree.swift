extension ZeroG {
    /// A merkle tree in 0G's shape (`TreeBuilder.Build`): leaves paired left to right, an odd last
    /// node carried up unchanged (not duplicated, not hashed with zero).
    public struct MerkleTree: Sendable {
        /// The levels, leaves first, root last.
        public let levels: [[Hash]]

        /// Builds the tree over `leaves` (at least one).
        public init(leaves: [Hash]) {
            precondition(!leaves.isEmpty, "a merkle tree needs a leaf")
            var levels = [leaves]
            while levels.last!.count > 1 {
                let level = levels.last!
                var next = [Hash]()
                next.reserveCapacity((level.count + 1) / 2)
                var i = 0
                while i + 1 < level.count {
                    next.append(.parent(level[i], level[i + 1]))
                    i += 2
                }
                if i < level.count { next.append(level[i]) }
                levels.append(next)
            }
            self.levels = levels
        }

        /// The root.
        public var root: Hash { levels.last![0] }

        /// The proof for leaf `index`: `lemma = [leaf, siblings bottom→top…, root]`, `path[i]`
        /// true when the node at that step is the left child. Levels where the node is carried
        /// up without a sibling add nothing.
        public func proof(at index: Int) -> Proof {
            precondition(index >= 0 && index < levels[0].count)
            var lemma = [levels[0][index]]
            var path = [Bool]()
            var i = index
            for level in levels.dropLast() {
                let sibling = i ^ 1
                if sibling < level.count {
                    lemma.append(level[sibling])
                    path.append(i & 1 == 0)
                }
                i /= 2
            }
            if levels.count > 1 { lemma.append(root) }
            return Proof(lemma: lemma, path: path)
        }
    }

    /// A merkle proof as 0G's storage nodes serve it (`{lemma:[hex], path:[bool]}`).
    public struct Proof: Sendable, Hashable {
        /// `[leaf, siblings…, root]`; just `[root]` for a one-leaf tree.
        public var lemma: [Hash]
        /// Per sibling: whether the running node is the left child.
        public var path: [Bool]

        /// Creates a proof.
        public init(lemma: [Hash], path: [Bool]) {
            self.lemma = lemma
            self.path = path
        }

        /// Whether this proves `leaf` at `index` of a tree of `leafCount` leaves under `root`:
        /// the shape (which levels have a sibling, left or right) must be the one a tree of that
        /// size gives, the leaf and root must be the given ones, and the hashes must chain.
        public func verifies(leaf: Hash, index: Int, leafCount: Int, root: Hash) -> Bool {
            guard index >= 0, index < leafCount, lemma.first == leaf, lemma.last == root else { return false }
            if leafCount == 1 { return lemma.count == 1 && path.isEmpty }
            guard lemma.count == path.count + 2 else { return false }
            var node = leaf
            var i = index, width = leafCount, step = 0
            while width > 1 {
                let sibling = i ^ 1
                if sibling < width {
                    guard step < path.count, path[step] == (i & 1 == 0) else { return false }
                    let other = lemma[step + 1]
                    node = path[step] ? .parent(node, other) : .parent(other, node)
                    step += 1
                }
                i /= 2
                width = (width + 1) / 2
            }
            return step == path.count && node == root
        }
    }
}
