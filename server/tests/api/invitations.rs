//! Invitations: single-use, expiring links; accepted with a new account or a signed-in one.

use axum::http::StatusCode;
use countersign_service::Settings;
use serde_json::json;
use sqlx::PgPool;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::support::{session_of, Auth, TestApp, PASSWORD};

const ACCEPT: &str = "/api/v1/invitations/accept";

/// A new person accepts by choosing their own password; the link is shown once, stored only as
/// a hash, works once, and every step is audited.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn new_account_accepts_with_own_password(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (owner, ws) = app.signup("owner@example.com", "Acme").await;
    let base = format!("/api/v1/workspaces/{ws}/invitations");
    let created = app.post(&base, json!({"email": "Dev@Example.com", "role": "developer"}), &owner).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let token = created.body["token"].as_str().unwrap_or("").to_owned();
    assert!(token.starts_with("cs_inv_") && token.len() > 40, "{token}");
    assert_eq!(created.body["url"], format!("http://127.0.0.1:3000/invite?token={token}"));
    assert_eq!(
        (created.body["email"].as_str(), created.body["status"].as_str()),
        (Some("dev@example.com"), Some("pending"))
    );
    assert_eq!(created.body["emailed"], false, "no mail relay is configured");

    let hashed: bool = sqlx::query_scalar("SELECT token_hash = sha256(convert_to($1, 'UTF8')) FROM invitations")
        .bind(&token)
        .fetch_one(&app.pool)
        .await
        .unwrap_or(false);
    assert!(hashed, "only the SHA-256 is stored");
    let listed = app.get(&base, &owner).await;
    assert!(listed.body[0].get("token").is_none() && !listed.body.to_string().contains(&token), "never listed again");
    assert_eq!(listed.body[0]["invited_by"], "owner@example.com");
    assert_eq!(
        app.get(&format!("/api/v1/workspaces/{ws}/members"), &owner).await.body.as_array().map(Vec::len),
        Some(1),
        "nobody added yet"
    );

    let no_password = app.post(ACCEPT, json!({"token": token}), &Auth::None).await;
    assert_eq!((no_password.status, no_password.code()), (StatusCode::BAD_REQUEST, "invalid_request"));
    let weak = app.post(ACCEPT, json!({"token": token, "password": "short"}), &Auth::None).await;
    assert_eq!(weak.code(), "invalid_request");
    let other_email =
        app.post(ACCEPT, json!({"token": token, "password": PASSWORD, "email": "eve@example.com"}), &Auth::None).await;
    assert_eq!(other_email.code(), "invalid_request", "{}", other_email.body);

    let accepted = app.post(ACCEPT, json!({"token": token, "password": PASSWORD}), &Auth::None).await;
    assert_eq!(accepted.status, StatusCode::CREATED, "{}", accepted.body);
    assert_eq!(accepted.body["account"]["email"], "dev@example.com");
    assert_eq!(accepted.body["workspace"]["id"], ws.as_str());
    assert_eq!(accepted.body["workspace"]["role"], "developer");
    assert_eq!(accepted.body["account_created"], true);
    let dev = session_of(&accepted);
    assert_eq!(app.get("/api/v1/workspaces", &dev).await.body[0]["role"], "developer", "signed in");
    app.login("dev@example.com", PASSWORD).await;

    let again =
        app.post(ACCEPT, json!({"token": token, "password": PASSWORD, "email": "x@example.com"}), &Auth::None).await;
    assert_eq!((again.status, again.code()), (StatusCode::GONE, "invitation_used"));
    let listed = app.get(&base, &owner).await;
    assert_eq!(
        (listed.body[0]["status"].as_str(), listed.body[0]["accepted_by"].as_str()),
        (Some("accepted"), Some("dev@example.com"))
    );
    assert_eq!(app.audit_count("invitation.created").await, 1);
    assert_eq!(app.audit_count("invitation.accepted").await, 1);
    let accounts: i64 = sqlx::query_scalar("SELECT count(*) FROM accounts").fetch_one(&app.pool).await.unwrap_or(-1);
    assert_eq!(accounts, 2, "the refused attempts made no account");
}

/// A link without an email: a signed-in holder joins with their account (password untouched);
/// a signed-out holder gives an email for the new account.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn open_link_joins_signed_in_account_or_asks_for_email(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (owner, ws) = app.signup("owner@example.com", "Acme").await;
    let (bob, _) = app.signup("bob@example.com", "Bobco").await;
    let token = app.invite(&ws, &owner, None, "support").await;
    let joined = app.post(ACCEPT, json!({"token": token, "password": "ignored-when-signed-in"}), &bob).await;
    assert_eq!(joined.status, StatusCode::OK, "{}", joined.body);
    assert!(joined.headers.get("set-cookie").is_none(), "the existing session stays");
    assert_eq!(
        (joined.body["account"]["email"].as_str(), joined.body["workspace"]["role"].as_str()),
        (Some("bob@example.com"), Some("support"))
    );
    app.login("bob@example.com", PASSWORD).await;
    assert_eq!(app.get("/api/v1/workspaces", &bob).await.body.as_array().map(Vec::len), Some(2));

    let token = app.invite(&ws, &owner, None, "developer").await;
    let no_email = app.post(ACCEPT, json!({"token": token, "password": PASSWORD}), &Auth::None).await;
    assert_eq!((no_email.status, no_email.code()), (StatusCode::BAD_REQUEST, "invalid_request"));
    let accepted = app
        .post(ACCEPT, json!({"token": token, "password": PASSWORD, "email": " Carol@Example.com "}), &Auth::None)
        .await;
    assert_eq!(accepted.status, StatusCode::CREATED, "{}", accepted.body);
    assert_eq!(accepted.body["account"]["email"], "carol@example.com");
    let stale = app.post(ACCEPT, json!({"token": "cs_inv_nonsense"}), &Auth::Cookie("ended-session".into())).await;
    assert_eq!(stale.code(), "unauthorized", "a bad session is not silently ignored");
}

/// Revoked, expired and unknown links answer clear errors; an accepted one cannot be revoked.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn revoked_expired_and_unknown_links(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (owner, ws) = app.signup("owner@example.com", "Acme").await;
    let base = format!("/api/v1/workspaces/{ws}/invitations");
    let revoked = app.invite(&ws, &owner, Some("r@example.com"), "support").await;
    let expiring = app.invite(&ws, &owner, Some("e@example.com"), "support").await;
    let list = app.get(&base, &owner).await;
    let revoked_id = list
        .body
        .as_array()
        .and_then(|l| l.iter().find(|i| i["email"] == "r@example.com"))
        .map(|i| i["id"].as_str().unwrap_or("").to_owned())
        .unwrap_or_default();
    assert_eq!(app.delete(&format!("{base}/{revoked_id}"), &owner).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.delete(&format!("{base}/{revoked_id}"), &owner).await.status, StatusCode::NO_CONTENT, "idempotent");
    let reply = app.post(ACCEPT, json!({"token": revoked, "password": PASSWORD}), &Auth::None).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::GONE, "invitation_revoked"));
    assert_eq!(app.audit_count("invitation.revoked").await, 1);

    app.svc.clock.advance(chrono::Duration::days(8));
    let owner = app.login("owner@example.com", PASSWORD).await;
    let reply = app.post(ACCEPT, json!({"token": expiring, "password": PASSWORD}), &Auth::None).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::GONE, "invitation_expired"));
    let statuses: Vec<String> = app
        .get(&base, &owner)
        .await
        .body
        .as_array()
        .map(|l| l.iter().map(|i| i["status"].as_str().unwrap_or("").to_owned()).collect())
        .unwrap_or_default();
    assert_eq!(statuses, ["expired", "revoked"]);

    let reply = app.post(ACCEPT, json!({"token": "cs_inv_not-a-real-token", "password": PASSWORD}), &Auth::None).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::NOT_FOUND, "not_found"));
    let reply = app.post(ACCEPT, json!({"password": PASSWORD}), &Auth::None).await;
    assert_eq!(reply.code(), "invalid_request");

    let token = app.invite(&ws, &owner, None, "support").await;
    app.post(ACCEPT, json!({"token": token, "password": PASSWORD, "email": "a@example.com"}), &Auth::None).await;
    let accepted_id = app.get(&base, &owner).await.body[0]["id"].as_str().unwrap_or("").to_owned();
    let reply = app.delete(&format!("{base}/{accepted_id}"), &owner).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::CONFLICT, "conflict"));
    let reply = app.delete(&format!("{base}/00000000-0000-4000-8000-000000000000"), &owner).await;
    assert_eq!(reply.code(), "not_found");
}

/// Only owners invite owners (or revoke such invitations); roles without member management
/// can neither invite nor see invitations.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn role_rules(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (owner, ws) = app.signup("owner@example.com", "Acme").await;
    let admin = app.join(&ws, &owner, "admin@example.com", "admin").await;
    let base = format!("/api/v1/workspaces/{ws}/invitations");
    let reply = app.post(&base, json!({"role": "owner"}), &admin).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::FORBIDDEN, "forbidden"));
    app.invite(&ws, &owner, None, "owner").await;
    let id = app.get(&base, &admin).await.body[0]["id"].as_str().unwrap_or("").to_owned();
    assert_eq!(app.delete(&format!("{base}/{id}"), &admin).await.code(), "forbidden");
    app.invite(&ws, &admin, Some("dev@example.com"), "admin").await;
    let reply = app.post(&base, json!({"email": "not an email", "role": "admin"}), &owner).await;
    assert_eq!(reply.code(), "invalid_request");
    let reply = app.post(&base, json!({"role": "superuser"}), &owner).await;
    assert_eq!(reply.code(), "invalid_request");
}

/// With a mail relay configured, the invitation link is emailed to the invited address.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn link_is_emailed_through_the_relay(pool: PgPool) {
    let relay = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = relay.local_addr().expect("addr").to_string();
    let received = tokio::spawn(async move {
        let (stream, _) = relay.accept().await.expect("accept");
        smtp_sink(stream).await
    });
    let smtp = countersign_service::mail::SmtpSettings { addr, from: "countersign@example.com".into() };
    let app = TestApp::with_settings(pool, Settings { smtp: Some(smtp), ..Settings::default() }).await;
    let (owner, ws) = app.signup("owner@example.com", "Acme").await;
    let created = app
        .post(
            &format!("/api/v1/workspaces/{ws}/invitations"),
            json!({"email": "dev@example.com", "role": "developer"}),
            &owner,
        )
        .await;
    assert_eq!(created.body["emailed"], true, "{}", created.body);
    let (envelope, message) = received.await.expect("relay");
    assert_eq!(envelope, ["MAIL FROM:<countersign@example.com>", "RCPT TO:<dev@example.com>"]);
    assert!(message.contains("Subject: Join Acme on Countersign"), "{message}");
    assert!(message.contains(created.body["url"].as_str().unwrap_or("-")), "{message}");
}

/// A minimal SMTP server: accepts one message, returns its envelope commands and data.
async fn smtp_sink(stream: tokio::net::TcpStream) -> (Vec<String>, String) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let (mut envelope, mut data, mut in_data) = (Vec::new(), String::new(), false);
    write.write_all(b"220 sink\r\n").await.expect("greet");
    while let Ok(Some(line)) = lines.next_line().await {
        let answer: &[u8] = if in_data {
            if line == "." {
                in_data = false;
                b"250 queued\r\n"
            } else {
                data.push_str(&line);
                data.push('\n');
                continue;
            }
        } else if line.starts_with("EHLO") {
            b"250-sink\r\n250 8BITMIME\r\n"
        } else if line == "DATA" {
            in_data = true;
            b"354 go on\r\n"
        } else if line == "QUIT" {
            write.write_all(b"221 bye\r\n").await.ok();
            break;
        } else {
            envelope.push(line);
            b"250 ok\r\n"
        };
        write.write_all(answer).await.expect("answer");
    }
    (envelope, data)
}
