//! Who pays for a request: the payer's signed HTTP headers and the middleware that checks them.
//!
//! The signature scheme itself ([`PayerAuthorization`], the header names, signing) is
//! [`lineage_chain::payer`]'s, shared with the clients that sign; this module parses the
//! headers, checks them against this oracle's chain, operator and clock, and remembers nonces.
//!
//! A request names its payer, and the payer proves it by signing the request with their sr25519
//! wallet key (what a wallet's `signRaw` does). The oracle checks the signature before any
//! inference; the payer's escrow with this operator is checked afterwards, by the caller.
//!
//! # The headers and the signed message
//!
//! Five headers — `x-lineage-payer`, `x-lineage-timestamp`, `x-lineage-nonce`,
//! `x-lineage-spend-limit` and `x-lineage-signature` — carry the payer's sr25519 signature over
//! the 208-byte [`PayerAuthorization`] of the request: the chain, this operator, the payer, the
//! timestamp, the nonce, the spend limit, the method and path, and the body's sha256. Both are
//! laid out in [`lineage_chain::payer`] and [`lineage_primitives::payer`]. A verified request
//! carries a [`Voucher`] (its authorisation and signature, as the chain checks it) to the gate,
//! which refuses a spend limit too low for what the payer owes, and to the usage journal, which
//! keeps it as the payer's evidence and sends the best one with each batch.

use std::{fmt, sync::Arc};

use axum::{
	body::{Body, Bytes},
	extract::{Request, State},
	http::{header, HeaderMap},
	middleware::Next,
	response::{IntoResponse, Response},
};
use futures::StreamExt;
pub use lineage_chain::payer::{
	authorization, parse_account, sign_request, verify_signature, PayerAuthorization,
	RequestToSign, DEFAULT_MAX_SKEW_MS, DOMAIN, NONCE_HEADER, PAYER_HEADER, SIGNATURE_HEADER,
	SPEND_LIMIT_HEADER, TIMESTAMP_HEADER,
};
use lineage_chain::time::unix_time_ms;

use super::error::ApiError;
use crate::infer::{usage::Voucher, InferError};

/// What a request is checked against: this oracle's chain and operator, and the clock skew
/// allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PayerContext {
	/// The chain's genesis block hash.
	pub genesis_hash: [u8; 32],
	/// This oracle's operator account id.
	pub operator: [u8; 32],
	/// How far a request's timestamp may be from the server's clock, either way, in ms.
	pub max_skew_ms: u64,
}

impl PayerContext {
	/// The context for `operator` on the chain with `genesis_hash`, allowing
	/// [`DEFAULT_MAX_SKEW_MS`] of skew.
	pub fn new(genesis_hash: [u8; 32], operator: [u8; 32]) -> Self {
		PayerContext { genesis_hash, operator, max_skew_ms: DEFAULT_MAX_SKEW_MS }
	}
}

/// A request whose signature checked out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedPayer {
	/// The payer's account id.
	pub account: [u8; 32],
	/// The request's nonce (not yet checked for reuse: that is the caller's job).
	pub nonce: u64,
	/// When the request was signed, Unix milliseconds.
	pub timestamp_ms: u64,
	/// The signed authorisation, as the chain checks it.
	pub voucher: Voucher,
}

/// The payer of a request that passed [`require_payer`], in the request's extensions
/// (`Extension<Payer>` in a handler).
#[derive(Clone, Debug)]
pub struct Payer {
	/// The payer's account id.
	pub account: [u8; 32],
	/// The payer's signed authorisation of this request.
	pub voucher: Voucher,
}

/// Why a request's payer headers were refused. Each becomes a 401 ([`ApiError::Unauthorized`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PayerError {
	/// A header is absent.
	#[error(
		"missing the `{0}` header: sign the request with the payer's sr25519 key and send \
		 x-lineage-payer, x-lineage-timestamp, x-lineage-nonce and x-lineage-signature"
	)]
	Missing(&'static str),
	/// A header is present but not in its format.
	#[error("the `{header}` header is malformed: {reason}")]
	Malformed {
		/// The header at fault.
		header: &'static str,
		/// What is wrong and what is expected.
		reason: String,
	},
	/// The timestamp is further from the server's clock than allowed.
	#[error(
		"the request was signed {skew_ms} ms away from the server's time (at most {max} ms is \
		 allowed): sign each request with the current Unix time in ms in x-lineage-timestamp, \
		 and check the client's clock"
	)]
	Stale {
		/// How far the timestamp is from the server's clock, either way, in ms.
		skew_ms: u64,
		/// The most allowed, in ms.
		max: u64,
	},
	/// The signature is not the payer's over this request for this oracle.
	#[error(
		"the signature does not match the payer, the route, the body, the spend limit, this \
		 chain or this operator: sign the SCALE bytes of PayerAuthorization \
		 (\"lineage/request2\", the chain's genesis hash, the operator's account, the payer's \
		 account, timestamp and nonce as u64 little-endian, the spend limit as u128 \
		 little-endian, sha256 of \"METHOD /path\", sha256 of the exact body) with the payer's \
		 sr25519 key: see the README"
	)]
	BadSignature,
	/// The payer already used this nonce.
	#[error(
		"this payer already used the nonce in x-lineage-nonce: sign each request with a fresh \
		 nonce"
	)]
	Replayed,
}

impl From<PayerError> for ApiError {
	fn from(e: PayerError) -> Self {
		ApiError::Unauthorized(e.to_string())
	}
}

/// The route a request was sent to: its method and path (without the query), as the payer
/// signs them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route<'a> {
	/// `POST`.
	pub method: &'a str,
	/// `/v1/chat/completions`.
	pub path: &'a str,
}

/// Check a request's payer headers against its `route`, `body`, this oracle's `ctx` and the
/// time `now_ms` (Unix ms). It does not check that the nonce is fresh: the caller does (see
/// [`ReplayCheck`]).
pub fn verify(
	headers: &HeaderMap,
	route: Route<'_>,
	body: &[u8],
	ctx: &PayerContext,
	now_ms: u64,
) -> Result<VerifiedPayer, PayerError> {
	let account = parse_account(header(headers, PAYER_HEADER)?)
		.map_err(|e| PayerError::Malformed { header: PAYER_HEADER, reason: e.to_string() })?;
	let timestamp_ms = parse_decimal(headers, TIMESTAMP_HEADER, "Unix milliseconds")?;
	let nonce = parse_decimal(headers, NONCE_HEADER, "a u64")?;
	let spend_limit = parse_decimal(
		headers,
		SPEND_LIMIT_HEADER,
		"the most this operator may have charged the payer in total, in the smallest unit",
	)?;
	let signature = parse_signature(header(headers, SIGNATURE_HEADER)?)?;
	let skew_ms = now_ms.abs_diff(timestamp_ms);
	if skew_ms > ctx.max_skew_ms {
		return Err(PayerError::Stale { skew_ms, max: ctx.max_skew_ms });
	}
	let request = RequestToSign {
		method: route.method,
		path: route.path,
		body,
		timestamp_ms,
		nonce,
		spend_limit,
	};
	let auth = authorization(ctx.genesis_hash, ctx.operator, account, &request);
	let wrapped = verify_signature(&auth, &signature).ok_or(PayerError::BadSignature)?;
	let voucher =
		Voucher::signed(auth, wrapped, lineage_primitives::payer::sr25519_signature(signature));
	Ok(VerifiedPayer { account, nonce, timestamp_ms, voucher })
}

/// The one value of `name`, as text.
fn header<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a str, PayerError> {
	let mut values = headers.get_all(name).iter();
	let value = values.next().ok_or(PayerError::Missing(name))?;
	if values.next().is_some() {
		return Err(PayerError::Malformed { header: name, reason: "sent more than once".into() });
	}
	value
		.to_str()
		.map(str::trim)
		.map_err(|_| PayerError::Malformed { header: name, reason: "not visible ASCII".into() })
}

/// A decimal header (digits only) of an unsigned integer type.
fn parse_decimal<N: std::str::FromStr>(
	headers: &HeaderMap,
	name: &'static str,
	what: &str,
) -> Result<N, PayerError> {
	let text = header(headers, name)?;
	let malformed = || PayerError::Malformed {
		header: name,
		reason: format!("expected {what} as decimal digits, found `{text}`"),
	};
	if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
		return Err(malformed());
	}
	text.parse().map_err(|_| malformed())
}

/// `0x` and 128 hex digits.
fn parse_signature(text: &str) -> Result<[u8; 64], PayerError> {
	let malformed = |reason: String| PayerError::Malformed { header: SIGNATURE_HEADER, reason };
	let hex = text
		.strip_prefix("0x")
		.ok_or_else(|| malformed("expected 0x and 128 hex digits (no 0x found)".into()))?;
	let mut signature = [0u8; 64];
	hex::decode_to_slice(hex, &mut signature)
		.map_err(|e| malformed(format!("expected 0x and 128 hex digits ({e})")))?;
	Ok(signature)
}

/// Whether a (payer, nonce, timestamp ms) is fresh, remembering it if so: `Ok(true)` for a first
/// use, `Ok(false)` for a nonce this payer already used, `Err` when the store failed (the request
/// then gets a 500). It runs on the blocking pool. A store need remember a nonce only for
/// `2 × max_skew_ms` past its timestamp: older requests are refused as stale before it is asked.
pub type ReplayCheck =
	Arc<dyn Fn(&[u8; 32], u64, u64) -> Result<bool, ReplayStoreError> + Send + Sync>;

/// The nonce store failed (the request then gets a 500).
pub type ReplayStoreError = Box<dyn std::error::Error + Send + Sync>;

/// The state of [`require_payer`]: what requests are checked against, the largest body
/// buffered, and the nonce store.
#[derive(Clone)]
pub struct PayerAuth {
	/// This oracle's chain, operator and allowed skew.
	pub ctx: PayerContext,
	/// The largest request body, in bytes (beyond it, a 413).
	pub max_body_bytes: usize,
	/// How long the whole body may take to arrive (beyond it, a 408): a client that trickles
	/// its body does not hold an admission permit for long.
	pub body_timeout: std::time::Duration,
	/// Whether a nonce is fresh (and remember it).
	pub replay: ReplayCheck,
}

/// How long a request body may take to arrive by default: 30 seconds.
pub const DEFAULT_BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

impl PayerAuth {
	/// The state for `ctx`, bodies up to `max_body_bytes`, with `replay` as the nonce store.
	pub fn new(
		ctx: PayerContext,
		max_body_bytes: usize,
		replay: impl Fn(&[u8; 32], u64, u64) -> Result<bool, ReplayStoreError> + Send + Sync + 'static,
	) -> Self {
		PayerAuth {
			ctx,
			max_body_bytes,
			body_timeout: DEFAULT_BODY_TIMEOUT,
			replay: Arc::new(replay),
		}
	}
}

impl fmt::Debug for PayerAuth {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		f.debug_struct("PayerAuth")
			.field("ctx", &self.ctx)
			.field("max_body_bytes", &self.max_body_bytes)
			.finish_non_exhaustive()
	}
}

/// Middleware (`axum::middleware::from_fn_with_state(auth, require_payer)`): buffer the body
/// (413 beyond [`PayerAuth::max_body_bytes`]), [`verify`] the payer headers (401), check the
/// nonce is fresh (401 if reused, 500 if the store fails), then pass the request on with the
/// same body and a [`Payer`] in its extensions.
pub async fn require_payer(State(auth): State<PayerAuth>, req: Request, next: Next) -> Response {
	match authorize(&auth, req).await {
		Ok(req) => next.run(req).await,
		Err(e) => e.into_response(),
	}
}

/// [`require_payer`]'s checks: the request to pass on, or the error to answer with.
async fn authorize(auth: &PayerAuth, req: Request) -> Result<Request, ApiError> {
	let (mut parts, body) = req.into_parts();
	let bytes =
		tokio::time::timeout(auth.body_timeout, buffer(&parts.headers, body, auth.max_body_bytes))
			.await
			.map_err(|_| ApiError::BodyTimeout(auth.body_timeout))??;
	let route = Route { method: parts.method.as_str(), path: parts.uri.path() };
	let verified = verify(&parts.headers, route, &bytes, &auth.ctx, unix_time_ms())?;
	let replay = auth.replay.clone();
	let (account, nonce, timestamp_ms) = (verified.account, verified.nonce, verified.timestamp_ms);
	let fresh = tokio::task::spawn_blocking(move || replay(&account, nonce, timestamp_ms))
		.await
		.map_err(|e| ApiError::internal(format!("the nonce check panicked: {e}")))?
		.map_err(|e| ApiError::internal(format!("the nonce store failed: {e}")))?;
	if !fresh {
		return Err(PayerError::Replayed.into());
	}
	parts.extensions.insert(Payer { account, voucher: verified.voucher });
	Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// The whole body, or a 413 as soon as it is known to exceed `limit` bytes.
async fn buffer(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, ApiError> {
	let declared = headers
		.get(header::CONTENT_LENGTH)
		.and_then(|v| v.to_str().ok())
		.and_then(|v| v.parse::<u64>().ok());
	if declared.is_some_and(|n| n > limit as u64) {
		return Err(ApiError::BodyTooLarge);
	}
	let mut stream = body.into_data_stream();
	let mut buf = Vec::new();
	while let Some(chunk) = stream.next().await {
		let chunk = chunk.map_err(|e| {
			ApiError::Infer(InferError::InvalidRequest {
				message: format!("could not read the request body: {e}; send it again"),
				param: None,
			})
		})?;
		if buf.len() + chunk.len() > limit {
			return Err(ApiError::BodyTooLarge);
		}
		buf.extend_from_slice(&chunk);
	}
	Ok(Bytes::from(buf))
}

#[cfg(test)]
mod tests {
	use std::{collections::HashSet, sync::Mutex};

	use axum::{
		http::{HeaderValue, StatusCode},
		routing::post,
		Extension, Router,
	};
	use codec::Decode;
	use sha2::{Digest, Sha256};
	use subxt::utils::AccountId32;
	use subxt_signer::sr25519::dev;

	use super::*;

	const GENESIS: [u8; 32] = [7; 32];
	const OPERATOR: [u8; 32] = [9; 32];
	const NOW: u64 = 1_750_000_000_000;
	const BODY: &[u8] = br#"{"model":"m","prompt":"hi"}"#;

	fn ctx() -> PayerContext {
		PayerContext::new(GENESIS, OPERATOR)
	}

	fn to_map(headers: &[(&'static str, String)]) -> HeaderMap {
		let mut map = HeaderMap::new();
		for (name, value) in headers {
			map.insert(*name, HeaderValue::from_str(value).unwrap());
		}
		map
	}

	const ROUTE: Route<'static> = Route { method: "POST", path: "/v1/completions" };

	fn to_sign(body: &[u8], timestamp_ms: u64, nonce: u64) -> RequestToSign<'_> {
		RequestToSign {
			method: ROUTE.method,
			path: ROUTE.path,
			body,
			timestamp_ms,
			nonce,
			spend_limit: 1_000,
		}
	}

	fn signed(body: &[u8], timestamp_ms: u64, nonce: u64) -> HeaderMap {
		to_map(&sign_request(&dev::alice(), GENESIS, OPERATOR, &to_sign(body, timestamp_ms, nonce)))
	}

	fn alice() -> [u8; 32] {
		dev::alice().public_key().0
	}

	#[test]
	fn message_is_the_documented_layout() {
		let auth = authorization(GENESIS, OPERATOR, alice(), &to_sign(BODY, NOW, 42));
		let sha: [u8; 32] = Sha256::digest(BODY).into();
		let target: [u8; 32] = Sha256::digest(b"POST /v1/completions").into();
		let expected = [
			&b"lineage/request2"[..],
			&GENESIS,
			&OPERATOR,
			&alice(),
			&NOW.to_le_bytes(),
			&42u64.to_le_bytes(),
			&1_000u128.to_le_bytes(),
			&target,
			&sha,
		]
		.concat();
		assert_eq!(auth.message(), expected);
		assert_eq!(auth.message().len(), 208);
		assert_eq!(PayerAuthorization::decode(&mut &expected[..]).unwrap(), auth);
		assert_eq!(auth.wrapped_message(), [&b"<Bytes>"[..], &expected, b"</Bytes>"].concat());
	}

	#[test]
	fn sign_then_verify_works() {
		let got = verify(&signed(BODY, NOW, 42), ROUTE, BODY, &ctx(), NOW + 1_000).unwrap();
		assert_eq!((got.account, got.nonce, got.timestamp_ms), (alice(), 42, NOW));
		// The voucher is what the chain checks: this operator, this chain, the raw message.
		let v = got.voucher;
		assert_eq!((v.spend_limit, v.wrapped), (1_000, false));
		assert!(v.verify(
			polkadot_sdk::sp_core::H256(GENESIS),
			lineage_primitives::AccountId::new(OPERATOR)
		));
	}

	#[test]
	fn bytes_wrapped_signature_works() {
		let auth = authorization(GENESIS, OPERATOR, alice(), &to_sign(BODY, NOW, 1));
		let signature = dev::alice().sign(&auth.wrapped_message());
		let mut headers = signed(BODY, NOW, 1);
		headers.insert(
			SIGNATURE_HEADER,
			HeaderValue::from_str(&format!("0x{}", hex::encode(signature.0))).unwrap(),
		);
		let got = verify(&headers, ROUTE, BODY, &ctx(), NOW).unwrap();
		assert_eq!(got.account, alice());
		assert!(got.voucher.wrapped);
		assert!(got.voucher.verify(
			polkadot_sdk::sp_core::H256(GENESIS),
			lineage_primitives::AccountId::new(OPERATOR)
		));
	}

	#[test]
	fn another_route_or_spend_limit_fails() {
		let headers = signed(BODY, NOW, 2);
		let chat = Route { method: "POST", path: "/v1/chat/completions" };
		assert_eq!(verify(&headers, chat, BODY, &ctx(), NOW), Err(PayerError::BadSignature));
		let get = Route { method: "GET", path: ROUTE.path };
		assert_eq!(verify(&headers, get, BODY, &ctx(), NOW), Err(PayerError::BadSignature));
		let mut raised = headers.clone();
		raised.insert(SPEND_LIMIT_HEADER, HeaderValue::from_static("1001"));
		assert_eq!(verify(&raised, ROUTE, BODY, &ctx(), NOW), Err(PayerError::BadSignature));
	}

	#[test]
	fn hex_and_other_ss58_payer_forms_work() {
		let mut headers = signed(BODY, NOW, 3);
		headers.insert(
			PAYER_HEADER,
			HeaderValue::from_str(&format!("0x{}", hex::encode(alice()))).unwrap(),
		);
		assert_eq!(verify(&headers, ROUTE, BODY, &ctx(), NOW).unwrap().account, alice());
		// Alice on Polkadot (prefix 0) and as the default Substrate (42) address.
		for address in [
			"15oF4uVJwmo4TdGW7VfQxNLavjCXviqxT9S1MgbjMNHr6Sp5",
			"5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY",
		] {
			assert_eq!(parse_account(address).unwrap(), alice(), "{address}");
			headers.insert(PAYER_HEADER, HeaderValue::from_static(address));
			assert_eq!(verify(&headers, ROUTE, BODY, &ctx(), NOW).unwrap().account, alice());
		}
		assert_eq!(
			sign_request(&dev::alice(), GENESIS, OPERATOR, &to_sign(BODY, NOW, 3))[0].1,
			"5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
		);
	}

	#[test]
	fn tampered_body_fails() {
		let headers = signed(BODY, NOW, 4);
		let err =
			verify(&headers, ROUTE, br#"{"model":"m","prompt":"hI"}"#, &ctx(), NOW).unwrap_err();
		assert_eq!(err, PayerError::BadSignature);
	}

	#[test]
	fn wrong_genesis_or_operator_fails() {
		let headers = signed(BODY, NOW, 5);
		let other_chain = PayerContext { genesis_hash: [8; 32], ..ctx() };
		assert_eq!(verify(&headers, ROUTE, BODY, &other_chain, NOW), Err(PayerError::BadSignature));
		let other_operator = PayerContext { operator: [8; 32], ..ctx() };
		assert_eq!(
			verify(&headers, ROUTE, BODY, &other_operator, NOW),
			Err(PayerError::BadSignature)
		);
	}

	#[test]
	fn another_payer_named_fails() {
		let mut headers = signed(BODY, NOW, 6);
		let bob = AccountId32(dev::bob().public_key().0).to_string();
		headers.insert(PAYER_HEADER, HeaderValue::from_str(&bob).unwrap());
		assert_eq!(verify(&headers, ROUTE, BODY, &ctx(), NOW), Err(PayerError::BadSignature));
	}

	#[test]
	fn stale_or_future_timestamp_fails() {
		let max = DEFAULT_MAX_SKEW_MS;
		let headers = signed(BODY, NOW, 7);
		assert!(verify(&headers, ROUTE, BODY, &ctx(), NOW + max).is_ok());
		assert!(verify(&headers, ROUTE, BODY, &ctx(), NOW - max).is_ok());
		assert_eq!(
			verify(&headers, ROUTE, BODY, &ctx(), NOW + max + 1),
			Err(PayerError::Stale { skew_ms: max + 1, max })
		);
		assert_eq!(
			verify(&headers, ROUTE, BODY, &ctx(), NOW - max - 5),
			Err(PayerError::Stale { skew_ms: max + 5, max })
		);
	}

	#[test]
	fn missing_headers_fail() {
		for name in
			[PAYER_HEADER, TIMESTAMP_HEADER, NONCE_HEADER, SPEND_LIMIT_HEADER, SIGNATURE_HEADER]
		{
			let mut headers = signed(BODY, NOW, 8);
			headers.remove(name);
			assert_eq!(verify(&headers, ROUTE, BODY, &ctx(), NOW), Err(PayerError::Missing(name)));
		}
	}

	#[test]
	fn malformed_headers_fail() {
		let cases = [
			(PAYER_HEADER, "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQZ"),
			(PAYER_HEADER, "0x1234"),
			(PAYER_HEADER, "alice"),
			(TIMESTAMP_HEADER, "+1750000000000"),
			(TIMESTAMP_HEADER, "1750000000000.5"),
			(TIMESTAMP_HEADER, ""),
			(NONCE_HEADER, "-1"),
			(NONCE_HEADER, "18446744073709551616"),
			(SPEND_LIMIT_HEADER, "340282366920938463463374607431768211456"),
			(SPEND_LIMIT_HEADER, "-5"),
			(SPEND_LIMIT_HEADER, "1e9"),
			(SIGNATURE_HEADER, "00"),
			(SIGNATURE_HEADER, "0xzz"),
			(SIGNATURE_HEADER, "0x1234"),
		];
		for (name, value) in cases {
			let mut headers = signed(BODY, NOW, 9);
			headers.insert(name, HeaderValue::from_static(value));
			match verify(&headers, ROUTE, BODY, &ctx(), NOW) {
				Err(PayerError::Malformed { header, reason }) => {
					assert_eq!(header, name, "{value}: {reason}");
				},
				other => panic!("{name}: {value}: {other:?}"),
			}
		}
		let mut headers = signed(BODY, NOW, 9);
		headers.append(NONCE_HEADER, HeaderValue::from_static("10"));
		assert!(matches!(
			verify(&headers, ROUTE, BODY, &ctx(), NOW),
			Err(PayerError::Malformed { header: NONCE_HEADER, .. })
		));
	}

	#[test]
	fn errors_map_to_their_status() {
		let cases = [
			(ApiError::from(PayerError::BadSignature), 401, "invalid_payer_signature"),
			(
				ApiError::from(InferError::InsufficientEscrow("p".into())),
				402,
				"insufficient_escrow",
			),
			(ApiError::from(InferError::NotRegistered("f".into())), 403, "adapter_not_registered"),
			(ApiError::from(InferError::Revoked("g".into())), 410, "adapter_revoked"),
		];
		for (err, status, code) in cases {
			let (got, _, got_code, _) = err.classify();
			assert_eq!((got.as_u16(), got_code), (status, Some(code)));
		}
		let body = ApiError::from(PayerError::Replayed).body();
		assert_eq!(body.error.kind, "authentication_error");
		assert!(body.error.message.contains("fresh nonce"), "{}", body.error.message);
	}

	/// A server with one route behind the middleware, answering the payer's hex and the body.
	async fn serve(replay: ReplayCheck, max_body_bytes: usize) -> String {
		let auth = PayerAuth {
			ctx: PayerContext::new(GENESIS, OPERATOR),
			max_body_bytes,
			body_timeout: std::time::Duration::from_millis(500),
			replay,
		};
		let app = Router::new()
			.route(
				"/v1/completions",
				post(|Extension(payer): Extension<Payer>, body: Bytes| async move {
					format!("{}:{}", hex::encode(payer.account), String::from_utf8_lossy(&body))
				}),
			)
			.layer(axum::middleware::from_fn_with_state(auth, require_payer));
		let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
		let addr = listener.local_addr().unwrap();
		tokio::spawn(async move { axum::serve(listener, app).await });
		format!("http://{addr}/v1/completions")
	}

	async fn post_signed(
		client: &reqwest::Client,
		url: &str,
		body: &'static [u8],
		nonce: u64,
	) -> reqwest::Response {
		let mut request = client.post(url).body(body);
		for (name, value) in
			sign_request(&dev::alice(), GENESIS, OPERATOR, &to_sign(body, unix_time_ms(), nonce))
		{
			request = request.header(name, value);
		}
		request.send().await.unwrap()
	}

	async fn error_code(response: reqwest::Response) -> (u16, String) {
		let status = response.status().as_u16();
		let json: serde_json::Value = response.json().await.unwrap();
		(status, json["error"]["code"].as_str().unwrap_or_default().to_string())
	}

	#[tokio::test]
	async fn middleware_passes_the_payer_and_the_body_and_refuses_replays() {
		let seen = Arc::new(Mutex::new(HashSet::new()));
		let store = seen.clone();
		let replay: ReplayCheck = Arc::new(move |payer: &[u8; 32], nonce, _ts| {
			Ok(store.lock().map_err(|e| e.to_string())?.insert((*payer, nonce)))
		});
		let url = serve(replay, 1024).await;
		let client = reqwest::Client::new();

		let response = post_signed(&client, &url, BODY, 1).await;
		assert_eq!(response.status(), StatusCode::OK);
		let text = response.text().await.unwrap();
		assert_eq!(text, format!("{}:{}", hex::encode(alice()), String::from_utf8_lossy(BODY)));

		let (status, code) = error_code(post_signed(&client, &url, BODY, 1).await).await;
		assert_eq!((status, code.as_str()), (401, "invalid_payer_signature"));
		assert!(post_signed(&client, &url, BODY, 2).await.status().is_success());
		assert_eq!(seen.lock().unwrap().len(), 2);

		let unsigned = client.post(&url).body(BODY).send().await.unwrap();
		let (status, code) = error_code(unsigned).await;
		assert_eq!((status, code.as_str()), (401, "invalid_payer_signature"));

		let big: &'static [u8] = &[b'x'; 2048];
		let (status, code) = error_code(post_signed(&client, &url, big, 3).await).await;
		assert_eq!((status, code.as_str()), (413, "body_too_large"));

		// Chunked, with no content-length: the limit holds while buffering.
		let chunks = futures::stream::iter(
			(0..4).map(|_| Ok::<_, std::io::Error>(Bytes::from_static(&[b'y'; 400]))),
		);
		let mut request = client.post(&url).body(reqwest::Body::wrap_stream(chunks));
		for (name, value) in
			sign_request(&dev::alice(), GENESIS, OPERATOR, &to_sign(b"", unix_time_ms(), 4))
		{
			request = request.header(name, value);
		}
		let (status, code) = error_code(request.send().await.unwrap()).await;
		assert_eq!((status, code.as_str()), (413, "body_too_large"));
	}

	#[tokio::test]
	async fn a_body_that_trickles_gets_a_408_and_the_server_stays_up() {
		let replay: ReplayCheck = Arc::new(|_: &[u8; 32], _, _| Ok(true));
		let url = serve(replay, 1024).await;
		let client = reqwest::Client::new();
		// One chunk, then nothing: the body never ends (the test server allows 500 ms).
		let (tx, rx) = futures::channel::mpsc::unbounded::<Result<Bytes, std::io::Error>>();
		tx.unbounded_send(Ok(Bytes::from_static(b"{"))).unwrap();
		let mut request = client.post(&url).body(reqwest::Body::wrap_stream(rx));
		for (name, value) in
			sign_request(&dev::alice(), GENESIS, OPERATOR, &to_sign(b"{", unix_time_ms(), 1))
		{
			request = request.header(name, value);
		}
		let (status, code) = error_code(request.send().await.unwrap()).await;
		assert_eq!((status, code.as_str()), (408, "body_timeout"));
		drop(tx);
		// The next request is served as usual.
		assert!(post_signed(&client, &url, BODY, 2).await.status().is_success());
	}

	#[tokio::test]
	async fn middleware_answers_500_when_the_nonce_store_fails() {
		let replay: ReplayCheck = Arc::new(|_: &[u8; 32], _, _| Err("disk full".into()));
		let url = serve(replay, 1024).await;
		let response = post_signed(&reqwest::Client::new(), &url, BODY, 1).await;
		assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
	}
}
