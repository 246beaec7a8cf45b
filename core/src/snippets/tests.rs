use super::*;

fn context(profile: TokenProfile) -> SnippetContext {
    SnippetContext::new("app_test", Some("k_primary"), profile, &[], None, None, "https://cs.example.com/")
}

fn names(context: &SnippetContext) -> Vec<String> {
    context.claims().into_iter().map(|c| c.name).collect()
}

/// Each profile's token has the shape its vendor's guide gives (PRODUCT.md, "Token profiles").
#[test]
fn claims_follow_the_profile() {
    assert_eq!(names(&context(TokenProfile::Countersign)), ["user_id", "email", "name"]);
    assert_eq!(names(&context(TokenProfile::Intercom)), ["user_id", "email", "name"]);
    assert_eq!(names(&context(TokenProfile::Talkjs)), ["sub", "iss", "tokenType"]);
    assert_eq!(names(&context(TokenProfile::Featurebase)), ["userId", "email", "name"]);
    assert_eq!(names(&context(TokenProfile::Fogbender)), ["userId", "userEmail", "userName"]);
    let talkjs = context(TokenProfile::Talkjs).claims();
    assert_eq!(talkjs[1].value, ClaimValue::Text("app_test".into()), "the issuer defaults to the app id");
    assert_eq!(talkjs[2].value, ClaimValue::Text("user".into()));

    let custom = |claims: &[&str]| {
        let claims: Vec<String> = claims.iter().map(|c| c.to_string()).collect();
        SnippetContext::new("app_test", None, TokenProfile::Custom, &claims, Some("https://issuer"), None, "")
    };
    assert_eq!(names(&custom(&["uid", "mail"])), ["uid", "email", "name"], "the first custom claim carries the id");
    assert_eq!(names(&custom(&["email"])), ["email", "name"], "an id claim named email carries the id only");
    assert_eq!(custom(&["email"]).claims()[0].value, ClaimValue::UserId);
    assert_eq!(names(&custom(&[])), ["user_id", "email", "name"]);
}

/// Tokens live an hour, or the workspace's maximum lifetime when that is shorter.
#[test]
fn lifetime_respects_the_workspace_maximum() {
    let with_max = |max| SnippetContext::new("a", None, TokenProfile::Countersign, &[], None, max, "").lifetime_seconds;
    assert_eq!(with_max(None), 3600);
    assert_eq!(with_max(Some(300)), 300);
    assert_eq!(with_max(Some(86_400)), 3600);
    assert_eq!(with_max(Some(0)), 3600, "an impossible maximum is ignored");
    let fast = snippets(&SnippetContext::new("a", Some("k"), TokenProfile::Countersign, &[], None, Some(120), ""));
    for s in &fast.server {
        assert!(s.code.contains("120"), "{}: {}", s.id, s.code);
        assert!(!s.code.contains("3600"), "{}: {}", s.id, s.code);
    }
}

/// Every server snippet signs HS256 with the primary kid and every claim of the profile, and
/// reads the secret from the environment; the widget snippets call this deployment's identify.
#[test]
fn snippets_are_filled_in() {
    for profile in TokenProfile::ALL {
        let c = context(profile);
        let all = snippets(&c);
        let ids: Vec<&str> = all.server.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["node", "python", "ruby", "php", "go", "java", "csharp", "rust"]);
        for s in &all.server {
            assert!(s.code.contains("k_primary"), "{profile:?} {}: no kid", s.id);
            assert!(s.code.contains(SECRET_ENV), "{profile:?} {}: the secret is not read from the environment", s.id);
            assert!(s.code.contains("HS256") || s.code.contains("HmacSha256"), "{profile:?} {}", s.id);
            for claim in c.claims() {
                assert!(
                    s.code.contains(&format!("\"{}\"", claim.name)) || s.code.contains(&format!("{}:", claim.name)),
                    "{profile:?} {}: no {}",
                    s.id,
                    claim.name
                );
            }
            assert!(!s.code.contains("NO_PRIMARY") && !s.code.contains("no primary key"), "{}", s.id);
        }
        let widget: Vec<&str> = all.widget.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(widget, ["web", "ios", "android"]);
        for s in &all.widget {
            assert!(s.code.contains("\"https://cs.example.com/api/v1/identify\""), "{}", s.code);
            assert!(s.code.contains("\"app_test\""), "{}", s.code);
            assert!(
                s.code.contains(&format!("'{}'", s.id)) || s.code.contains(&format!("\"{}\"", s.id)),
                "{}: platform",
                s.id
            );
        }
    }
}

/// The Node snippet for the default profile, exactly (the one the browser test runs).
#[test]
fn node_snippet_text() {
    let node = snippets(&context(TokenProfile::Countersign)).server.remove(0);
    assert_eq!(
        node.code,
        "// npm install jsonwebtoken
const jwt = require('jsonwebtoken');

// Signs a Countersign token for one signed-in user. Run it on your server only: the
// secret comes from the environment and never reaches a browser or an app.
function countersignToken(user) {
  return jwt.sign(
    {
      user_id: String(user.id),
      email: user.email,
      name: user.name,
    },
    process.env.COUNTERSIGN_SECRET,
    { algorithm: 'HS256', keyid: \"k_primary\", expiresIn: 3600 },
  );
}

console.log(countersignToken({ id: 42, email: 'ada@example.com', name: 'Ada Lovelace' }));
"
    );
}

/// The Python snippet for the TalkJS profile, exactly.
#[test]
fn python_snippet_text() {
    let python = snippets(&context(TokenProfile::Talkjs)).server.remove(1);
    assert_eq!(
        python.code,
        "# pip install PyJWT
import os
import time

import jwt


def countersign_token(user):
    \"\"\"Signs a Countersign token for one signed-in user (on your server only).\"\"\"
    now = int(time.time())
    claims = {
        \"sub\": str(user[\"id\"]),
        \"iss\": \"app_test\",
        \"tokenType\": \"user\",
        \"iat\": now,
        \"exp\": now + 3600,
    }
    return jwt.encode(claims, os.environ[\"COUNTERSIGN_SECRET\"], algorithm=\"HS256\", headers={\"kid\": \"k_primary\"})


print(countersign_token({\"id\": 42, \"email\": \"ada@example.com\", \"name\": \"Ada Lovelace\"}))
"
    );
}

/// Without a primary key the snippets say so and put no `kid` in the header.
#[test]
fn without_a_primary_key() {
    let c = SnippetContext::new("app_test", None, TokenProfile::Countersign, &[], None, None, "");
    for s in snippets(&c).server {
        assert!(s.code.contains(NO_PRIMARY), "{}", s.id);
        assert!(!s.code.to_lowercase().contains("keyid") && !s.code.contains("\"kid\""), "{}: {}", s.id, s.code);
    }
}

/// A hostile issuer or claim name stays inside its string literal in every language: quotes,
/// backslashes, interpolation openers and control characters are escaped.
#[test]
fn workspace_values_cannot_become_code() {
    let hostile = "x\"); evil(); //\\ '$HOME #{pwn} \\(pwn) ${pwn}\n\u{7}";
    let claims = vec![hostile.to_string()];
    let talkjs = SnippetContext::new("app_test", Some("k_1"), TokenProfile::Talkjs, &[], Some(hostile), None, "");
    let custom = SnippetContext::new("app_test", Some("k_1"), TokenProfile::Custom, &claims, None, None, "");
    for c in [talkjs, custom] {
        for s in snippets(&c).server {
            assert!(!s.code.contains(hostile), "{}: raw value", s.id);
            assert!(!s.code.contains("x\"); evil"), "{}: a quote closes the literal", s.id);
            assert!(!s.code.contains('\u{7}') && !s.code.contains("pwn}\n"), "{}: control characters kept", s.id);
            if matches!(s.id.as_str(), "ruby") {
                assert!(s.code.contains("\\#{pwn}"), "{}", s.code);
            }
            if matches!(s.id.as_str(), "php") {
                assert!(s.code.contains("\\$HOME") && s.code.contains("\\${pwn}"), "{}", s.code);
            }
        }
    }
    // JavaScript, Python, Go, Java and C# literals are JSON strings: they read back exactly.
    let literal = q(hostile);
    assert_eq!(serde_json::from_str::<String>(&literal).ok().as_deref(), Some(hostile));
    assert_eq!(quote_with("a$b#{c}\u{1}", Quote { dollar: true, hash: true, braces: true }), "\"a\\$b\\#{c}\\u{1}\"");
}

/// JavaScript object keys are bare only when they are identifiers.
#[test]
fn javascript_keys() {
    assert!(is_identifier("user_id") && is_identifier("$x") && is_identifier("tokenType"));
    for bad in ["", "1a", "user-id", "a b", "é"] {
        assert!(!is_identifier(bad), "{bad}");
    }
}
