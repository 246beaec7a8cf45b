//! The demo workspace: a day of traffic through the real identify path, seeded once.

#![allow(clippy::unwrap_used)]

use sqlx::PgPool;

use crate::support::TestApp;

#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn the_demo_has_a_day_of_traffic_and_seeds_once(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    app.svc.seed_demo("demo@countersign.local", "countersign-demo", "Demo workspace").await.unwrap();
    let rows = |sql: &'static str| {
        let pool = pool.clone();
        async move { sqlx::query_scalar::<_, i64>(sql).fetch_one(&pool).await.unwrap() }
    };
    let total = rows("SELECT count(*) FROM verification_log").await;
    assert!(total > 400, "a day of traffic: {total} rows");
    assert!(
        rows("SELECT count(DISTINCT date_trunc('hour', at)) FROM verification_log").await >= 24,
        "spread over the day"
    );
    assert_eq!(
        rows("SELECT sum(attempts)::bigint FROM log_rollup_hour").await,
        total,
        "every attempt went through the writer"
    );
    for (platform, outcome) in [
        ("web", "verified"),
        ("web", "rejected"),
        ("ios", "verified"),
        ("ios", "would_reject"),
        ("android", "unverified"),
    ] {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM verification_log WHERE platform = $1 AND outcome = $2")
            .bind(platform)
            .bind(outcome)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert!(n > 0, "{platform} {outcome}");
    }
    for reason in ["revoked_key", "invalid_signature", "origin_not_allowed", "token_expired"] {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM verification_log WHERE reason = $1")
            .bind(reason)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert!(n > 0, "{reason}");
    }
    assert_eq!(
        rows("SELECT count(*) FROM workspace_keys WHERE state = 'rotating'").await,
        1,
        "a rotation in its grace period"
    );
    assert!(
        rows("SELECT count(*) FROM verification_log WHERE attributes_rejected::text LIKE '%secure_only%'").await > 0
    );
    assert_eq!(rows("SELECT count(*) FROM attributes WHERE secure_only").await, 2, "a few secure-only attributes");
    assert!(
        rows("SELECT count(*) FROM verification_log WHERE attributes_rejected @> '[{\"name\": \"role\"}]'").await > 0,
        "an unsigned role is refused"
    );
    assert!(
        rows("SELECT count(*) FROM verification_log WHERE outcome = 'verified' AND details ? 'long_lived'").await > 0,
        "an old backend's 30-day tokens verify, marked long-lived"
    );

    app.svc.seed_demo("demo@countersign.local", "countersign-demo", "Demo workspace").await.unwrap();
    assert_eq!(rows("SELECT count(*) FROM verification_log").await, total, "a second run changes nothing");
    assert_eq!(rows("SELECT count(*) FROM workspaces").await, 1);
}
