//! `/w/:ws/members`: who is in the workspace, with what role; owners and admins manage them
//! and invite people (a single-use link, shown once).

use countersign_core::policy::{permits, Action, Role};
use countersign_proto::{CreatedInvitation, Invitation, InvitationStatus, Member, WorkspaceSummary};
use leptos::prelude::*;

use super::{workspace_page, CopyButton, ErrorNotice};
use crate::api::{list_invitations, list_members, ChangeMemberRole, CreateInvitation, RemoveMember, RevokeInvitation};

/// The members page.
#[component]
pub fn MembersPage() -> impl IntoView {
    workspace_page("members", |ws| view! { <Members ws/> })
}

#[component]
fn Members(ws: WorkspaceSummary) -> impl IntoView {
    let can_manage = permits(ws.role, Action::ManageMembers);
    let change = ServerAction::<ChangeMemberRole>::new();
    let remove = ServerAction::<RemoveMember>::new();
    let id = ws.id;
    let members = Resource::new(move || (change.version().get(), remove.version().get()), move |_| list_members(id));
    let last_error = move || {
        [change.value().get().and_then(Result::err), remove.value().get().and_then(Result::err)]
            .into_iter()
            .flatten()
            .next()
            .map(|error| view! { <ErrorNotice error/> })
    };
    let rows = move || {
        Suspend::new(async move {
            match members.await {
                Ok(list) => list
                    .into_iter()
                    .map(|m| view! { <MemberRow m ws=id can_manage change remove/> })
                    .collect_view()
                    .into_any(),
                Err(error) => view! { <tr><td colspan="3"><ErrorNotice error/></td></tr> }.into_any(),
            }
        })
    };
    view! {
        <h1>"Members"</h1>
        <p class="muted">"Owners and admins manage members. Developers can reveal secrets; support can rotate and revoke them."</p>
        {last_error}
        <table class="table" data-testid="members">
            <thead><tr><th>"Email"</th><th>"Role"</th><th></th></tr></thead>
            <tbody>
                <Transition fallback=|| view! { <tr><td colspan="3">"Loading…"</td></tr> }>{rows}</Transition>
            </tbody>
        </table>
        {can_manage.then(|| view! { <Invitations ws=id owner=ws.role == Role::Owner/> })}
    }
}

/// The invite form, the link of the invitation just made, and the invitations with revoke.
#[component]
fn Invitations(ws: uuid::Uuid, owner: bool) -> impl IntoView {
    let create = ServerAction::<CreateInvitation>::new();
    let revoke = ServerAction::<RevokeInvitation>::new();
    let invitations =
        Resource::new(move || (create.version().get(), revoke.version().get()), move |_| list_invitations(ws));
    let outcome = move || match create.value().get() {
        Some(Ok(created)) => Some(view! { <NewLink created/> }.into_any()),
        Some(Err(error)) => Some(view! { <ErrorNotice error/> }.into_any()),
        None => None,
    };
    let revoke_error = move || revoke.value().get().and_then(Result::err).map(|error| view! { <ErrorNotice error/> });
    let rows = move || {
        Suspend::new(async move {
            match invitations.await {
                Ok(list) if list.is_empty() => {
                    view! { <tr><td colspan="5" class="muted">"No invitations yet."</td></tr> }.into_any()
                }
                Ok(list) => list.into_iter().map(|i| view! { <InvitationRow i ws revoke/> }).collect_view().into_any(),
                Err(error) => view! { <tr><td colspan="5"><ErrorNotice error/></td></tr> }.into_any(),
            }
        })
    };
    // Only owners may invite owners: others are not offered the role.
    let roles: Vec<Role> = Role::ALL.into_iter().filter(|r| owner || *r != Role::Owner).collect();
    view! {
        <section class="card">
            <h2>"Invite someone"</h2>
            <p class="muted">"You get a link that works once, for 7 days. Whoever opens it joins with an account of their own: nobody else ever sees their password."</p>
            {outcome}
            <ActionForm action=create>
                <input type="hidden" name="workspace" value=ws.to_string()/>
                <div class="row">
                    <label>"Email " <small class="muted">"(optional)"</small>
                        <input type="email" name="email" placeholder="dev@example.com" autocomplete="off"/></label>
                    <label>"Role"<RoleSelect selected=Role::Developer roles/></label>
                    <button type="submit" class="primary">"Create invitation"</button>
                </div>
            </ActionForm>
        </section>
        <h2>"Invitations"</h2>
        {revoke_error}
        <table class="table" data-testid="invitations">
            <thead><tr><th>"Email"</th><th>"Role"</th><th>"Status"</th><th>"Expires"</th><th></th></tr></thead>
            <tbody>
                <Transition fallback=|| view! { <tr><td colspan="5">"Loading…"</td></tr> }>{rows}</Transition>
            </tbody>
        </table>
    }
}

/// The link of a new invitation: shown here once, with a copy button.
#[component]
fn NewLink(created: CreatedInvitation) -> impl IntoView {
    let who = created.invitation.email.clone().unwrap_or_else(|| "anyone you give it to".into());
    let emailed = created.emailed.then(|| view! { <p>"We also emailed it to " <strong>{who.clone()}</strong> "."</p> });
    view! {
        <div class="notice success" role="status">
            <p>"Invitation for " <strong>{who.clone()}</strong> " as " <strong>{created.invitation.role.as_str()}</strong>
               ". Copy the link now: it is not shown again."</p>
            <p><code data-testid="invitation-link">{created.url.clone()}</code> " " <CopyButton text=created.url/></p>
            {emailed}
        </div>
    }
}

#[component]
fn InvitationRow(i: Invitation, ws: uuid::Uuid, revoke: ServerAction<RevokeInvitation>) -> impl IntoView {
    let fmt = |at: chrono::DateTime<chrono::Utc>| at.format("%Y-%m-%d %H:%M UTC").to_string();
    let (status, class) = match i.status {
        InvitationStatus::Pending => ("pending".to_owned(), "badge primary"),
        InvitationStatus::Accepted => (format!("joined as {}", i.accepted_by.clone().unwrap_or_default()), "badge"),
        InvitationStatus::Revoked => ("revoked".to_owned(), "badge revoked"),
        InvitationStatus::Expired => ("expired".to_owned(), "badge revoked"),
    };
    let action = (i.status == InvitationStatus::Pending).then(|| {
        view! {
            <ActionForm action=revoke>
                <input type="hidden" name="workspace" value=ws.to_string()/>
                <input type="hidden" name="invitation" value=i.id.to_string()/>
                <button type="submit" class="danger">"Revoke"</button>
            </ActionForm>
        }
    });
    let email = i.email.clone().unwrap_or_else(|| "(link, any email)".into());
    let key = email.clone();
    view! {
        <tr data-invitation=key>
            <td>{email}</td>
            <td><span class="role">{i.role.as_str()}</span></td>
            <td><span class=class>{status}</span></td>
            <td>{fmt(i.expires_at)}</td>
            <td>{action}</td>
        </tr>
    }
}

#[component]
fn MemberRow(
    m: Member,
    ws: uuid::Uuid,
    can_manage: bool,
    change: ServerAction<ChangeMemberRole>,
    remove: ServerAction<RemoveMember>,
) -> impl IntoView {
    let account = m.account_id.to_string();
    let label = format!("Role of {}", m.email);
    let manage = can_manage.then(|| {
        let (account_a, account_b) = (account.clone(), account.clone());
        view! {
            <div class="row-actions">
                <ActionForm action=change>
                    <input type="hidden" name="workspace" value=ws.to_string()/>
                    <input type="hidden" name="account" value=account_a/>
                    <RoleSelect selected=m.role roles=Role::ALL.to_vec() label/>
                    <button type="submit">"Change role"</button>
                </ActionForm>
                <ActionForm action=remove>
                    <input type="hidden" name="workspace" value=ws.to_string()/>
                    <input type="hidden" name="account" value=account_b/>
                    <button type="submit" class="danger">"Remove"</button>
                </ActionForm>
            </div>
        }
    });
    view! {
        <tr data-email=m.email.clone()>
            <td>{m.email.clone()}</td>
            <td><span class="role">{m.role.as_str()}</span></td>
            <td>{manage}</td>
        </tr>
    }
}

/// A role picker; `label` names it for assistive technology where no visible label wraps it.
#[component]
fn RoleSelect(selected: Role, roles: Vec<Role>, #[prop(optional, into)] label: Option<String>) -> impl IntoView {
    let options = roles
        .into_iter()
        .map(|role| view! { <option value=role.as_str() selected=role == selected>{role.as_str()}</option> })
        .collect_view();
    view! { <select name="role" aria-label=label>{options}</select> }
}
