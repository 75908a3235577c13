//! Every dtype on every path against an `f32` reference and against candle's `QMatMul`.

use candle_core::{
	quantized::{GgmlDType, QMatMul, QTensor},
	DType, Device, Module, Tensor,
};

use super::{
	f16, matmul, matmul_split, matmul_with, weights::BlockKind, Kernel, QKernelError, QWeights,
};

const DTYPES: [GgmlDType; 3] = [GgmlDType::Q8_0, GgmlDType::Q4_0, GgmlDType::Q4_1];

/// A tiny xorshift64 stream of floats in [-1, 1).
struct Rng(u64);

impl Rng {
	fn next(&mut self) -> f32 {
		self.0 ^= self.0 << 13;
		self.0 ^= self.0 >> 7;
		self.0 ^= self.0 << 17;
		((self.0 >> 40) as f32 / (1u64 << 23) as f32) - 1.0
	}

	fn vec(&mut self, n: usize) -> Vec<f32> {
		(0..n).map(|_| self.next()).collect()
	}
}

fn kernels() -> Vec<Kernel> {
	[Kernel::Scalar, Kernel::Avx2, Kernel::Avx512Vnni]
		.into_iter()
		.filter(|k| k.is_available())
		.collect()
}

fn quantized(rng: &mut Rng, rows: usize, cols: usize, dtype: GgmlDType) -> QTensor {
	let w = Tensor::from_vec(rng.vec(rows * cols), (rows, cols), &Device::Cpu).unwrap();
	QTensor::quantize(&w, dtype).unwrap()
}

fn check(kernel: Kernel, dtype: GgmlDType, rows: usize, cols: usize, batch: usize, seed: u64) {
	let mut rng = Rng(seed);
	let qt = quantized(&mut rng, rows, cols, dtype);
	let x = rng.vec(batch * cols);
	let w = QWeights::from_qtensor(&qt).unwrap();
	let mut out = vec![f32::NAN; batch * rows];
	matmul_with(kernel, &w, &x, batch, &mut out).unwrap();

	// (a) f32 reference on the dequantized weights. Per element the activation error is at most
	// d_x·(1/2 + 127·2^-11) ≤ 0.57·d_x (rounding to the grid, plus the scale stored as f16);
	// summed against |W| that bounds the error of each output. Q4_1 also rounds the block sum
	// term s to f16 twice (relative 2·2^-11 of |m|·Σ|x|), and f32 summation adds ~1e-5.
	let wd = qt.dequantize(&Device::Cpu).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
	let nb = cols / 32;
	for b in 0..batch {
		let xr = &x[b * cols..(b + 1) * cols];
		for n in 0..rows {
			let wr = &wd[n * cols..(n + 1) * cols];
			let reference: f32 = wr.iter().zip(xr).map(|(w, x)| w * x).sum();
			let mut bound =
				1e-5 * (1.0 + wr.iter().zip(xr).map(|(w, x)| (w * x).abs()).sum::<f32>());
			for j in 0..nb {
				let (xb, wb) = (&xr[j * 32..(j + 1) * 32], &wr[j * 32..(j + 1) * 32]);
				let dx = xb.iter().fold(0f32, |m, v| m.max(v.abs())) / 127.0;
				bound += 0.57 * dx * wb.iter().map(|v| v.abs()).sum::<f32>();
				if dtype == GgmlDType::Q4_1 {
					let m = w.mins[n * nb + j].abs();
					bound += 2.5e-3 * m * xb.iter().map(|v| v.abs()).sum::<f32>();
				}
			}
			let got = out[b * rows + n];
			assert!(
				(got - reference).abs() <= bound,
				"{kernel:?} {dtype:?} {rows}x{cols} batch {batch}: out[{b}][{n}] = {got}, f32 \
				 reference {reference}, bound {bound}"
			);
		}
	}

	// (b) candle's quantized matmul quantizes the activations the same way: equal up to the
	// order of f32 additions.
	let xt = Tensor::from_vec(x.clone(), (batch, cols), &Device::Cpu).unwrap();
	let candle = QMatMul::from_qtensor(qt)
		.unwrap()
		.forward(&xt)
		.unwrap()
		.flatten_all()
		.unwrap()
		.to_vec1::<f32>()
		.unwrap();
	let scale = candle.iter().fold(0f32, |m, v| m.max(v.abs()));
	let diff = out.iter().zip(&candle).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
	assert!(
		diff <= 1e-5 * (scale + 1.0),
		"{kernel:?} {dtype:?} {rows}x{cols} batch {batch}: max |ours - candle| = {diff} (max \
		 |candle| {scale})"
	);
}

fn check_all(kernel: Kernel) {
	let mut seed = 0x9e37_79b9_7f4a_7c15;
	for dtype in DTYPES {
		for cols in [64, 576] {
			for rows in [1, 7, 64] {
				for batch in [1, 3, 8, 32] {
					seed += 1;
					check(kernel, dtype, rows, cols, batch, seed);
				}
			}
		}
	}
}

#[test]
fn scalar_matches_references() {
	check_all(Kernel::Scalar);
}

#[test]
fn avx2_matches_references() {
	if !Kernel::Avx2.is_available() {
		eprintln!("skipped: no AVX2 + FMA on this CPU");
		return;
	}
	check_all(Kernel::Avx2);
}

#[test]
fn avx512_vnni_matches_references() {
	if !Kernel::Avx512Vnni.is_available() {
		eprintln!("skipped: no AVX-512 VNNI on this CPU");
		return;
	}
	check_all(Kernel::Avx512Vnni);
}

#[test]
fn unavailable_path_is_refused() {
	let w = Tensor::from_vec(vec![0.5f32; 64], (1, 64), &Device::Cpu).unwrap();
	let w = QWeights::from_qtensor(&QTensor::quantize(&w, GgmlDType::Q8_0).unwrap()).unwrap();
	for kernel in [Kernel::Avx2, Kernel::Avx512Vnni] {
		let r = matmul_with(kernel, &w, &[1.0; 64], 1, &mut [0.0]);
		assert_eq!(r.is_ok(), kernel.is_available(), "{kernel:?}: {r:?}");
	}
}

#[test]
fn threaded_split_matches_one_thread() {
	// Force the split over threads (min_work 0), with row counts that do not divide evenly
	// into threads or 16-row tiles; it must give exactly the single-thread result.
	let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
	eprintln!("{threads} threads available");
	let mut rng = Rng(7);
	for kernel in kernels() {
		for dtype in DTYPES {
			for rows in [1, 17, 100, 1537] {
				let w = QWeights::from_qtensor(&quantized(&mut rng, rows, 576, dtype)).unwrap();
				let x = rng.vec(3 * 576);
				let (mut one, mut split) = (vec![0f32; 3 * rows], vec![0f32; 3 * rows]);
				matmul_split(kernel, &w, &x, 3, &mut one, usize::MAX).unwrap();
				matmul_split(kernel, &w, &x, 3, &mut split, 0).unwrap();
				assert_eq!(one, split, "{kernel:?} {dtype:?} rows {rows}");
			}
		}
	}
}

#[test]
fn large_shape_matches_candle() {
	for kernel in kernels() {
		for dtype in DTYPES {
			check(kernel, dtype, 1537, 576, 8, 7);
		}
	}
}

#[test]
fn paths_agree() {
	let mut rng = Rng(42);
	for dtype in DTYPES {
		let w = QWeights::from_qtensor(&quantized(&mut rng, 33, 576, dtype)).unwrap();
		let x = rng.vec(5 * 576);
		let mut want = vec![0f32; 5 * 33];
		matmul_with(Kernel::Scalar, &w, &x, 5, &mut want).unwrap();
		for kernel in kernels() {
			let mut got = vec![0f32; 5 * 33];
			matmul(&w, &x, 5, &mut got).unwrap();
			matmul_with(kernel, &w, &x, 5, &mut got).unwrap();
			for (g, w) in got.iter().zip(&want) {
				assert!(
					(g - w).abs() <= 1e-5 * (1.0 + w.abs()),
					"{kernel:?} {dtype:?}: {g} vs {w}"
				);
			}
		}
	}
}

#[test]
fn refuses_bad_shapes_and_dtypes() {
	let mut rng = Rng(3);
	let dev = Device::Cpu;
	// candle refuses to quantize a 48-wide row; the raw-bytes constructor refuses it too.
	let w48 = Tensor::from_vec(rng.vec(4 * 48), (4, 48), &dev).unwrap();
	if let Ok(qt) = QTensor::quantize(&w48, GgmlDType::Q8_0) {
		assert!(matches!(QWeights::from_qtensor(&qt), Err(QKernelError::ColsNotBlockMultiple(48))));
	}
	assert!(matches!(
		QWeights::from_bytes(GgmlDType::Q8_0, BlockKind::Q8_0, 4, 48, vec![0; 4 * 34]),
		Err(QKernelError::ColsNotBlockMultiple(48))
	));
	assert!(matches!(
		QWeights::from_bytes(GgmlDType::Q4_0, BlockKind::Q4_0, 4, 64, vec![0; 7]),
		Err(QKernelError::WeightBytes { expected: 144, got: 7 })
	));
	let w = Tensor::from_vec(rng.vec(4 * 256), (4, 256), &dev).unwrap();
	let qk = QTensor::quantize(&w, GgmlDType::Q4K).unwrap();
	assert!(matches!(
		QWeights::from_qtensor(&qk),
		Err(QKernelError::UnsupportedDType(GgmlDType::Q4K))
	));
	let w3 = Tensor::from_vec(rng.vec(2 * 2 * 64), (2, 2, 64), &dev).unwrap();
	let q3 = QTensor::quantize(&w3, GgmlDType::Q8_0).unwrap();
	assert!(matches!(QWeights::from_qtensor(&q3), Err(QKernelError::NotAMatrix(_))));
	let w = QWeights::from_qtensor(&QTensor::quantize(&w, GgmlDType::Q4_1).unwrap()).unwrap();
	assert_eq!((w.rows(), w.cols(), w.dtype()), (4, 256, GgmlDType::Q4_1));
	assert_eq!(w.bytes().len(), 4 * 8 * 20);
	let mut out = vec![0f32; 8];
	assert!(matches!(
		matmul(&w, &[0.0; 255], 1, &mut out[..4]),
		Err(QKernelError::InputLen { expected: 256, got: 255 })
	));
	assert!(matches!(
		matmul(&w, &[0.0; 512], 2, &mut out[..7]),
		Err(QKernelError::OutputLen { expected: 8, got: 7 })
	));
	// Batch 0: nothing in, nothing out.
	matmul(&w, &[], 0, &mut []).unwrap();
	// All-zero activations (scale 0) give zeros, not NaN.
	matmul(&w, &[0.0; 512], 2, &mut out).unwrap();
	assert!(out.iter().all(|&v| v == 0.0), "{out:?}");
}

#[test]
fn f16_conversions_match_candle() {
	let mut rng = Rng(11);
	let mut xs: Vec<f32> = (0..4000).map(|i| rng.next() * 2f32.powi(i % 40 - 28)).collect();
	xs.extend([0.0, -0.0, 65504.0, 65520.0, 1e6, -1e6, 6e-8, 3e-8, 2.98e-8, 1.0 + 1.0 / 2048.0]);
	let t = Tensor::new(xs.as_slice(), &Device::Cpu).unwrap();
	let want = t.to_dtype(DType::F16).unwrap().to_dtype(DType::F32).unwrap().to_vec1::<f32>();
	for (x, w) in xs.iter().zip(want.unwrap()) {
		let got = f16::round_f16(*x);
		assert!(got == w || (got.is_nan() && w.is_nan()), "f16({x}) = {got}, candle {w}");
	}
}
