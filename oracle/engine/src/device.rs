//! Naming where the engine runs: the device and the dtype, as the command lines spell them.

use candle_core::{DType, Device};

/// A device or dtype name that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
	/// Not `cpu`, `cuda` or `cuda:N`.
	#[error("unknown device {0:?}: cpu, cuda or cuda:N")]
	UnknownDevice(String),
	/// The CUDA device cannot be opened (no GPU, or a build without the `cuda` feature).
	#[error("opening CUDA device {ordinal}: {source}")]
	Cuda {
		/// The device's ordinal.
		ordinal: usize,
		/// What candle said.
		#[source]
		source: candle_core::Error,
	},
	/// Not `f32`, `f16` or `bf16`.
	#[error("unknown dtype {0:?}: f32, f16 or bf16")]
	UnknownDType(String),
}

/// The device named `cpu`, `cuda` (device 0) or `cuda:N`.
pub fn parse_device(name: &str) -> Result<Device, DeviceError> {
	let ordinal = match name {
		"cpu" => return Ok(Device::Cpu),
		"cuda" => 0,
		other => other
			.strip_prefix("cuda:")
			.and_then(|n| n.parse().ok())
			.ok_or_else(|| DeviceError::UnknownDevice(other.to_string()))?,
	};
	Device::new_cuda(ordinal).map_err(|source| DeviceError::Cuda { ordinal, source })
}

/// The dtype named `f32`, `f16` or `bf16`; without a name, f32 on the CPU and bf16 elsewhere.
pub fn parse_dtype(name: Option<&str>, device: &Device) -> Result<DType, DeviceError> {
	match name {
		None if device.is_cpu() => Ok(DType::F32),
		None => Ok(DType::BF16),
		Some("f32") => Ok(DType::F32),
		Some("f16") => Ok(DType::F16),
		Some("bf16") => Ok(DType::BF16),
		Some(other) => Err(DeviceError::UnknownDType(other.to_string())),
	}
}
