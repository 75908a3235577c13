//! From engine tokens to response text: incremental detokenisation, stop strings, and the
//! per-request driver that runs on the blocking pool.
//!
//! The driver ([`drive`]) owns the engine's event receiver. It decodes each token as it comes
//! (never on the async runtime), holds back text that could be the start of a stop string, and
//! sends [`TextEvent`]s to the handler. When a stop string appears it trims the text there and
//! drops the receiver, which cancels the sequence in the engine. Before it sends the final
//! [`TextEvent::Done`] it reports the finished request to the
//! [`UsageSink`](super::usage::UsageSink), so a usage record exists before the response
//! completes.

use std::{
	sync::Arc,
	time::{Duration, Instant},
};

use lineage_chain::time::unix_time_ms;
use lineage_engine::{FinishReason, GenerateEvent};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use super::{
	gate::GatePass,
	lineage::{AdapterIndexes, Lineage, Tracer},
	usage::{Finish, FinishedRequest, UsageSink},
};

/// The tokenizer could not decode token ids.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(pub String);

/// Something that turns token ids into text (the model's tokenizer; a stand-in in tests).
pub trait Decode {
	/// The text of `ids`, special tokens skipped.
	fn decode_ids(&self, ids: &[u32]) -> Result<String, DecodeError>;
}

impl Decode for tokenizers::Tokenizer {
	fn decode_ids(&self, ids: &[u32]) -> Result<String, DecodeError> {
		self.decode(ids, true).map_err(|e| DecodeError(e.to_string()))
	}
}

/// Token counts of one request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TokenUsage {
	/// Tokens in the prompt.
	pub prompt_tokens: usize,
	/// Tokens generated.
	pub completion_tokens: usize,
}

/// Incremental detokeniser (the offsets scheme of TGI and vLLM): a token's text is the
/// difference between decoding a short window with and without it, so tokenizers that merge
/// or strip spaces across token boundaries decode the same as decoding the whole sequence, and
/// a multi-byte character split across tokens is emitted once it is complete.
#[derive(Default)]
pub struct Detokenizer {
	ids: Vec<u32>,
	prefix_offset: usize,
	read_offset: usize,
}

impl Detokenizer {
	/// Add a token; returns the new text it completes, if any.
	pub fn push(&mut self, decoder: &impl Decode, id: u32) -> Result<Option<String>, DecodeError> {
		self.ids.push(id);
		let prefix = decoder.decode_ids(&self.ids[self.prefix_offset..self.read_offset])?;
		let full = decoder.decode_ids(&self.ids[self.prefix_offset..])?;
		if full.len() > prefix.len() && !full.ends_with('\u{FFFD}') {
			if let Some(delta) = full.get(prefix.len()..) {
				let delta = delta.to_string();
				self.prefix_offset = self.read_offset;
				self.read_offset = self.ids.len();
				return Ok(Some(delta));
			}
		}
		Ok(None)
	}

	/// The text not yet returned (an incomplete character at the end, say), at the end of
	/// generation.
	pub fn flush(&mut self, decoder: &impl Decode) -> Result<Option<String>, DecodeError> {
		if self.read_offset >= self.ids.len() {
			return Ok(None);
		}
		let prefix = decoder.decode_ids(&self.ids[self.prefix_offset..self.read_offset])?;
		let full = decoder.decode_ids(&self.ids[self.prefix_offset..])?;
		self.prefix_offset = self.read_offset;
		self.read_offset = self.ids.len();
		Ok(full.get(prefix.len()..).filter(|d| !d.is_empty()).map(str::to_string))
	}

	/// Tokens pushed so far.
	pub fn tokens(&self) -> usize {
		self.ids.len()
	}
}

/// What [`StopMatcher::push`] decided.
#[derive(Debug, PartialEq, Eq)]
pub enum Matched {
	/// No stop string yet: this text is safe to send (maybe empty: it is held back).
	Continue(String),
	/// A stop string appeared: this is the last text to send; generation must end.
	Stop(String),
}

/// Finds stop strings in generated text, holding back any tail that could begin one.
pub struct StopMatcher {
	stops: Vec<String>,
	text: String,
	emitted: usize,
}

impl StopMatcher {
	/// A matcher for these stop strings (empty strings are ignored).
	pub fn new(stops: Vec<String>) -> Self {
		Self {
			stops: stops.into_iter().filter(|s| !s.is_empty()).collect(),
			text: String::new(),
			emitted: 0,
		}
	}

	/// Add generated text.
	pub fn push(&mut self, delta: &str) -> Matched {
		self.text.push_str(delta);
		// A match always starts in the text not yet emitted: a tail that could begin a stop
		// string is never emitted.
		let pending = &self.text[self.emitted..];
		let first = self.stops.iter().filter_map(|s| pending.find(s.as_str())).min();
		if let Some(at) = first {
			let end = self.emitted + at;
			let out = self.text[self.emitted..end].to_string();
			self.text.truncate(end);
			self.emitted = end;
			return Matched::Stop(out);
		}
		let hold = self
			.stops
			.iter()
			.flat_map(|s| {
				s.char_indices().skip(1).map(|(i, _)| &s[..i]).filter(|p| pending.ends_with(p))
			})
			.map(str::len)
			.max()
			.unwrap_or(0);
		let end = self.text.len() - hold;
		let out = self.text[self.emitted..end].to_string();
		self.emitted = end;
		Matched::Continue(out)
	}

	/// The held-back tail, at the end of generation (no stop string came).
	pub fn finish(&mut self) -> String {
		let out = self.text[self.emitted..].to_string();
		self.emitted = self.text.len();
		out
	}

	/// Whether any stop strings are set.
	pub fn is_active(&self) -> bool {
		!self.stops.is_empty()
	}
}

/// The end of a request, as the handler and the metrics see it.
#[derive(Clone, Debug)]
pub struct Summary {
	/// Why it ended.
	pub finish: Finish,
	/// Token counts.
	pub usage: TokenUsage,
	/// Time in the engine's queue, when the engine reported it (not after a stop string).
	pub queue_time: Option<Duration>,
	/// Time from the start of the prefill to the end, when the engine reported it.
	pub inference_time: Option<Duration>,
	/// Time from submission to the first token.
	pub time_to_first_token: Option<Duration>,
	/// Time from the first token to the last.
	pub decode_time: Duration,
	/// The sha256 of the whole response text.
	pub response_sha256: [u8; 32],
	/// The answer's attribution, when the request used an adapter and the oracle traces.
	pub lineage: Option<Lineage>,
}

/// What the driver needs to attribute the answer when it ends.
pub struct TraceJob {
	/// The tracer.
	pub tracer: Arc<Tracer>,
	/// The adapter's span indexes, or the `lineage` to report while they are not built.
	pub indexes: Result<Arc<AdapterIndexes>, Lineage>,
	/// The prompt's token ids.
	pub prompt: Vec<u32>,
}

/// What the driver sends to the handler.
#[derive(Debug)]
pub enum TextEvent {
	/// More response text.
	Delta(String),
	/// The request finished (after the usage sink recorded it).
	Done(Summary),
	/// The engine or the tokenizer failed.
	Failed(String),
}

/// Everything the driver needs besides the channels.
pub struct DriveContext {
	/// The request id (`cmpl-…`).
	pub id: String,
	/// The model name the request named.
	pub model: String,
	/// The adapter's artifact hash, when the request used one.
	pub adapter: Option<lineage_primitives::Hash>,
	/// Prompt length in tokens.
	pub prompt_tokens: usize,
	/// Stop strings.
	pub stops: Vec<String>,
	/// When the request was submitted.
	pub submitted_at: Instant,
	/// Where finished requests are reported.
	pub sink: Arc<dyn UsageSink>,
	/// What the gate admitted the request as (payer, chain adapter); dropped, releasing its
	/// hold, when the driver returns — after the usage is recorded.
	pub pass: GatePass,
	/// The payer's signed authorisation of the request, kept with its usage record.
	pub voucher: Option<super::usage::Voucher>,
	/// Attribution of the answer, when the oracle traces this adapter.
	pub trace: Option<TraceJob>,
}

/// Turn the engine's events into text events. Blocking: run it with `spawn_blocking`.
///
/// Returns when the request ends, or as soon as the handler hangs up (`out` closed), which
/// drops `events` and so cancels the sequence in the engine. A request whose client hung up is
/// still recorded ([`Finish::Disconnected`]): its prompt and the tokens whose text was handed to
/// the connection, so a client cannot read an answer and leave without paying for it.
pub fn drive(
	mut events: UnboundedReceiver<GenerateEvent>,
	decoder: &impl Decode,
	ctx: DriveContext,
	out: UnboundedSender<TextEvent>,
) {
	let mut detok = Detokenizer::default();
	let mut stops = StopMatcher::new(ctx.stops.clone());
	let mut hasher = Sha256::new();
	let mut first_token: Option<Instant> = None;
	// The text handed to the connection, kept only to attribute it.
	let mut answer = ctx.trace.as_ref().map(|_| String::new());
	let mut send = |text: String, hasher: &mut Sha256| -> bool {
		if text.is_empty() {
			return true;
		}
		hasher.update(text.as_bytes());
		if let Some(answer) = answer.as_mut() {
			answer.push_str(&text);
		}
		out.send(TextEvent::Delta(text)).is_ok()
	};
	// Tokens whose text was handed to the connection: what a client that hangs up pays for.
	let mut delivered = 0usize;
	let (finish, completion_tokens, timings) = loop {
		let Some(event) = events.blocking_recv() else {
			let _ = out.send(TextEvent::Failed("the engine dropped the request".into()));
			return;
		};
		match event {
			GenerateEvent::Token { id } => {
				first_token.get_or_insert_with(Instant::now);
				let delta = match detok.push(decoder, id) {
					Ok(delta) => delta.unwrap_or_default(),
					Err(e) => {
						let _ = out.send(TextEvent::Failed(format!("decoding failed: {e}")));
						return;
					},
				};
				match stops.push(&delta) {
					Matched::Continue(text) => {
						let some = !text.is_empty();
						if !send(text, &mut hasher) {
							break (Finish::Disconnected, delivered, None);
						}
						if some {
							delivered = detok.tokens();
						}
					},
					Matched::Stop(text) => {
						// Dropping the receiver cancels the sequence in the engine.
						drop(events);
						if !send(text, &mut hasher) {
							break (Finish::Disconnected, delivered, None);
						}
						break (Finish::Stop, detok.tokens(), None);
					},
				}
			},
			GenerateEvent::Finished {
				reason,
				completion_tokens,
				queue_time,
				inference_time,
				..
			} => {
				let mut tail = match detok.flush(decoder) {
					Ok(tail) => tail.unwrap_or_default(),
					Err(e) => {
						let _ = out.send(TextEvent::Failed(format!("decoding failed: {e}")));
						return;
					},
				};
				let mut finish = match reason {
					FinishReason::Stop => Finish::Stop,
					FinishReason::Length => Finish::Length,
				};
				match stops.push(&tail) {
					Matched::Continue(text) => tail = text + &stops.finish(),
					Matched::Stop(text) => {
						tail = text;
						finish = Finish::Stop;
					},
				}
				if !send(tail, &mut hasher) {
					break (Finish::Disconnected, delivered, None);
				}
				break (finish, completion_tokens, Some((queue_time, inference_time)));
			},
			GenerateEvent::Failed { message } => {
				let _ = out.send(TextEvent::Failed(message));
				return;
			},
		}
	};
	let lineage = ctx.trace.map(|job| match job.indexes {
		Ok(indexes) => job.tracer.attribute(&indexes, &job.prompt, answer.as_deref().unwrap_or("")),
		Err(lineage) => lineage,
	});
	let now = Instant::now();
	let summary = Summary {
		finish,
		usage: TokenUsage { prompt_tokens: ctx.prompt_tokens, completion_tokens },
		queue_time: timings.map(|t| t.0),
		inference_time: timings.map(|t| t.1),
		time_to_first_token: first_token.map(|t| t.duration_since(ctx.submitted_at)),
		decode_time: first_token.map(|t| now.duration_since(t)).unwrap_or_default(),
		response_sha256: hasher.finalize().into(),
		lineage,
	};
	let recorded = ctx.sink.record(&FinishedRequest {
		id: ctx.id,
		model: ctx.model,
		adapter: ctx.adapter,
		prompt_tokens: summary.usage.prompt_tokens,
		completion_tokens: summary.usage.completion_tokens,
		response_sha256: summary.response_sha256,
		unix_time_ms: unix_time_ms(),
		finish_reason: finish,
		payer: ctx.pass.payer,
		voucher: ctx.voucher.clone(),
		chain_adapter: ctx.pass.chain_adapter,
		served_at: ctx.pass.served_at,
		lineage: summary.lineage.clone(),
	});
	match recorded {
		Ok(()) => {
			let _ = out.send(TextEvent::Done(summary));
		},
		Err(e) => {
			tracing::error!(error = %e, "usage not recorded: failing the request");
			let _ =
				out.send(TextEvent::Failed(format!("the usage record could not be saved: {e}")));
		},
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	/// Token `i` is the i-th entry; 255 and 254 are the two halves of "é" (bytes 0xC3 0xA9).
	struct Bytes(Vec<&'static str>);

	impl Decode for Bytes {
		fn decode_ids(&self, ids: &[u32]) -> Result<String, DecodeError> {
			let mut bytes = Vec::new();
			for &id in ids {
				match id {
					255 => bytes.push(0xC3),
					254 => bytes.push(0xA9),
					i => bytes.extend_from_slice(
						self.0
							.get(i as usize)
							.ok_or_else(|| DecodeError("unknown token".into()))?
							.as_bytes(),
					),
				}
			}
			Ok(String::from_utf8_lossy(&bytes).into_owned())
		}
	}

	#[test]
	fn detokenizer_waits_for_whole_characters() {
		let dec = Bytes(vec!["a", "b", " c"]);
		let mut d = Detokenizer::default();
		let mut out = String::new();
		for id in [0, 255, 254, 1, 2, 255] {
			out.push_str(&d.push(&dec, id).expect("decodes").unwrap_or_default());
		}
		assert_eq!(out, "aéb c");
		assert_eq!(d.flush(&dec).expect("flush"), Some("\u{FFFD}".into()));
		assert!(d.push(&dec, 99).is_err());
	}

	/// A sink that keeps what it is given.
	#[derive(Default)]
	struct Kept(std::sync::Mutex<Vec<FinishedRequest>>);

	impl UsageSink for Kept {
		fn record(&self, rec: &FinishedRequest) -> Result<(), super::super::usage::SinkError> {
			self.0.lock().unwrap().push(rec.clone());
			Ok(())
		}
	}

	fn context(sink: Arc<Kept>) -> DriveContext {
		DriveContext {
			id: "cmpl-1".into(),
			model: "m".into(),
			adapter: None,
			prompt_tokens: 7,
			stops: Vec::new(),
			submitted_at: Instant::now(),
			sink,
			pass: GatePass::open(),
			voucher: None,
			trace: None,
		}
	}

	#[test]
	fn a_client_that_hangs_up_pays_for_what_it_was_sent() {
		let sink = Arc::new(Kept::default());
		let (events_tx, events) = tokio::sync::mpsc::unbounded_channel();
		let (out, mut received) = tokio::sync::mpsc::unbounded_channel();
		let ctx = context(sink.clone());
		let driver =
			std::thread::spawn(move || drive(events, &Bytes(vec!["a", "b", "c"]), ctx, out));
		// Two tokens reach the client, then it hangs up; the engine has made a third.
		for id in [0, 1] {
			events_tx.send(GenerateEvent::Token { id }).unwrap();
			assert!(matches!(received.blocking_recv(), Some(TextEvent::Delta(_))));
		}
		drop(received);
		events_tx.send(GenerateEvent::Token { id: 2 }).unwrap();
		driver.join().unwrap();
		let kept = sink.0.lock().unwrap();
		assert_eq!(kept.len(), 1, "the request is recorded once");
		let rec = &kept[0];
		assert_eq!((rec.prompt_tokens, rec.completion_tokens), (7, 2));
		assert_eq!(rec.finish_reason, Finish::Disconnected);
		assert_eq!(rec.response_sha256, <[u8; 32]>::from(Sha256::digest(b"abc")));
		// The engine's events are dropped: the sequence is cancelled there.
		assert!(events_tx.send(GenerateEvent::Token { id: 0 }).is_err());
	}

	#[test]
	fn a_client_gone_before_any_text_pays_for_its_prompt() {
		let sink = Arc::new(Kept::default());
		let (events_tx, events) = tokio::sync::mpsc::unbounded_channel();
		let (out, received) = tokio::sync::mpsc::unbounded_channel();
		drop(received);
		events_tx.send(GenerateEvent::Token { id: 0 }).unwrap();
		drive(events, &Bytes(vec!["a"]), context(sink.clone()), out);
		let kept = sink.0.lock().unwrap();
		assert_eq!((kept[0].prompt_tokens, kept[0].completion_tokens), (7, 0));
	}

	#[test]
	fn stop_strings_are_trimmed_and_partial_matches_held_back() {
		let mut m = StopMatcher::new(vec!["\n\n".into(), "END".into(), String::new()]);
		assert_eq!(m.push("hello E"), Matched::Continue("hello ".into()));
		assert_eq!(m.push("N"), Matched::Continue(String::new()));
		assert_eq!(m.push("X\n"), Matched::Continue("ENX".into()));
		assert_eq!(m.push("\nmore"), Matched::Stop(String::new()));

		let mut m = StopMatcher::new(vec!["b".into(), "abc".into()]);
		assert_eq!(m.push("xxab"), Matched::Stop("xxa".into()));

		let mut m = StopMatcher::new(vec!["END".into()]);
		assert_eq!(m.push("tail E"), Matched::Continue("tail ".into()));
		assert_eq!(m.finish(), "E");
		assert!(!StopMatcher::new(vec![]).is_active());
	}
}
