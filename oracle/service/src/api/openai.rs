//! The OpenAI wire shapes the API speaks (`/v1/completions`, `/v1/chat/completions`,
//! `/v1/models`) and the vLLM shapes of `/v1/load_lora_adapter` / `/v1/unload_lora_adapter`.
//!
//! Requests accept (and ignore) fields this server does not implement, as OpenAI-compatible
//! servers do; fields it implements are checked in the handlers (`api::routes`).

use serde::{Deserialize, Serialize};

pub use crate::infer::lineage::Lineage;
use crate::infer::text::TokenUsage;

/// A completion prompt: text, or token ids. A one-element batch of either is accepted too.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Prompt {
	/// Text, tokenised with the model's tokenizer.
	Text(String),
	/// Token ids, used as they are.
	Tokens(Vec<u32>),
	/// A batch of texts (only one is supported).
	TextBatch(Vec<String>),
	/// A batch of token lists (only one is supported).
	TokenBatch(Vec<Vec<u32>>),
}

/// `stop`: one string or a list.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Stop {
	/// One stop string.
	One(String),
	/// Several stop strings.
	Many(Vec<String>),
}

impl Stop {
	/// The stop strings, empty ones dropped.
	pub fn into_vec(self) -> Vec<String> {
		let all = match self {
			Stop::One(s) => vec![s],
			Stop::Many(v) => v,
		};
		all.into_iter().filter(|s| !s.is_empty()).collect()
	}
}

/// The sampling and length fields shared by both generation endpoints.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct GenerationFields {
	/// The most tokens to generate.
	pub max_tokens: Option<u64>,
	/// Sampling temperature; 0 is greedy.
	pub temperature: Option<f64>,
	/// Nucleus sampling mass.
	pub top_p: Option<f64>,
	/// Keep only the `top_k` most likely tokens (vLLM extension; 0 or -1 disables).
	pub top_k: Option<i64>,
	/// Seed for sampling (same seed and input, same output).
	pub seed: Option<u64>,
	/// Stop strings: generation ends before the first one, which is not returned.
	pub stop: Option<Stop>,
	/// Choices to generate: only 1 is supported.
	pub n: Option<u64>,
	/// Stream the answer as server-sent events.
	#[serde(default)]
	pub stream: bool,
	/// Generate `max_tokens` tokens even past an end-of-sequence token (vLLM extension, for
	/// benchmarks).
	#[serde(default)]
	pub ignore_eos: bool,
}

/// `POST /v1/completions` body.
#[derive(Clone, Debug, Deserialize)]
pub struct CompletionRequest {
	/// The base model's id or an adapter's name.
	pub model: String,
	/// The prompt.
	pub prompt: Prompt,
	/// Sampling and length.
	#[serde(flatten)]
	pub gen: GenerationFields,
}

/// The content of a chat message: text, or a list of parts of which the text parts are used.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum MessageContent {
	/// Plain text.
	Text(String),
	/// Content parts (`{"type": "text", "text": …}`).
	Parts(Vec<ContentPart>),
}

/// One part of a message's content.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct ContentPart {
	/// The part's type; only `text` is supported.
	#[serde(rename = "type")]
	pub kind: String,
	/// The text of a `text` part.
	#[serde(default)]
	pub text: Option<String>,
}

/// One chat message.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct ChatMessage {
	/// `system`, `user`, `assistant`, …
	pub role: String,
	/// The message's content (absent or null counts as empty).
	#[serde(default)]
	pub content: Option<MessageContent>,
}

/// `POST /v1/chat/completions` body.
#[derive(Clone, Debug, Deserialize)]
pub struct ChatCompletionRequest {
	/// The base model's id or an adapter's name.
	pub model: String,
	/// The conversation so far.
	pub messages: Vec<ChatMessage>,
	/// The newer name of `max_tokens`; `max_tokens` wins when both are given.
	pub max_completion_tokens: Option<u64>,
	/// Sampling and length.
	#[serde(flatten)]
	pub gen: GenerationFields,
}

/// Which generation endpoint a request came through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
	/// `/v1/completions`.
	Completions,
	/// `/v1/chat/completions`.
	Chat,
}

/// Token counts of one request.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Usage {
	/// Tokens in the prompt.
	pub prompt_tokens: usize,
	/// Tokens generated.
	pub completion_tokens: usize,
	/// The sum of both.
	pub total_tokens: usize,
}

impl Usage {
	/// Usage from the two counts.
	pub fn new(prompt_tokens: usize, completion_tokens: usize) -> Self {
		Self { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens }
	}
}

impl From<TokenUsage> for Usage {
	fn from(u: TokenUsage) -> Self {
		Usage::new(u.prompt_tokens, u.completion_tokens)
	}
}

/// One choice of a text completion (or a chunk of one, when streaming).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CompletionChoice {
	/// Always 0 (`n` is 1).
	pub index: u32,
	/// The text (the whole completion, or this chunk's part of it).
	pub text: String,
	/// Always null (log-probabilities are not returned).
	pub logprobs: Option<serde_json::Value>,
	/// `stop` or `length` on the last chunk / the whole answer; null on other chunks.
	pub finish_reason: Option<String>,
}

/// `POST /v1/completions` answer, and each streamed chunk of one (`object` is
/// `text_completion` in both, as OpenAI does).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CompletionResponse {
	/// `cmpl-…`.
	pub id: String,
	/// `text_completion`.
	pub object: String,
	/// Unix time, seconds.
	pub created: u64,
	/// The model or adapter name the request named.
	pub model: String,
	/// One choice.
	pub choices: Vec<CompletionChoice>,
	/// Token counts: on the answer, and on the last streamed chunk.
	#[serde(skip_serializing_if = "Option::is_none", default)]
	pub usage: Option<Usage>,
	/// Lineage's attribution of the answer (the records and contributors it repeats), on the
	/// answer and on the last streamed chunk, when the adapter is traced. OpenAI clients ignore it.
	#[serde(skip_serializing_if = "Option::is_none", default)]
	pub lineage: Option<Lineage>,
}

/// An assistant message in a chat answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AssistantMessage {
	/// `assistant`.
	pub role: String,
	/// The generated text.
	pub content: String,
}

/// One choice of a chat answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChatChoice {
	/// Always 0.
	pub index: u32,
	/// The answer.
	pub message: AssistantMessage,
	/// `stop` or `length`.
	pub finish_reason: Option<String>,
}

/// `POST /v1/chat/completions` answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChatCompletionResponse {
	/// `chatcmpl-…`.
	pub id: String,
	/// `chat.completion`.
	pub object: String,
	/// Unix time, seconds.
	pub created: u64,
	/// The model or adapter name the request named.
	pub model: String,
	/// One choice.
	pub choices: Vec<ChatChoice>,
	/// Token counts.
	pub usage: Usage,
	/// Lineage's attribution of the answer (the records and contributors it repeats), on the
	/// answer and on the last streamed chunk, when the adapter is traced. OpenAI clients ignore it.
	#[serde(skip_serializing_if = "Option::is_none", default)]
	pub lineage: Option<Lineage>,
}

/// The change a streamed chat chunk brings.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ChatDelta {
	/// `assistant`, on the first chunk only.
	#[serde(skip_serializing_if = "Option::is_none", default)]
	pub role: Option<String>,
	/// New text.
	#[serde(skip_serializing_if = "Option::is_none", default)]
	pub content: Option<String>,
}

/// One choice of a streamed chat chunk.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChatChunkChoice {
	/// Always 0.
	pub index: u32,
	/// What this chunk adds.
	pub delta: ChatDelta,
	/// `stop` or `length` on the last chunk; null before.
	pub finish_reason: Option<String>,
}

/// One streamed chunk of a chat answer (`chat.completion.chunk`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChatCompletionChunk {
	/// `chatcmpl-…`, the same on every chunk.
	pub id: String,
	/// `chat.completion.chunk`.
	pub object: String,
	/// Unix time, seconds.
	pub created: u64,
	/// The model or adapter name the request named.
	pub model: String,
	/// One choice.
	pub choices: Vec<ChatChunkChoice>,
	/// Token counts, on the last chunk.
	#[serde(skip_serializing_if = "Option::is_none", default)]
	pub usage: Option<Usage>,
	/// Lineage's attribution of the answer (the records and contributors it repeats), on the
	/// answer and on the last streamed chunk, when the adapter is traced. OpenAI clients ignore it.
	#[serde(skip_serializing_if = "Option::is_none", default)]
	pub lineage: Option<Lineage>,
}

/// One entry of `GET /v1/models`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ModelCard {
	/// The name to pass as `model`.
	pub id: String,
	/// `model`.
	pub object: String,
	/// Unix time, seconds (when the server started, or the adapter was added).
	pub created: u64,
	/// `lineage`.
	pub owned_by: String,
	/// The base model: its own id; an adapter: its artifact hash (`0x…`), what the chain knows it
	/// by.
	pub root: String,
	/// The base model's id for an adapter; null for the base model.
	pub parent: Option<String>,
	/// The longest prompt plus completion, in tokens (base model only).
	#[serde(skip_serializing_if = "Option::is_none", default)]
	pub max_model_len: Option<usize>,
}

/// `GET /v1/models` answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ModelList {
	/// `list`.
	pub object: String,
	/// The base model first, then the adapters by name.
	pub data: Vec<ModelCard>,
}

/// `POST /v1/load_lora_adapter` body (vLLM's names).
#[derive(Clone, Debug, Deserialize)]
pub struct LoadLoraAdapterRequest {
	/// The name to serve it under (the `model` clients pass).
	pub lora_name: String,
	/// A folder on the server holding `adapter_config.json` and `adapter_model.safetensors`.
	pub lora_path: String,
}

/// `POST /v1/unload_lora_adapter` body.
#[derive(Clone, Debug, Deserialize)]
pub struct UnloadLoraAdapterRequest {
	/// The name it is served under.
	pub lora_name: String,
}

/// The answer of the adapter management endpoints.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AdapterResponse {
	/// What happened, in words.
	pub message: String,
	/// The adapter's name.
	pub lora_name: String,
	/// Its artifact hash, `0x…`.
	pub artifact_hash: String,
}

/// The body of every error answer: `{"error": {…}}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ErrorResponse {
	/// The error.
	pub error: ErrorBody,
}

/// An error, in OpenAI's shape.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ErrorBody {
	/// What went wrong, for people.
	pub message: String,
	/// `invalid_request_error`, `not_found_error`, `rate_limit_error`, `server_error`, …
	#[serde(rename = "type")]
	pub kind: String,
	/// The request field at fault, when there is one.
	pub param: Option<String>,
	/// A stable machine-readable code, when there is one.
	pub code: Option<String>,
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn prompts_and_stops_parse_in_every_shape() {
		let text: CompletionRequest =
			serde_json::from_str(r#"{"model":"m","prompt":"hi","stop":"\n"}"#).expect("text");
		assert_eq!(text.prompt, Prompt::Text("hi".into()));
		assert_eq!(text.gen.stop.map(Stop::into_vec), Some(vec!["\n".to_string()]));
		let tokens: CompletionRequest =
			serde_json::from_str(r#"{"model":"m","prompt":[1,2,3],"stop":["a",""]}"#).expect("ids");
		assert_eq!(tokens.prompt, Prompt::Tokens(vec![1, 2, 3]));
		assert_eq!(tokens.gen.stop.map(Stop::into_vec), Some(vec!["a".to_string()]));
		let batch: CompletionRequest =
			serde_json::from_str(r#"{"model":"m","prompt":["a"],"extra":1}"#).expect("batch");
		assert_eq!(batch.prompt, Prompt::TextBatch(vec!["a".into()]));
		let chat: ChatCompletionRequest = serde_json::from_str(
			r#"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"x"}]},
			{"role":"assistant","content":null}],"stream":true,"max_tokens":3}"#,
		)
		.expect("chat");
		assert!(chat.gen.stream);
		assert_eq!(chat.gen.max_tokens, Some(3));
		assert_eq!(chat.messages[1].content, None);
	}
}
