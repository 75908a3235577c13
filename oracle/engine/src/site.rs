//! Sites: the groups of projections that read the same input, as the model fuses them. The
//! model and the LoRA layers share this one map from a projection to its place in a site.

use super::config::{ModelConfig, Proj};

/// A group of projections that share their input, as the model fuses them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Site {
	/// q, k and v (input: the normed residual).
	Qkv,
	/// o (input: the attention output).
	O,
	/// gate and up (input: the normed residual).
	GateUp,
	/// down (input: the gated activation).
	Down,
}

impl Site {
	/// The projections of the site, in the order of the fused output.
	pub fn projs(self) -> &'static [Proj] {
		match self {
			Site::Qkv => &[Proj::Q, Proj::K, Proj::V],
			Site::O => &[Proj::O],
			Site::GateUp => &[Proj::Gate, Proj::Up],
			Site::Down => &[Proj::Down],
		}
	}

	pub(crate) fn index(self) -> usize {
		match self {
			Site::Qkv => 0,
			Site::O => 1,
			Site::GateUp => 2,
			Site::Down => 3,
		}
	}

	pub(crate) fn of(proj: Proj) -> Site {
		match proj {
			Proj::Q | Proj::K | Proj::V => Site::Qkv,
			Proj::O => Site::O,
			Proj::Gate | Proj::Up => Site::GateUp,
			Proj::Down => Site::Down,
		}
	}
}

/// Where a projection's output rows sit inside its fused site: `(site, offset, out)`.
pub(crate) fn site_slice(c: &ModelConfig, proj: Proj) -> (Site, usize, usize) {
	let (_, out) = c.proj_dims(proj);
	let (q_out, kv_out) = (c.proj_dims(Proj::Q).1, c.proj_dims(Proj::K).1);
	match proj {
		Proj::Q => (Site::Qkv, 0, out),
		Proj::K => (Site::Qkv, q_out, out),
		Proj::V => (Site::Qkv, q_out + kv_out, out),
		Proj::O => (Site::O, 0, out),
		Proj::Gate => (Site::GateUp, 0, out),
		Proj::Up => (Site::GateUp, c.intermediate_size, out),
		Proj::Down => (Site::Down, 0, out),
	}
}
