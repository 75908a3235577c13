//! Streaming answers as server-sent events, in OpenAI's format: one `data: {chunk}` event per
//! piece of text, a last chunk with `finish_reason` and `usage`, then `data: [DONE]`.
//!
//! A failure after the stream started is sent as a `data: {"error": …}` event before `[DONE]`
//! (the status line has gone out already). Dropping the stream (the client hung up) drops the
//! text receiver, which ends the driver and cancels the sequence in the engine.

use std::{convert::Infallible, time::Duration};

use axum::response::{
	sse::{Event, KeepAlive, Sse},
	IntoResponse, Response,
};
use futures::{stream, Stream, StreamExt};
use serde::Serialize;
use tokio::sync::mpsc::UnboundedReceiver;

use super::{
	error::ApiError,
	openai::{
		ChatChunkChoice, ChatCompletionChunk, ChatDelta, CompletionChoice, CompletionResponse,
		Endpoint, Lineage, Usage,
	},
};
use crate::infer::{
	generate::{Finished, RequestMeta},
	state::Admission,
	text::TextEvent,
	InferError,
};

/// What one stream is made of: the request's identity, its text events, and whatever must live
/// as long as the stream (the admission permit).
pub struct StreamParts {
	/// The request's id, model and creation time.
	pub meta: RequestMeta,
	/// Text from the driver.
	pub events: UnboundedReceiver<TextEvent>,
	/// Called once with the summary when the request finishes (metrics).
	pub on_finish: Option<Finished>,
	/// The admission permit, released when the stream ends or is dropped.
	pub admission: Admission,
}

enum Phase {
	Start,
	Running,
	Ended,
}

/// The SSE response for a streaming request.
pub fn stream_response(endpoint: Endpoint, parts: StreamParts) -> Response {
	Sse::new(events(endpoint, parts))
		.keep_alive(KeepAlive::new().interval(Duration::from_secs(10)))
		.into_response()
}

fn data(value: &impl Serialize) -> Event {
	match serde_json::to_string(value) {
		Ok(json) => Event::default().data(json),
		Err(e) => Event::default().data(
			serde_json::json!({"error": {"message": e.to_string(), "type": "server_error"}})
				.to_string(),
		),
	}
}

fn chunk(
	endpoint: Endpoint,
	meta: &RequestMeta,
	text: Option<String>,
	role: bool,
	finish: Option<&str>,
	usage: Option<Usage>,
	lineage: Option<Lineage>,
) -> Event {
	match endpoint {
		Endpoint::Completions => data(&CompletionResponse {
			id: meta.id.clone(),
			object: "text_completion".into(),
			created: meta.created,
			model: meta.model.clone(),
			choices: vec![CompletionChoice {
				index: 0,
				text: text.unwrap_or_default(),
				logprobs: None,
				finish_reason: finish.map(str::to_string),
			}],
			usage,
			lineage,
		}),
		Endpoint::Chat => data(&ChatCompletionChunk {
			id: meta.id.clone(),
			object: "chat.completion.chunk".into(),
			created: meta.created,
			model: meta.model.clone(),
			choices: vec![ChatChunkChoice {
				index: 0,
				delta: ChatDelta { role: role.then(|| "assistant".to_string()), content: text },
				finish_reason: finish.map(str::to_string),
			}],
			usage,
			lineage,
		}),
	}
}

fn events(endpoint: Endpoint, parts: StreamParts) -> impl Stream<Item = Result<Event, Infallible>> {
	stream::unfold((parts, Phase::Start), move |(mut parts, phase)| async move {
		match phase {
			Phase::Ended => None,
			// Chat streams open with the assistant's role, as OpenAI's do.
			Phase::Start if endpoint == Endpoint::Chat => {
				let first =
					chunk(endpoint, &parts.meta, Some(String::new()), true, None, None, None);
				Some((vec![first], (parts, Phase::Running)))
			},
			Phase::Start | Phase::Running => match parts.events.recv().await {
				Some(TextEvent::Delta(text)) => {
					let ev = chunk(endpoint, &parts.meta, Some(text), false, None, None, None);
					Some((vec![ev], (parts, Phase::Running)))
				},
				Some(TextEvent::Done(summary)) => {
					if let Some(on_finish) = parts.on_finish.take() {
						on_finish(&summary);
					}
					let text = (endpoint == Endpoint::Completions).then(String::new);
					let last = chunk(
						endpoint,
						&parts.meta,
						text,
						false,
						Some(summary.finish.as_str()),
						Some(Usage::from(summary.usage)),
						summary.lineage.clone(),
					);
					Some((vec![last, Event::default().data("[DONE]")], (parts, Phase::Ended)))
				},
				Some(TextEvent::Failed(message)) => {
					let err = data(&ApiError::from(InferError::Generation(message)).body());
					Some((vec![err, Event::default().data("[DONE]")], (parts, Phase::Ended)))
				},
				None => {
					let err =
						data(&ApiError::internal("the generation ended without a result").body());
					Some((vec![err, Event::default().data("[DONE]")], (parts, Phase::Ended)))
				},
			},
		}
	})
	.flat_map(|events| stream::iter(events.into_iter().map(Ok)))
}
