//! `/w/:ws/snippets`: the code that signs this workspace's tokens, per language, and the call
//! the widget makes with them, filled in and ready to copy. The text comes from
//! `countersign_core::snippets`, the one place that makes it.

use countersign_core::snippets::{Snippet, SnippetContext, SECRET_ENV};
use countersign_proto::WorkspaceSummary;
use leptos::prelude::*;

use super::{workspace_page, CopyButton, ErrorNotice};
use crate::api::get_snippets;

/// The snippets page (every role: snippets hold no secret).
#[component]
pub fn SnippetsPage() -> impl IntoView {
    workspace_page("snippets", |ws| view! { <Snippets ws/> })
}

#[component]
fn Snippets(ws: WorkspaceSummary) -> impl IntoView {
    let id = ws.id;
    let snippets = Resource::new(|| (), move |_| get_snippets(id));
    let body = move || {
        Suspend::new(async move {
            match snippets.await {
                Err(error) => view! { <ErrorNotice error/> }.into_any(),
                Ok(all) => view! {
                    <Facts context=all.context ws=id/>
                    <section class="card">
                        <h2>"1. Sign a token on your server"</h2>
                        <p class="muted">"One token per signed-in user, made by your backend when it renders the page or app screen. Each example prints a token for a sample user: run it with "
                            <code>{SECRET_ENV}</code>" set to test your setup."</p>
                        <Tabs snippets=all.server label="Server language"/>
                    </section>
                    <section class="card">
                        <h2>"2. Send it when the widget boots"</h2>
                        <p class="muted">"The widget hands the token to Countersign, which verifies it and answers with the user it may trust."</p>
                        <Tabs snippets=all.widget label="Platform"/>
                    </section>
                }
                .into_any(),
            }
        })
    };
    view! {
        <h1>"Snippets"</h1>
        <p class="muted">"Code for your stack, filled in for this workspace. Server code reads the secret from the "
            <code>{SECRET_ENV}</code>" environment variable: the secret never appears here, and never belongs in frontend or app code."</p>
        <Transition fallback=|| view! { <p class="loading">"Loading snippets…"</p> }>{body}</Transition>
    }
}

/// What the snippets are filled in with, and where each comes from.
#[component]
fn Facts(context: SnippetContext, ws: uuid::Uuid) -> impl IntoView {
    let kid = match context.kid {
        Some(kid) => view! { <code data-testid="snippet-kid">{kid}</code> }.into_any(),
        None => view! { <span class="notice error">"No primary key: rotate on the Keys page first."</span> }.into_any(),
    };
    view! {
        <dl class="facts" data-testid="snippet-facts">
            <dt>"App ID"</dt>
            <dd><code data-testid="snippet-app-id">{context.app_id}</code></dd>
            <dt>"Signing key"</dt>
            <dd>{kid}" "<a href=format!("/w/{ws}/keys")>"Keys"</a></dd>
            <dt>"Token profile"</dt>
            <dd><code data-testid="snippet-profile">{context.token_profile.as_str()}</code>" "<a href=format!("/w/{ws}/security")>"Security"</a></dd>
            <dt>"Token lifetime"</dt>
            <dd>{lifetime(context.lifetime_seconds)}" "<small class="muted">"(exp − iat)"</small></dd>
        </dl>
    }
}

/// "1 hour", "5 minutes", "90 seconds": a token lifetime for people.
fn lifetime(seconds: i64) -> String {
    let plural = |n: i64, unit: &str| if n == 1 { format!("1 {unit}") } else { format!("{n} {unit}s") };
    match seconds {
        s if s >= 3600 && s % 3600 == 0 => plural(s / 3600, "hour"),
        s if s >= 60 && s % 60 == 0 => plural(s / 60, "minute"),
        s => plural(s, "second"),
    }
}

/// Snippets behind language tabs; every panel has its own copy button.
#[component]
fn Tabs(snippets: Vec<Snippet>, label: &'static str) -> impl IntoView {
    let selected = RwSignal::new(snippets.first().map(|s| s.id.clone()).unwrap_or_default());
    let ids: Vec<String> = snippets.iter().map(|s| s.id.clone()).collect();
    // The tab list's keys (WAI-ARIA tabs): arrows move to the previous or next tab, Home and End
    // to the first and last, each selected and focused at once; Tab leaves the list.
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        let Some(at) = selected.with_untracked(|id| ids.iter().position(|i| i == id)) else { return };
        let count = ids.len();
        let to = match ev.key().as_str() {
            "ArrowRight" => (at + 1) % count,
            "ArrowLeft" => (at + count - 1) % count,
            "Home" => 0,
            "End" => count - 1,
            _ => return,
        };
        ev.prevent_default();
        let Some(id) = ids.get(to) else { return };
        selected.set(id.clone());
        #[cfg(feature = "hydrate")]
        if let Some(tab) = document().get_element_by_id(&format!("tab-{id}")) {
            use wasm_bindgen::JsCast;
            if let Ok(tab) = tab.dyn_into::<web_sys::HtmlElement>() {
                let _ = tab.focus();
            }
        }
    };
    let tabs = snippets
        .iter()
        .map(|s| {
            let (is, choose) = (s.id.clone(), s.id.clone());
            let active = move || selected.with(|id| *id == is);
            let aria_selected = {
                let active = active.clone();
                move || active().to_string()
            };
            // Only the selected tab is in the page's tab order; the arrows reach the others.
            let tabindex = {
                let active = active.clone();
                move || if active() { "0" } else { "-1" }
            };
            view! {
                <button type="button" role="tab" id=format!("tab-{}", s.id) aria-controls=format!("panel-{}", s.id)
                    aria-selected=aria_selected tabindex=tabindex class:active=active
                    on:click=move |_| selected.set(choose.clone())>{s.language.clone()}</button>
            }
        })
        .collect_view();
    let panels = snippets
        .into_iter()
        .map(|s| {
            let is = s.id.clone();
            view! {
                <div class="snippet" role="tabpanel" id=format!("panel-{}", s.id) aria-labelledby=format!("tab-{}", s.id)
                    hidden=move || selected.with(|id| *id != is)>
                    <div class="snippet-head">
                        <span><strong>{s.library}</strong>" · "<code>{s.install}</code></span>
                        <CopyButton text=s.code.clone()/>
                    </div>
                    <pre class="code" tabindex="0"><code data-testid=format!("snippet-{}", s.id)>{s.code}</code></pre>
                </div>
            }
        })
        .collect_view();
    view! {
        <div class="tabs" role="tablist" aria-label=label on:keydown=on_key>{tabs}</div>
        {panels}
    }
}
