//! `/w/:ws`: what the workspace is and how to reach it.

use leptos::prelude::*;

use super::workspace_page;

/// The workspace's public identifiers and the caller's role.
#[component]
pub fn OverviewPage() -> impl IntoView {
    workspace_page("overview", |ws| {
        view! {
            <h1>{ws.name.clone()}</h1>
            <dl class="facts">
                <dt>"App ID"</dt>
                <dd><code data-testid="app-id">{ws.app_id.clone()}</code>
                    <span class="muted">" Public: safe to ship in your frontend code."</span></dd>
                <dt>"Your role"</dt>
                <dd data-testid="my-role">{ws.role.as_str()}</dd>
            </dl>
        }
    })
}
