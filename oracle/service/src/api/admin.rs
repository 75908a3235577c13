//! Who may manage the served adapters: the operator only, once inference is paid for.
//!
//! `POST /v1/load_lora_adapter` reads a folder on the oracle's disk and changes what is served,
//! so on a paid (chain-mode) listener it needs the operator's bearer token
//! (`Authorization: Bearer …`, the token read from `--admin-token-file`), and without a token
//! configured the routes are closed. A standalone server (no chain, nobody pays) keeps them open
//! unless a token is set, as vLLM does.

use std::{path::Path, sync::Arc};

use axum::{
	extract::{Request, State},
	http::header,
	middleware::Next,
	response::{IntoResponse, Response},
};

use super::error::ApiError;

/// The shortest token accepted (bytes): a token is a secret, not a password.
pub const MIN_TOKEN_LEN: usize = 16;

/// How the adapter-management routes are guarded.
#[derive(Clone, Debug, Default)]
pub enum AdminAccess {
	/// Anyone may call them (a standalone server with no token).
	#[default]
	Open,
	/// Only a request with `Authorization: Bearer <token>`.
	Token(Arc<str>),
	/// Nobody (a chain-mode server started without a token): 403.
	Closed,
}

impl AdminAccess {
	/// The access of a server: with `token`, only its bearer; without one, open when
	/// standalone and closed in chain mode.
	pub fn new(token: Option<String>, chain_mode: bool) -> Self {
		match token {
			Some(token) => AdminAccess::Token(token.into()),
			None if chain_mode => AdminAccess::Closed,
			None => AdminAccess::Open,
		}
	}
}

/// Reads an admin token from `path`: one line, at least [`MIN_TOKEN_LEN`] bytes, in a file its
/// group and others cannot read.
pub fn load_token_file(path: &Path) -> anyhow::Result<String> {
	#[cfg(unix)]
	{
		use std::os::unix::fs::PermissionsExt;
		let mode = std::fs::metadata(path)
			.map_err(|e| anyhow::anyhow!("reading the admin token {}: {e}", path.display()))?
			.permissions()
			.mode();
		if mode & 0o077 != 0 {
			anyhow::bail!(
				"the admin token {} is readable by its group or others (mode {:o}): chmod 600 it",
				path.display(),
				mode & 0o777
			);
		}
	}
	let text = std::fs::read_to_string(path)
		.map_err(|e| anyhow::anyhow!("reading the admin token {}: {e}", path.display()))?;
	let token = text.trim();
	if token.len() < MIN_TOKEN_LEN || token.chars().any(|c| c.is_whitespace() || c.is_control()) {
		anyhow::bail!(
			"the admin token in {} must be one word of at least {MIN_TOKEN_LEN} characters (for \
			 example `openssl rand -hex 32`)",
			path.display()
		);
	}
	Ok(token.to_string())
}

/// Whether `a` and `b` are equal, in time that depends only on their lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
	a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Middleware (`axum::middleware::from_fn_with_state(access, require_admin)`): passes the
/// request on when [`AdminAccess`] allows it; 401 `admin_token_required` for a missing or wrong
/// token, 403 `admin_closed` when the routes are closed.
pub async fn require_admin(
	State(access): State<AdminAccess>,
	req: Request,
	next: Next,
) -> Response {
	match &access {
		AdminAccess::Open => next.run(req).await,
		AdminAccess::Closed => ApiError::AdminClosed.into_response(),
		AdminAccess::Token(token) => {
			let given = req
				.headers()
				.get(header::AUTHORIZATION)
				.and_then(|v| v.to_str().ok())
				.and_then(|v| v.strip_prefix("Bearer "))
				.map(str::trim);
			match given {
				Some(given) if constant_time_eq(given.as_bytes(), token.as_bytes()) => {
					next.run(req).await
				},
				_ => ApiError::AdminTokenRequired.into_response(),
			}
		},
	}
}

#[cfg(test)]
mod tests {
	use axum::{routing::post, Router};

	use super::*;

	async fn serve(access: AdminAccess) -> String {
		let app = Router::new()
			.route("/v1/load_lora_adapter", post(|| async { "loaded" }))
			.layer(axum::middleware::from_fn_with_state(access, require_admin));
		let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
		let addr = listener.local_addr().unwrap();
		tokio::spawn(async move { axum::serve(listener, app).await });
		format!("http://{addr}/v1/load_lora_adapter")
	}

	async fn call(url: &str, token: Option<&str>) -> (u16, String) {
		let mut req = reqwest::Client::new().post(url);
		if let Some(token) = token {
			req = req.header("authorization", format!("Bearer {token}"));
		}
		let resp = req.send().await.unwrap();
		let status = resp.status().as_u16();
		(status, resp.text().await.unwrap())
	}

	#[tokio::test]
	async fn only_the_operators_token_passes() {
		let url = serve(AdminAccess::new(Some("s3cret-token-0123456789".into()), true)).await;
		assert_eq!(call(&url, Some("s3cret-token-0123456789")).await, (200, "loaded".into()));
		for token in [None, Some("s3cret-token-012345678"), Some("S3cret-token-0123456789")] {
			let (status, body) = call(&url, token).await;
			assert_eq!(status, 401, "{token:?}");
			assert!(body.contains("admin_token_required"), "{body}");
		}
	}

	#[tokio::test]
	async fn chain_mode_without_a_token_is_closed_and_standalone_is_open() {
		let closed = serve(AdminAccess::new(None, true)).await;
		let (status, body) = call(&closed, Some("anything-at-all-really")).await;
		assert_eq!(status, 403);
		assert!(body.contains("admin_closed") && body.contains("--admin-token-file"), "{body}");
		let open = serve(AdminAccess::new(None, false)).await;
		assert_eq!(call(&open, None).await.0, 200);
	}

	#[test]
	fn token_files_must_be_private_and_long_enough() {
		use std::os::unix::fs::PermissionsExt;
		let dir = lineage_testkit::temp_dir("admin-token");
		let path = dir.path().join("admin.token");
		std::fs::write(&path, "0123456789abcdef0123\n").unwrap();
		std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
		assert!(load_token_file(&path).unwrap_err().to_string().contains("chmod 600"));
		std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
		assert_eq!(load_token_file(&path).unwrap(), "0123456789abcdef0123");
		std::fs::write(&path, "short\n").unwrap();
		assert!(load_token_file(&path).is_err());
		assert!(load_token_file(&dir.path().join("absent")).is_err());
		assert!(constant_time_eq(b"abc", b"abc") && !constant_time_eq(b"abc", b"abd"));
		assert!(!constant_time_eq(b"abc", b"abcd"));
	}
}
