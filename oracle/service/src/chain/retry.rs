//! What to do when talking to the chain fails: [`classify_failure`] tells a failure that may pass
//! (the node away, rate limits, timeouts, the pool refusing a transaction for its nonce or
//! priority) from the chain's final word (a pallet's dispatch error), and [`with_retries`] tries
//! again after a bounded exponential backoff with jitter ([`Backoff`]) while the failure is
//! transient.
//!
//! Everything the oracle submits is idempotent on chain (a usage batch carries its sequence
//! number, a job answer its job id), so trying a submission again can at worst be refused by the
//! pallet; it is never applied twice.

use std::{future::Future, time::Duration};

use super::error::ClientError;

/// Whether a failure may pass if the same thing is tried again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
	/// It may pass: try again later. The `&str` names the kind, for logs and metrics
	/// (`rate_limited`, `connection`, `timeout`, `nonce`, `pool`, `operator`, `other`).
	Transient(&'static str),
	/// The chain refused the call for good (a dispatch error of the pallet): trying again cannot
	/// help.
	Permanent,
}

/// Dispatch errors about the operator's standing rather than the call, which may pass (a bond
/// topped up): `Jobs::OperatorNotServing`, `Usage::InsufficientBond`, `Usage::OperatorNotActive`.
const DISPATCH_LATER: [&str; 3] = ["OperatorNotServing", "InsufficientBond", "OperatorNotActive"];

/// Substrings of pool and RPC failures that may pass, by kind (matched case-insensitively). The
/// pool's messages are those of `sc-transaction-pool-api` and `sc-rpc-spec-v2` (stable2609) and
/// of the legacy `author_*` RPC.
const TRANSIENT: [(&str, &[&str]); 6] = [
	("rate_limited", &["429", "too many requests", "rate limit", "limit reached"]),
	(
		"connection",
		&[
			"connection",
			"connect",
			"restart",
			"background task",
			"subscription dropped",
			"stream ended",
			"closed",
			"broken pipe",
			"networking",
			"transport",
		],
	),
	("timeout", &["timeout", "timed out", "deadline"]),
	(
		"nonce",
		&[
			"outdated",
			"stale",
			"valid in the future",
			"future",
			"priority is too low",
			"priority of the transaction is too low",
			"too low priority",
			"already imported",
		],
	),
	(
		"pool",
		&[
			"temporarily banned",
			"dropped",
			"exceeding limits",
			"immediately dropped",
			"exhaust",
			"pool is full",
			"couldn't enter the pool",
			"rendered invalid by another",
			"marked as invalid",
			"ancient birth block",
		],
	),
	("operator", &["inability to pay", "payment", "funds"]),
];

/// How the oracle treats failure `e` of a submission or a read.
///
/// - A dispatch error (the extrinsic was included and the pallet refused it: `JobExpired`,
///   `AlreadyFulfilled`, `WrongOperator`, `FeeAboveCeiling`, `BadSignature`, …) is
///   [`Failure::Permanent`], except the ones about the operator's standing (`DISPATCH_LATER`).
/// - Everything else (the node unreachable, an RPC error such as a 429, a timeout, the pool
///   refusing the transaction for its nonce or priority, or dropping it) is
///   [`Failure::Transient`]: the call never reached the pallet, so the chain has not said no.
///   Failures matching none of the known messages count as transient too (kind `other`): a job
///   whose answer keeps failing is given up once the chain says it expired, never before.
pub fn classify_failure(e: &ClientError) -> Failure {
	match e {
		ClientError::Dispatch(message) if DISPATCH_LATER.iter().any(|n| message.contains(n)) => {
			Failure::Transient("operator")
		},
		ClientError::Dispatch(_) | ClientError::Setup(_) => Failure::Permanent,
		ClientError::Connect { .. } => Failure::Transient("connection"),
		ClientError::Extrinsic(_) | ClientError::Rpc(_) => {
			Failure::Transient(transient_kind(&full_message(e)))
		},
	}
}

/// The kind of a transient failure from its message (`other` when none matches).
fn transient_kind(message: &str) -> &'static str {
	let message = message.to_lowercase();
	TRANSIENT
		.iter()
		.find(|(_, needles)| needles.iter().any(|n| message.contains(n)))
		.map_or("other", |(kind, _)| kind)
}

/// `e` and its sources, joined (the pool's reason is often in a source).
fn full_message(e: &(dyn std::error::Error + 'static)) -> String {
	let mut message = e.to_string();
	let mut source = e.source();
	while let Some(s) = source {
		message.push_str(": ");
		message.push_str(&s.to_string());
		source = s.source();
	}
	message
}

/// A bounded exponential backoff with jitter: retry `n` (from 0) waits about
/// `first × 2ⁿ`, capped at `max`, half of it fixed and half random; at most `attempts` tries in
/// all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
	/// The wait before the first retry, before jitter.
	pub first: Duration,
	/// The longest wait.
	pub max: Duration,
	/// Tries in all, the first included (at least 1).
	pub attempts: u32,
}

impl Default for Backoff {
	/// 6 tries over about 15 s at most: waits of ~0.5, 1, 2, 4 and 8 s.
	fn default() -> Self {
		Backoff { first: Duration::from_millis(500), max: Duration::from_secs(30), attempts: 6 }
	}
}

impl Backoff {
	/// The wait before retry `retry` (0 for the first), with `jitter` in `[0, 1)`: between half
	/// and all of `first × 2^retry`, capped at `max`.
	pub fn delay(&self, retry: u32, jitter: f64) -> Duration {
		let full = self.first.saturating_mul(2u32.saturating_pow(retry)).min(self.max);
		full / 2 + full.mul_f64(jitter.clamp(0.0, 1.0) / 2.0)
	}
}

/// Why [`with_retries`] stopped without a result.
#[derive(Debug)]
pub enum GaveUp<E> {
	/// The failure is permanent: the chain said no.
	Permanent(E),
	/// Every try failed transiently; this is the last failure. The call may succeed later.
	Exhausted(E),
}

/// Runs `op` until it succeeds, fails permanently (as `classify` says), or `backoff.attempts`
/// tries have failed transiently, waiting [`Backoff::delay`] (with random jitter) between tries.
/// `on_retry(retry, error, wait)` is called before each wait (for logs and metrics).
pub async fn with_retries<T, E, F, Fut>(
	backoff: &Backoff,
	classify: impl Fn(&E) -> Failure,
	mut op: F,
	mut on_retry: impl FnMut(u32, &E, Duration),
) -> Result<T, GaveUp<E>>
where
	F: FnMut() -> Fut,
	Fut: Future<Output = Result<T, E>>,
{
	let attempts = backoff.attempts.max(1);
	let mut retry = 0;
	loop {
		let e = match op().await {
			Ok(v) => return Ok(v),
			Err(e) => e,
		};
		if classify(&e) == Failure::Permanent {
			return Err(GaveUp::Permanent(e));
		}
		if retry + 1 >= attempts {
			return Err(GaveUp::Exhausted(e));
		}
		let wait = backoff.delay(retry, rand::random::<f64>());
		on_retry(retry, &e, wait);
		tokio::time::sleep(wait).await;
		retry += 1;
	}
}

#[cfg(test)]
mod tests {
	use std::sync::atomic::{AtomicU32, Ordering};

	use super::*;

	fn extrinsic(message: &str) -> ClientError {
		ClientError::Extrinsic(message.to_string().into())
	}

	#[test]
	fn dispatch_errors_are_permanent_except_the_operators_standing() {
		for e in [
			"JobExpired",
			"AlreadyFulfilled",
			"WrongOperator",
			"FeeAboveCeiling",
			"BadSignature",
			"UnknownJob",
		] {
			let message =
				format!("The transaction failed with the following dispatch error: Jobs::{e}");
			assert_eq!(
				classify_failure(&ClientError::Dispatch(message)),
				Failure::Permanent,
				"{e}"
			);
		}
		assert_eq!(
			classify_failure(&ClientError::Dispatch(
				"Module error: Jobs::OperatorNotServing".into()
			)),
			Failure::Transient("operator")
		);
	}

	#[test]
	fn pool_and_rpc_failures_are_transient_by_kind() {
		let cases = [
			("HTTP status client error (429 Too Many Requests)", "rate_limited"),
			(
				"Networking or low-level protocol error: Connection refused (os error 111)",
				"connection",
			),
			("The background task closed; restart required", "connection"),
			("Timeout waiting for the transaction to be finalized", "timeout"),
			("The transaction is not valid: Invalid transaction: Transaction is outdated", "nonce"),
			("Invalid transaction: Transaction will be valid in the future", "nonce"),
			("1014: Priority is too low: (140 vs 140)", "nonce"),
			("The priority of the transaction is too low (pool 10 > current 10)", "nonce"),
			("Transaction is temporarily banned", "pool"),
			("Extrinsic dropped from the pool due to exceeding limits", "pool"),
			(
				"Invalid transaction: Inability to pay some fees (e.g. account balance too low)",
				"operator",
			),
			("something nobody expected", "other"),
		];
		for (message, kind) in cases {
			assert_eq!(
				classify_failure(&extrinsic(message)),
				Failure::Transient(kind),
				"{message}"
			);
			let rpc = ClientError::Rpc(message.to_string().into());
			assert_eq!(classify_failure(&rpc), Failure::Transient(kind), "{message}");
		}
		let connect = ClientError::Connect {
			url: "ws://127.0.0.1:1".into(),
			source: "Connection refused".to_string().into(),
		};
		assert_eq!(classify_failure(&connect), Failure::Transient("connection"));
	}

	#[test]
	fn the_backoff_doubles_with_jitter_up_to_its_cap() {
		let b =
			Backoff { first: Duration::from_millis(100), max: Duration::from_secs(1), attempts: 9 };
		assert_eq!(b.delay(0, 0.0), Duration::from_millis(50));
		let most = b.delay(0, 0.999_999);
		assert!(most > Duration::from_millis(99) && most <= Duration::from_millis(100));
		assert_eq!(b.delay(2, 0.0), Duration::from_millis(200));
		assert_eq!(b.delay(8, 1.0), Duration::from_secs(1), "capped");
		assert_eq!(b.delay(40, 0.5), Duration::from_millis(750), "no overflow");
	}

	fn quick(attempts: u32) -> Backoff {
		Backoff { first: Duration::from_millis(1), max: Duration::from_millis(4), attempts }
	}

	/// A submitter that fails with `error` `fails` times, then succeeds.
	async fn run(
		fails: u32,
		error: fn() -> ClientError,
		attempts: u32,
	) -> (Result<u32, GaveUp<ClientError>>, u32, u32) {
		let calls = AtomicU32::new(0);
		let mut retries = 0;
		let result = with_retries(
			&quick(attempts),
			classify_failure,
			|| {
				let n = calls.fetch_add(1, Ordering::SeqCst);
				async move {
					if n < fails {
						Err(error())
					} else {
						Ok(n)
					}
				}
			},
			|_, _, wait| {
				assert!(wait <= Duration::from_millis(4));
				retries += 1;
			},
		)
		.await;
		(result, calls.load(Ordering::SeqCst), retries)
	}

	#[tokio::test]
	async fn transient_failures_are_retried_until_success() {
		let (result, calls, retries) = run(3, || extrinsic("Connection refused"), 6).await;
		assert_eq!(result.unwrap(), 3);
		assert_eq!((calls, retries), (4, 3));
	}

	#[tokio::test]
	async fn a_permanent_failure_stops_at_once() {
		let (result, calls, retries) =
			run(10, || ClientError::Dispatch("Jobs::JobExpired".into()), 6).await;
		assert!(
			matches!(result, Err(GaveUp::Permanent(ClientError::Dispatch(m))) if m.contains("JobExpired"))
		);
		assert_eq!((calls, retries), (1, 0));
	}

	#[tokio::test]
	async fn transient_failures_stop_after_the_bound() {
		let (result, calls, retries) = run(10, || extrinsic("429 Too Many Requests"), 4).await;
		assert!(matches!(result, Err(GaveUp::Exhausted(_))));
		assert_eq!((calls, retries), (4, 3));
	}
}
