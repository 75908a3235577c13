//! The kernel paths and which this CPU runs.

use super::cpu::{has_avx2_fma, has_avx512_vnni};

/// A kernel implementation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
	/// Portable Rust, available everywhere.
	Scalar,
	/// AVX2 + FMA intrinsics (x86_64 CPUs that have both).
	Avx2,
	/// AVX-512 VNNI (`vpdpbusd`) on a row-tiled copy of the weights: 16 output rows per
	/// vector (x86_64 CPUs with AVX-512F and AVX-512 VNNI).
	Avx512Vnni,
}

impl Kernel {
	/// The fastest path this CPU supports.
	pub fn detect() -> Self {
		if Self::Avx512Vnni.is_available() {
			Self::Avx512Vnni
		} else if Self::Avx2.is_available() {
			Self::Avx2
		} else {
			Self::Scalar
		}
	}

	/// Whether this CPU can run the path.
	pub fn is_available(self) -> bool {
		match self {
			Self::Scalar => true,
			Self::Avx2 => has_avx2_fma(),
			Self::Avx512Vnni => has_avx512_vnni(),
		}
	}
}
