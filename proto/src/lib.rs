//! The JSON shapes of Countersign's public API (PRODUCT.md) and of the dashboard's server
//! functions. Wire types only: no secret-holding type here implements `Debug` with its value.

use chrono::{DateTime, Utc};
use countersign_core::policy::Role;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// `POST /api/v1/auth/signup`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignupRequest {
    pub email: String,
    pub password: String,
    pub workspace_name: String,
}

/// `POST /api/v1/auth/login`.
#[derive(Clone, Serialize, Deserialize)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

/// The signed-in account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountInfo {
    pub id: Uuid,
    pub email: String,
}

/// Answer of signup and login: the account, and its workspaces.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionInfo {
    pub account: AccountInfo,
    pub workspaces: Vec<WorkspaceSummary>,
}

/// `POST /api/v1/workspaces` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateWorkspaceRequest {
    pub name: String,
}

/// A workspace as its members see it in a list, with the caller's role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkspaceSummary {
    pub id: Uuid,
    pub app_id: String,
    pub name: String,
    pub role: Role,
}

/// A member of a workspace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub account_id: Uuid,
    pub email: String,
    pub role: Role,
    pub added_at: DateTime<Utc>,
}

/// `POST /api/v1/workspaces/{id}/invitations` body. Without an email, the link is for
/// whoever the admin hands it to.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateInvitationRequest {
    #[serde(default)]
    pub email: Option<String>,
    pub role: Role,
}

/// Where an invitation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvitationStatus {
    /// Not yet accepted; the link works until `expires_at`.
    Pending,
    Accepted,
    Revoked,
    Expired,
}

/// An invitation as its workspace's admins see it (never the token).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invitation {
    pub id: Uuid,
    pub email: Option<String>,
    pub role: Role,
    pub status: InvitationStatus,
    pub invited_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
    /// The email of the account that joined with it.
    pub accepted_by: Option<String>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Answer to creating an invitation: the only time its link is shown.
#[derive(Clone, Serialize, Deserialize)]
pub struct CreatedInvitation {
    #[serde(flatten)]
    pub invitation: Invitation,
    /// The single-use token, as it appears in `url`.
    pub token: String,
    /// The link to hand over: the dashboard's accept page with the token.
    pub url: String,
    /// Whether the link was also emailed to `email`.
    pub emailed: bool,
}

/// `POST /api/v1/invitations/accept` body. With a session, `password` and `email` are not
/// used; without one, `password` is the new account's own password, and `email` its email
/// when the invitation names none.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitationRequest {
    pub token: String,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

/// What an invitation link offers, shown on the accept page before joining.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvitationPreview {
    pub workspace_name: String,
    pub role: Role,
    pub email: Option<String>,
    pub invited_by: Option<String>,
    pub expires_at: DateTime<Utc>,
}

/// Answer to accepting an invitation: the account that joined, and the workspace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AcceptedInvitation {
    pub account: AccountInfo,
    pub workspace: WorkspaceSummary,
    /// Whether the account was created by this acceptance (and signed in).
    pub account_created: bool,
}

/// `POST /api/v1/account/password` body.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    pub new_password: String,
}

/// One place the account is signed in (never the cookie or its hash).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct SessionSummary {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// Whether this is the session making the request ("this device").
    pub current: bool,
}

/// How many sessions an operation ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndedSessions {
    pub ended: u64,
}

/// `PUT /api/v1/workspaces/{id}/members/{account_id}` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChangeRoleRequest {
    pub role: Role,
}

/// `POST /api/v1/tokens` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateTokenRequest {
    pub name: String,
}

/// A personal access token's metadata (never the token).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct TokenInfo {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Answer to creating a personal access token: the only time the token is shown.
#[derive(Clone, Serialize, Deserialize)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub info: TokenInfo,
    pub token: String,
}

/// One row of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor_id: Option<Uuid>,
    pub actor_email: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub details: serde_json::Value,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// A page of a newest-first list with a keyset cursor.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// A workspace secret's metadata (never the secret). `state` is `primary`, `rotating` (still
/// verifies until `expires_at`) or `revoked` (never verifies; also a rotating key whose grace
/// period has ended).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyInfo {
    pub kid: String,
    pub state: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub fingerprint: String,
    /// Identify attempts this key verified in the last 24 hours.
    pub verifications_24h: i64,
}

/// `POST /api/v1/workspaces/{id}/keys/rotate` body.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RotateRequest {
    /// How long the old primary keeps verifying; 0 revokes it at once. Default 24 h.
    pub grace_seconds: Option<i64>,
}

/// Answer to a rotation: the new primary, its secret (only for roles that may reveal it),
/// and what became of the old primary.
#[derive(Clone, Serialize, Deserialize)]
pub struct RotatedKey {
    #[serde(flatten)]
    pub key: KeyInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    pub previous: Option<KeyInfo>,
}

/// Answer to a reveal: the secret in clear, exactly as the backend must use it.
#[derive(Clone, Serialize, Deserialize)]
pub struct RevealedSecret {
    pub kid: String,
    pub secret: String,
}

/// `GET`/`PUT /api/v1/workspaces/{id}/security`: how identify treats this workspace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecuritySettings {
    pub modes: countersign_core::Modes,
    pub hmac_enabled: bool,
    pub leeway_seconds: i64,
    pub require_exp: bool,
    pub max_token_lifetime_seconds: Option<i64>,
    pub allowed_origins: Vec<String>,
    pub token_profile: countersign_core::TokenProfile,
    #[serde(default)]
    pub user_id_claims: Vec<String>,
    #[serde(default)]
    pub expected_issuer: Option<String>,
}

/// `PUT /api/v1/workspaces/{id}/attributes/{name}` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeUpdate {
    #[serde(rename = "type")]
    pub kind: countersign_core::AttributeType,
    pub secure_only: bool,
}

/// A stored contact: an end user of the workspace with the attributes that were accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct Contact {
    pub user_id: String,
    pub attributes: serde_json::Value,
    pub verified: bool,
    pub first_seen_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub last_platform: String,
}

/// One row of the verification log (never the token or a secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct LogEntry {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub outcome: String,
    pub reason: Option<String>,
    pub explanation: String,
    pub platform: Option<String>,
    pub kid: Option<String>,
    pub alg: Option<String>,
    pub user_id: Option<String>,
    pub attributes_accepted: serde_json::Value,
    pub attributes_rejected: serde_json::Value,
    pub details: serde_json::Value,
    pub origin: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub latency_us: i32,
}

/// `GET /api/v1/workspaces/{id}/stats`: attempts per bucket from the log rollups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Start of the first bucket (the asked range, widened to whole buckets).
    pub from: DateTime<Utc>,
    /// End of the last bucket (exclusive).
    pub to: DateTime<Utc>,
    /// `minute`, `hour` or `day`.
    pub bucket: String,
    /// One item per bucket and combination that had attempts, oldest first.
    pub items: Vec<StatsItem>,
}

/// `GET /api/v1/workspaces/{id}/stats/attributes`: per registered attribute, the updates that
/// arrived unsigned over the last days (what marking it secure-only would have refused).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributeStats {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Every registered attribute, by name.
    pub items: Vec<AttributeUsage>,
}

/// One attribute's unsigned updates in an [`AttributeStats`] window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributeUsage {
    pub name: String,
    pub secure_only: bool,
    /// Accepted updates that arrived unsigned: each would have been rejected were the
    /// attribute secure-only.
    pub unsigned_updates: i64,
}

/// Attempts of one bucket with one platform, outcome, reason and kid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatsItem {
    /// Start of the bucket.
    pub at: DateTime<Utc>,
    pub platform: Option<String>,
    pub outcome: String,
    pub reason: Option<String>,
    pub kid: Option<String>,
    pub attempts: i64,
    /// Estimated distinct user ids (hour and day buckets; a lower bound above ~30,000).
    pub users: Option<i64>,
}

/// A workspace's security at a glance over a range (`24h`, `7d` or `30d`), from the rollups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Overview {
    pub range: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// The one sentence that names the biggest risk (or says there is none).
    pub headline: HealthItem,
    /// Web, iOS, Android, in that order.
    pub platforms: Vec<PlatformHealth>,
    /// The most frequent failure reasons of the range, most attempts first.
    pub failures: Vec<FailureGroup>,
    /// What to fix, most severe first; empty when all is well.
    pub checklist: Vec<HealthItem>,
}

/// One platform's mode and traffic over the range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlatformHealth {
    pub platform: String,
    pub mode: String,
    pub totals: OutcomeCounts,
    /// Distinct users among the range's unverified attempts (estimated from the hourly
    /// rollups' user sketches).
    pub unverified_users: i64,
    /// Attempts per chart bar, oldest first (hours for 24 h, 6 hours for 7 d, days for 30 d).
    pub series: Vec<SeriesPoint>,
    /// First and last verified attempt still within the log's retention.
    pub first_verified_at: Option<DateTime<Utc>>,
    pub last_verified_at: Option<DateTime<Utc>>,
    /// For a platform in monitor mode: whether it can be switched to enforce.
    pub readiness: Option<Readiness>,
}

/// Attempts by outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeCounts {
    pub verified: i64,
    pub unverified: i64,
    pub would_reject: i64,
    pub rejected: i64,
}

/// One bar of a platform's chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesPoint {
    pub at: DateTime<Utc>,
    pub counts: OutcomeCounts,
}

/// What switching a monitored platform to enforce would do, judged on the range's traffic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Readiness {
    /// Share of attempts that would have been rejected, 0 to 1.
    pub would_reject_rate: f64,
    pub ready: bool,
    pub verdict: String,
    /// The reasons of the would-be rejections, most attempts first.
    pub reasons: Vec<ReasonCount>,
}

/// Attempts and distinct users of one reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReasonCount {
    pub reason: String,
    pub attempts: i64,
    pub users: i64,
    pub fix: String,
}

/// One failure reason of the range, with where and when it happened and how to fix it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailureGroup {
    pub reason: String,
    pub attempts: i64,
    pub users: i64,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub platforms: Vec<String>,
    pub kids: Vec<String>,
    pub fix: String,
}

/// What switching one platform to enforce would have rejected over the last 7 days.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnforceImpact {
    pub platform: String,
    /// Every attempt of the 7 days.
    pub attempts: i64,
    /// Those that failed verification (would-reject or unverified): enforce would refuse them.
    pub would_fail: i64,
    /// Their reasons, most attempts first.
    pub reasons: Vec<ReasonCount>,
}

/// A health finding: how bad, what, and where it is fixed (a dashboard path).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthItem {
    /// `critical`, `warning`, `info` or `ok`.
    pub severity: String,
    pub title: String,
    pub detail: String,
    /// The dashboard page that fixes it, relative to the workspace (`/security`, `/keys`...).
    pub fix_path: String,
}

/// `POST /api/v1/workspaces/{id}/keys/import` body: bring your own secret (at least 32 bytes,
/// used as the raw HMAC key). Never echoed back.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportKeyRequest {
    pub secret: String,
    /// Make it the primary (the old primary then verifies for 24 h), or verify-only.
    #[serde(default)]
    pub primary: bool,
}

/// A webhook endpoint of a workspace (its secret is shown only once, at creation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookEndpoint {
    pub id: Uuid,
    pub url: String,
    /// Subscribed event types (`key.revoked`, `alert.rejection_spike`, ...).
    pub events: Vec<String>,
    pub enabled: bool,
    /// Why the endpoint was disabled by the server (after repeated failures), if it was.
    pub disabled_reason: Option<String>,
    pub consecutive_failures: i32,
    pub created_at: DateTime<Utc>,
}

/// `POST /api/v1/workspaces/{id}/webhooks` and `PUT .../webhooks/{hook_id}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WebhookRequest {
    pub url: String,
    pub events: Vec<String>,
    /// Only on `PUT`: enabling a disabled endpoint clears its failure count.
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// Answer to a creation: the endpoint and its signing secret (`whsec_...`), shown this once.
#[derive(Clone, Serialize, Deserialize)]
pub struct CreatedWebhook {
    #[serde(flatten)]
    pub endpoint: WebhookEndpoint,
    pub secret: String,
}

/// One event's delivery to one endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "sqlx", derive(sqlx::FromRow))]
pub struct WebhookDelivery {
    pub id: Uuid,
    pub event_id: String,
    pub event_type: String,
    /// `pending`, `delivered` or `failed` (given up).
    pub status: String,
    pub attempts: i32,
    pub response_code: Option<i32>,
    /// The start of the receiver's answer (at most 256 characters).
    pub response_excerpt: Option<String>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub next_attempt_at: Option<DateTime<Utc>>,
}
