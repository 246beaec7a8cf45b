//! Delivering queued events: each instance runs a few workers that claim one due delivery at a
//! time with `FOR UPDATE SKIP LOCKED` (so no two instances send the same one), POST it signed,
//! and record the outcome; failures are retried with exponential backoff, and an endpoint that
//! keeps failing is disabled with the reason shown.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use countersign_core::webhook::{self, Scheme, Target};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use uuid::Uuid;

use super::{resolve, seal_id};
use crate::audit::{self, NewAuditEntry};
use crate::error::ServiceResult;
use crate::{RequestMeta, Service};

/// Delivery workers per instance: a slow receiver holds up only one of them.
pub(super) const WORKERS: usize = 4;
/// One attempt (resolve, connect, TLS, request, answer) may take this long.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often an idle worker looks for due deliveries.
const IDLE_POLL: Duration = Duration::from_secs(1);
/// Bytes of the receiver's answer kept (the rest is not read).
const EXCERPT_BYTES: usize = 256;

#[derive(sqlx::FromRow)]
struct Due {
    id: Uuid,
    workspace_id: Uuid,
    endpoint_id: Uuid,
    event_id: String,
    payload: String,
    attempts: i32,
    url: String,
    sealed_secret: Vec<u8>,
}

/// What one attempt got.
struct Answer {
    status: u16,
    excerpt: String,
}

impl Service {
    pub(super) async fn deliver_forever(self) {
        loop {
            // Nothing can be claimed while the database is known to be unreachable.
            if self.breaker.is_open() {
                tokio::time::sleep(IDLE_POLL).await;
                continue;
            }
            match self.deliver_next().await {
                Ok(true) => {}
                Ok(false) => tokio::time::sleep(IDLE_POLL).await,
                Err(err) => {
                    tracing::warn!(error = %err, "webhook delivery worker failed; retrying");
                    tokio::time::sleep(IDLE_POLL).await;
                }
            }
        }
    }

    /// Claims one due delivery, attempts it and records the outcome; whether there was one.
    pub async fn deliver_next(&self) -> ServiceResult<bool> {
        let mut tx = self.webhook_pool.begin().await?;
        let due: Option<Due> = crate::db::query_as(
            "SELECT d.id, d.workspace_id, d.endpoint_id, d.event_id, d.payload, d.attempts, e.url, e.sealed_secret
               FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
              WHERE d.status = 'pending' AND d.next_attempt_at <= $1 AND (e.enabled OR d.event_type = 'webhook.test')
              ORDER BY d.next_attempt_at
              LIMIT 1
                FOR UPDATE OF d SKIP LOCKED",
        )
        .bind(self.clock.now())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(due) = due else {
            tx.commit().await?;
            return Ok(false);
        };
        let secret = self.keyring.open(due.workspace_id, &seal_id(due.endpoint_id), &due.sealed_secret)?;
        let sent_at = self.clock.now();
        let outcome = self.attempt(&due, &secret, sent_at).await;
        let attempts = due.attempts + 1;
        let now = self.clock.now();
        match outcome {
            Ok(answer) if (200..300).contains(&answer.status) => {
                crate::db::query(
                    "UPDATE webhook_deliveries SET status = 'delivered', attempts = $2, last_attempt_at = $3, next_attempt_at = NULL,
                            response_code = $4, response_excerpt = $5, error = NULL WHERE id = $1",
                )
                .bind(due.id)
                .bind(attempts)
                .bind(now)
                .bind(i32::from(answer.status))
                .bind(answer.excerpt)
                .execute(&mut *tx)
                .await?;
                crate::db::query("UPDATE webhook_endpoints SET consecutive_failures = 0 WHERE id = $1")
                    .bind(due.endpoint_id)
                    .execute(&mut *tx)
                    .await?;
            }
            outcome => {
                let (code, excerpt, error) = match outcome {
                    Ok(answer) => (
                        Some(i32::from(answer.status)),
                        Some(answer.excerpt),
                        format!("The receiver answered HTTP {}.", answer.status),
                    ),
                    Err(error) => (None, None, error),
                };
                let given_up = attempts as u32 >= webhook::MAX_ATTEMPTS;
                let next =
                    (!given_up).then(|| now + chrono::Duration::seconds(webhook::retry_delay_seconds(attempts as u32)));
                crate::db::query(
                    "UPDATE webhook_deliveries SET status = CASE WHEN $3 THEN 'failed' ELSE 'pending' END, attempts = $2,
                            last_attempt_at = $4, next_attempt_at = $5, response_code = $6, response_excerpt = $7, error = $8
                      WHERE id = $1",
                )
                .bind(due.id)
                .bind(attempts)
                .bind(given_up)
                .bind(now)
                .bind(next)
                .bind(code)
                .bind(excerpt)
                .bind(&error)
                .execute(&mut *tx)
                .await?;
                let limit = webhook::DISABLE_AFTER_FAILURES as i32;
                let reason = format!("Disabled after {limit} consecutive failed deliveries. Last error: {error}");
                let disabled: Option<String> = crate::db::query_scalar(
                    "UPDATE webhook_endpoints
                        SET consecutive_failures = consecutive_failures + 1,
                            disabled_reason = CASE WHEN enabled AND consecutive_failures + 1 >= $2 THEN $3 ELSE disabled_reason END,
                            enabled = enabled AND consecutive_failures + 1 < $2
                      WHERE id = $1
                  RETURNING CASE WHEN NOT enabled AND consecutive_failures = $2 AND disabled_reason = $3 THEN url END",
                )
                .bind(due.endpoint_id)
                .bind(limit)
                .bind(&reason)
                .fetch_optional(&mut *tx)
                .await?
                .flatten();
                if let Some(url) = disabled {
                    // The server's own action: no actor.
                    let entry = NewAuditEntry {
                        workspace_id: Some(due.workspace_id),
                        actor_id: None,
                        actor_email: None,
                        action: "webhook.disabled",
                        target: Some(due.endpoint_id.to_string()),
                        details: serde_json::json!({ "url": url, "reason": reason }),
                        meta: RequestMeta::default(),
                    };
                    audit::insert(&mut tx, now, entry).await?;
                }
            }
        }
        tx.commit().await?;
        Ok(true)
    }

    /// One signed POST of a delivery; an error says what went wrong, for the delivery log.
    async fn attempt(&self, due: &Due, secret: &[u8], sent_at: DateTime<Utc>) -> Result<Answer, String> {
        let allow_private = self.settings.webhooks_allow_private;
        let target = webhook::parse_url(&due.url, allow_private)?;
        let timestamp = sent_at.timestamp();
        let headers = [
            ("webhook-id", due.event_id.clone()),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", webhook::signature(secret, &due.event_id, timestamp, &due.payload)),
        ];
        match tokio::time::timeout(ATTEMPT_TIMEOUT, post(&target, allow_private, &headers, due.payload.clone())).await {
            Ok(result) => result,
            Err(_) => Err(format!("No answer within {} seconds.", ATTEMPT_TIMEOUT.as_secs())),
        }
    }
}

/// Resolves, checks and connects to the target's addresses (only checked ones), then POSTs.
async fn post(
    target: &Target,
    allow_private: bool,
    headers: &[(&str, String)],
    body: String,
) -> Result<Answer, String> {
    let addrs = resolve(target, allow_private).await?;
    let mut last_error = String::from("No address to connect to.");
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                return match target.scheme {
                    Scheme::Http => send(stream, target, headers, body).await,
                    Scheme::Https => {
                        let name = rustls::pki_types::ServerName::try_from(target.host.clone())
                            .map_err(|_| "Invalid TLS server name.".to_owned())?;
                        let tls = tokio_rustls::TlsConnector::from(tls_config()?)
                            .connect(name, stream)
                            .await
                            .map_err(|e| format!("TLS handshake failed: {}", short(&e.to_string())))?;
                        send(tls, target, headers, body).await
                    }
                };
            }
            Err(err) => last_error = format!("Cannot connect to {addr}: {}", short(&err.to_string())),
        }
    }
    Err(last_error)
}

async fn send<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    io: S,
    target: &Target,
    headers: &[(&str, String)],
    body: String,
) -> Result<Answer, String> {
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| format!("HTTP error: {}", short(&e.to_string())))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let mut request = http::Request::post(target.path.as_str())
        .header(http::header::HOST, target.authority())
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::USER_AGENT, "Countersign-Webhooks/1");
    for (name, value) in headers {
        request = request.header(*name, value.as_str());
    }
    let request = request.body(Full::new(Bytes::from(body))).map_err(|e| format!("Cannot build the request: {e}"))?;
    let response = sender.send_request(request).await.map_err(|e| format!("HTTP error: {}", short(&e.to_string())))?;
    let status = response.status().as_u16();
    // Read only the start of the answer: enough for the log, bounded whatever is sent.
    let mut body = response.into_body();
    let mut kept = Vec::new();
    while kept.len() < EXCERPT_BYTES {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    kept.extend_from_slice(&data[..data.len().min(EXCERPT_BYTES - kept.len())]);
                }
            }
            _ => break,
        }
    }
    let excerpt = String::from_utf8_lossy(&kept).chars().filter(|c| !c.is_control() || *c == '\n').collect();
    Ok(Answer { status, excerpt })
}

/// Error texts kept short for the delivery log.
fn short(text: &str) -> String {
    text.chars().take(200).collect()
}

/// TLS with the Mozilla root certificates, built once.
fn tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
            rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map(|builder| Arc::new(builder.with_root_certificates(roots).with_no_client_auth()))
                .map_err(|e| format!("TLS setup failed: {e}"))
        })
        .clone()
}
