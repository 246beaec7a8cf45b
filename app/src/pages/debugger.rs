//! `/w/:ws/debugger`: paste a token (or a legacy user id + hash) and see, check by check, what
//! identify would decide and how to fix it; roles that may reveal secrets can also make a test
//! token. A thin view over [`countersign_core::debug::DebugReport`]: every judgement is the core's.

use countersign_core::debug::{DebugCheck, DebugReport, KeyReport, ProfileReport, Segment, TestToken, TimeClaim};
use countersign_core::policy::{permits, Action};
use countersign_core::{Platform, TokenProfile};
use countersign_proto::WorkspaceSummary;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde_json::Value;

use super::{workspace_page, CopyButton, ErrorNotice};
use crate::api::{DebugToken, MakeTestToken};

/// The token debugger page; `?platform=&user_id=` pre-fill the form (never a token).
#[component]
pub fn DebuggerPage() -> impl IntoView {
    workspace_page("debugger", |ws| view! { <Debugger ws/> })
}

#[component]
fn Debugger(ws: WorkspaceSummary) -> impl IntoView {
    let query = use_query_map();
    let platform = query.read_untracked().get("platform").and_then(|p| Platform::parse(&p)).unwrap_or(Platform::Web);
    let user_id = query.read_untracked().get("user_id").unwrap_or_default();
    let run = ServerAction::<DebugToken>::new();
    let make = ServerAction::<MakeTestToken>::new();
    // The token box is a signal so that "Debug this token" can fill it from a test token.
    let token = RwSignal::new(String::new());
    let id = ws.id.to_string();
    let result = move || {
        run.value().get().map(|answer| match answer {
            Ok(report) => view! { <Report report/> }.into_any(),
            Err(error) => view! { <ErrorNotice error/> }.into_any(),
        })
    };
    // The platform picked in the form, so that a test token is debugged for it too.
    let picked = RwSignal::new(platform);
    let maker = permits(ws.role, Action::RevealSecret)
        .then(|| view! { <TestTokenMaker ws=ws.id user_id=user_id.clone() make token run picked/> });
    // Opened from a log row: its user and platform are filled in, but never its token, which
    // was not stored; say where the rest comes from.
    let from_log = (!user_id.is_empty()).then(|| {
        view! {
            <p class="notice warn" data-testid="from-log">
                "Debugging an attempt of user " <code>{user_id.clone()}</code> " on " {Platform::label(platform)} ". "
                "Tokens are never stored: paste the token that user's app sent, or, for a legacy HMAC attempt, its user_hash under “Legacy HMAC”."
            </p>
        }
    });
    let platform_option =
        move |p: Platform| view! { <option value=p.as_str() selected=p == platform>{Platform::label(p)}</option> };
    view! {
        <h1>"Token debugger"</h1>
        <p class="muted">"Paste a token to see every check identify runs, why it fails and how to fix it. Nothing you paste is stored or logged, and debugging writes no verification log row."</p>
        {from_log}
        <section class="card">
            <ActionForm action=run>
                <input type="hidden" name="workspace" value=id.clone()/>
                <label>"Token (user_jwt)"
                    <textarea name="user_jwt" class="mono" rows="4" spellcheck="false" data-testid="token-input"
                        placeholder="eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9…"
                        prop:value=move || token.get() on:input=move |ev| token.set(event_target_value(&ev))></textarea>
                </label>
                <details class="legacy-fields">
                    <summary>"Legacy HMAC: user id and user_hash"</summary>
                    <div class="row">
                        <label>"User id"<input type="text" name="user_id" value=user_id.clone() data-testid="user-id-input"/></label>
                        <label>"user_hash"<input type="text" name="user_hash" class="mono" spellcheck="false" placeholder="64 hex characters"/></label>
                    </div>
                </details>
                <div class="row below">
                    <label>"Platform"<select name="platform" data-testid="platform" on:change=move |ev| picked.set(Platform::parse(&event_target_value(&ev)).unwrap_or(Platform::Web))>{Platform::ALL.map(platform_option)}</select></label>
                    <label>"Origin " <span class="muted">"(optional, web)"</span><input type="text" name="origin" placeholder="https://app.example.com"/></label>
                    <button type="submit" class="primary">"Debug"</button>
                </div>
            </ActionForm>
        </section>
        {maker}
        <div data-testid="debug-result" aria-live="polite">{result}</div>
    }
}

fn profile_label(profile: TokenProfile) -> &'static str {
    match profile {
        TokenProfile::Countersign => "Countersign",
        TokenProfile::Intercom => "Intercom",
        TokenProfile::Talkjs => "TalkJS",
        TokenProfile::Featurebase => "Featurebase",
        TokenProfile::Fogbender => "Fogbender",
        TokenProfile::Custom => "custom",
    }
}

/// The whole answer: verdict banner, checks, then what was decoded and matched.
#[component]
fn Report(report: DebugReport) -> impl IntoView {
    let v = &report.verdict;
    let (class, title) = match (v.decision.as_str(), v.verified) {
        (_, true) => ("notice success", "Verified"),
        ("accept", false) => ("notice warn", "Accepted unverified"),
        ("would_reject", _) => ("notice warn", "Would reject"),
        _ => ("notice error", "Rejected"),
    };
    let reason = v.reason.map(|r| view! { <code class="reason">{r.as_str()}</code> });
    let user = v
        .user_id
        .clone()
        .map(|u| view! { <p>"User id: " <code>{u}</code> {(!v.verified).then_some(" (claimed, not verified)")}</p> });
    let looks_like = (!report.profile.accepted_by.is_empty()).then(|| {
        let names = report.profile.accepted_by.iter().map(|p| profile_label(*p)).collect::<Vec<_>>().join(" or ");
        view! {
            <p class="hint" data-testid="looks-like">
                <strong>{format!("This looks like a {names} token.")}</strong>
                {match &report.profile.needs_issuer {
                    None => format!(" The {names} token profile would accept it unchanged; the workspace reads {} tokens. Change the token profile in Security, or sign with the claims your profile reads.", profile_label(report.profile.name)),
                    Some(iss) => format!(" The {names} token profile would accept it once the expected issuer is {iss:?} (the token's iss); the workspace reads {} tokens. Change both in Security, or sign with the claims your profile reads.", profile_label(report.profile.name)),
                }}
            </p>
        }
    });
    let notes = (!v.notes.is_empty()).then(|| {
        let items = v.notes.iter().map(|n| view! { <li>{n.clone()}</li> }).collect_view();
        view! { <ul class="notes">{items}</ul> }
    });
    let failed = report.checks.iter().filter(|c| !c.ok).count();
    let tally = match failed {
        0 => format!("all {} passed", report.checks.len()),
        n => format!("{} passed, {n} failed", report.checks.len() - n),
    };
    let checks = report.checks.iter().cloned().map(|c| view! { <CheckRow c/> }).collect_view();
    view! {
        <section class=format!("{class} verdict") data-testid="verdict" data-outcome=v.outcome.as_str() data-reason=v.reason.map(|r| r.as_str()).unwrap_or("")>
            <h2>{title} " " {reason}</h2>
            <p data-testid="decision">{v.decision_text.clone()}</p>
            <p>{v.explanation.clone()}</p>
            {user}
            {looks_like}
            {notes}
        </section>
        <section class="card">
            <h2>"Checks " <span class="muted small">{tally}</span></h2>
            <ul class="checks" data-testid="checks">{checks}</ul>
        </section>
        <Decoded report=report.clone()/>
        <div class="grid2">
            <KeyCard key=report.key.clone() kid=report.kid.clone()/>
            <ProfileCard profile=report.profile.clone() credential=report.credential.clone() verified=v.verified/>
            <TimesCard times=report.times.clone()/>
            <AttributesCard report=report.clone()/>
        </div>
        {report.legacy.clone().map(|l| view! {
            <section class="card" data-testid="legacy">
                <h2>"Legacy HMAC"</h2>
                <p class="muted">{format!("user_hash = {} of exactly this string, {}:", l.algorithm, l.encoding)}</p>
                <pre class="json">{l.hmac_input}</pre>
            </section>
        })}
    }
}

/// A check's machine name as a heading.
fn check_label(check: &str) -> String {
    let label = match check {
        "size" => "Size",
        "format" => "Format",
        "header" => "Header",
        "alg" => "Algorithm (alg)",
        "header_params" => "Header parameters",
        "payload" => "Payload",
        "key" => "Key (kid)",
        "signature" => "Signature",
        "claim_types" => "Claim types",
        "exp" => "Expiry (exp)",
        "nbf" => "Not before (nbf)",
        "iat" => "Issued at (iat)",
        "lifetime" => "Lifetime",
        "iss" => "Issuer (iss)",
        "token_type" => "Token type (tokenType)",
        "user_id" => "User id",
        "origin" => "Origin",
        "token" => "Token",
        "hmac_enabled" => "Legacy HMAC allowed",
        "user_hash" => "user_hash",
        other => other,
    };
    label.to_owned()
}

#[component]
fn CheckRow(c: DebugCheck) -> impl IntoView {
    let why = c.reason.map(|reason| view! { <p class="why"><code class="reason">{reason.as_str()}</code> " " {c.meaning.clone().unwrap_or_default()}</p> });
    let fix = c.fix.clone().map(|fix| view! { <p class="fix"><strong>"Fix: "</strong>{fix}</p> });
    let (class, mark) = if c.ok { ("check ok", "✓") } else { ("check failed", "✗") };
    view! {
        <li class=class data-check=c.check.clone()>
            <span class="mark" aria-label=if c.ok { "passed" } else { "failed" }>{mark}</span>
            <div>
                <strong>{check_label(&c.check)}</strong>
                {why}
                <p class="detail">{c.detail.clone()}</p>
                {fix}
            </div>
        </li>
    }
}

#[component]
fn KeyCard(key: Option<KeyReport>, kid: Option<String>) -> impl IntoView {
    let body = match key {
        Some(key) => view! {
            <p><code>{key.kid.clone()}</code> " " <span class=format!("badge {}", key.state)>{key.state.clone()}</span></p>
            <p class="muted small">{key.fingerprint.clone()}</p>
            <p data-testid="key-summary">{key.summary.clone()}</p>
        }
        .into_any(),
        None => {
            let text = match kid {
                Some(kid) => format!("The token names kid \"{kid}\", which is not a key of this workspace."),
                None => "No key of this workspace matched.".to_owned(),
            };
            view! { <p data-testid="key-summary">{text}</p> }.into_any()
        }
    };
    view! { <section class="card" data-testid="key"><h2>"Key"</h2>{body}</section> }
}

#[component]
fn ProfileCard(profile: ProfileReport, credential: String, verified: bool) -> impl IntoView {
    let source = match (credential.as_str(), &profile.user_id_claim) {
        ("user_hash", _) => "The user id comes from the body's user_id field (legacy HMAC).".to_owned(),
        (_, Some(claim)) if verified => format!("The user id came from the \"{claim}\" claim."),
        (_, Some(claim)) => format!("The user id would come from the \"{claim}\" claim (not verified)."),
        ("jwt", None) => "No claim of this profile holds a user id.".to_owned(),
        _ => "Nothing was sent to read a user id from.".to_owned(),
    };
    view! {
        <section class="card" data-testid="profile">
            <h2>"Token profile"</h2>
            <p><strong>{profile_label(profile.name)}</strong> <span class="muted">{format!(" reads the user id from {}", profile.user_id_claims.join(", then "))}</span></p>
            <p>{source}</p>
        </section>
    }
}

#[component]
fn TimesCard(times: Vec<TimeClaim>) -> impl IntoView {
    let rows = times
        .into_iter()
        .map(|t| {
            let class = if t.ok { "check ok" } else { "check failed" };
            view! {
                <li class=class data-claim=t.claim.clone()>
                    <span class="mark">{if t.ok { "✓" } else { "✗" }}</span>
                    <div><strong>{t.claim.clone()}</strong> " " <span class="muted small">{t.at.clone().unwrap_or_else(|| t.value.to_string())}</span><p class="detail">{t.relative.clone()}</p></div>
                </li>
            }
        })
        .collect_view();
    view! {
        <section class="card" data-testid="times">
            <h2>"Times"</h2>
            <ul class="checks compact">{rows}</ul>
        </section>
    }
}

#[component]
fn AttributesCard(report: DebugReport) -> impl IntoView {
    let v = report.verdict;
    let accepted = v
        .attributes
        .iter()
        .map(|(name, value)| view! { <li><code>{name.clone()}</code> " = " <code>{value.to_string()}</code></li> })
        .collect_view();
    let rejected = v
        .rejected_attributes
        .iter()
        .map(|r| {
            let why = match r.reason.as_str() {
                "secure_only" => "secure-only: accepted only from inside a verified token",
                "wrong_type" => "the value does not have the attribute's registered type",
                other => other,
            };
            view! { <li><code>{r.name.clone()}</code> " — " {why.to_owned()}</li> }
        })
        .collect_view();
    let ignored = v.ignored_attributes.join(", ");
    let none = v.attributes.is_empty() && v.rejected_attributes.is_empty() && v.ignored_attributes.is_empty();
    view! {
        <section class="card" data-testid="attributes">
            <h2>"Attributes"</h2>
            {none.then(|| view! { <p class="muted">"No attributes were processed."</p> })}
            {(!v.attributes.is_empty()).then(|| view! { <p class="label">"Accepted"</p><ul class="plain">{accepted}</ul> })}
            {(!v.rejected_attributes.is_empty()).then(|| view! { <p class="label">"Rejected"</p><ul class="plain">{rejected}</ul> })}
            {(!ignored.is_empty()).then(|| view! { <p class="label">"Ignored (not registered)"</p><p>{ignored}</p> })}
        </section>
    }
}

/// Header and payload pretty-printed, and each segment's problem.
#[component]
fn Decoded(report: DebugReport) -> impl IntoView {
    if report.segments.is_empty() {
        return ().into_any();
    }
    let pretty = |value: &Option<Value>| value.as_ref().and_then(|v| serde_json::to_string_pretty(v).ok());
    let segment = |s: &Segment| {
        let state = match (&s.problem, s.decoded_bytes) {
            (Some(problem), _) => problem.clone(),
            (None, Some(n)) => format!("{} characters, {n} bytes decoded", s.encoded_bytes),
            (None, None) => "ok".to_owned(),
        };
        let class = if s.ok { "check ok" } else { "check failed" };
        view! { <li class=class data-segment=s.name.clone()><span class="mark">{if s.ok { "✓" } else { "✗" }}</span><div><strong>{s.name.clone()}</strong><p class="detail">{state}</p></div></li> }
    };
    let segments = report.segments.iter().map(segment).collect_view();
    let header = pretty(&report.header).unwrap_or_else(|| "— could not be decoded —".into());
    let payload = pretty(&report.payload).unwrap_or_else(|| "— could not be decoded —".into());
    let payload = annotated_times(&payload, &report.times);
    view! {
        <section class="card" data-testid="decoded">
            <h2>"Decoded token"</h2>
            <ul class="checks compact">{segments}</ul>
            <div class="grid2 flush">
                <div><p class="label">"Header"</p><pre class="json" data-testid="header">{header}</pre></div>
                <div><p class="label">"Payload " <span class="muted">"(unverified unless the verdict says so)"</span></p><pre class="json" data-testid="payload">{payload}</pre></div>
            </div>
        </section>
    }
    .into_any()
}

/// The pretty-printed payload, each top-level time claim followed by its date and what it
/// means now (as the Times card has them), in a muted note beside the line.
fn annotated_times(payload: &str, times: &[TimeClaim]) -> impl IntoView + use<> {
    let mut lines: Vec<(String, Option<String>)> = Vec::new();
    for line in payload.split_inclusive('\n') {
        let claim = line.strip_prefix("  \"").and_then(|rest| rest.split_once("\": ")).map(|(name, _)| name);
        let note = claim
            .and_then(|name| times.iter().find(|t| t.claim == name))
            .and_then(|t| t.at.as_ref().map(|at| format!("  {at} · {}", t.relative)));
        match note {
            Some(note) => {
                let (text, newline) = line.strip_suffix('\n').map_or((line, ""), |text| (text, "\n"));
                lines.push((text.to_owned(), Some(note)));
                lines.push((newline.to_owned(), None));
            }
            None => lines.push((line.to_owned(), None)),
        }
    }
    lines
        .into_iter()
        .map(|(text, note)| view! { {text}{note.map(|note| view! { <span class="claim-time">{note}</span> })} })
        .collect_view()
}

/// The "make a test token" form: signed server side with the primary key.
#[component]
fn TestTokenMaker(
    ws: uuid::Uuid,
    user_id: String,
    make: ServerAction<MakeTestToken>,
    token: RwSignal<String>,
    run: ServerAction<DebugToken>,
    picked: RwSignal<Platform>,
) -> impl IntoView {
    let made = move || {
        make.value().get().map(|answer| match answer {
            Ok(made) => view! { <MadeToken made token run picked ws/> }.into_any(),
            Err(error) => view! { <ErrorNotice error/> }.into_any(),
        })
    };
    view! {
        <details class="card maker" data-testid="test-token">
            <summary>"Make a test token"</summary>
            <p class="muted">"Signed with the primary key, with the claims your token profile reads. Anyone holding it can sign in as this user until it expires: use it for testing only."</p>
            <ActionForm action=make>
                <input type="hidden" name="workspace" value=ws.to_string()/>
                <div class="row">
                    <label>"User id"<input type="text" name="user_id" required value=user_id data-testid="test-user-id"/></label>
                    <label>"Expires in"
                        <select name="expires_in">
                            <option value="300">"5 minutes"</option>
                            <option value="3600" selected>"1 hour"</option>
                            <option value="86400">"24 hours"</option>
                        </select>
                    </label>
                </div>
                <label class="below">"Attributes (JSON object, optional)"
                    <textarea name="attributes" class="mono" rows="2" spellcheck="false" placeholder="{\"plan\": \"pro\"}" data-testid="test-attributes"></textarea>
                </label>
                <button type="submit">"Sign test token"</button>
            </ActionForm>
            {made}
        </details>
    }
}

#[component]
fn MadeToken(
    made: TestToken,
    token: RwSignal<String>,
    run: ServerAction<DebugToken>,
    picked: RwSignal<Platform>,
    ws: uuid::Uuid,
) -> impl IntoView {
    let jwt = made.user_jwt.clone();
    // Fills the token box and debugs it for the platform picked above; the answer shows below.
    let use_it = move |_| {
        token.set(jwt.clone());
        run.dispatch(DebugToken {
            workspace: ws,
            platform: Some(picked.get_untracked().as_str().to_owned()),
            user_jwt: Some(jwt.clone()),
            user_id: None,
            user_hash: None,
            origin: None,
        });
    };
    let expires = countersign_core::time::format_unix(made.expires_at);
    view! {
        <div class="made" data-testid="made-token">
            <p class="made-title"><strong>"user_jwt"</strong> <span class="muted">{format!(" signed with key {}, expires {expires}", made.kid)}</span></p>
            <pre class="json token" data-testid="made-jwt">{made.user_jwt.clone()}</pre>
            <div class="row-actions start">
                <CopyButton text=made.user_jwt.clone()/>
                <button type="button" on:click=use_it data-testid="use-token">"Debug this token"</button>
            </div>
            <p class="made-title"><strong>"user_hash"</strong> <span class="muted">" (legacy HMAC): hex HMAC-SHA256 of exactly the input, byte for byte"</span></p>
            <dl class="facts">
                <dt>"Input"</dt><dd><code data-testid="made-hmac-input">{made.hmac_input.clone()}</code></dd>
                <dt>"user_hash"</dt><dd><code data-testid="made-hash">{made.user_hash.clone()}</code></dd>
            </dl>
        </div>
    }
}
