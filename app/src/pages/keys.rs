//! `/w/:ws/keys`: the workspace's secrets, and the leaked-key runbook in one click.

use chrono::{DateTime, Utc};
use countersign_core::policy::{permits, Action};
use countersign_proto::{KeyInfo, WorkspaceSummary};
use leptos::prelude::*;

use super::{workspace_page, CopyButton, ErrorNotice};
use crate::api::{list_keys, ImportKey, RevealSecret, RevokeKey, RotateKey};

/// The keys page.
#[component]
pub fn KeysPage() -> impl IntoView {
    workspace_page("keys", |ws| view! { <Keys ws/> })
}

/// "3h 12m", "2d 4h", "45s": a duration for people.
pub fn human_duration(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86_399 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
    }
}

fn ago(now: DateTime<Utc>, at: DateTime<Utc>) -> String {
    format!("{} ago", human_duration((now - at).num_seconds()))
}

#[component]
fn Keys(ws: WorkspaceSummary) -> impl IntoView {
    let can_rotate = permits(ws.role, Action::RotateOrRevokeKey);
    let can_reveal = permits(ws.role, Action::RevealSecret);
    let rotate = ServerAction::<RotateKey>::new();
    let revoke = ServerAction::<RevokeKey>::new();
    let reveal = ServerAction::<RevealSecret>::new();
    let can_import = permits(ws.role, Action::ChangeSettings);
    let import = ServerAction::<ImportKey>::new();
    let id = ws.id;
    let keys = Resource::new(
        move || (rotate.version().get(), revoke.version().get(), import.version().get()),
        move |_| list_keys(id),
    );

    let errors = move || {
        let rotate_err = rotate.value().get().and_then(Result::err);
        let revoke_err = revoke.value().get().and_then(Result::err);
        let reveal_err = reveal.value().get().and_then(Result::err);
        rotate_err.or(revoke_err).or(reveal_err).map(|error| view! { <ErrorNotice error/> })
    };
    let rotated = move || {
        rotate.value().get().and_then(Result::ok).map(|r| {
            let previous = r.previous.map(|p| {
                let fate = if p.state == "revoked" { "was revoked: it no longer verifies".to_owned() } else {
                    "keeps verifying until its grace period ends".to_owned()
                };
                view! { <p>"The previous key " <code>{p.kid}</code> " " {fate} "."</p> }
            });
            let secret = match r.secret {
                Some(secret) => view! {
                    <p>"Put this secret in your backend now. You can reveal it again later; every reveal is audited."</p>
                    <p><code data-testid="new-secret">{secret.clone()}</code> " " <CopyButton text=secret/></p>
                }.into_any(),
                None => view! { <p>"Your role cannot see secrets: ask a developer or an admin to reveal the new one for your backend."</p> }.into_any(),
            };
            view! {
                <div class="notice success" role="status" data-testid="rotated">
                    <p><strong>"New primary key " <code>{r.key.kid}</code> " is active."</strong></p>
                    {previous}
                    {secret}
                </div>
            }
        })
    };
    let revealed =
        move || {
            reveal.value().get().and_then(Result::ok).map(|r| view! {
            <div class="notice success" role="status">
                <p>"Secret of " <code>{r.kid}</code> ":"</p>
                <p><code data-testid="revealed-secret">{r.secret.clone()}</code> " " <CopyButton text=r.secret/></p>
            </div>
        })
        };

    let body = move || {
        Suspend::new(async move {
            match keys.await {
                Err(error) => view! { <ErrorNotice error/> }.into_any(),
                Ok(view) => {
                    let now = view.now;
                    let primary = view.keys.iter().find(|k| k.state == "primary").cloned();
                    let rows = view
                        .keys
                        .into_iter()
                        .map(|key| view! { <KeyRow key now ws=id can_rotate can_reveal revoke reveal/> })
                        .collect_view();
                    let leak = can_rotate.then(|| view! { <LeakPanel primary=primary.clone() ws=id rotate/> });
                    let no_primary = primary.is_none().then(|| view! {
                    <p class="notice error">"This workspace has no primary key: nothing can be signed. Rotate to create one."</p>
                });
                    view! {
                    {no_primary}
                    {leak}
                    <table class="table" data-testid="keys">
                        <thead><tr><th>"Key"</th><th>"State"</th><th>"Created"</th><th>"Last used"</th><th>"Verified (24 h)"</th><th></th></tr></thead>
                        <tbody>{rows}</tbody>
                    </table>
                }.into_any()
                }
            }
        })
    };

    view! {
        <h1>"Keys"</h1>
        <p class="muted">"Your backend signs each user's token with the primary key. After a rotation the previous key keeps verifying for its grace period, so live sessions survive; a revoked key never verifies again."</p>
        {errors}
        {rotated}
        {revealed}
        <Transition fallback=|| view! { <p class="loading">"Loading keys…"</p> }>{body}</Transition>
        {can_rotate.then(|| view! {
            <section class="card">
                <h2>"Planned rotation"</h2>
                <p class="muted">"Creates a new primary key; the current one keeps verifying for the grace period you choose."</p>
                <ActionForm action=rotate>
                    <input type="hidden" name="workspace" value=id.to_string()/>
                    <div class="row">
                        <label>"Grace period"
                            <select name="grace_seconds">
                                <option value="3600">"1 hour"</option>
                                <option value="86400" selected>"24 hours"</option>
                                <option value="604800">"7 days"</option>
                            </select>
                        </label>
                        <button type="submit">"Rotate key"</button>
                    </div>
                </ActionForm>
            </section>
        })}
        {can_import.then(|| view! { <ImportForm ws=id import/> })}
    }
}

/// Bring your own secret: the one a backend already signs with (another vendor's), as the
/// primary or verify-only. A refusal shows next to the field; after an import the field is
/// emptied, and the secret is never sent back or shown.
#[component]
fn ImportForm(ws: uuid::Uuid, import: ServerAction<ImportKey>) -> impl IntoView {
    let secret = NodeRef::<leptos::html::Input>::new();
    Effect::new(move |_| {
        if matches!(import.value().get(), Some(Ok(_))) {
            if let Some(input) = secret.get() {
                input.set_value("");
            }
        }
    });
    let refusal = move || import.value().get().and_then(Result::err);
    let field_error = move || refusal().filter(|e| e.code == "invalid_request").map(|e| e.message);
    let other_error =
        move || refusal().filter(|e| e.code != "invalid_request").map(|error| view! { <ErrorNotice error/> });
    let imported = move || {
        import.value().get().and_then(Result::ok).map(|key| {
            let what = if key.state == "primary" {
                "It is the primary key now: tokens your backend signs with it verify. The previous primary keeps verifying for 24 hours."
            } else {
                "It verifies tokens for 30 days (verify-only): move your backends to the primary key meanwhile."
            };
            view! {
                <div class="notice success compact" role="status" data-testid="imported">
                    <p><strong>"Imported key"</strong>" "<code>{key.kid}</code></p>
                    <p>{what}</p>
                </div>
            }
        })
    };
    view! {
        <section class="card" data-testid="import-key">
            <h2>"Import an existing secret"</h2>
            <p class="muted">"Moving from Intercom, TalkJS, Featurebase or Fogbender? Paste the secret your backend already signs with, and its tokens verify unchanged. It is stored encrypted, never shown again, and the import is audited."</p>
            {imported}
            {other_error}
            <ActionForm action=import>
                <input type="hidden" name="workspace" value=ws.to_string()/>
                <label>"Secret"
                    <input type="password" name="secret" required autocomplete="off" spellcheck="false" node_ref=secret
                        aria-describedby="import-secret-error" aria-invalid=move || field_error().is_some().to_string()/>
                </label>
                <p class="field-error" id="import-secret-error" role="alert" data-testid="import-error">{field_error}</p>
                <fieldset class="choice">
                    <legend>"Use it"</legend>
                    <label class="check"><input type="radio" name="primary" value="true" checked/>
                        <span><strong>"As the primary key"</strong>" — signs and verifies; the current primary keeps verifying for 24 hours"</span></label>
                    <label class="check"><input type="radio" name="primary" value="false"/>
                        <span><strong>"Verify only"</strong>" — tokens signed with it keep verifying for 30 days while you move to the primary"</span></label>
                </fieldset>
                <button type="submit" class="primary">"Import secret"</button>
            </ActionForm>
        </section>
    }
}

/// The one-click runbook for a leaked key, behind a confirmation that says what will happen.
#[component]
fn LeakPanel(primary: Option<KeyInfo>, ws: uuid::Uuid, rotate: ServerAction<RotateKey>) -> impl IntoView {
    let impact = match &primary {
        Some(key) => format!(
            "A new primary key is created and the current primary {} is revoked immediately. Tokens signed with it ({} verifications in the last 24 hours) fail from now on, until your backend signs with the new secret.",
            key.kid, key.verifications_24h
        ),
        None => "A new primary key is created.".to_owned(),
    };
    view! {
        <details class="card danger-zone" data-testid="leak-panel">
            <summary>"This key leaked — rotate and revoke now"</summary>
            <p>{impact}</p>
            <ActionForm action=rotate>
                <input type="hidden" name="workspace" value=ws.to_string()/>
                <input type="hidden" name="grace_seconds" value="0"/>
                <button type="submit" class="danger">"Yes, rotate and revoke now"</button>
            </ActionForm>
        </details>
    }
}

#[component]
fn KeyRow(
    key: KeyInfo,
    now: DateTime<Utc>,
    ws: uuid::Uuid,
    can_rotate: bool,
    can_reveal: bool,
    revoke: ServerAction<RevokeKey>,
    reveal: ServerAction<RevealSecret>,
) -> impl IntoView {
    let state = match (key.state.as_str(), key.expires_at) {
        ("rotating", Some(expires)) => format!("rotating · {} left", human_duration((expires - now).num_seconds())),
        (state, _) => state.to_owned(),
    };
    let last_used = key.last_used_at.map(|at| ago(now, at)).unwrap_or_else(|| "never".into());
    let live = key.state != "revoked";
    let kid = key.kid.clone();
    let reveal_form = can_reveal.then(|| {
        let kid = kid.clone();
        view! {
            <ActionForm action=reveal>
                <input type="hidden" name="workspace" value=ws.to_string()/>
                <input type="hidden" name="kid" value=kid/>
                <button type="submit">"Reveal"</button>
            </ActionForm>
        }
    });
    let revoke_form = (can_rotate && live).then(|| {
        let kid = kid.clone();
        view! {
            <details class="confirm">
                <summary>"Revoke"</summary>
                <p>"Tokens signed with this key fail at once."</p>
                <ActionForm action=revoke>
                    <input type="hidden" name="workspace" value=ws.to_string()/>
                    <input type="hidden" name="kid" value=kid/>
                    <button type="submit" class="danger">"Revoke now"</button>
                </ActionForm>
            </details>
        }
    });
    view! {
        <tr data-kid=key.kid.clone() data-state=key.state.clone()>
            <td><code>{key.kid.clone()}</code><br/><small class="muted">{key.fingerprint.clone()}</small></td>
            <td><span class=format!("badge {}", key.state)>{state}</span></td>
            <td>{ago(now, key.created_at)}</td>
            <td>{last_used}</td>
            <td>{key.verifications_24h}</td>
            <td><div class="row-actions">{reveal_form}{revoke_form}</div></td>
        </tr>
    }
}
