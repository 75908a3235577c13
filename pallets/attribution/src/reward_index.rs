//! The reward index's arithmetic: a Fenwick (binary indexed) tree over a datanet's versions in
//! the "suffix" orientation, pure and storage-agnostic ([`crate::RewardIndex`] holds the nodes).
//!
//! Each version `v ≥ 1` has a reward per weight `acc_v`. The tree keeps, in node `i ≥ 1`,
//! `Σ acc_v` for `v` in `[i, i + lowbit(i))`, where `lowbit(i) = i & i.wrapping_neg()` is the
//! lowest set bit of `i`. Then:
//!
//! - **Raising `acc_v` by `δ`** adds `δ` to the nodes whose range holds `v`: `v`, then `v` with
//!   its lowest set bit cleared, and so on while non-zero ([`add_path`]). Node `i` holds `v` iff
//!   `i ≤ v < i + lowbit(i)`, iff `i` is `v` with its set bits below some set bit of `v`
//!   cleared: exactly the nodes of that path, `popcount(v)` of them.
//! - **`S_u = Σ_{v ≥ u} acc_v`** sums the nodes `u`, `u + lowbit(u)`, … while at most `n`, the
//!   number of frozen versions ([`suffix_path`]). The ranges of consecutive nodes of this path,
//!   `[i, i + lowbit(i))`, are adjacent, so the path's nodes tile `[u, m)` where `m` is the first
//!   index of the path above `n`, without overlap; and `acc_v = 0` for every `v > n` (only frozen
//!   versions are paid), so the sum is `S_u`. Each step at least doubles `lowbit`, so the path
//!   has at most `⌊log2 n⌋ + 1` nodes.
//!
//! Both paths have at most [`depth`]`(max)` nodes for versions up to `max`, which is what claims
//! and settlement are weighed for. Version 0 is not a version: its paths are empty.

use crate::VersionId;

/// The lowest set bit of `i` (0 for 0).
pub fn lowbit(i: VersionId) -> VersionId {
	i & i.wrapping_neg()
}

/// The nodes that raising `acc_version` changes: `version`, then `version` with its lowest set
/// bit cleared, down to the last non-zero one. `popcount(version)` nodes, descending; empty for
/// version 0.
pub fn add_path(version: VersionId) -> impl Iterator<Item = VersionId> {
	core::iter::successors(Some(version).filter(|v| *v > 0), |i| {
		Some(i.saturating_sub(lowbit(*i))).filter(|next| *next > 0)
	})
}

/// The nodes whose sum is `S_version` when `acc_v = 0` for every `v > bound`: `version`, then
/// each index plus its lowest set bit, while at most `bound`. At most `⌊log2 bound⌋ + 1` nodes,
/// ascending; empty for version 0 or a version above `bound`.
pub fn suffix_path(version: VersionId, bound: VersionId) -> impl Iterator<Item = VersionId> {
	core::iter::successors(Some(version).filter(|v| *v > 0 && *v <= bound), move |i| {
		i.checked_add(lowbit(*i)).filter(|next| *next <= bound)
	})
}

/// The most nodes [`add_path`] or [`suffix_path`] visit for versions and bounds up to `max`:
/// the number of bits of `max` (0 for 0). 5 for 20 versions, 14 for 10,000.
pub fn depth(max: VersionId) -> u32 {
	VersionId::BITS.saturating_sub(max.leading_zeros())
}

#[cfg(test)]
mod tests {
	use super::*;
	use proptest::{collection::vec, prelude::*};

	/// A Fenwick tree over versions `1..=n` in a plain vector, through the two paths.
	struct Tree(Vec<u128>);

	impl Tree {
		fn new(n: u32) -> Self {
			Tree(vec![0; n as usize + 1])
		}

		fn add(&mut self, version: u32, delta: u128) {
			for i in add_path(version) {
				self.0[i as usize] += delta;
			}
		}

		fn suffix(&self, version: u32, bound: u32) -> u128 {
			suffix_path(version, bound).map(|i| self.0[i as usize]).sum()
		}
	}

	#[test]
	fn paths_work() {
		assert_eq!(add_path(0).count(), 0);
		assert_eq!(add_path(1).collect::<Vec<_>>(), vec![1]);
		assert_eq!(add_path(12).collect::<Vec<_>>(), vec![12, 8]);
		assert_eq!(add_path(15).collect::<Vec<_>>(), vec![15, 14, 12, 8]);
		assert_eq!(suffix_path(0, 20).count(), 0);
		assert_eq!(suffix_path(21, 20).count(), 0);
		assert_eq!(suffix_path(1, 20).collect::<Vec<_>>(), vec![1, 2, 4, 8, 16]);
		assert_eq!(suffix_path(5, 20).collect::<Vec<_>>(), vec![5, 6, 8, 16]);
		assert_eq!(suffix_path(5, 7).collect::<Vec<_>>(), vec![5, 6]);
		assert_eq!(suffix_path(20, 20).collect::<Vec<_>>(), vec![20]);
		// No overflow at the top of the range.
		assert_eq!(suffix_path(u32::MAX, u32::MAX).collect::<Vec<_>>(), vec![u32::MAX]);
		assert_eq!(suffix_path(1 << 31, u32::MAX).collect::<Vec<_>>(), vec![1 << 31]);
		assert_eq!(add_path(u32::MAX).count(), 32);
		assert_eq!((depth(0), depth(1), depth(20), depth(10_000)), (0, 1, 5, 14));
		assert_eq!(depth(u32::MAX), 32);
	}

	/// Every path visits at most `depth(max)` nodes: a claim reads O(log versions) nodes and a
	/// part writes O(log versions) nodes.
	#[test]
	fn paths_are_logarithmic_works() {
		for max in [1u32, 2, 3, 20, 64, 100, 1_024, 1_500] {
			let depth = depth(max) as usize;
			for n in 0..=max {
				for u in 0..=n {
					assert!(suffix_path(u, n).count() <= depth);
					assert!(add_path(u).count() <= depth);
				}
			}
			// The longest walk: from version 1 over the largest power of two not above `max`.
			assert_eq!(suffix_path(1, 1 << (depth - 1)).count(), depth);
		}
	}

	proptest! {
		#![proptest_config(ProptestConfig::with_cases(256))]

		/// After random raises of random versions, every `S_u` equals the plain suffix sum, at
		/// the number of versions frozen and at any bound above it.
		#[test]
		fn tree_equals_naive_suffix_sum(
			n in 1u32..=80,
			updates in vec((1u32..=80, 0u128..=1_000_000_000_000_000_000_000), 0..60),
			extra in 0u32..=200,
		) {
			let mut tree = Tree::new(n + extra);
			let mut acc = vec![0u128; n as usize + 1];
			for (version, delta) in updates {
				let version = (version - 1) % n + 1;
				tree.add(version, delta);
				acc[version as usize] += delta;
				for u in 0..=n + 1 {
					let naive: u128 = acc.iter().skip(u.max(1) as usize).sum();
					let naive = if u == 0 { 0 } else { naive };
					prop_assert_eq!(tree.suffix(u, n), naive, "S_{} over {} versions", u, n);
					prop_assert_eq!(tree.suffix(u, n + extra), naive);
				}
			}
			// Nothing above the highest version raised is ever written.
			prop_assert!(tree.0[n as usize + 1..].iter().all(|node| *node == 0));
		}
	}
}
