//! `/w/:ws/logs`: the verbose verification log, newest first, with filters; and
//! `/w/:ws/contacts`: look up a stored contact.

use countersign_proto::{LogEntry, WorkspaceSummary};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{workspace_page, ErrorNotice};
use crate::api::{find_contact, list_logs};

/// The verification log page; filters live in the query string.
#[component]
pub fn LogsPage() -> impl IntoView {
    workspace_page("logs", |ws| view! { <Logs ws/> })
}

#[component]
fn Logs(ws: WorkspaceSummary) -> impl IntoView {
    let query = use_query_map();
    let id = ws.id;
    let param = move |name: &str| query.read().get(name).filter(|v| !v.is_empty());
    let filters = move || (param("outcome"), param("platform"), param("reason"), param("user_id"), param("cursor"));
    let page = Resource::new(filters, move |(o, p, r, u, c)| list_logs(id, o, p, r, u, c));
    let body = move || Suspend::new(async move {
        match page.await {
            Err(error) => view! { <ErrorNotice error/> }.into_any(),
            Ok(page) => {
                let empty = page.items.is_empty().then(|| view! { <tr><td colspan="7" class="muted">"No attempts match."</td></tr> });
                let next = page.next_cursor.map(|cursor| {
                    let q = query.read();
                    let keep = ["outcome", "platform", "reason", "user_id"]
                        .iter()
                        .filter_map(|k| q.get(k).map(|v| format!("{k}={v}")))
                        .collect::<Vec<_>>()
                        .join("&");
                    view! { <a class="button" href=format!("?{keep}&cursor={cursor}")>"Older attempts →"</a> }
                });
                let rows = page.items.into_iter().map(|e| view! { <LogRow e/> }).collect_view();
                view! {
                    <table class="table logs" data-testid="logs" tabindex="0">
                        <thead><tr><th>"When"</th><th>"Outcome"</th><th>"Reason"</th><th>"Platform"</th><th>"User"</th><th>"Key"</th><th>"Latency"</th></tr></thead>
                        <tbody>{empty}{rows}</tbody>
                    </table>
                    <p>{next}</p>
                }.into_any()
            }
        }
    });
    let selected = move |name: &'static str, value: &'static str| query.read().get(name).as_deref() == Some(value);
    view! {
        <h1>"Verification log"</h1>
        <p class="muted">"Every identify attempt, newest first. Tokens and secrets are never stored."</p>
        <form method="get" class="row filters">
            <label>"Outcome"<select name="outcome">
                <option value="">"Any"</option>
                {["verified", "unverified", "would_reject", "rejected"].map(|o| view! { <option value=o selected=move || selected("outcome", o)>{o}</option> })}
            </select></label>
            <label>"Platform"<select name="platform">
                <option value="">"Any"</option>
                {["web", "ios", "android"].map(|p| view! { <option value=p selected=move || selected("platform", p)>{p}</option> })}
            </select></label>
            <label>"Reason"<input type="text" name="reason" placeholder="invalid_signature" value=move || param("reason").unwrap_or_default()/></label>
            <label>"User id"<input type="text" name="user_id" value=move || param("user_id").unwrap_or_default()/></label>
            <button type="submit">"Filter"</button>
        </form>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>{body}</Transition>
    }
}

#[component]
fn LogRow(e: LogEntry) -> impl IntoView {
    let detail = format!(
        "{} · accepted {} · rejected {} · origin {} · ip {} · {}",
        e.explanation,
        e.attributes_accepted,
        e.attributes_rejected,
        e.origin.clone().unwrap_or_else(|| "—".into()),
        e.ip.clone().unwrap_or_else(|| "—".into()),
        e.user_agent.clone().unwrap_or_default()
    );
    let outcome = e.outcome.clone();
    view! {
        <tr data-outcome=outcome.clone() title=detail.clone()>
            <td>{e.at.format("%Y-%m-%d %H:%M:%S").to_string()}</td>
            <td><span class=format!("badge outcome-{outcome}")>{outcome.clone()}</span></td>
            <td>{e.reason.clone().unwrap_or_default()}<br/><small class="muted">{e.explanation.clone()}</small></td>
            <td>{e.platform.clone().unwrap_or_default()}</td>
            <td>{e.user_id.clone().unwrap_or_default()}</td>
            <td><code>{e.kid.clone().unwrap_or_default()}</code></td>
            <td>{format!("{} µs", e.latency_us)}</td>
        </tr>
    }
}

/// The contact lookup page (`?user_id=...`).
#[component]
pub fn ContactsPage() -> impl IntoView {
    workspace_page("contacts", |ws| view! { <Contacts ws/> })
}

#[component]
fn Contacts(ws: WorkspaceSummary) -> impl IntoView {
    let query = use_query_map();
    let id = ws.id;
    let user_id = move || query.read().get("user_id").filter(|v| !v.is_empty());
    let contact = Resource::new(user_id, move |user| async move {
        match user {
            Some(user) => find_contact(id, user).await.map(Some),
            None => Ok(None),
        }
    });
    let body = move || Suspend::new(async move {
        match contact.await {
            Err(error) => view! { <ErrorNotice error/> }.into_any(),
            Ok(None) => ().into_any(),
            Ok(Some(None)) => view! { <p class="notice error" role="alert">"No contact with this user id."</p> }.into_any(),
            Ok(Some(Some(c))) => view! {
                <section class="card" data-testid="contact">
                    <h2><code>{c.user_id.clone()}</code> " " <span class=if c.verified { "badge primary" } else { "badge revoked" }>{if c.verified { "verified" } else { "unverified" }}</span></h2>
                    <dl class="facts">
                        <dt>"First seen"</dt><dd>{c.first_seen_at.format("%Y-%m-%d %H:%M:%S UTC").to_string()}</dd>
                        <dt>"Last seen"</dt><dd>{c.last_seen_at.format("%Y-%m-%d %H:%M:%S UTC").to_string()}</dd>
                        <dt>"Last platform"</dt><dd>{c.last_platform.clone()}</dd>
                        <dt>"Attributes"</dt><dd><code data-testid="contact-attributes">{c.attributes.to_string()}</code></dd>
                    </dl>
                </section>
            }.into_any(),
        }
    });
    view! {
        <h1>"Contacts"</h1>
        <form method="get" class="row filters">
            <label>"User id"<input type="text" name="user_id" required value=move || user_id().unwrap_or_default()/></label>
            <button type="submit">"Look up"</button>
        </form>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>{body}</Transition>
    }
}
