//! Times `lineage_engine::qkernels::matmul` against candle's CPU `QMatMul::forward` on the same
//! quantized weights and input, for SmolLM2-135M's projection shapes, and prints a markdown
//! table. "ours" is the path [`Kernel::detect`] picks; the last column is our AVX2 path alone
//! (where the CPU has it), for comparison.
//!
//! ```text
//! cargo run --release -p lineage-engine --example qkernel_bench
//! ```

use std::time::{Duration, Instant};

use candle_core::{
	quantized::{GgmlDType, QMatMul, QTensor},
	Device, Module, Tensor,
};
use lineage_engine::qkernels::{matmul, matmul_with, Kernel, QWeights};

/// Mean seconds per call of `f` over ~200 ms, after a warm-up.
fn time(mut f: impl FnMut()) -> f64 {
	for _ in 0..3 {
		f();
	}
	let start = Instant::now();
	let mut calls = 0u32;
	while start.elapsed() < Duration::from_millis(200) {
		f();
		calls += 1;
	}
	start.elapsed().as_secs_f64() / calls as f64
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
	let dev = Device::Cpu;
	let mut seed = 0x2545_f491_4f6c_dd1du64;
	let mut rand = move |n: usize| -> Vec<f32> {
		(0..n)
			.map(|_| {
				seed ^= seed << 13;
				seed ^= seed >> 7;
				seed ^= seed << 17;
				((seed >> 40) as f32 / (1u64 << 23) as f32) - 1.0
			})
			.collect()
	};
	println!(
		"kernel path: {:?}, threads: {:?}\n",
		Kernel::detect(),
		std::thread::available_parallelism()?
	);
	println!(
		"| shape (rows×cols) | dtype | batch | ours µs | candle µs | candle/ours | ours GFLOP/s | \
		 ours AVX2 µs |"
	);
	println!("|---|---|---|---:|---:|---:|---:|---:|");
	for (rows, cols) in [(576, 576), (1536, 576), (576, 1536)] {
		for dtype in [GgmlDType::Q8_0, GgmlDType::Q4_0, GgmlDType::Q4_1] {
			let wt = Tensor::from_vec(rand(rows * cols), (rows, cols), &dev)?;
			let qt = QTensor::quantize(&wt, dtype)?;
			let ours = QWeights::from_qtensor(&qt)?;
			let candle = QMatMul::from_qtensor(qt)?;
			for batch in [1, 8, 32] {
				let x = rand(batch * cols);
				let xt = Tensor::from_vec(x.clone(), (batch, cols), &dev)?;
				let mut out = vec![0f32; batch * rows];
				let t_ours = time(|| matmul(&ours, &x, batch, &mut out).expect("matmul"));
				let t_candle = time(|| {
					std::hint::black_box(candle.forward(&xt).expect("forward"));
				});
				let avx2 = if Kernel::Avx2.is_available() {
					let t = time(|| {
						matmul_with(Kernel::Avx2, &ours, &x, batch, &mut out).expect("matmul")
					});
					format!("{:.1}", t * 1e6)
				} else {
					"n/a".to_string()
				};
				let gflops = 2.0 * (rows * cols * batch) as f64 / t_ours / 1e9;
				println!(
					"| {rows}×{cols} | {dtype:?} | {batch} | {:.1} | {:.1} | {:.2} | {gflops:.1} | \
					 {avx2} |",
					t_ours * 1e6,
					t_candle * 1e6,
					t_candle / t_ours,
				);
			}
		}
	}
	Ok(())
}
