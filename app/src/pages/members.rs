//! `/w/:ws/members`: who is in the workspace, with what role; owners and admins manage them.

use countersign_core::policy::{permits, Action, Role};
use countersign_proto::{Member, WorkspaceSummary};
use leptos::prelude::*;

use super::{workspace_page, ErrorNotice};
use crate::api::{list_members, AddMember, ChangeMemberRole, RemoveMember};

/// The members page.
#[component]
pub fn MembersPage() -> impl IntoView {
    workspace_page("members", |ws| view! { <Members ws/> })
}

#[component]
fn Members(ws: WorkspaceSummary) -> impl IntoView {
    let can_manage = permits(ws.role, Action::ManageMembers);
    let add = ServerAction::<AddMember>::new();
    let change = ServerAction::<ChangeMemberRole>::new();
    let remove = ServerAction::<RemoveMember>::new();
    let id = ws.id;
    let members = Resource::new(
        move || (add.version().get(), change.version().get(), remove.version().get()),
        move |_| list_members(id),
    );
    let last_error = move || {
        [add.value().get().and_then(Result::err), change.value().get().and_then(Result::err), remove.value().get().and_then(Result::err)]
            .into_iter()
            .flatten()
            .next()
            .map(|error| view! { <ErrorNotice error/> })
    };
    let one_time_password = move || {
        add.value().get().and_then(Result::ok).and_then(|added| {
            added.temporary_password.map(|password| {
                view! {
                    <div class="notice success" role="status">
                        <p>"Account created for " <strong>{added.member.email}</strong>
                           ". Hand over this one-time password securely; it is not shown again:"</p>
                        <code data-testid="temporary-password">{password}</code>
                    </div>
                }
            })
        })
    };
    let rows = move || {
        Suspend::new(async move {
            match members.await {
                Ok(list) => list.into_iter().map(|m| view! { <MemberRow m ws=id can_manage change remove/> }).collect_view().into_any(),
                Err(error) => view! { <tr><td colspan="3"><ErrorNotice error/></td></tr> }.into_any(),
            }
        })
    };
    view! {
        <h1>"Members"</h1>
        <p class="muted">"Owners and admins manage members. Developers can reveal secrets; support can rotate and revoke them."</p>
        {last_error}
        {one_time_password}
        <table class="table" data-testid="members">
            <thead><tr><th>"Email"</th><th>"Role"</th><th></th></tr></thead>
            <tbody>
                <Transition fallback=|| view! { <tr><td colspan="3">"Loading…"</td></tr> }>{rows}</Transition>
            </tbody>
        </table>
        {can_manage.then(|| view! {
            <section class="card">
                <h2>"Add a member"</h2>
                <ActionForm action=add>
                    <input type="hidden" name="workspace" value=id.to_string()/>
                    <div class="row">
                        <label>"Email"<input type="email" name="email" required/></label>
                        <label>"Role"<RoleSelect selected=Role::Developer/></label>
                        <button type="submit" class="primary">"Add member"</button>
                    </div>
                </ActionForm>
            </section>
        })}
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
    let manage = can_manage.then(|| {
        let (account_a, account_b) = (account.clone(), account.clone());
        view! {
            <div class="row-actions">
                <ActionForm action=change>
                    <input type="hidden" name="workspace" value=ws.to_string()/>
                    <input type="hidden" name="account" value=account_a/>
                    <RoleSelect selected=m.role/>
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

#[component]
fn RoleSelect(selected: Role) -> impl IntoView {
    let options = Role::ALL
        .into_iter()
        .map(|role| view! { <option value=role.as_str() selected=role == selected>{role.as_str()}</option> })
        .collect_view();
    view! { <select name="role">{options}</select> }
}
