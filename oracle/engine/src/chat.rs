//! From a conversation to prompt tokens: the chat template and tokenisation.
//!
//! Chat rendering lives in one function, [`render_chat`]: with the model's own chat template
//! when it carries one ([`ChatTemplate`], the Jinja `chat_template` of a Hugging Face
//! `tokenizer_config.json`, or GGUF's `tokenizer.chat_template` kept in
//! [`Model::chat_template`](crate::Model::chat_template)), else with the documented
//! fallback template. The server and the fine-tuning tool render the same way, so a model is
//! trained on exactly the prompts it is served.

use std::{collections::BTreeMap, path::Path};

use minijinja::{value::Value, Environment, Error, ErrorKind};

use crate::model::Model;

/// What can go wrong rendering or tokenising a prompt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChatError {
	/// A message's role is empty or holds characters that would break the prompt's markup.
	#[error("messages[{index}].role {role:?} is not a valid role")]
	InvalidRole {
		/// The message's position in the conversation.
		index: usize,
		/// The role as given.
		role: String,
	},
	/// The chat template does not compile, or raised an error while rendering.
	#[error("{0}")]
	Template(String),
	/// The tokenizer failed on the rendered text.
	#[error("tokenizer: {0}")]
	Tokenizer(String),
}

/// One message of a conversation, as the template sees it: a role and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatTurn {
	/// `system`, `user`, `assistant`, …
	pub role: String,
	/// The message's text.
	pub content: String,
}

impl ChatTurn {
	/// A turn of `role` saying `content`.
	pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
		ChatTurn { role: role.into(), content: content.into() }
	}
}

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
	pub fn new(source: &str, bos_token: String, eos_token: String) -> Result<Self, ChatError> {
		let mut env = Environment::new();
		let syntax = minijinja::syntax::SyntaxConfig::builder()
			.trim_blocks(true)
			.lstrip_blocks(true)
			.build()
			.map_err(|e| ChatError::Template(e.to_string()))?;
		env.set_syntax(syntax);
		env.add_function("raise_exception", |message: String| -> Result<Value, Error> {
			Err(Error::new(ErrorKind::InvalidOperation, message))
		});
		env.set_unknown_method_callback(python_string_methods);
		env.add_template_owned("chat", source.to_string())
			.map_err(|e| ChatError::Template(e.to_string()))?;
		Ok(ChatTemplate { env, bos_token, eos_token })
	}

	/// The template of the model in `dir`: `chat_template` in its `tokenizer_config.json`, if
	/// there is one (a string; the named-template list form uses its `default` entry).
	pub fn from_model_dir(dir: &Path) -> Result<Option<Self>, ChatError> {
		let path = dir.join("tokenizer_config.json");
		let Ok(bytes) = std::fs::read(&path) else { return Ok(None) };
		let config: serde_json::Value = serde_json::from_slice(&bytes)
			.map_err(|e| ChatError::Template(format!("{}: {e}", path.display())))?;
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
		Self::new(&source, bos, eos)
			.map(Some)
			.map_err(|e| ChatError::Template(format!("{}: {e}", path.display())))
	}

	/// The template the model carries itself ([`Model::chat_template`], from a GGUF file), with
	/// its BOS and EOS tokens' text from its tokenizer and config.
	pub fn from_model(model: &Model) -> Result<Option<Self>, ChatError> {
		let Some(source) = &model.chat_template else { return Ok(None) };
		let text =
			|id: Option<u32>| id.and_then(|id| model.tokenizer.id_to_token(id)).unwrap_or_default();
		let bos = text(model.config.bos_token_id);
		let eos = text(model.eos_token_ids().first().copied());
		Self::new(source, bos, eos)
			.map(Some)
			.map_err(|e| ChatError::Template(format!("{}: {e}", model.id)))
	}

	/// Renders `(role, content)` messages with the generation prompt opened (what
	/// [`render_chat`] does after checking the request's messages).
	pub fn render_plain(&self, messages: &[(&str, &str)]) -> Result<String, ChatError> {
		self.render(messages.iter().map(|(r, c)| (r.to_string(), c.to_string())).collect())
	}

	fn render(&self, messages: Vec<(String, String)>) -> Result<String, ChatError> {
		let messages: Vec<Value> = messages
			.into_iter()
			.map(|(role, content)| {
				let mut m = BTreeMap::new();
				m.insert("role".to_string(), Value::from(role));
				m.insert("content".to_string(), Value::from(content));
				Value::from(m)
			})
			.collect();
		let template =
			self.env.get_template("chat").map_err(|e| ChatError::Template(e.to_string()))?;
		template
			.render(minijinja::context! {
				messages => messages,
				add_generation_prompt => true,
				bos_token => self.bos_token.clone(),
				eos_token => self.eos_token.clone(),
			})
			.map_err(|e| ChatError::Template(format!("the model's chat template failed: {e}")))
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
pub fn render_chat(
	messages: &[ChatTurn],
	template: Option<&ChatTemplate>,
) -> Result<(String, bool), ChatError> {
	let mut plain = Vec::with_capacity(messages.len());
	for (index, message) in messages.iter().enumerate() {
		let role = message.role.trim();
		if role.is_empty() || role.contains(['<', '>', '|', '\n']) {
			return Err(ChatError::InvalidRole { index, role: message.role.clone() });
		}
		plain.push((role.to_string(), message.content.clone()));
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
) -> Result<Vec<u32>, ChatError> {
	tokenizer
		.encode(text, add_special_tokens)
		.map(|e| e.get_ids().to_vec())
		.map_err(|e| ChatError::Tokenizer(e.to_string()))
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn chat_renders_the_documented_fallback_template() {
		let (text, special) = render_chat(
			&[
				ChatTurn::new("system", "Be terse."),
				ChatTurn::new("user", "Hi"),
				ChatTurn::new("assistant", ""),
			],
			None,
		)
		.expect("renders");
		assert_eq!(text, "<|system|>\nBe terse.\n<|user|>\nHi\n<|assistant|>\n\n<|assistant|>\n");
		assert!(special);
		assert_eq!(
			render_chat(&[ChatTurn::new("us|er", "")], None),
			Err(ChatError::InvalidRole { index: 0, role: "us|er".into() })
		);
	}

	#[test]
	fn chat_renders_a_model_template() {
		let chatml = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + \
		              message['content'].strip() + '<|im_end|>' + '\\n'}}{% endfor %}\
		              {% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
		let t = ChatTemplate::new(chatml, String::new(), "<|im_end|>".into()).expect("compiles");
		let (text, special) =
			render_chat(&[ChatTurn::new("user", " Hi ")], Some(&t)).expect("renders");
		assert_eq!(text, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
		assert!(!special);
		let failing = ChatTemplate::new(
			"{{ raise_exception('no system role') }}",
			String::new(),
			String::new(),
		)
		.expect("compiles");
		let err = render_chat(&[ChatTurn::new("system", "")], Some(&failing)).expect_err("raises");
		assert!(err.to_string().contains("no system role"), "{err}");
	}
}
