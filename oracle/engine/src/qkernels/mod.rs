//! Batched quantized matrix multiplies on the CPU, for GGML Q8_0, Q4_0 and Q4_1 weights.
//!
//! [`matmul`] computes `out[b][n] = Σ_k x[b][k] · W[n][k]` for a batch of activation rows the
//! way ggml does: each activation row is quantized per 32-element block to 8 bits (scale
//! `max|x| / 127`, rounded to nearest, plus the block's scaled sum for Q4_1's minimum term);
//! then every 32-element dot product is done in integers and scaled by `d_w · d_x` in `f32`
//! (`+ m_w · d_x · Σq_x` for Q4_1). What differs from candle's CPU `QMatMul` is the loop order:
//! each weight block is read once and used for a tile of batch rows (four at a time), where
//! candle walks the whole weight again for each activation row.
//!
//! Paths, chosen at run time ([`Kernel::detect`]):
//! - [`Kernel::Avx512Vnni`]: weights repacked once (when [`QWeights`] is built) into tiles of 16
//!   output rows, unpacked to one byte per weight; one `vpdpbusd` does 4 multiply-adds for 16
//!   rows, activations are broadcast 4 bytes at a time (offset by +128 to be unsigned, undone
//!   exactly with the weights' precomputed block sums), two row tiles × four batch rows per
//!   pass;
//! - [`Kernel::Avx2`]: a weight row unpacked to bytes, then ggml's `maddubs` sign trick per
//!   32-element block, four batch rows per weight block held in a register;
//! - [`Kernel::Scalar`]: portable Rust, the same arithmetic.
//!
//! All paths give the same integer block sums; the results agree with candle's quantized matmul
//! to float rounding (same activation quantization, f16-rounded scales included) and with an
//! `f32` multiply of the dequantized weights to within the activation quantization error.
//! Output rows are split over scoped threads for large multiplies only (see
//! `PARALLEL_MIN_WORK`).
//!
//! The model's forward path does not use these kernels (yet).

mod acts;
#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
mod cpu;
mod error;
mod f16;
mod kernel;
mod out;
mod scalar;
#[cfg(test)]
mod tests;
mod weights;

pub use error::QKernelError;
pub use kernel::Kernel;
pub use weights::QWeights;

use acts::QActs;
use out::OutView;

/// Below this many multiply-adds (`rows × batch × cols`) a multiply runs on the calling thread.
///
/// Spawning scoped threads costs tens of µs, and a split is only as fast as its slowest part.
/// On the 2-core development machine (one core busy with other work) threads lost at every
/// SmolLM2-135M shape up to batch 32 (e.g. 1536 × 576 × 32: 325 µs on two threads against
/// about 160 µs on one), so the threshold sits above them; a host with idle cores would gain
/// from a lower one.
const PARALLEL_MIN_WORK: usize = 1 << 26;

/// Computes weight rows `row0 .. row0 + out.rows` into `out` on `kernel`'s path.
fn kernel_rows(kernel: Kernel, w: &QWeights, a: &QActs, row0: usize, out: &mut OutView<'_>) {
	match kernel {
		Kernel::Scalar => scalar::rows(w, a, row0, out),
		#[cfg(target_arch = "x86_64")]
		Kernel::Avx2 => avx2::rows(w, a, row0, out),
		#[cfg(target_arch = "x86_64")]
		Kernel::Avx512Vnni => avx512::rows(w, a, row0, out),
		#[cfg(not(target_arch = "x86_64"))]
		Kernel::Avx2 | Kernel::Avx512Vnni => unreachable!("checked by is_available"),
	}
}

/// `out[b * rows + n] = Σ_k x[b * cols + k] · W[n][k]` for `batch` activation rows of `cols`
/// floats, on the fastest path this CPU has (see the module doc for the method).
///
/// Refuses an `x` that is not `batch × cols` floats or an `out` that is not `batch × rows`;
/// `batch == 0` writes nothing.
pub fn matmul(w: &QWeights, x: &[f32], batch: usize, out: &mut [f32]) -> Result<(), QKernelError> {
	matmul_with(Kernel::detect(), w, x, batch, out)
}

/// [`matmul`] on a chosen path; refuses one this CPU cannot run
/// ([`QKernelError::KernelUnavailable`]). For tests and benchmarks.
pub fn matmul_with(
	kernel: Kernel,
	w: &QWeights,
	x: &[f32],
	batch: usize,
	out: &mut [f32],
) -> Result<(), QKernelError> {
	matmul_split(kernel, w, x, batch, out, PARALLEL_MIN_WORK)
}

/// [`matmul_with`], splitting over threads from `min_work` multiply-adds up.
fn matmul_split(
	kernel: Kernel,
	w: &QWeights,
	x: &[f32],
	batch: usize,
	out: &mut [f32],
	min_work: usize,
) -> Result<(), QKernelError> {
	let (rows, cols) = (w.rows(), w.cols());
	if !kernel.is_available() {
		return Err(QKernelError::KernelUnavailable(kernel));
	}
	if x.len() != batch * cols {
		return Err(QKernelError::InputLen { expected: batch * cols, got: x.len() });
	}
	if out.len() != batch * rows {
		return Err(QKernelError::OutputLen { expected: batch * rows, got: out.len() });
	}
	if batch == 0 || rows == 0 {
		return Ok(());
	}
	let acts = QActs::quantize(x, batch, cols);
	let work = rows * batch * cols;
	let threads = if work < min_work {
		1
	} else {
		std::thread::available_parallelism().map_or(1, |t| t.get()).min(rows)
	};
	if threads <= 1 {
		// Straight into `out` (`[batch][rows]`).
		let mut view = OutView { buf: out, rows, row_stride: 1, batch_stride: rows };
		kernel_rows(kernel, w, &acts, 0, &mut view);
		return Ok(());
	}
	// Each thread writes a contiguous `[row][batch]` part of a scratch buffer, transposed into
	// `out` at the end (rows × batch floats, negligible next to the multiply). Whole 16-row
	// tiles per thread (the AVX-512 path's unit; harmless for the others).
	let chunk = rows.div_ceil(threads).next_multiple_of(weights::TILE_ROWS);
	let mut by_row = vec![0f32; rows * batch];
	std::thread::scope(|s| {
		for (i, part) in by_row.chunks_mut(chunk * batch).enumerate() {
			let acts = &acts;
			s.spawn(move || {
				let rows = part.len() / batch;
				let mut view = OutView { buf: part, rows, row_stride: batch, batch_stride: 1 };
				kernel_rows(kernel, w, acts, i * chunk, &mut view)
			});
		}
	});
	for (n, r) in by_row.chunks_exact(batch).enumerate() {
		for (b, &v) in r.iter().enumerate() {
			out[b * rows + n] = v;
		}
	}
	Ok(())
}
