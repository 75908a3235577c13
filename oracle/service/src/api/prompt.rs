//! From OpenAI's chat messages to the engine's conversation: text content is taken as it is,
//! text parts are joined, other kinds of parts are refused.

use lineage_engine::ChatTurn;

use super::{
	error::ApiError,
	openai::{ChatMessage, MessageContent},
};

/// The conversation `messages` hold, or a 400 naming the message at fault.
pub fn chat_turns(messages: Vec<ChatMessage>) -> Result<Vec<ChatTurn>, ApiError> {
	let mut turns = Vec::with_capacity(messages.len());
	for (i, message) in messages.into_iter().enumerate() {
		let mut content = String::new();
		match message.content {
			None => {},
			Some(MessageContent::Text(text)) => content = text,
			Some(MessageContent::Parts(parts)) => {
				for (j, part) in parts.into_iter().enumerate() {
					match (part.kind.as_str(), part.text) {
						("text", Some(text)) => content.push_str(&text),
						(kind, _) => {
							return Err(ApiError::invalid(
								format!(
									"messages[{i}].content[{j}]: only text parts are supported, \
									 not {kind:?}"
								),
								"messages",
							))
						},
					}
				}
			},
		}
		turns.push(ChatTurn { role: message.role, content });
	}
	Ok(turns)
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::api::openai::ContentPart;

	fn msg(role: &str, content: Option<MessageContent>) -> ChatMessage {
		ChatMessage { role: role.into(), content }
	}

	#[test]
	fn text_parts_are_joined_and_other_parts_refused() {
		let turns = chat_turns(vec![
			msg("system", Some(MessageContent::Text("Be terse.".into()))),
			msg(
				"user",
				Some(MessageContent::Parts(vec![
					ContentPart { kind: "text".into(), text: Some("H".into()) },
					ContentPart { kind: "text".into(), text: Some("i".into()) },
				])),
			),
			msg("assistant", None),
		])
		.expect("converts");
		assert_eq!(
			turns,
			[
				ChatTurn::new("system", "Be terse."),
				ChatTurn::new("user", "Hi"),
				ChatTurn::new("assistant", "")
			]
		);
		let image = ContentPart { kind: "image_url".into(), text: None };
		let err = chat_turns(vec![msg("user", Some(MessageContent::Parts(vec![image])))])
			.expect_err("refused");
		assert_eq!(err.status(), axum::http::StatusCode::BAD_REQUEST);
	}
}
