//! `/account/tokens`: personal access tokens for scripts (incident runbooks, automation).

use countersign_proto::TokenInfo;
use leptos::prelude::*;

use super::{with_me, CopyButton, ErrorNotice, Frame};
use crate::api::{list_tokens, CreateToken, Me, RevokeToken};

/// The access tokens page.
#[component]
pub fn TokensPage() -> impl IntoView {
    with_me(|me: Me| view! { <Frame me workspace=None section="tokens"><Tokens/></Frame> })
}

#[component]
fn Tokens() -> impl IntoView {
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let tokens = Resource::new(move || (create.version().get(), revoke.version().get()), |_| list_tokens());
    let created = move || match create.value().get() {
        Some(Ok(t)) => Some(
            view! {
                <div class="notice success" role="status">
                    <p>"Token " <strong>{t.info.name}</strong> " created. Copy it now: it is not shown again."</p>
                    <p><code data-testid="new-token">{t.token.clone()}</code> " " <CopyButton text=t.token/></p>
                </div>
            }
            .into_any(),
        ),
        Some(Err(error)) => Some(view! { <ErrorNotice error/> }.into_any()),
        None => None,
    };
    let rows = move || {
        Suspend::new(async move {
            match tokens.await {
                Ok(list) if list.is_empty() => {
                    view! { <tr><td colspan="4" class="muted">"No tokens yet."</td></tr> }.into_any()
                }
                Ok(list) => list.into_iter().map(|t| view! { <TokenRow t revoke/> }).collect_view().into_any(),
                Err(error) => view! { <tr><td colspan="4"><ErrorNotice error/></td></tr> }.into_any(),
            }
        })
    };
    view! {
        <h1>"Access tokens"</h1>
        <p class="muted">"A personal access token acts as you on the management API (" <code>"Authorization: Bearer cs_pat_…"</code> "), with your role in each workspace. Only its hash is stored."</p>
        {created}
        <table class="table" data-testid="tokens">
            <thead><tr><th>"Name"</th><th>"Created"</th><th>"Last used"</th><th></th></tr></thead>
            <tbody><Transition fallback=|| view! { <tr><td colspan="4">"Loading…"</td></tr> }>{rows}</Transition></tbody>
        </table>
        <section class="card">
            <h2>"New token"</h2>
            <ActionForm action=create>
                <div class="row">
                    <label>"Name"<input type="text" name="name" required placeholder="incident script"/></label>
                    <button type="submit" class="primary">"Create token"</button>
                </div>
            </ActionForm>
        </section>
    }
}

#[component]
fn TokenRow(t: TokenInfo, revoke: ServerAction<RevokeToken>) -> impl IntoView {
    let fmt = |at: chrono::DateTime<chrono::Utc>| at.format("%Y-%m-%d %H:%M UTC").to_string();
    let action = match t.revoked_at {
        Some(at) => view! { <span class="badge revoked">{format!("revoked {}", fmt(at))}</span> }.into_any(),
        None => view! {
            <ActionForm action=revoke>
                <input type="hidden" name="id" value=t.id.to_string()/>
                <button type="submit" class="danger">"Revoke"</button>
            </ActionForm>
        }
        .into_any(),
    };
    view! {
        <tr data-token=t.name.clone()>
            <td>{t.name.clone()}</td>
            <td>{fmt(t.created_at)}</td>
            <td>{t.last_used_at.map(fmt).unwrap_or_else(|| "never".into())}</td>
            <td>{action}</td>
        </tr>
    }
}
