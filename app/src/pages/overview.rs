//! `/w/:ws`: the workspace's security at a glance. A headline naming the biggest risk, each
//! platform's mode and traffic with a chart, monitor-to-enforce readiness, the top failure
//! reasons and a checklist, every item linking to the page that fixes it.

mod chart;

use countersign_core::text::thousands;
use countersign_proto::{FailureGroup, HealthItem, Overview, PlatformHealth, WorkspaceSummary};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{urlencode, workspace_page, ErrorNotice};
use crate::api::{get_log_failures, get_overview};
use chart::TrafficChart;

/// The workspace home.
#[component]
pub fn OverviewPage() -> impl IntoView {
    workspace_page("overview", |ws| view! { <OverviewBody ws/> })
}

fn platform_name(platform: &str) -> &'static str {
    countersign_core::Platform::parse(platform).map_or("Other", countersign_core::Platform::label)
}

/// "1 attempt", "1,204 attempts".
fn count(n: i64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

fn when(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%b %-d, %H:%M UTC").to_string()
}

#[component]
fn OverviewBody(ws: WorkspaceSummary) -> impl IntoView {
    let query = use_query_map();
    let id = ws.id;
    let range = move || query.read().get("range").filter(|r| !r.is_empty());
    let overview = Resource::new(range, move |range| get_overview(id, range));
    let base = format!("/w/{id}");
    let tabs = {
        let base = base.clone();
        ["24h", "7d", "30d"]
            .into_iter()
            .map(|r| {
                let current = move || range().as_deref().unwrap_or("24h") == r;
                let label = match r {
                    "24h" => "24 hours",
                    "7d" => "7 days",
                    _ => "30 days",
                };
                view! {
                    <a href=format!("{base}?range={r}") class:active=current aria-current=move || current().then_some("page")>{label}</a>
                }
            })
            .collect_view()
    };
    let body = move || {
        let base = base.clone();
        Suspend::new(async move {
            match overview.await {
                Err(error) => view! { <ErrorNotice error/> }.into_any(),
                Ok(o) => view! { <Report o base/> }.into_any(),
            }
        })
    };
    view! {
        <div class="page-head">
            <div>
                <h1>{ws.name.clone()}</h1>
                <p class="muted">"App ID " <code data-testid="app-id">{ws.app_id.clone()}</code>
                    " · public, safe in frontend code · your role: " <span data-testid="my-role">{ws.role.as_str()}</span></p>
            </div>
            <nav class="tabs" aria-label="Time range">{tabs}</nav>
        </div>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>{body}</Transition>
    }
}

#[component]
fn Report(o: Overview, base: String) -> impl IntoView {
    let headline = o.headline.clone();
    let fix_href = format!("{base}{}", headline.fix_path);
    let platforms = o.platforms.into_iter().map(|p| view! { <PlatformCard p base=base.clone()/> }).collect_view();
    view! {
        <section class=format!("headline sev-{}", headline.severity) data-testid="headline" role="status">
            <p><strong>{headline.detail.clone()}</strong></p>
            {(headline.severity != "ok").then(|| view! { <a class="button" href=fix_href>"Fix this"</a> })}
        </section>
        <div class="platforms">{platforms}</div>
        <FailureGroups groups=o.failures base=base.clone()/>
        <Checklist items=o.checklist base/>
    }
}

#[component]
fn PlatformCard(p: PlatformHealth, base: String) -> impl IntoView {
    let name = platform_name(&p.platform);
    let t = p.totals.clone();
    let stat = |label: &'static str, value: i64, class: &'static str| {
        view! { <div class=format!("stat {class}")><span class="value">{thousands(value)}</span><span class="label">{label}</span></div> }
    };
    let seen = match (p.first_verified_at, p.last_verified_at) {
        (Some(first), Some(last)) => {
            view! { <p class="muted small">"Verified since " {when(first)} " · last " {when(last)}</p> }.into_any()
        }
        _ => view! { <p class="muted small">"Waiting for the first verified identify on " {name} "."</p> }.into_any(),
    };
    let readiness = p.readiness.clone().map(|r| {
        let platform = p.platform.clone();
        let reasons = r
            .reasons
            .iter()
            .take(3)
            .map(|reason| {
                let href = format!("{base}/logs?platform={platform}&outcome=would_reject&reason={}", reason.reason);
                view! {
                    <li><a href=href><code>{reason.reason.clone()}</code></a>
                        " · " {count(reason.attempts, "attempt", "attempts")}
                        {(reason.users > 0).then(|| format!(", {}", count(reason.users, "user", "users")))}
                        <br/><small class="muted">{reason.fix.clone()}</small></li>
                }
            })
            .collect_view();
        view! {
            <div class=if r.ready { "readiness ready" } else { "readiness not-ready" } data-testid=format!("readiness-{platform}")>
                <p><strong>{r.verdict.clone()}</strong></p>
                <ul>{reasons}</ul>
                <a href=format!("{base}/security")>"Review modes →"</a>
            </div>
        }
    });
    view! {
        <section class="card platform" data-testid=format!("platform-{}", p.platform)>
            <header>
                <h2>{name}</h2>
                <span class=format!("badge mode-{}", p.mode)>{p.mode.clone()}</span>
            </header>
            <div class="stats">
                {stat("verified", t.verified, "verified")}
                {stat("unverified", t.unverified, "unverified")}
                {stat("would reject", t.would_reject, "would-reject")}
                {stat("rejected", t.rejected, "rejected")}
            </div>
            <TrafficChart platform=name series=p.series/>
            {seen}
            {readiness}
        </section>
    }
}

/// The keys a failure group's tokens named, or a dash for none (no token, or a kid that names
/// no key of the workspace): never a blank cell.
fn keys_cell(kids: &[String]) -> AnyView {
    if kids.is_empty() {
        return view! { <span class="muted" title="No key of this workspace was named">"—"</span> }.into_any();
    }
    kids.iter().map(|k| view! { <code>{k.clone()}</code>" " }).collect_view().into_any()
}

/// The failure groups as a table; each reason links to the log narrowed to it, keeping the
/// log filters in `query` (a query string without `reason`).
#[component]
fn FailureGroups(groups: Vec<FailureGroup>, base: String, #[prop(optional)] query: String) -> impl IntoView {
    if groups.is_empty() {
        return view! {
            <section class="section">
                <h2>"Top failure reasons"</h2>
                <p class="muted" data-testid="failure-groups">"No failed verifications in this range."</p>
            </section>
        }
        .into_any();
    }
    let rows = groups
        .into_iter()
        .map(|g| {
            let sep = if query.is_empty() { "" } else { "&" };
            let href = format!("{base}/logs?{query}{sep}reason={}", urlencode(&g.reason));
            view! {
                <tr>
                    <td><a href=href><code>{g.reason.clone()}</code></a><br/><small class="muted">{g.fix.clone()}</small></td>
                    <td class="num" data-label="Attempts">{thousands(g.attempts)}</td>
                    <td class="num" data-label="Users">{thousands(g.users)}</td>
                    <td data-label="Seen">{when(g.first_seen)}<br/><small class="muted">"last " {when(g.last_seen)}</small></td>
                    <td data-label="Platforms">{g.platforms.iter().map(|p| platform_name(p)).collect::<Vec<_>>().join(", ")}</td>
                    <td data-label="Keys">{keys_cell(&g.kids)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="section">
            <h2>"Top failure reasons"</h2>
            <div class="table-scroll">
                <table class="table failures" data-testid="failure-groups">
                    <thead><tr><th>"Reason and fix"</th><th>"Attempts"</th><th>"Users"</th><th>"Seen"</th><th>"Platforms"</th><th>"Keys"</th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        </section>
    }
    .into_any()
}

#[component]
fn Checklist(items: Vec<HealthItem>, base: String) -> impl IntoView {
    let empty = items
        .is_empty()
        .then(|| view! { <li class="sev-ok"><strong>"Nothing to fix."</strong> " Every check passes."</li> });
    let items = items
        .into_iter()
        .map(|i| {
            let href = format!("{base}{}", i.fix_path);
            view! {
                <li class=format!("sev-{}", i.severity)>
                    <span class="severity">{i.severity.clone()}</span>
                    <div><strong>{i.title.clone()}</strong><p class="muted">{i.detail.clone()}</p></div>
                    <a href=href>"Fix →"</a>
                </li>
            }
        })
        .collect_view();
    view! {
        <section class="section">
            <h2>"Health checklist"</h2>
            <ul class="checklist" data-testid="checklist">{empty}{items}</ul>
        </section>
    }
}

/// The top failure reasons over the log's time range (above the log): a line of the most
/// frequent, opening into the full groups with fixes; each narrows the log to its reason and
/// keeps the other filters in `query`.
#[component]
pub fn FailureStrip(
    workspace: uuid::Uuid,
    range: Memo<(Option<String>, Option<String>)>,
    query: Memo<String>,
) -> impl IntoView {
    let groups = Resource::new(move || range.get(), move |(from, to)| get_log_failures(workspace, from, to));
    let strip = move || {
        Suspend::new(async move {
            let query = query.get();
            let groups = groups.await.unwrap_or_default();
            (!groups.is_empty()).then(|| {
                let top = groups
                    .iter()
                    .take(3)
                    .map(|g| format!("{} {}", g.reason, thousands(g.attempts)))
                    .collect::<Vec<_>>()
                    .join(" · ");
                view! {
                    <details class="failure-strip" data-testid="failure-strip">
                        <summary><span class="muted">"Top failures in this range: "</span>{top}</summary>
                        <FailureGroups groups base=format!("/w/{workspace}") query/>
                    </details>
                }
            })
        })
    };
    view! { <Transition fallback=|| ()>{strip}</Transition> }
}
