//! The loss curve of a run as a PNG (`loss.png` in the run folder): the training loss per step,
//! and the held-out losses of the base and the adapter as horizontal lines once evaluated.

use std::path::Path;

use plotters::prelude::*;

use crate::history::StepLog;

/// The file name in a run folder.
pub const PLOT_FILE: &str = "loss.png";

/// Fonts tried, in order, for the labels (Debian's `fonts-dejavu-core`, which `scripts/setup`
/// installs).
const FONTS: &[&str] = &[
	"/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
	"/usr/share/fonts/TTF/DejaVuSans.ttf",
	"/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

/// Registers a sans-serif font with plotters once.
fn register_font() -> anyhow::Result<()> {
	static DONE: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
	DONE.get_or_init(|| {
		let bytes = FONTS.iter().find_map(|p| std::fs::read(p).ok()).ok_or_else(|| {
			format!("no font at {FONTS:?}: run scripts/setup (it installs fonts-dejavu-core)")
		})?;
		let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
		plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
			.map_err(|_| "the font file does not load".to_string())
	})
	.clone()
	.map_err(|e| anyhow::anyhow!(e))
}

/// Draws the curve into `dir/loss.png`; `heldout` is `(base, adapter)` held-out loss.
pub fn write_loss_curve(
	dir: &Path,
	log: &[StepLog],
	heldout: Option<(f64, f64)>,
) -> anyhow::Result<()> {
	register_font()?;
	let path = dir.join(PLOT_FILE);
	let root = BitMapBackend::new(&path, (900, 540)).into_drawing_area();
	root.fill(&WHITE)?;
	let steps = log.len().max(1) as f64;
	let mut hi = log.iter().map(|l| l.loss).fold(0.0f64, f64::max);
	let mut lo = log.iter().map(|l| l.loss).fold(f64::INFINITY, f64::min);
	if let Some((b, a)) = heldout {
		hi = hi.max(b).max(a);
		lo = lo.min(b).min(a);
	}
	if !lo.is_finite() {
		lo = 0.0;
	}
	let pad = ((hi - lo) * 0.08).max(0.05);
	let mut chart = ChartBuilder::on(&root)
		.caption("Training loss per answer token", ("sans-serif", 24))
		.margin(16)
		.x_label_area_size(40)
		.y_label_area_size(60)
		.build_cartesian_2d(0f64..steps + 1.0, (lo - pad).max(0.0)..hi + pad)?;
	chart.configure_mesh().x_desc("optimiser step").y_desc("loss (nats)").draw()?;
	chart
		.draw_series(LineSeries::new(
			log.iter().map(|l| (l.step as f64, l.loss)),
			BLUE.stroke_width(2),
		))?
		.label("training (step mean)")
		.legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
	if let Some((base, adapter)) = heldout {
		for (v, color, label) in
			[(base, RED, "held-out, base"), (adapter, GREEN, "held-out, adapter")]
		{
			chart
				.draw_series(LineSeries::new([(0.0, v), (steps + 1.0, v)], color.stroke_width(2)))?
				.label(format!("{label}: {v:.3}"))
				.legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
		}
	}
	chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
	root.present()?;
	Ok(())
}
