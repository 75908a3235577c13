//! What this CPU can run, detected once per call (`is_x86_feature_detected!` caches).

/// Whether the CPU has AVX2 and FMA.
pub(crate) fn has_avx2_fma() -> bool {
	#[cfg(target_arch = "x86_64")]
	{
		is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
	}
	#[cfg(not(target_arch = "x86_64"))]
	{
		false
	}
}

/// Whether the CPU has AVX-512F and AVX-512 VNNI.
pub(crate) fn has_avx512_vnni() -> bool {
	#[cfg(target_arch = "x86_64")]
	{
		is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512vnni")
	}
	#[cfg(not(target_arch = "x86_64"))]
	{
		false
	}
}
