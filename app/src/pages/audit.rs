//! `/w/:ws/audit`: every admin action, newest first, with filters.

use countersign_proto::{AuditEntry, WorkspaceSummary};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{workspace_page, ErrorNotice};
use crate::api::list_audit;

/// The audit page. Filters live in the query string (`?action=key.&actor=...&cursor=...`).
#[component]
pub fn AuditPage() -> impl IntoView {
    workspace_page("audit", |ws| view! { <Audit ws/> })
}

#[component]
fn Audit(ws: WorkspaceSummary) -> impl IntoView {
    let query = use_query_map();
    let id = ws.id;
    let filters = move || {
        let q = query.read();
        let get = |k: &str| q.get(k).filter(|v| !v.is_empty());
        (get("action"), get("actor"), get("cursor"))
    };
    let page = Resource::new(filters, move |(action, actor, cursor)| list_audit(id, action, actor, cursor));
    let current = move || filters();
    let body = move || {
        Suspend::new(async move {
            match page.await {
                Err(error) => view! { <ErrorNotice error/> }.into_any(),
                Ok(page) => {
                    let (action, actor, _) = current();
                    let next = page.next_cursor.map(|cursor| {
                        let href = format!(
                            "?action={}&actor={}&cursor={cursor}",
                            action.unwrap_or_default(),
                            actor.unwrap_or_default()
                        );
                        view! { <a class="button" href=href>"Older entries →"</a> }
                    });
                    let empty = page
                        .items
                        .is_empty()
                        .then(|| view! { <tr><td colspan="5" class="muted">"No entries."</td></tr> });
                    let rows = page.items.into_iter().map(|e| view! { <AuditRow e/> }).collect_view();
                    view! {
                    <table class="table" data-testid="audit" tabindex="0">
                        <thead><tr><th>"When"</th><th>"Who"</th><th>"Action"</th><th>"Target"</th><th>"From"</th></tr></thead>
                        <tbody>{empty}{rows}</tbody>
                    </table>
                    <p>{next}</p>
                }.into_any()
                }
            }
        })
    };
    let selected = move |value: &'static str| query.read().get("action").as_deref() == Some(value);
    view! {
        <h1>"Audit log"</h1>
        <form method="get" class="row filters">
            <label>"Action"
                <select name="action">
                    <option value="" selected=move || selected("")>"All actions"</option>
                    <option value="key." selected=move || selected("key.")>"Keys"</option>
                    <option value="key.revealed" selected=move || selected("key.revealed")>"Secret reveals"</option>
                    <option value="key.test_token_signed" selected=move || selected("key.test_token_signed")>"Test tokens signed"</option>
                    <option value="member." selected=move || selected("member.")>"Members"</option>
                    <option value="security." selected=move || selected("security.")>"Security settings"</option>
                    <option value="attribute." selected=move || selected("attribute.")>"Attributes"</option>
                    <option value="workspace." selected=move || selected("workspace.")>"Workspace"</option>
                </select>
            </label>
            <label>"Actor email"<input type="text" name="actor" value=move || query.read().get("actor").unwrap_or_default()/></label>
            <button type="submit">"Filter"</button>
        </form>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>{body}</Transition>
    }
}

#[component]
fn AuditRow(e: AuditEntry) -> impl IntoView {
    let details =
        if e.details.as_object().is_some_and(|d| !d.is_empty()) { e.details.to_string() } else { String::new() };
    let action = e.action.clone();
    view! {
        <tr data-action=action>
            <td>{e.at.format("%Y-%m-%d %H:%M:%S UTC").to_string()}</td>
            <td>{e.actor_email.unwrap_or_else(|| "—".into())}</td>
            <td><code>{e.action}</code></td>
            <td>{e.target.unwrap_or_default()}<br/><small class="muted">{details}</small></td>
            <td><small class="muted">{e.ip.unwrap_or_default()}</small></td>
        </tr>
    }
}
