//! Accepting connections: hyper's HTTP/1 server under two limits `axum::serve` does not set.
//!
//! - **Header read timeout.** A client must send a request's headers within
//!   [`ConnectionLimits::header_read_timeout`] of the connection opening (or of the previous
//!   response, on a kept-alive connection); otherwise hyper closes the connection. A
//!   slow-loris client that trickles header bytes or sends nothing cannot hold a connection.
//!   (The body has its own deadline, [`super::payer::PayerAuth::body_timeout`], on the paid
//!   routes; the body size limit is the router's.)
//! - **Connections at once.** At most [`ConnectionLimits::max_connections`] connections are
//!   served together; one more is closed as soon as it is accepted, so a flood of idle
//!   connections runs out of its own sockets, not the server's file descriptors.
//!
//! Accept errors (the process out of file descriptors) are logged and retried after a pause,
//! as `axum::serve` does.

use std::{sync::Arc, time::Duration};

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::{
	rt::{TokioIo, TokioTimer},
	service::TowerToHyperService,
};
use tokio::{net::TcpListener, sync::Semaphore};

/// The limits on the server's connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
	/// How long a client may take to send a request's headers.
	pub header_read_timeout: Duration,
	/// Connections served at once; one more is closed on accept.
	pub max_connections: usize,
}

impl Default for ConnectionLimits {
	/// 10 s to send the headers; 4,096 connections.
	fn default() -> Self {
		ConnectionLimits { header_read_timeout: Duration::from_secs(10), max_connections: 4096 }
	}
}

/// Serves `app` on `listener` under `limits` until the process ends.
pub async fn serve_connections(
	listener: TcpListener,
	app: Router,
	limits: ConnectionLimits,
) -> std::io::Result<()> {
	let open = Arc::new(Semaphore::new(limits.max_connections.max(1)));
	loop {
		let (stream, peer) = match listener.accept().await {
			Ok(accepted) => accepted,
			Err(e) => {
				tracing::warn!(error = %e, "accepting a connection failed; retrying in 100 ms");
				tokio::time::sleep(Duration::from_millis(100)).await;
				continue;
			},
		};
		let Ok(permit) = open.clone().try_acquire_owned() else {
			tracing::debug!(%peer, max = limits.max_connections, "too many connections: closed");
			drop(stream);
			continue;
		};
		let service = TowerToHyperService::new(app.clone());
		tokio::spawn(async move {
			let conn = http1::Builder::new()
				.timer(TokioTimer::new())
				.header_read_timeout(limits.header_read_timeout)
				.serve_connection(TokioIo::new(stream), service);
			if let Err(e) = conn.await {
				tracing::debug!(%peer, error = %e, "connection ended with an error");
			}
			drop(permit);
		});
	}
}
