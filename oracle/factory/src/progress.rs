//! Progress people can watch: a bar with the step, the loss, tokens/s and the time left (on a
//! terminal), and a log line every few steps (always, for logs and CI).

use indicatif::{ProgressBar, ProgressStyle};

use crate::history::StepLog;

/// Where a run's progress goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
	/// A bar on stderr (hidden when stderr is not a terminal) and a log line every `every`
	/// steps.
	Bar {
		/// Steps between log lines.
		every: usize,
	},
	/// Nothing (tests).
	Quiet,
}

/// A started progress display.
pub struct Running {
	bar: Option<ProgressBar>,
	every: usize,
}

impl Progress {
	/// Starts a display for `total` steps, `done` of them already done.
	pub fn start(self, total: u64, done: u64) -> Running {
		match self {
			Progress::Quiet => Running { bar: None, every: 0 },
			Progress::Bar { every } => {
				let bar = ProgressBar::new(total);
				bar.set_style(
					ProgressStyle::with_template(
						"{prefix} [{bar:30.cyan/blue}] step {pos}/{len} · {msg} · {elapsed} elapsed, {eta} left",
					)
					.unwrap_or_else(|_| ProgressStyle::default_bar())
					.progress_chars("=> "),
				);
				bar.set_prefix("training");
				bar.set_position(done);
				Running { bar: Some(bar), every: every.max(1) }
			},
		}
	}
}

impl Running {
	/// Reports a finished step and its speed.
	pub fn step(&mut self, log: &StepLog, tokens_per_s: f64) {
		let Some(bar) = &self.bar else { return };
		bar.set_message(format!(
			"loss {:.4} · {:.0} tok/s · lr {:.2e}",
			log.loss, tokens_per_s, log.learning_rate
		));
		bar.set_position(log.step as u64);
		if log.step.is_multiple_of(self.every) || Some(log.step as u64) == bar.length() {
			let left = bar.eta().as_secs();
			let total = bar.length().unwrap_or(0);
			// The bar's state is locked while `suspend` runs its closure: read it before.
			bar.suspend(|| {
				eprintln!(
					"step {}/{} · loss {:.4} · {:.0} tok/s · grad norm {:.3} · about {}m{:02}s left",
					log.step,
					total,
					log.loss,
					tokens_per_s,
					log.grad_norm,
					left / 60,
					left % 60
				)
			});
		}
	}

	/// Ends the display.
	pub fn finish(self) {
		if let Some(bar) = self.bar {
			bar.finish_and_clear();
		}
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn the_bar_logs_each_step_without_locking_itself() {
		let mut running = Progress::Bar { every: 1 }.start(2, 0);
		for step in 1..=2 {
			let log = StepLog {
				step,
				loss: 1.0,
				learning_rate: 1e-3,
				grad_norm: 0.5,
				tokens: 10,
				answer_tokens: 4,
			};
			running.step(&log, 100.0);
		}
		running.finish();
	}
}
