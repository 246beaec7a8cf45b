//! Interop: tokens made *at test time* by independent JWT libraries — PyJWT, and node's
//! `jsonwebtoken` and `jose` — verify in `countersign_core::verify`, and the tampered ones the
//! generators derive from them fail with the expected reason code.
//!
//! The generators (`tests/interop/gen_pyjwt.py`, `tests/interop/gen_node.mjs`) print one JSON
//! case per line: `{lib, name, alg, app_id, key_kid, secret, kid, now, token, expect, user_id,
//! claims}`. Nothing generated is committed. The libraries are installed by `scripts/test`
//! (`install_interop_tools` in `scripts/provision.sh`): PyJWT into `.local/venv`, whose python
//! `COUNTERSIGN_PYTHON` names, and the npm packages into `tests/interop/node_modules`. A missing
//! interpreter or library fails the test, never skips it.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use countersign_core::{
    parse_identify_request, verify, verify_traced, AttributeDef, AttributeType, Context, KeyState, Outcome,
    VerificationKey, WorkspacePolicy,
};
use serde_json::{json, Value};

const HOW_TO_FIX: &str = "Run scripts/test (it installs PyJWT into .local/venv and the npm \
    packages of core/tests/interop), or `source scripts/provision.sh && install_interop_tools` \
    and run this test with the COUNTERSIGN_PYTHON and NODE_PATH it exports.";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("core/ has a parent").to_path_buf()
}

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop")
}

/// `$COUNTERSIGN_PYTHON` if set, else the provisioned `.local/venv` if present, else `python3`.
fn python() -> OsString {
    if let Some(python) = std::env::var_os("COUNTERSIGN_PYTHON").filter(|p| !p.is_empty()) {
        return python;
    }
    let venv = repo_root().join(".local/venv/bin/python");
    if venv.exists() {
        return venv.into_os_string();
    }
    OsString::from("python3")
}

/// `NODE_PATH` with `tests/interop/node_modules` appended (the script also finds it by itself).
fn node_path() -> OsString {
    let ours = interop_dir().join("node_modules");
    let mut paths: Vec<PathBuf> =
        std::env::var_os("NODE_PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    paths.push(ours);
    std::env::join_paths(paths).expect("NODE_PATH entries contain no separator")
}

/// Runs a generator from the repository root and parses its JSON lines. Any failure panics
/// with what to do about it.
fn generate(program: &OsString, script: &str, env: &[(&str, OsString)]) -> Vec<Value> {
    let shown = format!("{} {script}", program.to_string_lossy());
    let output = Command::new(program)
        .arg(script)
        .current_dir(repo_root())
        .envs(env.iter().map(|(k, v)| (*k, v)))
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{shown}`: {e}.\n{HOW_TO_FIX}"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "`{shown}` failed ({}):\n{stderr}\n{HOW_TO_FIX}", output.status);
    let stdout = String::from_utf8(output.stdout).expect("generator output is UTF-8");
    let cases: Vec<Value> = stdout
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("`{shown}` printed a line that is not JSON ({e}): {line}"))
        })
        .collect();
    assert!(!cases.is_empty(), "`{shown}` printed no case.\n{stderr}\n{HOW_TO_FIX}");
    cases
}

fn field<'v>(case: &'v Value, name: &str) -> &'v str {
    case[name].as_str().unwrap_or_else(|| panic!("case without string field {name}: {case}"))
}

/// Verifies one case as an `ios` identify request against a default workspace whose only key
/// is the case's primary key and which registers `plan` as a secure-only string attribute.
/// Returns a description of the mismatch, if any.
fn check(case: &Value) -> Option<String> {
    let (app_id, expect) = (field(case, "app_id"), field(case, "expect"));
    let key_kid = field(case, "key_kid");
    let now = case["now"].as_i64().expect("case.now is an integer");
    let mut policy = WorkspacePolicy::new_default(app_id);
    policy.keys = vec![VerificationKey::new(key_kid, field(case, "secret").as_bytes().to_vec(), KeyState::Primary)];
    policy.attributes = vec![AttributeDef { name: "plan".into(), kind: AttributeType::String, secure_only: true }];
    let body = json!({"app_id": app_id, "platform": "ios", "user_jwt": case["token"]});
    let request = parse_identify_request(&body).expect("a well-formed identify body");
    let context = Context { origin: None, now };
    // The debugger's verdict carries the decoded payload to compare with what was signed.
    let verdict = verify_traced(&request, &policy, &context);
    let identify = verify(&request, &policy, &context);

    let got = match verdict.reason {
        None if verdict.verified => "verified",
        Some(reason) => reason.as_str(),
        None => "unverified without a reason",
    };
    let mut problems = Vec::new();
    if (identify.reason, &identify.user_id, &identify.attributes)
        != (verdict.reason, &verdict.user_id, &verdict.attributes)
    {
        problems.push("verify and verify_traced disagree".to_string());
    }
    if got != expect {
        problems.push(format!("expected {expect}, got {got}"));
    }
    if expect == "verified" {
        if verdict.outcome != Outcome::Verified {
            problems.push(format!("outcome {:?}", verdict.outcome));
        }
        if verdict.user_id.as_deref() != case["user_id"].as_str() {
            problems.push(format!("user_id {:?}, expected {}", verdict.user_id, case["user_id"]));
        }
        if verdict.kid.as_deref() != Some(key_kid) {
            problems.push(format!("kid {:?}, expected {key_kid}", verdict.kid));
        }
        if verdict.alg.as_deref() != case["alg"].as_str() {
            problems.push(format!("alg {:?}, expected {}", verdict.alg, case["alg"]));
        }
        if verdict.payload.as_ref() != Some(&case["claims"]) {
            problems.push(format!(
                "the token carries {:?}, the generator says it signed {}",
                verdict.payload, case["claims"]
            ));
        }
        if let Some(plan) = case["claims"].get("plan") {
            if verdict.attributes.get("plan") != Some(plan) {
                problems.push(format!(
                    "signed attribute plan not accepted: {:?} / {:?}",
                    verdict.attributes, verdict.rejected_attributes
                ));
            }
        }
    } else if verdict.outcome != Outcome::Rejected || verdict.verified {
        problems.push(format!("outcome {:?}, verified {}", verdict.outcome, verdict.verified));
    }
    if problems.is_empty() {
        return None;
    }
    Some(format!("[{}] {}: {} ({})", field(case, "lib"), field(case, "name"), problems.join("; "), verdict.explanation))
}

/// Checks every case, then that each library's cases are not vacuous: every HMAC algorithm
/// verified, with and without `kid`, and tampered and unsigned tokens refused.
fn check_all(cases: &[Value], libs: &[&str]) {
    let failures: Vec<String> = cases.iter().filter_map(check).collect();
    assert!(
        failures.is_empty(),
        "{} of {} interop cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    for lib in libs {
        let ours: Vec<&Value> = cases.iter().filter(|c| field(c, "lib").starts_with(lib)).collect();
        let verified = |alg: &str, with_kid: bool| {
            ours.iter()
                .any(|c| field(c, "expect") == "verified" && field(c, "alg") == alg && c["kid"].is_string() == with_kid)
        };
        for alg in ["HS256", "HS384", "HS512"] {
            assert!(verified(alg, true), "{lib}: no verified {alg} token with kid");
            assert!(verified(alg, false), "{lib}: no verified {alg} token without kid");
        }
        let reasons: BTreeSet<&str> = ours.iter().map(|c| field(c, "expect")).collect();
        for reason in [
            "invalid_signature",
            "unsupported_algorithm",
            "unknown_key",
            "token_expired",
            "token_not_yet_valid",
            "token_issued_in_future",
        ] {
            assert!(reasons.contains(reason), "{lib}: no case expecting {reason}");
        }
        assert!(
            ours.iter().any(|c| field(c, "alg") == "none" && field(c, "expect") == "unsupported_algorithm"),
            "{lib}: no library-made alg none token"
        );
    }
}

/// PyJWT's HS256/384/512 tokens verify; its tampered, unsigned and mis-keyed ones do not.
#[test]
fn pyjwt_tokens() {
    let cases = generate(&python(), "core/tests/interop/gen_pyjwt.py", &[]);
    check_all(&cases, &["pyjwt"]);
}

/// node `jsonwebtoken` and `jose` tokens verify; their tampered, unsigned and mis-keyed ones
/// do not.
#[test]
fn node_jsonwebtoken_and_jose_tokens() {
    let cases = generate(&OsString::from("node"), "core/tests/interop/gen_node.mjs", &[("NODE_PATH", node_path())]);
    check_all(&cases, &["jsonwebtoken", "jose"]);
}
