//! [`QWeights`]: a GGML-quantized weight matrix as the kernels read it.

use candle_core::quantized::{GgmlDType, QTensor};

use super::{cpu::has_avx512_vnni, error::QKernelError, f16::f16_to_f32};

/// Elements per block, for every block type here.
pub(crate) const QK: usize = 32;

/// The block types the kernels handle, with their byte layouts (as in ggml and candle).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BlockKind {
	/// `f16 d` then 32 `i8` quants; value = q × d.
	Q8_0,
	/// `f16 d` then 16 bytes of nibbles (low nibbles elements 0..16, high 16..32);
	/// value = (nibble − 8) × d.
	Q4_0,
	/// `f16 d`, `f16 m` then 16 bytes of nibbles as in Q4_0; value = nibble × d + m.
	Q4_1,
}

impl BlockKind {
	fn from_dtype(dtype: GgmlDType) -> Result<Self, QKernelError> {
		match dtype {
			GgmlDType::Q8_0 => Ok(Self::Q8_0),
			GgmlDType::Q4_0 => Ok(Self::Q4_0),
			GgmlDType::Q4_1 => Ok(Self::Q4_1),
			other => Err(QKernelError::UnsupportedDType(other)),
		}
	}

	/// Bytes per 32-element block.
	pub(crate) fn block_bytes(self) -> usize {
		match self {
			Self::Q8_0 => 2 + QK,
			Self::Q4_0 => 2 + QK / 2,
			Self::Q4_1 => 4 + QK / 2,
		}
	}

	/// Offset of the quants inside a block.
	pub(crate) fn qs_offset(self) -> usize {
		match self {
			Self::Q8_0 | Self::Q4_0 => 2,
			Self::Q4_1 => 4,
		}
	}
}

/// A GGML-quantized weight matrix of `rows` output features × `cols` inputs.
///
/// It keeps the raw block bytes exactly as candle (and the GGUF file) hold them, row after row,
/// plus the block scales (and Q4_1 minimums) widened to `f32` once, so the kernels do not
/// convert halves in their inner loops. Where the AVX-512 VNNI path runs it also keeps a
/// row-tiled, unpacked copy (one byte per weight plus 12 bytes per block: about 1.3× the bytes
/// of Q8_0, 2.3× those of Q4_0).
#[derive(Clone)]
pub struct QWeights {
	rows: usize,
	cols: usize,
	dtype: GgmlDType,
	pub(crate) kind: BlockKind,
	bytes: Vec<u8>,
	/// `d` of every block, `[rows][cols / 32]`.
	pub(crate) scales: Vec<f32>,
	/// `m` of every block for Q4_1 (`[rows][cols / 32]`), empty otherwise.
	pub(crate) mins: Vec<f32>,
	/// The row-tiled copy the AVX-512 VNNI path reads, built only where that path runs.
	pub(crate) tiled: Option<Tiled>,
}

impl std::fmt::Debug for QWeights {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		f.debug_struct("QWeights")
			.field("rows", &self.rows)
			.field("cols", &self.cols)
			.field("dtype", &self.dtype)
			.field("bytes", &self.bytes.len())
			.field("tiled", &self.tiled.is_some())
			.finish()
	}
}

impl QWeights {
	/// Copies a 2-D `[rows, cols]` Q8_0, Q4_0 or Q4_1 tensor (on any device; its bytes are read
	/// back to the host). Refuses other block types, other ranks and `cols` that are not a
	/// multiple of 32.
	pub fn from_qtensor(t: &QTensor) -> Result<Self, QKernelError> {
		let kind = BlockKind::from_dtype(t.dtype())?;
		let dims = t.shape().dims();
		let &[rows, cols] = dims else {
			return Err(QKernelError::NotAMatrix(dims.to_vec()));
		};
		let data = t.data()?;
		Self::from_bytes(t.dtype(), kind, rows, cols, data.into_owned())
	}

	/// Builds from raw block bytes (`rows × cols / 32` blocks of `kind`), checking the sizes.
	pub(crate) fn from_bytes(
		dtype: GgmlDType,
		kind: BlockKind,
		rows: usize,
		cols: usize,
		bytes: Vec<u8>,
	) -> Result<Self, QKernelError> {
		if !cols.is_multiple_of(QK) {
			return Err(QKernelError::ColsNotBlockMultiple(cols));
		}
		let blocks = rows * (cols / QK);
		let expected = blocks * kind.block_bytes();
		if bytes.len() != expected {
			return Err(QKernelError::WeightBytes { expected, got: bytes.len() });
		}
		let half = |b: &[u8], at: usize| f16_to_f32(u16::from_le_bytes([b[at], b[at + 1]]));
		let chunks = || bytes.chunks_exact(kind.block_bytes());
		let scales = chunks().map(|b| half(b, 0)).collect();
		let mins = match kind {
			BlockKind::Q4_1 => chunks().map(|b| half(b, 2)).collect(),
			_ => Vec::new(),
		};
		let mut w = Self { rows, cols, dtype, kind, bytes, scales, mins, tiled: None };
		if has_avx512_vnni() {
			w.tiled = Some(Tiled::new(&w));
		}
		Ok(w)
	}

	/// Output features (the weight's first dimension).
	pub fn rows(&self) -> usize {
		self.rows
	}

	/// Input features (the weight's second dimension, a multiple of 32).
	pub fn cols(&self) -> usize {
		self.cols
	}

	/// The GGML block type.
	pub fn dtype(&self) -> GgmlDType {
		self.dtype
	}

	/// The raw block bytes, `rows × cols / 32` blocks in row-major order.
	pub fn bytes(&self) -> &[u8] {
		&self.bytes
	}

	/// 32-element blocks per row.
	pub(crate) fn blocks_per_row(&self) -> usize {
		self.cols / QK
	}

	/// The raw bytes of weight row `n`.
	pub(crate) fn row_bytes(&self, n: usize) -> &[u8] {
		let len = self.blocks_per_row() * self.kind.block_bytes();
		&self.bytes[n * len..(n + 1) * len]
	}

	/// Unpacks weight row `n` into one quant per element: Q8_0 as is, Q4_0 as nibble − 8 (signed),
	/// Q4_1 as the nibble itself (0..=15); the scales stay in `w.scales` / `w.mins`.
	pub(crate) fn decode_row(&self, n: usize, buf: &mut [i8]) {
		let kind = self.kind;
		let off = kind.qs_offset();
		for (block, out) in
			self.row_bytes(n).chunks_exact(kind.block_bytes()).zip(buf.chunks_exact_mut(QK))
		{
			let qs = &block[off..];
			match kind {
				BlockKind::Q8_0 => {
					for (o, &q) in out.iter_mut().zip(qs) {
						*o = q as i8;
					}
				},
				BlockKind::Q4_0 | BlockKind::Q4_1 => {
					let bias = if kind == BlockKind::Q4_0 { 8 } else { 0 };
					let (lo, hi) = out.split_at_mut(QK / 2);
					for ((l, h), &q) in lo.iter_mut().zip(hi).zip(&qs[..QK / 2]) {
						*l = (q & 0x0f) as i8 - bias;
						*h = (q >> 4) as i8 - bias;
					}
				},
			}
		}
	}
}

/// Output rows per tile (one 512-bit vector of `i32` / `f32` lanes).
pub(crate) const TILE_ROWS: usize = 16;

/// A weight matrix as `ceil(rows / 16)` tiles of 16 rows (the last padded with zero rows).
///
/// For tile `t` and block `j`, `qs` holds 8 vectors of 64 bytes; vector `g` has, for each row
/// `r` of the tile, the 4 quants `k = 32 j + 4 g .. 32 j + 4 g + 4` of that row (as `i8`:
/// Q8_0 as is, Q4_0 nibble − 8, Q4_1 the nibble). Per tile and block there are 16 lanes each of
/// scale, `128 · Σq` (undoes the `+128` the activations carry to be unsigned) and, for Q4_1,
/// minimum.
#[derive(Clone)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) struct Tiled {
	/// Tiles.
	pub(crate) tiles: usize,
	/// Quants, `[tile][block][8][16 rows][4]`.
	pub(crate) qs: Vec<i8>,
	/// Scales, `[tile][block][16 rows]`.
	pub(crate) d: Vec<f32>,
	/// `128 · Σ_k q` per row block, `[tile][block][16 rows]`.
	pub(crate) qsum128: Vec<i32>,
	/// Q4_1 minimums, `[tile][block][16 rows]` (empty for other kinds).
	pub(crate) m: Vec<f32>,
}

impl Tiled {
	/// Repacks `w` (about `rows × cols` bytes plus 12 bytes per 32 weights).
	pub(crate) fn new(w: &QWeights) -> Self {
		let (rows, cols, nb) = (w.rows(), w.cols(), w.blocks_per_row());
		let tiles = rows.div_ceil(TILE_ROWS);
		let lanes = tiles * nb * TILE_ROWS;
		let mut qs = vec![0i8; lanes * QK];
		let mut d = vec![0f32; lanes];
		let mut qsum128 = vec![0i32; lanes];
		let mut m = if w.kind == BlockKind::Q4_1 { vec![0f32; lanes] } else { Vec::new() };
		let mut buf = vec![0i8; cols];
		for n in 0..rows {
			w.decode_row(n, &mut buf);
			let (t, r) = (n / TILE_ROWS, n % TILE_ROWS);
			for j in 0..nb {
				let lane = (t * nb + j) * TILE_ROWS + r;
				let block = &buf[j * QK..(j + 1) * QK];
				for g in 0..QK / 4 {
					let at = ((t * nb + j) * (QK / 4) + g) * TILE_ROWS * 4 + r * 4;
					qs[at..at + 4].copy_from_slice(&block[4 * g..4 * g + 4]);
				}
				d[lane] = w.scales[n * nb + j];
				qsum128[lane] = 128 * block.iter().map(|&q| q as i32).sum::<i32>();
				if !m.is_empty() {
					m[lane] = w.mins[n * nb + j];
				}
			}
		}
		Self { tiles, qs, d, qsum128, m }
	}
}
