//! `/account`: the signed-in person's password and the places they are signed in.

use countersign_proto::SessionSummary;
use leptos::prelude::*;

use super::{with_me, ErrorNotice, Frame};
use crate::api::{list_sessions, ChangePassword, EndOtherSessions, EndSession, Me};

/// The account page.
#[component]
pub fn AccountPage() -> impl IntoView {
    with_me(|me: Me| {
        let email = me.account.email.clone();
        view! {
            <Frame me workspace=None section="account">
                <h1>"Your account"</h1>
                <p class="muted">"Signed in as " <strong>{email}</strong></p>
                <Sessions/>
            </Frame>
        }
    })
}

/// The password form and the sessions list; a password change refreshes the list, since it
/// signs every other session out.
#[component]
fn Sessions() -> impl IntoView {
    let change = ServerAction::<ChangePassword>::new();
    let end = ServerAction::<EndSession>::new();
    let end_others = ServerAction::<EndOtherSessions>::new();
    let sessions = Resource::new(
        move || (change.version().get(), end.version().get(), end_others.version().get()),
        |_| list_sessions(),
    );
    let changed = move || {
        match change.value().get() {
        Some(Ok(ended)) => Some(view! {
            <p class="notice success" role="status">{format!("Password changed. {} signed out.", sessions_phrase(ended.ended))}</p>
        }.into_any()),
        Some(Err(error)) => Some(view! { <ErrorNotice error/> }.into_any()),
        None => None,
    }
    };
    let ended = move || match (end.value().get(), end_others.value().get()) {
        (Some(Err(error)), _) | (_, Some(Err(error))) => Some(view! { <ErrorNotice error/> }.into_any()),
        (_, Some(Ok(ended))) => Some(
            view! {
                <p class="notice success" role="status">{format!("{} signed out.", sessions_phrase(ended.ended))}</p>
            }
            .into_any(),
        ),
        _ => None,
    };
    let rows = move || {
        Suspend::new(async move {
            match sessions.await {
                Ok(list) => {
                    let others = list.iter().filter(|s| !s.current).count();
                    let all_out = (others > 0).then(|| {
                        view! {
                            <div class="below">
                                <ActionForm action=end_others>
                                    <button type="submit" class="danger">"Sign out everywhere else"</button>
                                </ActionForm>
                            </div>
                        }
                    });
                    view! {
                    <table class="table" data-testid="sessions" tabindex="0">
                        <thead><tr><th>"Device"</th><th>"IP address"</th><th>"Signed in"</th><th>"Last active"</th><th></th></tr></thead>
                        <tbody>{list.into_iter().map(|s| view! { <SessionRow s end/> }).collect_view()}</tbody>
                    </table>
                    {all_out}
                }.into_any()
                }
                Err(error) => view! { <ErrorNotice error/> }.into_any(),
            }
        })
    };
    view! {
        <section class="card">
            <h2>"Change password"</h2>
            {changed}
            <ActionForm action=change>
                <label>"Current password"<input type="password" name="current_password" autocomplete="current-password" required/></label>
                <label>"New password " <small class="muted">"(10 characters or more)"</small>
                    <input type="password" name="new_password" autocomplete="new-password" minlength="10" required/></label>
                <button type="submit" class="primary">"Change password"</button>
            </ActionForm>
            <p class="muted">"Changing your password signs you out everywhere else."</p>
        </section>
        <h2>"Where you're signed in"</h2>
        {ended}
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>{rows}</Transition>
    }
}

#[component]
fn SessionRow(s: SessionSummary, end: ServerAction<EndSession>) -> impl IntoView {
    let fmt = |at: chrono::DateTime<chrono::Utc>| at.format("%Y-%m-%d %H:%M UTC").to_string();
    let device = describe_agent(s.user_agent.as_deref().unwrap_or(""));
    let action = if s.current {
        view! { <span class="badge primary">"This device"</span> }.into_any()
    } else {
        view! {
            <ActionForm action=end>
                <input type="hidden" name="id" value=s.id.to_string()/>
                <button type="submit" class="danger">"Sign out"</button>
            </ActionForm>
        }
        .into_any()
    };
    view! {
        <tr data-current=s.current.to_string()>
            <td title=s.user_agent.clone().unwrap_or_default()>{device}</td>
            <td>{s.ip.clone().unwrap_or_else(|| "unknown".into())}</td>
            <td>{fmt(s.created_at)}</td>
            <td>{fmt(s.last_seen_at)}</td>
            <td>{action}</td>
        </tr>
    }
}

/// "1 other session" / "3 other sessions" / "No other session".
fn sessions_phrase(n: u64) -> String {
    match n {
        0 => "No other session was".into(),
        1 => "1 other session was".into(),
        n => format!("{n} other sessions were"),
    }
}

/// A short, readable name for a `User-Agent`: "Chrome on macOS", or the agent itself.
fn describe_agent(agent: &str) -> String {
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Chromium/", "Chromium"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ]
    .into_iter()
    .find(|(marker, _)| agent.contains(marker))
    .map(|(_, name)| name);
    let os = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    ]
    .into_iter()
    .find(|(marker, _)| agent.contains(marker))
    .map(|(_, name)| name);
    match (browser, os) {
        (Some(browser), Some(os)) => format!("{browser} on {os}"),
        (Some(name), None) | (None, Some(name)) => name.to_owned(),
        (None, None) if agent.is_empty() => "Unknown device".to_owned(),
        (None, None) => agent.chars().take(60).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Common agents get a short name; unknown ones are shown cut, never empty.
    #[test]
    fn agents() {
        let chrome_mac = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";
        assert_eq!(describe_agent(chrome_mac), "Chrome on macOS");
        assert_eq!(describe_agent("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile Safari/604.1"), "Safari on iOS");
        assert_eq!(describe_agent("curl/8.5.0"), "curl");
        assert_eq!(describe_agent(""), "Unknown device");
        assert_eq!(describe_agent("integration-test"), "integration-test");
    }
}
