//! Continuous batching on a dedicated OS thread.
//!
//! Callers [`submit`](EngineHandle::submit) requests into a bounded queue and read their tokens
//! from a channel. The engine thread loops: it admits waiting requests into the running batch
//! (up to `max_batch`), builds one step — one token for every decoding sequence, plus prompt
//! chunks for the sequences still prefilling, at most `prefill_chunk` prompt tokens per step —
//! runs it with [`Model::forward_batch`], samples, streams, and retires the sequences that
//! finished or whose receiver was dropped. A request that arrives while others decode joins at
//! the next step. Every sequence keeps its own position and cache, so joining changes nothing
//! for the others.
//!
//! A failing request never stops the thread: an invalid request gets a
//! [`GenerateEvent::Failed`], a failing step fails only the step's requests (a panic inside the
//! step included), and the thread serves on.

use std::{
	collections::VecDeque,
	panic::AssertUnwindSafe,
	sync::{
		atomic::{AtomicU64, AtomicUsize, Ordering},
		Arc, Condvar, Mutex, MutexGuard,
	},
	time::{Duration, Instant},
};

use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use super::{
	lora::LoraAdapter,
	model::{KvCache, Model, SeqInput},
	request::{FinishReason, GenerateEvent, GenerateRequest, SubmitError},
	sampling::Sampler,
};

/// The engine's capacity settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineConfig {
	/// Sequences in the running batch at most.
	pub max_batch: usize,
	/// Requests waiting for a place in the batch at most; beyond, `submit` answers
	/// [`SubmitError::QueueFull`].
	pub max_queue: usize,
	/// Prompt plus generated tokens of one sequence at most (capped at the model's
	/// `max_position_embeddings`).
	pub max_seq_len: usize,
	/// Prompt tokens prefilled per step at most, over all prefilling sequences.
	pub prefill_chunk: usize,
}

impl Default for EngineConfig {
	fn default() -> Self {
		EngineConfig { max_batch: 32, max_queue: 256, max_seq_len: 2048, prefill_chunk: 512 }
	}
}

/// A snapshot of the engine's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EngineStats {
	/// Requests waiting in the queue.
	pub queued: usize,
	/// Sequences in the running batch.
	pub running: usize,
	/// Steps run since the start.
	pub steps: u64,
	/// Tokens generated since the start.
	pub tokens_generated: u64,
}

/// The engine: a thread that runs the batch.
pub struct Engine;

impl Engine {
	/// Starts the engine thread for `model` and returns the handle to submit to.
	///
	/// The thread ends when every handle is dropped and the requests it holds are done.
	/// Zero capacities are raised to 1; `max_seq_len` is capped at the model's
	/// `max_position_embeddings`.
	///
	/// # Panics
	///
	/// When the operating system refuses to start a thread.
	pub fn start(model: Arc<Model>, config: EngineConfig) -> EngineHandle {
		let config = EngineConfig {
			max_batch: config.max_batch.max(1),
			max_queue: config.max_queue.max(1),
			max_seq_len: config.max_seq_len.clamp(2, model.config.max_position_embeddings.max(2)),
			prefill_chunk: config.prefill_chunk.max(1),
		};
		let shared = Arc::new(Shared {
			queue: Mutex::new(Queue { items: VecDeque::new(), shutdown: false }),
			wake: Condvar::new(),
			running: AtomicUsize::new(0),
			steps: AtomicU64::new(0),
			tokens: AtomicU64::new(0),
			config,
		});
		let thread_shared = shared.clone();
		let thread_model = model.clone();
		std::thread::Builder::new()
			.name("lineage-engine".into())
			.spawn(move || Worker::new(thread_model, thread_shared).run())
			.expect("the operating system refused to start the engine thread");
		EngineHandle { inner: Arc::new(HandleInner { shared, model }) }
	}
}

/// A cloneable handle to a running engine.
#[derive(Clone)]
pub struct EngineHandle {
	inner: Arc<HandleInner>,
}

struct HandleInner {
	shared: Arc<Shared>,
	model: Arc<Model>,
}

impl Drop for HandleInner {
	fn drop(&mut self) {
		self.shared.lock().shutdown = true;
		self.shared.wake.notify_all();
	}
}

impl EngineHandle {
	/// Queues a request and returns the receiver of its events.
	///
	/// Dropping the receiver cancels the request. Fails at once when the prompt is empty or too
	/// long, or when the queue is full.
	pub fn submit(
		&self,
		req: GenerateRequest,
	) -> Result<UnboundedReceiver<GenerateEvent>, SubmitError> {
		let shared = &self.inner.shared;
		if req.prompt.is_empty() {
			return Err(SubmitError::EmptyPrompt);
		}
		let max = shared.config.max_seq_len - 1;
		if req.prompt.len() > max {
			return Err(SubmitError::PromptTooLong { len: req.prompt.len(), max });
		}
		let mut queue = shared.lock();
		// Free places in the batch count as queue room: a request waiting only because the
		// engine thread has not yet moved the previous one into the batch is not over capacity
		// (the API admits `max_batch + max_queue` requests and must not see a spurious 429).
		let room = shared.config.max_batch.saturating_sub(shared.running.load(Ordering::Relaxed));
		if queue.items.len() >= shared.config.max_queue.saturating_add(room) {
			return Err(SubmitError::QueueFull);
		}
		let (tx, rx) = unbounded_channel();
		queue.items.push_back(Pending { req, tx });
		drop(queue);
		shared.wake.notify_one();
		Ok(rx)
	}

	/// The model the engine serves.
	pub fn model(&self) -> &Arc<Model> {
		&self.inner.model
	}

	/// The engine's counters now.
	pub fn stats(&self) -> EngineStats {
		let s = &self.inner.shared;
		EngineStats {
			queued: s.lock().items.len(),
			running: s.running.load(Ordering::Relaxed),
			steps: s.steps.load(Ordering::Relaxed),
			tokens_generated: s.tokens.load(Ordering::Relaxed),
		}
	}

	/// The capacity settings in force (after clamping).
	pub fn config(&self) -> &EngineConfig {
		&self.inner.shared.config
	}
}

struct Shared {
	queue: Mutex<Queue>,
	wake: Condvar,
	running: AtomicUsize,
	steps: AtomicU64,
	tokens: AtomicU64,
	config: EngineConfig,
}

impl Shared {
	fn lock(&self) -> MutexGuard<'_, Queue> {
		self.queue.lock().unwrap_or_else(|e| e.into_inner())
	}
}

struct Queue {
	items: VecDeque<Pending>,
	shutdown: bool,
}

struct Pending {
	req: GenerateRequest,
	tx: UnboundedSender<GenerateEvent>,
}

/// A request in the running batch.
struct Seq {
	id: String,
	tx: UnboundedSender<GenerateEvent>,
	adapter: Option<Arc<LoraAdapter>>,
	cache: KvCache,
	prompt: Vec<u32>,
	/// Prompt tokens already in the cache.
	prefilled: usize,
	/// The last sampled token, fed at the next decode step.
	last: [u32; 1],
	generated: usize,
	max_tokens: usize,
	/// Generate past end-of-sequence tokens (the request's `ignore_eos`).
	ignore_eos: bool,
	sampler: Sampler,
	queue_time: Duration,
	started: Instant,
	done: bool,
}

impl Seq {
	fn prefilling(&self) -> bool {
		self.prefilled < self.prompt.len()
	}

	fn finish(&mut self, reason: FinishReason) {
		let inference_time = self.started.elapsed();
		tracing::debug!(
			request = %self.id,
			?reason,
			prompt_tokens = self.prompt.len(),
			completion_tokens = self.generated,
			queue_ms = self.queue_time.as_millis() as u64,
			inference_ms = inference_time.as_millis() as u64,
			"request finished"
		);
		let _ = self.tx.send(GenerateEvent::Finished {
			reason,
			prompt_tokens: self.prompt.len(),
			completion_tokens: self.generated,
			queue_time: self.queue_time,
			inference_time,
		});
		self.done = true;
	}

	fn fail(&mut self, message: String) {
		tracing::warn!(request = %self.id, %message, "request failed");
		let _ = self.tx.send(GenerateEvent::Failed { message });
		self.done = true;
	}
}

struct Worker {
	model: Arc<Model>,
	shared: Arc<Shared>,
	eos: Vec<u32>,
	running: Vec<Seq>,
}

impl Worker {
	fn new(model: Arc<Model>, shared: Arc<Shared>) -> Self {
		let eos = model.eos_token_ids();
		Worker { model, shared, eos, running: Vec::new() }
	}

	fn run(mut self) {
		loop {
			let admitted = {
				let mut queue = self.shared.lock();
				while self.running.is_empty() && queue.items.is_empty() && !queue.shutdown {
					queue = self.shared.wake.wait(queue).unwrap_or_else(|e| e.into_inner());
				}
				if queue.shutdown && self.running.is_empty() && queue.items.is_empty() {
					return;
				}
				let room = self.shared.config.max_batch.saturating_sub(self.running.len());
				let n = room.min(queue.items.len());
				// Counted as running while still under the lock, so `submit` never sees a
				// request neither queued nor running.
				self.shared.running.store(self.running.len() + n, Ordering::Relaxed);
				queue.items.drain(..n).collect::<Vec<_>>()
			};
			for p in admitted {
				if let Some(seq) = self.admit(p) {
					self.running.push(seq);
				}
			}
			self.running.retain(|s| !s.tx.is_closed());
			if !self.running.is_empty() {
				self.step();
				self.running.retain(|s| !s.done);
			}
			self.shared.running.store(self.running.len(), Ordering::Relaxed);
		}
	}

	/// Turns a queued request into a running sequence, or fails it.
	fn admit(&self, p: Pending) -> Option<Seq> {
		let Pending { req, tx } = p;
		let started = Instant::now();
		let queue_time = started.saturating_duration_since(req.submitted_at);
		let mut seq = Seq {
			id: req.id,
			tx,
			adapter: None,
			cache: self.model.new_cache(),
			max_tokens: req.max_tokens.min(self.shared.config.max_seq_len - req.prompt.len()),
			prompt: req.prompt,
			prefilled: 0,
			last: [0],
			generated: 0,
			ignore_eos: req.sampling.ignore_eos,
			sampler: Sampler::new(&req.sampling),
			queue_time,
			started,
			done: false,
		};
		let vocab = self.model.config.vocab_size;
		if let Some(t) = seq.prompt.iter().find(|&&t| t as usize >= vocab) {
			seq.fail(format!("prompt token {t} is outside the model's vocabulary of {vocab}"));
			return None;
		}
		if let Some(adapter) = req.adapter {
			if let Err(e) = adapter.check_compatible(&self.model.config) {
				seq.fail(e.to_string());
				return None;
			}
			let placed = adapter.device().is_none_or(|d| d.same_device(&self.model.device))
				&& adapter.dtype().is_none_or(|d| d == self.model.dtype);
			seq.adapter = if placed {
				Some(adapter)
			} else {
				match adapter.to_device(&self.model.device, self.model.dtype) {
					Ok(a) => Some(Arc::new(a)),
					Err(e) => {
						seq.fail(format!(
							"moving adapter {} to the model's device: {e}",
							adapter.name
						));
						return None;
					},
				}
			};
		}
		if seq.max_tokens == 0 {
			seq.finish(FinishReason::Length);
			return None;
		}
		Some(seq)
	}

	/// Runs one step over the running batch.
	fn step(&mut self) {
		let mut budget = self.shared.config.prefill_chunk;
		// (index in `running`, prompt tokens taken this step; 0 when decoding)
		let mut plan: Vec<(usize, usize)> = Vec::with_capacity(self.running.len());
		for (i, s) in self.running.iter().enumerate() {
			if s.prefilling() {
				let n = (s.prompt.len() - s.prefilled).min(budget);
				if n > 0 {
					budget -= n;
					plan.push((i, n));
				}
			} else {
				plan.push((i, 0));
			}
		}
		let result = {
			let mut take = vec![None; self.running.len()];
			for &(i, n) in &plan {
				take[i] = Some(n);
			}
			let mut inputs: Vec<SeqInput<'_>> = Vec::with_capacity(plan.len());
			for (s, n) in self.running.iter_mut().zip(take) {
				let Some(n) = n else { continue };
				let Seq { prompt, prefilled, last, cache, adapter, .. } = s;
				let tokens: &[u32] =
					if n > 0 { &prompt[*prefilled..*prefilled + n] } else { &last[..] };
				inputs.push(SeqInput { tokens, cache, adapter: adapter.as_deref() });
			}
			let model = &self.model;
			std::panic::catch_unwind(AssertUnwindSafe(|| model.forward_batch(&mut inputs)))
		};
		self.shared.steps.fetch_add(1, Ordering::Relaxed);
		let logits = match result {
			Ok(Ok(l)) => l,
			Ok(Err(e)) => return self.fail_plan(&plan, format!("inference step failed: {e}")),
			Err(panic) => {
				let what = panic
					.downcast_ref::<String>()
					.cloned()
					.or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
					.unwrap_or_default();
				return self.fail_plan(&plan, format!("inference step panicked: {what}"));
			},
		};
		for (row, &(i, n)) in plan.iter().enumerate() {
			let s = &mut self.running[i];
			s.prefilled += n;
			if s.prefilling() {
				continue;
			}
			let token = match logits.get(row).and_then(|l| s.sampler.sample(&l)) {
				Ok(t) => t,
				Err(e) => {
					s.fail(format!("sampling failed: {e}"));
					continue;
				},
			};
			if !s.ignore_eos && self.eos.contains(&token) {
				s.finish(FinishReason::Stop);
				continue;
			}
			// Counted before the send, so a caller that reads the stats after its last event
			// sees its tokens.
			self.shared.tokens.fetch_add(1, Ordering::Relaxed);
			if s.tx.send(GenerateEvent::Token { id: token }).is_err() {
				s.done = true; // the receiver is gone: cancelled
				continue;
			}
			s.generated += 1;
			s.last = [token];
			if s.generated >= s.max_tokens {
				s.finish(FinishReason::Length);
			}
		}
	}

	fn fail_plan(&mut self, plan: &[(usize, usize)], message: String) {
		for &(i, _) in plan {
			self.running[i].fail(message.clone());
		}
	}
}
