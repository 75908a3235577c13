//! From a request to prompt tokens: the chat template and tokenisation.
//!
//! Chat rendering lives in one function, [`render_chat`]: with the model's own chat template
//! when it carries one ([`ChatTemplate`], the Jinja `chat_template` of a Hugging Face
//! `tokenizer_config.json`, or GGUF's `tokenizer.chat_template` kept in
//! [`Model::chat_template`](crate::engine::Model::chat_template)), else with the documented
//! fallback template.

use std::{collections::BTreeMap, path::Path};

use minijinja::{value::Value, Environment, Error, ErrorKind};

use super::openai::{ChatMessage, MessageContent};

/// A model's own chat template (Jinja, rendered as Hugging Face's `apply_chat_template` does:
/// `trim_blocks` and `lstrip_blocks` on, `messages`, `add_generation_prompt`, `bos_token` and
/// `eos_token` in the context, `raise_exception` and Python's common string methods available).
pub struct ChatTemplate {
	env: Environment<'static>,
	bos_token: String,
	eos_token: String,
}

impl std::fmt::Debug for ChatTemplate {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		f.debug_struct("ChatTemplate").finish_non_exhaustive()
	}
}

/// `bos_token` / `eos_token` in `tokenizer_config.json`: a string or `{"content": …}`.
fn special_token(config: &serde_json::Value, key: &str) -> String {
	match config.get(key) {
		Some(serde_json::Value::String(s)) => s.clone(),
		Some(v) => v.get("content").and_then(|c| c.as_str()).unwrap_or_default().to_string(),
		None => String::new(),
	}
}

impl ChatTemplate {
	/// Compile a template.
	pub fn new(source: &str, bos_token: String, eos_token: String) -> Result<Self, String> {
		let mut env = Environment::new();
		let syntax = minijinja::syntax::SyntaxConfig::builder()
			.trim_blocks(true)
			.lstrip_blocks(true)
			.build()
			.map_err(|e| e.to_string())?;
		env.set_syntax(syntax);
		env.add_function("raise_exception", |message: String| -> Result<Value, Error> {
			Err(Error::new(ErrorKind::InvalidOperation, message))
		});
		env.set_unknown_method_callback(python_string_methods);
		env.add_template_owned("chat", source.to_string()).map_err(|e| e.to_string())?;
		Ok(ChatTemplate { env, bos_token, eos_token })
	}

	/// The template of the model in `dir`: `chat_template` in its `tokenizer_config.json`, if
	/// there is one (a string; the named-template list form uses its `default` entry).
	pub fn from_model_dir(dir: &Path) -> Result<Option<Self>, String> {
		let path = dir.join("tokenizer_config.json");
		let Ok(bytes) = std::fs::read(&path) else { return Ok(None) };
		let config: serde_json::Value =
			serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
		let source = match config.get("chat_template") {
			Some(serde_json::Value::String(s)) => s.clone(),
			Some(serde_json::Value::Array(named)) => match named
				.iter()
				.find(|t| t.get("name").and_then(|n| n.as_str()) == Some("default"))
			{
				Some(t) => {
					t.get("template").and_then(|t| t.as_str()).unwrap_or_default().to_string()
				},
				None => return Ok(None),
			},
			_ => return Ok(None),
		};
		let bos = special_token(&config, "bos_token");
		let eos = special_token(&config, "eos_token");
		Self::new(&source, bos, eos).map(Some).map_err(|e| format!("{}: {e}", path.display()))
	}

	/// The template the model carries itself ([`Model::chat_template`](crate::engine::Model),
	/// from a GGUF file), with its BOS and EOS tokens' text from its tokenizer and config.
	pub fn from_model(model: &crate::engine::Model) -> Result<Option<Self>, String> {
		let Some(source) = &model.chat_template else { return Ok(None) };
		let text =
			|id: Option<u32>| id.and_then(|id| model.tokenizer.id_to_token(id)).unwrap_or_default();
		let bos = text(model.config.bos_token_id);
		let eos = text(model.eos_token_ids().first().copied());
		Self::new(source, bos, eos).map(Some).map_err(|e| format!("{}: {e}", model.id))
	}

	/// Renders `(role, content)` messages with the generation prompt opened (what
	/// [`render_chat`] does after checking the request's messages).
	pub fn render_plain(&self, messages: &[(&str, &str)]) -> Result<String, String> {
		self.render(messages.iter().map(|(r, c)| (r.to_string(), c.to_string())).collect())
	}

	fn render(&self, messages: Vec<(String, String)>) -> Result<String, String> {
		let messages: Vec<Value> = messages
			.into_iter()
			.map(|(role, content)| {
				let mut m = BTreeMap::new();
				m.insert("role".to_string(), Value::from(role));
				m.insert("content".to_string(), Value::from(content));
				Value::from(m)
			})
			.collect();
		let template = self.env.get_template("chat").map_err(|e| e.to_string())?;
		template
			.render(minijinja::context! {
				messages => messages,
				add_generation_prompt => true,
				bos_token => self.bos_token.clone(),
				eos_token => self.eos_token.clone(),
			})
			.map_err(|e| format!("the model's chat template failed: {e}"))
	}
}

/// `str.strip()`, `startswith()` and friends, which Hugging Face templates call.
fn python_string_methods(
	_state: &mut minijinja::State,
	value: &Value,
	method: &str,
	args: &[Value],
) -> Result<Value, Error> {
	let Some(s) = value.as_str() else {
		return Err(Error::new(ErrorKind::UnknownMethod, format!("no method {method}")));
	};
	let arg = |i: usize| args.get(i).and_then(|a| a.as_str());
	let chars = |i: usize| -> Vec<char> { arg(i).map_or_else(Vec::new, |c| c.chars().collect()) };
	let trimmed = |i: usize, f: &dyn Fn(&str, &[char]) -> String| -> String {
		match arg(i) {
			Some(_) => f(s, &chars(i)),
			None => f(s, &[' ', '\t', '\n', '\r', '\x0b', '\x0c']),
		}
	};
	Ok(match method {
		"strip" => Value::from(trimmed(0, &|s, c| s.trim_matches(c).to_string())),
		"lstrip" => Value::from(trimmed(0, &|s, c| s.trim_start_matches(c).to_string())),
		"rstrip" => Value::from(trimmed(0, &|s, c| s.trim_end_matches(c).to_string())),
		"startswith" => Value::from(arg(0).is_some_and(|p| s.starts_with(p))),
		"endswith" => Value::from(arg(0).is_some_and(|p| s.ends_with(p))),
		"upper" => Value::from(s.to_uppercase()),
		"lower" => Value::from(s.to_lowercase()),
		_ => {
			return Err(Error::new(ErrorKind::UnknownMethod, format!("no string method {method}")))
		},
	})
}

/// Render a conversation as one prompt text; returns the text and whether tokenising it should
/// add the tokenizer's special tokens (not when the model's template wrote them itself, as
/// `apply_chat_template` does).
///
/// Without a model template, the fallback template is:
///
/// ```text
/// <|system|>
/// You are terse.
/// <|user|>
/// Hello
/// <|assistant|>
/// ```
///
/// one `<|role|>\ncontent\n` block per message, then `<|assistant|>\n` to open the answer.
/// Text content parts are concatenated; other kinds of parts are refused.
pub fn render_chat(
	messages: &[ChatMessage],
	template: Option<&ChatTemplate>,
) -> Result<(String, bool), String> {
	let mut plain = Vec::with_capacity(messages.len());
	for (i, message) in messages.iter().enumerate() {
		let role = message.role.trim();
		if role.is_empty() || role.contains(['<', '>', '|', '\n']) {
			return Err(format!("messages[{i}].role {:?} is not a valid role", message.role));
		}
		let mut content = String::new();
		match &message.content {
			None => {},
			Some(MessageContent::Text(text)) => content.push_str(text),
			Some(MessageContent::Parts(parts)) => {
				for (j, part) in parts.iter().enumerate() {
					match (part.kind.as_str(), &part.text) {
						("text", Some(text)) => content.push_str(text),
						(kind, _) => {
							return Err(format!(
								"messages[{i}].content[{j}]: only text parts are supported, not {kind:?}"
							))
						},
					}
				}
			},
		}
		plain.push((role.to_string(), content));
	}
	if let Some(template) = template {
		return template.render(plain).map(|text| (text, false));
	}
	let mut out = String::new();
	for (role, content) in plain {
		out.push_str("<|");
		out.push_str(&role);
		out.push_str("|>\n");
		out.push_str(&content);
		out.push('\n');
	}
	out.push_str("<|assistant|>\n");
	Ok((out, true))
}

/// Tokenise prompt text with the model's tokenizer, adding its special tokens (BOS, …) when
/// `add_special_tokens`. Blocking: call it with `spawn_blocking`.
pub fn tokenize(
	tokenizer: &tokenizers::Tokenizer,
	text: &str,
	add_special_tokens: bool,
) -> Result<Vec<u32>, String> {
	tokenizer
		.encode(text, add_special_tokens)
		.map(|e| e.get_ids().to_vec())
		.map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::api::openai::ContentPart;

	fn msg(role: &str, content: Option<MessageContent>) -> ChatMessage {
		ChatMessage { role: role.into(), content }
	}

	#[test]
	fn chat_renders_the_documented_fallback_template() {
		let (text, special) = render_chat(
			&[
				msg("system", Some(MessageContent::Text("Be terse.".into()))),
				msg(
					"user",
					Some(MessageContent::Parts(vec![ContentPart {
						kind: "text".into(),
						text: Some("Hi".into()),
					}])),
				),
				msg("assistant", None),
			],
			None,
		)
		.expect("renders");
		assert_eq!(text, "<|system|>\nBe terse.\n<|user|>\nHi\n<|assistant|>\n\n<|assistant|>\n");
		assert!(special);
		assert!(render_chat(&[msg("us|er", None)], None).is_err());
		let image = ContentPart { kind: "image_url".into(), text: None };
		assert!(
			render_chat(&[msg("user", Some(MessageContent::Parts(vec![image])))], None).is_err()
		);
	}

	#[test]
	fn chat_renders_a_model_template() {
		let chatml = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + \
		              message['content'].strip() + '<|im_end|>' + '\\n'}}{% endfor %}\
		              {% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
		let t = ChatTemplate::new(chatml, String::new(), "<|im_end|>".into()).expect("compiles");
		let (text, special) =
			render_chat(&[msg("user", Some(MessageContent::Text(" Hi ".into())))], Some(&t))
				.expect("renders");
		assert_eq!(text, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
		assert!(!special);
		let failing = ChatTemplate::new(
			"{{ raise_exception('no system role') }}",
			String::new(),
			String::new(),
		)
		.expect("compiles");
		let err = render_chat(&[msg("system", None)], Some(&failing)).expect_err("raises");
		assert!(err.contains("no system role"), "{err}");
	}
}
