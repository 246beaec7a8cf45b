//! The demo workspace (`countersign-server seed-demo`): an account, a workspace configured the
//! way a team midway through rolling out verification would have it, and a day of identify
//! traffic sent through the real identify path, so every page shows what it is for on first
//! sign-in. The traffic is sent with the service's clock set back hour by hour; nothing is
//! written around identify.

use std::time::Instant;

use chrono::Duration;
use countersign_core::{sign_jwt, AttributeDef, AttributeType, Mode, Modes};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::accounts::{insert_account, normalize_email};
use crate::error::ServiceResult;
use crate::{Actor, Clock, RequestMeta, Service};

/// The origin the demo's web widget runs on.
const DEMO_ORIGIN: &str = "https://app.demo.example";
/// Distinct end users of the demo app.
const USERS: u32 = 140;
/// Hours of traffic.
const HOURS: i64 = 24;
/// The rotation happened this many hours ago; its grace period runs for another day.
const ROTATED_HOURS_AGO: i64 = 5;

/// Identify attempts of one hour of the day: a day-and-night curve between 0.35 and 1.
fn load(hour_ago: i64) -> f64 {
    let phase = (hour_ago as f64 / 24.0) * std::f64::consts::TAU;
    0.675 + 0.325 * phase.cos()
}

fn claims(user: &str, iat: i64, exp: i64, extra: &[(&str, Value)]) -> Map<String, Value> {
    let mut claims = Map::new();
    claims.insert("user_id".into(), json!(user));
    claims.insert("iat".into(), json!(iat));
    claims.insert("exp".into(), json!(exp));
    for (name, value) in extra {
        claims.insert((*name).into(), value.clone());
    }
    claims
}

/// The secrets the demo's backend signs with: the current primary, the previous one (in its
/// grace period after the rotation) and one that was revoked after it leaked.
struct Signers {
    previous: (String, String),
    current: Option<(String, String)>,
    leaked: (String, String),
}

impl Service {
    /// Creates the demo account, its workspace and a day of traffic, unless the account exists
    /// (idempotent: a second run changes nothing).
    pub async fn seed_demo(&self, email: &str, password: &str, workspace_name: &str) -> ServiceResult<()> {
        let email = normalize_email(email)?;
        let exists: bool = crate::db::query_scalar("SELECT EXISTS (SELECT 1 FROM accounts WHERE lower(email) = $1)")
            .bind(&email)
            .fetch_one(&self.pool)
            .await?;
        if exists {
            return Ok(());
        }
        let hash = self.passwords.hash(password).await?;
        let mut tx = self.pool.begin().await?;
        let account_id = insert_account(&mut tx, &email, &hash, self.clock.now()).await?;
        let actor = Actor { account_id, email, meta: RequestMeta::default() };
        let workspace = self.create_workspace_in(&mut tx, &actor, workspace_name).await?;
        tx.commit().await?;
        self.seed_demo_traffic(&actor, workspace.id, &workspace.app_id).await
    }

    /// This service with its clock `hours` in the past.
    fn hours_ago(&self, hours: i64) -> Service {
        let clock = Clock::system();
        clock.advance(-Duration::hours(hours));
        let mut past = self.clone();
        past.clock = clock;
        past
    }

    async fn seed_demo_traffic(&self, actor: &Actor, workspace_id: Uuid, app_id: &str) -> ServiceResult<()> {
        let start = self.hours_ago(HOURS + 2);
        let mut settings = start.get_security(actor, workspace_id).await?;
        settings.modes = Modes { web: Mode::Enforce, ios: Mode::Monitor, android: Mode::Off };
        settings.allowed_origins = vec![DEMO_ORIGIN.to_owned()];
        start.update_security(actor, workspace_id, &settings).await?;
        for (name, kind, secure_only) in [
            ("plan", AttributeType::String, true),
            ("role", AttributeType::String, true),
            ("email", AttributeType::String, false),
            ("company", AttributeType::String, false),
            ("seats", AttributeType::Number, false),
        ] {
            start.create_attribute(actor, workspace_id, &AttributeDef { name: name.into(), kind, secure_only }).await?;
        }
        // A secret that leaked: imported a while ago, revoked, and still presented by someone.
        let leaked_secret = format!("cs_demo_leaked_{}", Uuid::new_v4().simple());
        let leaked = start.import_key(actor, workspace_id, &leaked_secret, false).await?;
        start.revoke_key(actor, workspace_id, &leaked.kid).await?;
        let keys = start.list_keys(actor, workspace_id).await?;
        let primary = keys.iter().find(|k| k.state == "primary").map(|k| k.kid.clone()).unwrap_or_default();
        let previous_secret = start.reveal_secret(actor, workspace_id, &primary).await?.secret;
        let mut signers =
            Signers { previous: (primary, previous_secret), current: None, leaked: (leaked.kid, leaked_secret) };

        for hours_ago in (0..HOURS).rev() {
            if hours_ago == ROTATED_HOURS_AGO {
                let rotated = self.hours_ago(hours_ago).rotate_key(actor, workspace_id, Some(24 * 3600)).await?;
                let secret =
                    self.hours_ago(hours_ago).reveal_secret(actor, workspace_id, &rotated.key.kid).await?.secret;
                signers.current = Some((rotated.key.kid, secret));
            }
            self.hours_ago(hours_ago).demo_hour(app_id, hours_ago, &signers).await?;
        }
        Ok(())
    }

    /// One hour of the demo app's traffic, sent through identify.
    async fn demo_hour(&self, app_id: &str, hours_ago: i64, signers: &Signers) -> ServiceResult<()> {
        let now = self.clock.now().timestamp();
        let n = |base: f64| (base * load(hours_ago)).round().max(1.0) as u32;
        let user = |i: u32| format!("user_{:03}", (i * 37 + hours_ago as u32 * 11) % USERS);
        let (kid, secret) = signers.current.as_ref().unwrap_or(&signers.previous);
        let mut sends: Vec<(Value, Option<&str>)> = Vec::new();
        for i in 0..n(18.0) {
            let u = user(i);
            let signed = claims(
                &u,
                now,
                now + 3600,
                &[
                    ("plan", json!(if i % 4 == 0 { "enterprise" } else { "pro" })),
                    ("role", json!(if i % 6 == 0 { "admin" } else { "member" })),
                    ("email", json!(format!("{u}@customer.example"))),
                ],
            );
            // After the rotation, a backend not yet moved still signs with the previous key.
            let (kid, secret) = if i % 5 == 0 { (&signers.previous.0, &signers.previous.1) } else { (kid, secret) };
            let token = sign_jwt(secret.as_bytes(), kid, &signed);
            sends.push((json!({"app_id": app_id, "platform": "web", "user_jwt": token, "attributes": {"company": "Acme", "seats": 12}}), Some(DEMO_ORIGIN)));
        }
        for i in 0..n(9.0) {
            let u = user(i + 50);
            // Every few hours an app build caches a token past its expiry, and an old backend
            // still signs some tokens for 30 days (the checklist names them).
            let (iat, exp) = match i {
                0 if hours_ago % 3 == 0 => (now - 10_800, now - 7200),
                1 if hours_ago % 4 == 1 => (now, now + 30 * 86_400),
                _ => (now, now + 3600),
            };
            let token = sign_jwt(secret.as_bytes(), kid, &claims(&u, iat, exp, &[]));
            sends.push((json!({"app_id": app_id, "platform": "ios", "user_jwt": token}), None));
        }
        for i in 0..n(7.0) {
            let u = user(i + 90);
            // Android is not verified yet: unsigned ids, and a client trying to set its own plan
            // (and, now and then, make itself an admin).
            let attributes = if i % 3 == 0 {
                json!({"plan": "enterprise", "role": "admin", "seats": 3})
            } else {
                json!({"plan": "enterprise", "seats": 3})
            };
            sends
                .push((json!({"app_id": app_id, "platform": "android", "user_id": u, "attributes": attributes}), None));
        }
        if hours_ago % 4 == 1 {
            let token =
                sign_jwt(signers.leaked.1.as_bytes(), &signers.leaked.0, &claims("user_007", now, now + 3600, &[]));
            sends.push((json!({"app_id": app_id, "platform": "web", "user_jwt": token}), Some(DEMO_ORIGIN)));
        }
        if hours_ago % 3 == 2 {
            let forged =
                sign_jwt(b"a guess at the secret that is not it", kid, &claims("user_001", now, now + 3600, &[]));
            sends.push((json!({"app_id": app_id, "platform": "web", "user_jwt": forged}), Some(DEMO_ORIGIN)));
            sends.push((json!({"app_id": app_id, "platform": "web", "user_jwt": sign_jwt(secret.as_bytes(), kid, &claims("user_002", now, now + 600, &[]))}), Some("https://copycat.example")));
        }
        let meta = RequestMeta {
            ip: Some(format!("198.51.100.{}", 10 + hours_ago)),
            user_agent: Some("Mozilla/5.0 (demo traffic)".into()),
        };
        for (body, origin) in sends {
            // Refusals are part of the demo: their answers are errors by design.
            let _ = self.identify(body.to_string().as_bytes(), origin, &meta, Instant::now()).await;
        }
        Ok(())
    }
}
