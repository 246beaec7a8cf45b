//! `/invite?token=…`: the page an invitation link opens. Signed in, the holder joins with that
//! account; signed out, they create an account with a password of their own, or sign in first
//! and come back here.

use countersign_proto::InvitationPreview;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{urlencode, ErrorNotice};
use crate::api::{preview_invitation, whoami, AcceptInvitation, Me};
use crate::error::AppError;

/// The accept page.
#[component]
pub fn InvitePage() -> impl IntoView {
    let query = use_query_map();
    let token = query.read_untracked().get("token").unwrap_or_default();
    let state = Resource::new(
        move || token.clone(),
        |token| async move { Ok::<_, AppError>((preview_invitation(token.clone()).await?, whoami().await?, token)) },
    );
    view! {
        <main class="centered">
            <div class="card narrow" data-testid="invite">
                <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match state.await {
                            Ok((preview, me, token)) => view! { <Accept preview me token/> }.into_any(),
                            Err(error) => view! {
                                <h1>"This invitation cannot be used"</h1>
                                <ErrorNotice error/>
                                <p><a href="/">"Go to your workspaces"</a></p>
                            }.into_any(),
                        }
                    })}
                </Suspense>
            </div>
        </main>
    }
}

#[component]
fn Accept(preview: InvitationPreview, me: Option<Me>, token: String) -> impl IntoView {
    let accept = ServerAction::<AcceptInvitation>::new();
    let error = move || accept.value().get().and_then(Result::err).map(|error| view! { <ErrorNotice error/> });
    let inviter = preview.invited_by.clone().map(|by| view! { <p class="muted">"Invited by " {by}</p> });
    let expires = preview.expires_at.format("%Y-%m-%d %H:%M UTC").to_string();
    let join = format!("Join {}", preview.workspace_name);
    let form = match me {
        Some(me) => view! {
            <p>"You are signed in as " <strong data-testid="signed-in-as">{me.account.email}</strong> "."</p>
            <ActionForm action=accept>
                <input type="hidden" name="token" value=token.clone()/>
                <button type="submit" class="primary">{join}</button>
            </ActionForm>
            <p class="muted">"To join with another account, sign out first and open the link again."</p>
        }
        .into_any(),
        None => {
            let next = format!("/invite?token={token}");
            let login = format!("/login?next={}", urlencode(&next));
            let email_field = match preview.email.clone() {
                Some(email) => view! {
                    <label>"Email"<input type="email" name="email" value=email readonly autocomplete="username"/></label>
                }
                .into_any(),
                None => view! {
                    <label>"Email"<input type="email" name="email" required autocomplete="username"/></label>
                }
                .into_any(),
            };
            view! {
                <h2>"Create your account"</h2>
                <ActionForm action=accept>
                    <input type="hidden" name="token" value=token.clone()/>
                    {email_field}
                    <label>"Choose a password " <small class="muted">"(10 characters or more)"</small>
                        <input type="password" name="password" autocomplete="new-password" minlength="10" required/></label>
                    <button type="submit" class="primary">"Create account and join"</button>
                </ActionForm>
                <p class="muted">"Already have an account? " <a href=login>"Sign in to accept"</a></p>
            }
            .into_any()
        }
    };
    view! {
        <h1>"Join " {preview.workspace_name} " on Countersign"</h1>
        <p>"You are invited as " <strong class="role">{preview.role.as_str()}</strong> ". The link works once, until " {expires} "."</p>
        {inviter}
        {error}
        {form}
    }
}
