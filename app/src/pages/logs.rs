//! `/w/:ws/logs`: the verbose verification log, newest first, with filters; and
//! `/w/:ws/contacts`: look up a stored contact.

use countersign_core::log_limits::{DEFAULT_RANGE_DAYS, MAX_EXPORT_ROWS, MAX_RANGE_DAYS};
use countersign_core::{Outcome, Platform, Reason};
use countersign_proto::{LogEntry, WorkspaceSummary};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use uuid::Uuid;

use super::overview::FailureStrip;
use super::{query_string, urlencode, workspace_page, ErrorNotice};
use crate::api::{find_contact, list_logs, log_replica_lag};

/// The filters the page keeps in its address (the API's names), in the form's order.
const FILTERS: [&str; 8] = ["outcome", "platform", "reason", "user_id", "kid", "origin", "from", "to"];

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
    // The non-blank filters as (name, value): what a page, the next link and exports carry.
    let filters = Memo::new(move |_| {
        FILTERS.iter().filter_map(|k| param(k).map(|v| (*k, v))).collect::<Vec<(&'static str, String)>>()
    });
    let cursor = Memo::new(move |_| param("cursor"));
    let page = Resource::new(
        move || (filters.get(), cursor.get()),
        move |(f, c)| {
            let get = |name: &str| f.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone());
            list_logs(
                id,
                get("outcome"),
                get("platform"),
                get("reason"),
                get("user_id"),
                get("kid"),
                get("origin"),
                get("from"),
                get("to"),
                c,
            )
        },
    );
    let carried = move || {
        let f = filters.get();
        query_string(f.iter().map(|(k, v)| (*k, v.as_str())))
    };
    // The failure groups above the log cover the search's time range and keep its filters.
    let searched_range = Memo::new(move |_| (param("from"), param("to")));
    let without_reason = Memo::new(move |_| {
        let f = filters.get();
        query_string(f.iter().filter(|(k, _)| *k != "reason").map(|(k, v)| (*k, v.as_str())))
    });
    let selected = RwSignal::new(None::<LogEntry>);
    // Asked with each page: the log may be read from a replica a little behind the primary.
    let lag = Resource::new(move || (filters.get(), cursor.get()), move |_| log_replica_lag(id));
    let lag_notice = move || {
        Suspend::new(async move {
            lag.await.ok().flatten().map(|seconds| {
                view! {
                    <p class="notice warn" role="status" data-testid="replica-lag">
                        {format!("This log is read from a replica {seconds} s behind: the newest attempts may not show yet.")}
                    </p>
                }
            })
        })
    };
    let tail = LiveTail::new(id, filters);
    let body = move || {
        Suspend::new(async move {
            match page.await {
                Err(error) => view! { <ErrorNotice error/> }.into_any(),
                Ok(page) => {
                    let empty = page
                        .items
                        .is_empty()
                        .then(|| view! { <tr><td colspan="7" class="muted">"No attempts match."</td></tr> });
                    let next = page.next_cursor.map(|cursor| {
                    let keep = carried();
                    let sep = if keep.is_empty() { "" } else { "&" };
                    view! { <a class="button" data-testid="older" href=format!("?{keep}{sep}cursor={}", urlencode(&cursor))>"Older attempts →"</a> }
                });
                    // Paged back: a way to the newest attempts of the same search.
                    let newest = cursor.get_untracked().map(|_| {
                        view! { <a class="button" data-testid="newest" href=format!("?{}", carried())>"← Newest attempts"</a> }
                    });
                    let rows = page.items.into_iter().map(|e| view! { <LogRow e selected/> }).collect_view();
                    view! {
                    <div class="table-scroll" tabindex="0" role="region" aria-label="Log rows">
                        <table class="table logs" data-testid="logs">
                            <thead><tr><th>"When (UTC)"</th><th>"Outcome"</th><th>"Reason"</th><th>"Platform"</th><th>"User"</th><th>"Key"</th><th>"Latency"</th></tr></thead>
                            <tbody>
                                {move || tail.shown.get().into_iter().map(|e| view! { <LogRow e selected live=true/> }).collect_view()}
                                {empty}{rows}
                            </tbody>
                        </table>
                    </div>
                    <p class="paging">{newest}{next}</p>
                }.into_any()
                }
            }
        })
    };
    let is = move |name: &'static str, value: &'static str| query.read().get(name).as_deref() == Some(value);
    let options = move |name: &'static str, values: Vec<&'static str>| {
        values.into_iter().map(|v| view! { <option value=v selected=move || is(name, v)>{v}</option> }).collect_view()
    };
    let reasons: Vec<&'static str> = Reason::ALL.iter().map(|r| r.as_str()).chain(["invalid_request"]).collect();
    // A `datetime-local` input shows `YYYY-MM-DDTHH:MM`; the address may hold RFC 3339.
    let local = move |name: &str| {
        param(name).map(|v| match chrono::DateTime::parse_from_rfc3339(&v) {
            Ok(at) => at.with_timezone(&chrono::Utc).format("%Y-%m-%dT%H:%M").to_string(),
            Err(_) => v,
        })
    };
    let range = move || match (param("from"), param("to")) {
        (None, None) => format!(
            "Showing the last {} days. Set “From” to look further back (up to {} days per search).",
            DEFAULT_RANGE_DAYS, MAX_RANGE_DAYS
        ),
        (None, Some(_)) => format!("Showing the {DEFAULT_RANGE_DAYS} days before “To”."),
        _ => format!("A search spans {MAX_RANGE_DAYS} days at most."),
    };
    let export = move |format: &str| {
        let keep = carried();
        let sep = if keep.is_empty() { "" } else { "&" };
        format!("/api/v1/workspaces/{id}/logs/export?format={format}{sep}{keep}")
    };
    // Offered only for a search the log answers: a refused one (say, a range too long, typed
    // into the address) shows its message instead of saving it as a file.
    let exports = move || {
        Suspend::new(async move {
            page.await.is_ok().then(|| {
                view! {
                    <p class="exports">"Export: "
                        <a href=export("csv") download="verification-log.csv" rel="external" data-testid="export-csv">"CSV"</a>" · "
                        <a href=export("ndjson") download="verification-log.ndjson" rel="external" data-testid="export-ndjson">"NDJSON"</a>
                        <small class="muted">{format!(" (the newest {},{:03} rows at most)", MAX_EXPORT_ROWS / 1000, MAX_EXPORT_ROWS % 1000)}</small>
                    </p>
                }
            })
        })
    };
    view! {
        <h1>"Verification log"</h1>
        <p class="muted">"Every identify attempt, newest first. Tokens and secrets are never stored."</p>
        <FailureStrip workspace=id range=searched_range query=without_reason/>
        <form method="get" class="row filters" data-testid="log-filters">
            <label>"Outcome"<select name="outcome"><option value="">"Any"</option>{options("outcome", Outcome::ALL.iter().map(|o| o.as_str()).collect())}</select></label>
            <label>"Platform"<select name="platform"><option value="">"Any"</option>{options("platform", Platform::ALL.iter().map(|p| p.as_str()).collect())}</select></label>
            <label>"Reason"<select name="reason"><option value="">"Any"</option>{options("reason", reasons)}</select></label>
            <label>"User id"<input type="text" name="user_id" value=move || param("user_id").unwrap_or_default()/></label>
            <label>"Key (kid)"<input type="text" name="kid" value=move || param("kid").unwrap_or_default()/></label>
            <label>"Origin"<input type="text" name="origin" placeholder="https://app.example.com" value=move || param("origin").unwrap_or_default()/></label>
            <label>"From (UTC)"<input type="datetime-local" name="from" value=move || local("from").unwrap_or_default()/></label>
            <label>"To (UTC)"<input type="datetime-local" name="to" value=move || local("to").unwrap_or_default()/></label>
            <div class="filter-actions">
                <button type="submit" class="primary">"Filter"</button>
                <a class="button" href="?">"Clear"</a>
            </div>
        </form>
        <div class="log-toolbar">
            <p class="muted" data-testid="log-range">{range}</p>
            <Transition fallback=|| ()>{exports}</Transition>
        </div>
        <LiveStatus tail/>
        <Transition fallback=|| ()>{lag_notice}</Transition>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>{body}</Transition>
        {move || selected.get().map(|entry| view! { <LogDrawer entry ws=id selected/> })}
    }
}

/// The live tail: rows arrive over server-sent events while it is on; while the reader is
/// scrolled away from the top they are held back (and counted) so the table does not move
/// under them, and shown on return. A connection that drops is resumed from the last row
/// seen (or the moment the tail started), by the browser or, when it gives up, by the page.
#[derive(Clone, Copy)]
struct LiveTail {
    on: RwSignal<bool>,
    /// Arrived rows on screen, newest first.
    shown: RwSignal<Vec<LogEntry>>,
    /// Arrived while scrolled away, oldest first: the newest [`LIVE_ROWS`] of them.
    held: RwSignal<Vec<LogEntry>>,
    /// How many arrived while scrolled away.
    held_count: RwSignal<usize>,
    connected: RwSignal<bool>,
    /// Connections refused in a row; the page retries after a growing wait.
    failures: RwSignal<u32>,
}

/// Rows kept on screen (and held back) by the tail.
#[cfg(feature = "hydrate")]
const LIVE_ROWS: usize = 200;

impl LiveTail {
    fn new(workspace: Uuid, filters: Memo<Vec<(&'static str, String)>>) -> LiveTail {
        let tail = LiveTail {
            on: RwSignal::new(false),
            shown: RwSignal::new(Vec::new()),
            held: RwSignal::new(Vec::new()),
            held_count: RwSignal::new(0),
            connected: RwSignal::new(false),
            failures: RwSignal::new(0),
        };
        #[cfg(feature = "hydrate")]
        tail.run(workspace, filters);
        #[cfg(not(feature = "hydrate"))]
        let _ = (workspace, filters);
        tail
    }

    /// Adds arrived rows, newest first, without duplicates.
    #[cfg(feature = "hydrate")]
    fn show(self, rows: Vec<LogEntry>) {
        self.shown.update(|shown| {
            for row in rows {
                if !shown.iter().any(|s| s.id == row.id) {
                    shown.insert(0, row);
                }
            }
            shown.truncate(LIVE_ROWS);
        });
    }

    /// Keeps a row that arrived while the reader is scrolled away (once: a reconnection may
    /// send a row again).
    #[cfg(feature = "hydrate")]
    fn hold(self, row: LogEntry) {
        let known = |rows: &Vec<LogEntry>| rows.iter().any(|r| r.id == row.id);
        if self.held.with_untracked(known) || self.shown.with_untracked(known) {
            return;
        }
        self.held.update(|held| {
            held.push(row);
            if held.len() > LIVE_ROWS {
                held.remove(0);
            }
        });
        self.held_count.update(|n| *n += 1);
    }

    #[cfg(feature = "hydrate")]
    fn run(self, workspace: Uuid, filters: Memo<Vec<(&'static str, String)>>) {
        use wasm_bindgen::closure::Closure;
        use wasm_bindgen::JsCast;
        let at_top = RwSignal::new(true);
        let scroll = window_event_listener(leptos::ev::scroll, move |_| {
            at_top.set(web_sys::window().and_then(|w| w.scroll_y().ok()).unwrap_or(0.0) < 120.0);
        });
        // Back at the top: show what was held.
        Effect::new(move |_| {
            if at_top.get() && !self.held.with_untracked(Vec::is_empty) {
                let rows = self.held.try_update(std::mem::take).unwrap_or_default();
                self.held_count.set(0);
                self.show(rows);
            }
        });
        type Listener = Closure<dyn FnMut(web_sys::Event)>;
        type Open = (web_sys::EventSource, Closure<dyn FnMut(web_sys::MessageEvent)>, Listener, Listener, Listener);
        let source = StoredValue::new_local(None::<Open>);
        // The cursor of the last row (or of the tail's start) this page has seen.
        let last_id = StoredValue::new(None::<String>);
        let reconnects = RwSignal::new(0u32);
        let close = move || {
            if let Some((es, ..)) = source.try_update_value(Option::take).flatten() {
                es.close();
            }
            self.connected.set(false);
        };
        Effect::new(move |previous: Option<(bool, Vec<(&'static str, String)>)>| {
            let on = self.on.get();
            let f = filters.get();
            reconnects.track();
            close();
            // A new search starts afresh; a reconnection goes on from the last row seen.
            if previous.as_ref() != Some(&(on, f.clone())) {
                self.shown.set(Vec::new());
                self.held.set(Vec::new());
                self.held_count.set(0);
                self.failures.set(0);
                last_id.set_value(None);
            }
            if !on {
                return (on, f);
            }
            let mut params: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let after = last_id.get_value();
            if let Some(after) = &after {
                params.push(("after", after.as_str()));
            }
            let query = query_string(params);
            let Ok(es) = web_sys::EventSource::new(&format!("/api/v1/workspaces/{workspace}/logs/tail?{query}")) else {
                return (on, f);
            };
            let message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
                let Some(text) = ev.data().as_string() else { return };
                let Ok(row) = serde_json::from_str::<LogEntry>(&text) else { return };
                last_id.set_value(Some(ev.last_event_id()));
                if at_top.get_untracked() {
                    self.show(vec![row]);
                } else {
                    self.hold(row);
                }
            });
            let resume = Listener::new(move |ev: web_sys::Event| {
                if let Some(id) = ev.dyn_ref::<web_sys::MessageEvent>().map(|m| m.last_event_id()) {
                    if !id.is_empty() {
                        last_id.set_value(Some(id));
                    }
                }
            });
            let opened = Listener::new(move |_| {
                self.connected.set(true);
                self.failures.set(0);
            });
            // Dropped: the browser reconnects by itself (sending the last event id) unless the
            // server refused it (an error status: signed out, or a restart); then retry here,
            // waiting longer after each refusal.
            let watched = es.clone();
            let failed = Listener::new(move |_| {
                self.connected.set(false);
                if watched.ready_state() == web_sys::EventSource::CLOSED {
                    let failures = self.failures.get_untracked() + 1;
                    self.failures.set(failures);
                    let wait = std::time::Duration::from_secs(1 << failures.min(5).saturating_sub(1));
                    set_timeout(move || reconnects.update(|n| *n += 1), wait);
                }
            });
            es.set_onmessage(Some(message.as_ref().unchecked_ref()));
            let _ = es.add_event_listener_with_callback("resume", resume.as_ref().unchecked_ref());
            es.set_onopen(Some(opened.as_ref().unchecked_ref()));
            es.set_onerror(Some(failed.as_ref().unchecked_ref()));
            source.set_value(Some((es, message, resume, opened, failed)));
            (on, f)
        });
        on_cleanup(move || {
            scroll.remove();
            close();
        });
    }
}

/// The live tail's switch and state, announced to screen readers.
#[component]
fn LiveStatus(tail: LiveTail) -> impl IntoView {
    let status = move || match (tail.on.get(), tail.connected.get(), tail.held_count.get()) {
        (false, ..) => String::new(),
        (true, false, _) => match tail.failures.get() {
            0 => "Connecting…".to_owned(),
            1..=2 => "Connection lost; reconnecting…".to_owned(),
            _ => "The server does not answer the live tail (are you still signed in?); retrying every few seconds."
                .to_owned(),
        },
        (true, true, 0) => "Live: new attempts appear at the top as they happen.".to_owned(),
        (true, true, n) => {
            let kept = tail.held.with(Vec::len);
            format!(
                "Paused while you read: {} — scroll to the top to see {}.",
                if n == 1 { "1 new attempt".to_owned() } else { format!("{n} new attempts") },
                if n > kept { format!("the newest {kept}") } else { "them".to_owned() }
            )
        }
    };
    view! {
        <div class="live-bar">
            <button type="button" class="live-toggle" aria-pressed=move || tail.on.get().to_string() data-testid="live-toggle"
                on:click=move |_| tail.on.update(|on| *on = !*on)>
                <span class="dot" class:on=move || tail.on.get()></span>
                {move || if tail.on.get() { "Stop live tail" } else { "Live tail" }}
            </button>
            <span class="muted" aria-live="polite" data-testid="live-status">{status}</span>
        </div>
    }
}

#[component]
fn LogRow(e: LogEntry, selected: RwSignal<Option<LogEntry>>, #[prop(optional)] live: bool) -> impl IntoView {
    let outcome = e.outcome.clone();
    let opener = format!("log-{}", e.id);
    let entry = e.clone();
    view! {
        <tr data-outcome=outcome.clone() class:live=live data-user=e.user_id.clone().unwrap_or_default()>
            <td>
                <button type="button" class="link open" id=opener aria-haspopup="dialog" title="Show details"
                    on:click=move |_| selected.set(Some(entry.clone()))>
                    {e.at.format("%Y-%m-%d %H:%M:%S").to_string()}
                </button>
            </td>
            <td><span class=format!("badge outcome-{outcome}")>{outcome.clone()}</span></td>
            <td>{e.reason.clone().unwrap_or_default()}</td>
            <td>{e.platform.clone().unwrap_or_default()}</td>
            <td><span class="clip" title=e.user_id.clone()>{e.user_id.clone().unwrap_or_default()}</span></td>
            <td><code class="clip" title=e.kid.clone()>{e.kid.clone().unwrap_or_default()}</code></td>
            <td>{format!("{} µs", e.latency_us)}</td>
        </tr>
    }
}

/// One attempt in full, in a dialog: Escape or the close button closes it and focus goes back
/// to the row that opened it.
#[component]
fn LogDrawer(entry: LogEntry, ws: Uuid, selected: RwSignal<Option<LogEntry>>) -> impl IntoView {
    let close_button = NodeRef::<leptos::html::Button>::new();
    let entry_id = entry.id;
    Effect::new(move |_| {
        if let Some(button) = close_button.get() {
            let _ = button.focus();
        }
    });
    let close = move || {
        selected.set(None);
        #[cfg(feature = "hydrate")]
        if let Some(button) = document().get_element_by_id(&format!("log-{entry_id}")) {
            use wasm_bindgen::JsCast;
            if let Ok(button) = button.dyn_into::<web_sys::HtmlElement>() {
                let _ = button.focus();
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = entry_id;
    };
    let debugger_link = NodeRef::<leptos::html::A>::new();
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Escape" {
            ev.prevent_default();
            close();
        }
        // Tab cycles between the dialog's two controls (close, debugger) instead of leaving it.
        #[cfg(feature = "hydrate")]
        if ev.key() == "Tab" {
            let (Some(first), active) = (close_button.get_untracked(), document().active_element()) else { return };
            let first: web_sys::HtmlElement = first.into();
            let last: web_sys::HtmlElement =
                debugger_link.get_untracked().map(Into::into).unwrap_or_else(|| first.clone());
            let is =
                |el: &web_sys::HtmlElement| active.as_ref().is_some_and(|a| a == AsRef::<web_sys::Element>::as_ref(el));
            let target = if ev.shift_key() && is(&first) {
                Some(&last)
            } else if !ev.shift_key() && is(&last) {
                Some(&first)
            } else {
                None
            };
            if let Some(target) = target {
                ev.prevent_default();
                let _ = target.focus();
            }
        }
    };
    let text = |v: &Option<String>| v.clone().unwrap_or_else(|| "—".into());
    let debugger = entry.platform.as_ref().map(|platform| {
        let mut href = format!("/w/{ws}/debugger?platform={}", urlencode(platform));
        if let Some(user) = &entry.user_id {
            href.push_str(&format!("&user_id={}", urlencode(user)));
        }
        view! { <a class="button" href=href node_ref=debugger_link data-testid="open-debugger">"Open in debugger"</a> }
    });
    let accepted = attributes_accepted(&entry.attributes_accepted);
    let rejected = attributes_rejected(&entry.attributes_rejected);
    let ignored = string_list(&entry.details["ignored_attributes"]);
    let notes = string_list(&entry.details["notes"]);
    let list = |items: Vec<String>| -> AnyView {
        if items.is_empty() {
            view! { <span class="muted">"none"</span> }.into_any()
        } else {
            view! { <ul class="plain">{items.into_iter().map(|i| view! { <li><code>{i}</code></li> }).collect_view()}</ul> }.into_any()
        }
    };
    let outcome = entry.outcome.clone();
    let fix = entry.reason.as_deref().and_then(Reason::parse).map(Reason::fix);
    view! {
        <div class="drawer-backdrop" on:click=move |_| close()></div>
        <aside class="drawer" role="dialog" aria-modal="true" aria-labelledby="log-detail-title" on:keydown=on_key data-testid="log-detail">
            <header class="drawer-head">
                <h2 id="log-detail-title"><span class=format!("badge outcome-{outcome}")>{outcome.clone()}</span>" "{entry.reason.clone().unwrap_or_else(|| "Attempt".into())}</h2>
                <button type="button" class="link" node_ref=close_button aria-label="Close details" on:click=move |_| close()>"✕"</button>
            </header>
            <p class="explanation" data-testid="log-explanation">{entry.explanation.clone()}</p>
            {fix.map(|fix| view! { <p class="fix" data-testid="log-fix"><strong>"Fix: "</strong>{fix}</p> })}
            {(!notes.is_empty()).then(|| view! { <ul class="notes">{notes.into_iter().map(|n| view! { <li>{n}</li> }).collect_view()}</ul> })}
            <p>{debugger}</p>
            <dl class="facts">
                <dt>"When"</dt><dd>{entry.at.format("%Y-%m-%d %H:%M:%S%.3f UTC").to_string()}</dd>
                <dt>"Platform"</dt><dd>{text(&entry.platform)}</dd>
                <dt>"User id"</dt><dd class="wrap">{text(&entry.user_id)}</dd>
                <dt>"Key (kid)"</dt><dd><code>{text(&entry.kid)}</code></dd>
                <dt>"Algorithm"</dt><dd>{text(&entry.alg)}</dd>
                <dt>"Origin"</dt><dd class="wrap">{text(&entry.origin)}</dd>
                <dt>"IP"</dt><dd>{text(&entry.ip)}</dd>
                <dt>"User agent"</dt><dd class="wrap">{text(&entry.user_agent)}</dd>
                <dt>"Latency"</dt><dd>{format!("{} µs", entry.latency_us)}</dd>
                <dt>"Accepted attributes"</dt><dd>{list(accepted)}</dd>
                <dt>"Rejected attributes"</dt><dd>{list(rejected)}</dd>
                <dt>"Ignored attributes"</dt><dd>{list(ignored)}</dd>
                <dt>"Log id"</dt><dd><code>{entry.id.to_string()}</code></dd>
            </dl>
        </aside>
    }
}

/// `name = value` for each accepted attribute.
fn attributes_accepted(value: &serde_json::Value) -> Vec<String> {
    value.as_object().map(|o| o.iter().map(|(k, v)| format!("{k} = {v}")).collect()).unwrap_or_default()
}

/// `name (reason)` for each rejected attribute.
fn attributes_rejected(value: &serde_json::Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| format!("{} ({})", i["name"].as_str().unwrap_or("?"), i["reason"].as_str().unwrap_or("?")))
                .collect()
        })
        .unwrap_or_default()
}

fn string_list(value: &serde_json::Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| items.iter().filter_map(|i| i.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
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
    let body = move || {
        Suspend::new(async move {
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
        })
    };
    view! {
        <h1>"Contacts"</h1>
        <form method="get" class="row filters">
            <label>"User id"<input type="text" name="user_id" required value=move || user_id().unwrap_or_default()/></label>
            <button type="submit">"Look up"</button>
        </form>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>{body}</Transition>
    }
}
