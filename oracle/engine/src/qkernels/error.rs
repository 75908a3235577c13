//! What the quantized kernels refuse, and why.

use candle_core::quantized::GgmlDType;

/// Why a quantized matrix multiply (or building its weights) was refused.
#[derive(Debug, thiserror::Error)]
pub enum QKernelError {
	/// The weight's block type has no kernel here.
	#[error("quantized kernels support Q8_0, Q4_0 and Q4_1 weights, not {0:?}")]
	UnsupportedDType(GgmlDType),
	/// The weight is not a 2-D `[rows, cols]` matrix.
	#[error("quantized kernels need a 2-D [rows, cols] weight, got dims {0:?}")]
	NotAMatrix(Vec<usize>),
	/// The input width is not a whole number of 32-element blocks.
	#[error("quantized kernels need cols to be a multiple of 32, got {0}")]
	ColsNotBlockMultiple(usize),
	/// The raw block bytes do not match `rows × cols` of the dtype.
	#[error("weight bytes: expected {expected} for the shape, got {got}")]
	WeightBytes {
		/// Bytes the shape and dtype call for.
		expected: usize,
		/// Bytes the tensor holds.
		got: usize,
	},
	/// The activations are not `batch × cols` floats.
	#[error("input: expected {expected} floats (batch × cols), got {got}")]
	InputLen {
		/// `batch * cols`.
		expected: usize,
		/// `x.len()`.
		got: usize,
	},
	/// The output is not `batch × rows` floats.
	#[error("output: expected {expected} floats (batch × rows), got {got}")]
	OutputLen {
		/// `batch * rows`.
		expected: usize,
		/// `out.len()`.
		got: usize,
	},
	/// The requested kernel path needs CPU features this machine lacks.
	#[error("the {0:?} kernel path is not available on this CPU")]
	KernelUnavailable(super::kernel::Kernel),
	/// Reading the tensor's bytes failed in candle.
	#[error(transparent)]
	Candle(#[from] candle_core::Error),
}
