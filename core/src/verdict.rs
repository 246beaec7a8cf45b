//! The result of one identify attempt: outcome, reason, human explanation, accepted and refused
//! attributes, and an ordered trace of checks for the token debugger. Never holds a token, a
//! signature or a secret.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::claims::LongLived;
use crate::platform::Mode;
use crate::reason::{Outcome, Reason};

/// One step of verification, in order, for the token debugger (`checks: [{check, ok, detail}]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// Short machine name of the step (`size`, `format`, `alg`, `signature`, `exp`, ...).
    pub check: String,
    /// Whether the step passed.
    pub ok: bool,
    /// What was found, in words; never the token or a secret.
    pub detail: String,
    /// The reason code of a failed step (the debugger's "why"); `None` when it passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
}

/// Collects notes while verifying and, when recording, the [`Check`]s for the token debugger.
/// A silent trace never builds a check's detail, so the identify path does not pay for it.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    /// The checks so far, in order; `None` when not recording.
    checks: Option<Vec<Check>>,
    /// Remarks that did not change the verdict ("user_hash ignored: a JWT was sent").
    pub notes: Vec<String>,
}

impl Trace {
    /// A trace that records every check (the token debugger's).
    pub fn recording() -> Trace {
        Trace { checks: Some(Vec::new()), notes: Vec::new() }
    }

    /// A trace that keeps notes only (the identify path's).
    pub fn silent() -> Trace {
        Trace::default()
    }

    /// Whether checks are recorded.
    pub fn is_recording(&self) -> bool {
        self.checks.is_some()
    }

    /// Records a passed step; `detail` runs only when recording.
    pub fn pass(&mut self, check: &str, detail: impl FnOnce() -> String) {
        self.push(check, None, detail);
    }

    /// Records a failed step for `reason`; `detail` is the failure's explanation, copied only
    /// when recording.
    pub fn fail(&mut self, check: &str, reason: Reason, detail: &str) {
        self.push(check, Some(reason), || detail.to_string());
    }

    /// Records `rule`'s outcome as a step and passes it on: on success `detail` describes what
    /// was found, on failure the explanation is the detail.
    pub fn step<T>(
        &mut self,
        check: &str,
        rule: Result<T, (Reason, String)>,
        detail: impl FnOnce(&T) -> String,
    ) -> Result<T, (Reason, String)> {
        match &rule {
            Ok(found) => self.pass(check, || detail(found)),
            Err((reason, explanation)) => self.fail(check, *reason, explanation),
        }
        rule
    }

    /// Records a note.
    pub fn note(&mut self, note: &str) {
        self.notes.push(note.to_string());
    }

    /// The recorded checks and the notes.
    pub fn into_parts(self) -> (Vec<Check>, Vec<String>) {
        (self.checks.unwrap_or_default(), self.notes)
    }

    /// Appends a check when recording.
    fn push(&mut self, check: &str, reason: Option<Reason>, detail: impl FnOnce() -> String) {
        if let Some(checks) = &mut self.checks {
            checks.push(Check { check: check.to_string(), ok: reason.is_none(), detail: detail(), reason });
        }
    }
}

/// An attribute that arrived but was not stored, and why (`secure_only` or `wrong_type`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedAttribute {
    /// The attribute name as sent.
    pub name: String,
    /// `secure_only` (sent unsigned but only accepted from a verified JWT) or `wrong_type`.
    pub reason: String,
}

/// Everything the HTTP layer, the verification log and the debugger need about one attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// Verified, or what the mode made of the failure.
    pub outcome: Outcome,
    /// Whether the identity verified (truthful in every mode, `off` included).
    pub verified: bool,
    /// The platform's mode that was applied.
    pub mode: Mode,
    /// Why verification failed; `None` when verified.
    pub reason: Option<Reason>,
    /// Human sentence(s): what failed and how to fix it, or (traced verdicts only) what
    /// verified; [`crate::verify()`] leaves a verified attempt's empty. Never a secret.
    pub explanation: String,
    /// Verified user id, or when not verified the best-effort *claimed* id (for logs and `off`
    /// mode contacts); trust it only together with `verified`.
    pub user_id: Option<String>,
    /// The key that matched; for `revoked_key` the revoked key; otherwise the `kid` the token named.
    pub kid: Option<String>,
    /// The JWT header's `alg` as sent (`HS256`, or e.g. `none` for `unsupported_algorithm`, when
    /// a short string); `None` for legacy HMAC or when there is no readable header.
    pub alg: Option<String>,
    /// Set when a verified JWT has no `exp` or lives over a day (the health checklist counts
    /// them); `None` otherwise, and for a legacy `user_hash`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long_lived: Option<LongLived>,
    /// Attributes accepted for storage on the contact.
    pub attributes: Map<String, Value>,
    /// Attributes that arrived but were refused, with the reason.
    pub rejected_attributes: Vec<RejectedAttribute>,
    /// Names of attributes that are not registered in the workspace (dropped silently).
    pub ignored_attributes: Vec<String>,
    /// Accepted attributes that arrived unsigned (the secure-only preview counts them).
    pub unsigned_attributes: Vec<String>,
    /// Remarks that did not change the verdict.
    pub notes: Vec<String>,
    /// Ordered trace of checks, for the token debugger.
    pub checks: Vec<Check>,
    /// The decoded JWT header, for the debugger only.
    pub header: Option<Value>,
    /// The decoded JWT payload (possibly unverified), for the debugger only; never log it.
    pub payload: Option<Value>,
}

impl Verdict {
    /// Whether `monitor` mode accepted an identity that `enforce` would reject.
    pub fn would_reject(&self) -> bool {
        self.outcome == Outcome::WouldReject
    }

    /// Whether the HTTP answer is an error (mode `enforce` and verification failed).
    pub fn http_rejects(&self) -> bool {
        self.outcome == Outcome::Rejected
    }

    /// The HTTP status of the identify answer: 200, or the reason's status (401) when rejected.
    pub fn http_status(&self) -> u16 {
        match (self.http_rejects(), self.reason) {
            (true, Some(reason)) => reason.http_status(),
            (true, None) => 401,
            (false, _) => 200,
        }
    }

    /// The identify response body of PRODUCT.md: the 200 body, or the error envelope with
    /// `log_id` beside `error` when rejected.
    pub fn response_body(&self, log_id: Value) -> Value {
        if self.http_rejects() {
            let code = self.reason.unwrap_or(Reason::InvalidSignature).as_str();
            return json!({
                "error": {"code": code, "message": self.explanation},
                "log_id": log_id,
            });
        }
        let mut body = json!({
            "verified": self.verified,
            "mode": self.mode,
            "user_id": self.user_id,
            "attributes": self.attributes,
            "rejected_attributes": self.rejected_attributes,
            "ignored_attributes": self.ignored_attributes,
            "log_id": log_id,
        });
        if let Value::Object(map) = &mut body {
            if self.would_reject() {
                map.insert("would_reject".into(), Value::Bool(true));
            }
            if let Some(reason) = self.reason {
                map.insert("reason".into(), Value::from(reason.as_str()));
            }
        }
        body
    }
}
