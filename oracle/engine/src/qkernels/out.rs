//! Where a kernel writes its outputs.

/// Where a kernel writes the outputs of rows `row0 .. row0 + rows`: output (row `n`, batch row
/// `b`) goes to `buf[(n − row0) · row_stride + b · batch_stride]`.
pub(crate) struct OutView<'a> {
	/// The destination.
	pub(crate) buf: &'a mut [f32],
	/// Weight rows to compute.
	pub(crate) rows: usize,
	/// Step between consecutive weight rows.
	pub(crate) row_stride: usize,
	/// Step between consecutive batch rows.
	pub(crate) batch_stride: usize,
}

impl OutView<'_> {
	/// Stores output (row `row0 + i`, batch row `b`).
	#[inline(always)]
	pub(crate) fn set(&mut self, i: usize, b: usize, v: f32) {
		self.buf[i * self.row_stride + b * self.batch_stride] = v;
	}
}
