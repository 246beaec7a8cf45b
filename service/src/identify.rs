//! The data plane: `identify` (verify, decide, record), `signatures` (server-to-server
//! signing), and the token debugger. Verification itself is `countersign_core::verify`.

use std::time::Instant;

use countersign_core::debug::{debug, test_token, DebugReport, TestToken};
use countersign_core::policy::Action;
use countersign_core::{
    authenticate_secret, parse_identify_request, parse_signature_request, sign_for, verify, Context, LongLived,
    Outcome, Verdict,
};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::audit::{self, NewAuditEntry};
use crate::error::{ErrorCode, ServiceError, ServiceResult};
use countersign_proto::LogEntry;

use crate::ingest::{storable_platform, Attempt, ContactUpdate};
use crate::tenant::Tenant;
use crate::{Actor, RequestMeta, Service};

/// How long every refused `signatures` call takes.
const SIGNATURE_REFUSAL_TIME: std::time::Duration = std::time::Duration::from_millis(50);

/// An identify answer: the HTTP status and the contract's JSON body (with `log_id`).
#[derive(Debug)]
pub struct IdentifyResponse {
    pub status: u16,
    pub body: Value,
}

impl Service {
    /// Runs one identify attempt on the exact request bytes. Errors are the attempts that
    /// write no log row (unparsable JSON, unknown app, nothing can take the row).
    pub async fn identify(
        &self,
        body: &[u8],
        origin: Option<&str>,
        meta: &RequestMeta,
        started: Instant,
    ) -> ServiceResult<IdentifyResponse> {
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| ServiceError::invalid(format!("The body is not valid JSON: {e}")))?;
        let app_id = value
            .get("app_id")
            .and_then(Value::as_str)
            .ok_or_else(|| ServiceError::invalid("app_id is required and must be a string."))?;
        let snapshot = self
            .snapshot(app_id)
            .await?
            .ok_or_else(|| ServiceError::new(ErrorCode::UnknownApp, "No workspace has this app_id."))?;
        // Over the workspace's limit: refused before any work, and without a log row (writing
        // one per refused attempt would be the load the limit exists to shed).
        snapshot.identify_limit.check().map_err(|wait| {
            ServiceError::rate_limited(
                "This app is sending more identify calls per second than its limit; retry after the given wait.",
                wait,
            )
        })?;
        let now = self.clock.now();
        let mut log = LogEntry {
            id: Uuid::now_v7(),
            at: now,
            outcome: Outcome::Rejected.as_str().to_owned(),
            reason: Some("invalid_request".to_owned()),
            explanation: String::new(),
            platform: value.get("platform").and_then(Value::as_str).map(|p| storable_platform(p).to_owned()),
            kid: None,
            alg: None,
            user_id: None,
            attributes_accepted: json!({}),
            attributes_rejected: json!([]),
            details: json!({}),
            origin: origin.map(str::to_owned),
            ip: meta.ip.clone(),
            user_agent: meta.user_agent.clone(),
            latency_us: 0,
        };
        let request = match parse_identify_request(&value) {
            Ok(request) => request,
            Err(err) => {
                log.explanation = err.message.clone();
                log.latency_us = elapsed_us(started);
                let log_id = log.id;
                self.record(
                    Attempt {
                        workspace_id: snapshot.workspace_id,
                        log,
                        contact: None,
                        unsigned_attributes: Vec::new(),
                    },
                    "invalid_request",
                )
                .await?;
                let body = json!({"error": {"code": "invalid_request", "message": err.message}, "log_id": log_id});
                return Ok(IdentifyResponse { status: 400, body });
            }
        };
        let verdict = verify(&request, &snapshot.policy, &Context { origin, now: now.timestamp() });
        let platform = request.platform.as_str();
        let reason = verdict.reason.map_or("none", |r| r.as_str());
        self.metrics.identify.with_label_values(&[verdict.outcome.as_str(), reason, platform]).inc();
        // The answer is built first so that the verdict's fields can move into the log row.
        let answer = IdentifyResponse { status: verdict.http_status(), body: verdict.response_body(json!(log.id)) };
        let contact = contact_update(&verdict, platform);
        log.outcome = verdict.outcome.as_str().to_owned();
        log.reason = verdict.reason.map(|r| r.as_str().to_owned());
        log.platform = Some(platform.to_owned());
        log.attributes_rejected = json!(verdict.rejected_attributes);
        log.details = log_details(verdict.ignored_attributes, verdict.notes, verdict.long_lived);
        // Empty when verified: that sentence is rendered from the row's columns when read
        // (`logs::explained`).
        log.explanation = verdict.explanation;
        log.kid = verdict.kid;
        log.alg = verdict.alg;
        log.user_id = verdict.user_id;
        log.attributes_accepted = Value::Object(verdict.attributes);
        log.latency_us = elapsed_us(started);
        let unsigned_attributes = verdict.unsigned_attributes;
        self.ingest.record(Attempt { workspace_id: snapshot.workspace_id, log, contact, unsigned_attributes }).await?;
        self.metrics.identify_seconds.observe(started.elapsed().as_secs_f64());
        Ok(answer)
    }

    async fn record(&self, attempt: Attempt, reason: &str) -> ServiceResult<()> {
        let platform = storable_platform(attempt.log.platform.as_deref().unwrap_or_default());
        self.metrics.identify.with_label_values(&["rejected", reason, platform]).inc();
        self.ingest.record(attempt).await
    }

    /// `POST /api/v1/signatures`: signs a user for a backend that holds a non-revoked secret.
    /// A wrong secret and an unknown app get the same answer after the same work.
    pub async fn signatures(&self, body: &[u8], bearer: Option<&str>) -> ServiceResult<Value> {
        let started = tokio::time::Instant::now();
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| ServiceError::invalid(format!("The body is not valid JSON: {e}")))?;
        let request = parse_signature_request(&value).map_err(|e| ServiceError::invalid(e.message))?;
        let snapshot = self.snapshot(&request.app_id).await?;
        let now = self.clock.now().timestamp();
        let keys = snapshot.as_ref().map_or(&[][..], |s| &s.policy.keys[..]);
        let presented = bearer.unwrap_or("").as_bytes();
        let (Some(snapshot), Some(_)) = (&snapshot, authenticate_secret(keys, presented, now)) else {
            // An unknown app may cost a database look-up that a known one does not: every
            // refusal takes the same fixed time, so timing does not tell whether it exists.
            tokio::time::sleep_until(started + SIGNATURE_REFUSAL_TIME).await;
            return Err(ServiceError::new(
                ErrorCode::Unauthorized,
                "Send a current secret of this app as Authorization: Bearer <secret>.",
            ));
        };
        snapshot.signatures_limit.check().map_err(|wait| {
            ServiceError::rate_limited(
                "This app is sending more signatures calls per second than its limit; retry after the given wait.",
                wait,
            )
        })?;
        let signatures = sign_for(&snapshot.policy, &request, now).map_err(ServiceError::invalid)?;
        Ok(signatures.to_json())
    }

    /// The token debugger: verifies like identify and explains every check
    /// ([`countersign_core::debug::debug`]), without writing a verification log row. The body is
    /// identify's without `app_id`, plus an optional `origin` to check against the allowlist.
    pub async fn debug_token(&self, actor: &Actor, workspace_id: Uuid, body: &Value) -> ServiceResult<DebugReport> {
        let mut tenant = self.tenant(actor, workspace_id, Action::View).await?;
        let snapshot = self.workspace_snapshot(&mut tenant, workspace_id).await?;
        drop(tenant);
        let request = parse_identify_request(&with_app_id(body, &snapshot.policy.app_id))
            .map_err(|e| ServiceError::invalid(e.message))?;
        let origin = match body.get("origin") {
            None | Some(Value::Null) => None,
            Some(Value::String(origin)) if origin.len() <= MAX_DEBUG_ORIGIN_BYTES => {
                Some(origin.as_str()).filter(|o| !o.is_empty())
            }
            Some(_) => {
                return Err(ServiceError::invalid(format!(
                    "origin must be a string of at most {MAX_DEBUG_ORIGIN_BYTES} bytes, e.g. https://app.example.com."
                )))
            }
        };
        Ok(debug(&request, &snapshot.policy, origin, self.clock.now().timestamp()))
    }

    /// Signs a test token with the primary key, like `POST /api/v1/signatures`, for roles that
    /// may reveal a secret (whoever holds the token could use it until it expires).
    pub async fn debug_test_token(&self, actor: &Actor, workspace_id: Uuid, body: &Value) -> ServiceResult<TestToken> {
        let mut tenant = self.tenant(actor, workspace_id, Action::RevealSecret).await?;
        let snapshot = self.workspace_snapshot(&mut tenant, workspace_id).await?;
        let request = parse_signature_request(&with_app_id(body, &snapshot.policy.app_id))
            .map_err(|e| ServiceError::invalid(e.message))?;
        let made =
            test_token(&snapshot.policy, &request, self.clock.now().timestamp()).map_err(ServiceError::invalid)?;
        // A minted credential for a user: audited like a reveal (the token itself is not kept).
        let entry = NewAuditEntry::workspace(actor, workspace_id, "key.test_token_signed")
            .target(made.kid.clone())
            .details(json!({"user_id": made.hmac_input, "expires_at": made.expires_at}));
        audit::insert(tenant.conn(), self.clock.now(), entry).await?;
        tenant.commit().await?;
        Ok(made)
    }

    /// The verification snapshot of a workspace the caller was authorized for.
    async fn workspace_snapshot(
        &self,
        tenant: &mut Tenant,
        workspace_id: Uuid,
    ) -> ServiceResult<std::sync::Arc<crate::config::Snapshot>> {
        let app_id: String = crate::db::query_scalar("SELECT app_id FROM workspaces WHERE id = $1")
            .bind(workspace_id)
            .fetch_one(tenant.conn())
            .await?;
        self.snapshot(&app_id).await?.ok_or_else(|| ServiceError::not_found("Workspace"))
    }
}

/// Longest `origin` the debugger accepts.
const MAX_DEBUG_ORIGIN_BYTES: usize = 2048;

/// The body with the workspace's `app_id` set, so the public API's parsers apply unchanged.
fn with_app_id(body: &Value, app_id: &str) -> Value {
    let mut value = body.clone();
    if let Some(map) = value.as_object_mut() {
        map.insert("app_id".into(), Value::String(app_id.to_owned()));
    }
    value
}

/// The contact an attempt writes: any accepted identity with a user id (a rejected attempt
/// writes none). Only accepted attributes reach it.
fn contact_update(verdict: &Verdict, platform: &str) -> Option<ContactUpdate> {
    if verdict.outcome == Outcome::Rejected {
        return None;
    }
    Some(ContactUpdate {
        user_id: verdict.user_id.clone()?,
        attributes: verdict.attributes.clone(),
        verified: verdict.verified,
        platform: platform.to_owned(),
    })
}

/// A log row's `details`: the ignored attribute names, the notes and whether the verified token
/// is long-lived, each left out when empty (as on most rows; readers take a missing list as an
/// empty one).
fn log_details(ignored_attributes: Vec<String>, notes: Vec<String>, long_lived: Option<LongLived>) -> Value {
    let mut details = serde_json::Map::new();
    if let Some(long_lived) = long_lived {
        details.insert("long_lived".into(), json!(long_lived));
    }
    if !ignored_attributes.is_empty() {
        details.insert("ignored_attributes".into(), json!(ignored_attributes));
    }
    if !notes.is_empty() {
        details.insert("notes".into(), json!(notes));
    }
    Value::Object(details)
}

fn elapsed_us(started: Instant) -> i32 {
    i32::try_from(started.elapsed().as_micros()).unwrap_or(i32::MAX)
}
