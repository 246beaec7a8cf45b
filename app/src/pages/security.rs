//! `/w/:ws/security`: enforcement per platform, with plain warnings, and the token policy.

use countersign_core::policy::{permits, Action};
use countersign_core::{Mode, Platform, TokenProfile};
use countersign_proto::{EnforceImpact, SecuritySettings, WorkspaceSummary};
use leptos::prelude::*;

use super::{workspace_page, ErrorNotice};
use crate::api::{get_enforce_impact, get_security, SaveSecurity};

/// The security settings page.
#[component]
pub fn SecurityPage() -> impl IntoView {
    workspace_page("security", |ws| view! { <Security ws/> })
}

/// What a mode means for a platform's users, in plain words; `None` when enforced.
pub fn mode_warning(platform: Platform, mode: Mode) -> Option<String> {
    let name = platform_name(platform);
    match mode {
        Mode::Enforce => None,
        Mode::Monitor => Some(format!(
            "Monitor: failed {name} identities are logged as would-reject but still accepted, so anyone can still impersonate your {name} users. Switch to enforce once the log shows no would-reject."
        )),
        Mode::Off => Some(format!("Off: anyone can impersonate your {name} users. Identities are accepted without any verification.")),
    }
}

/// What enforcing a platform would have refused in the last 7 days, in one sentence.
pub fn impact_words(impact: &EnforceImpact) -> String {
    if impact.attempts == 0 {
        return "no identify traffic in the last 7 days to judge by.".into();
    }
    if impact.would_fail == 0 {
        return format!("none of the last 7 days' {} attempts would have been refused.", impact.attempts);
    }
    let share = impact.would_fail as f64 * 100.0 / impact.attempts as f64;
    let top = impact.reasons.first().map(|r| format!(", mostly {}", r.reason)).unwrap_or_default();
    format!(
        "{} of {} attempts in the last 7 days ({share:.1} %) would have been refused{top}.",
        impact.would_fail, impact.attempts
    )
}

fn platform_name(platform: Platform) -> &'static str {
    match platform {
        Platform::Web => "web",
        Platform::Ios => "iOS",
        Platform::Android => "Android",
    }
}

#[component]
fn Security(ws: WorkspaceSummary) -> impl IntoView {
    let can_change = permits(ws.role, Action::ChangeSettings);
    let save = ServerAction::<SaveSecurity>::new();
    let id = ws.id;
    // Reloaded after a successful save only: a refused save keeps what the user chose.
    let saved = RwSignal::new(0u32);
    Effect::new(move |_| {
        if let Some(Ok(_)) = save.value().get() {
            saved.update(|n| *n += 1);
        }
    });
    let settings = Resource::new(move || saved.get(), move |_| get_security(id));
    let impact = Resource::new(move || saved.get(), move |_| get_enforce_impact(id));
    let status = move || match save.value().get() {
        Some(Ok(_)) => Some(
            view! { <p class="notice success" role="status">"Saved. Every instance applies it within a second."</p> }
                .into_any(),
        ),
        Some(Err(error)) => Some(view! { <ErrorNotice error/> }.into_any()),
        None => None,
    };
    let form = move || {
        Suspend::new(async move {
            match (settings.await, impact.await) {
                (Ok(s), Ok(impact)) => view! { <SecurityForm s impact ws=id can_change save/> }.into_any(),
                (Err(error), _) | (_, Err(error)) => view! { <ErrorNotice error/> }.into_any(),
            }
        })
    };
    view! {
        <h1>"Security"</h1>
        <p class="muted">"How identify treats each platform, and how tokens are read. New workspaces enforce verification everywhere."</p>
        {status}
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>{form}</Transition>
    }
}

#[component]
fn SecurityForm(
    s: SecuritySettings,
    impact: Vec<EnforceImpact>,
    ws: uuid::Uuid,
    can_change: bool,
    save: ServerAction<SaveSecurity>,
) -> impl IntoView {
    let platforms = [(Platform::Web, s.modes.web), (Platform::Ios, s.modes.ios), (Platform::Android, s.modes.android)];
    let warnings =
        platforms.iter().filter_map(|(p, m)| mode_warning(*p, *m)).map(|w| view! { <li>{w}</li> }).collect_view();
    let any_warning = platforms.iter().any(|(_, m)| *m != Mode::Enforce);
    let mode_rows = platforms
        .into_iter()
        .map(|(platform, mode)| {
            let options = Mode::ALL
                .into_iter()
                .map(|m| view! { <option value=m.as_str() selected=m == mode>{m.as_str()}</option> })
                .collect_view();
            let if_enforced = (mode != Mode::Enforce)
                .then(|| impact.iter().find(|i| i.platform == platform.as_str()))
                .flatten()
                .map(|i| view! { <br/><small class="muted" data-testid=format!("impact-{}", platform.as_str())>"If enforced: " {impact_words(i)}</small> });
            view! {
                <tr data-platform=platform.as_str()>
                    <td>{platform_name(platform)}</td>
                    <td><select name=platform.as_str() aria-label=format!("Mode on {}", platform_name(platform)) disabled=!can_change>{options}</select></td>
                    <td><span class=format!("badge mode-{}", mode.as_str())>{mode.as_str()}</span>{if_enforced}</td>
                </tr>
            }
        })
        .collect_view();
    let profiles = [
        TokenProfile::Countersign,
        TokenProfile::Intercom,
        TokenProfile::Talkjs,
        TokenProfile::Featurebase,
        TokenProfile::Fogbender,
        TokenProfile::Custom,
    ]
    .into_iter()
    .map(|p| view! { <option value=p.as_str() selected=p == s.token_profile>{p.as_str()}</option> })
    .collect_view();
    view! {
        {any_warning.then(|| view! { <div class="notice error" role="alert" data-testid="mode-warnings"><ul>{warnings}</ul></div> })}
        <ActionForm action=save>
            <input type="hidden" name="workspace" value=ws.to_string()/>
            <section class="card">
                <h2>"Enforcement per platform"</h2>
                <table class="table">
                    <thead><tr><th>"Platform"</th><th>"Mode"</th><th>"Now"</th></tr></thead>
                    <tbody>{mode_rows}</tbody>
                </table>
                <p class="muted">"enforce: reject what fails · monitor: log what would be rejected, accept anyway · off: accept unverified"</p>
            </section>
            <section class="card">
                <h2>"Token policy"</h2>
                <div class="row">
                    <label>"Token profile"<select name="token_profile" disabled=!can_change>{profiles}</select></label>
                    <label>"Custom user id claims" <small class="muted">"(custom profile, comma-separated)"</small>
                        <input type="text" name="user_id_claims" value=s.user_id_claims.join(", ") disabled=!can_change/></label>
                    <label>"Expected issuer" <small class="muted">"(empty = the app ID)"</small>
                        <input type="text" name="expected_issuer" value=s.expected_issuer.clone().unwrap_or_default() disabled=!can_change/></label>
                </div>
                <div class="row">
                    <label>"Clock leeway (seconds)"<input type="number" name="leeway_seconds" min="0" max="600" value=s.leeway_seconds.to_string() disabled=!can_change/></label>
                    <label>"Max token lifetime (seconds)" <small class="muted">"(empty = no limit)"</small>
                        <input type="number" name="max_token_lifetime_seconds" min="1" value=s.max_token_lifetime_seconds.map(|v| v.to_string()).unwrap_or_default() disabled=!can_change/></label>
                </div>
                <label class="check"><input type="checkbox" name="require_exp" checked=s.require_exp disabled=!can_change/>" Require an expiry (exp) in every token"</label>
                <label class="check"><input type="checkbox" name="hmac_enabled" checked=s.hmac_enabled disabled=!can_change/>" Accept legacy HMAC user hashes (user_hash)"</label>
                <label>"Allowed web origins" <small class="muted">"(one per line, e.g. https://app.example.com or https://*.example.com; empty allows any)"</small>
                    <textarea name="allowed_origins" rows="3" disabled=!can_change>{s.allowed_origins.join("\n")}</textarea></label>
            </section>
            {(can_change && any_warning).then(|| view! {
                <label class="check"><input type="checkbox" name="confirm_enforce"/>" Switch to enforce: I have reviewed the impact shown above"</label>
            })}
            {can_change.then(|| view! { <button type="submit" class="primary">"Save security settings"</button> })}
            {(!can_change).then(|| view! { <p class="muted">"Only owners and admins change these settings."</p> })}
        </ActionForm>
    }
}
