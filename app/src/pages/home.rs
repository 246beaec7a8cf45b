//! `/`: the caller's workspaces and a form to create one.

use leptos::prelude::*;

use super::{with_me, ErrorNotice, Frame};
use crate::api::{CreateWorkspace, Me};

/// Lists workspaces and creates new ones.
#[component]
pub fn HomePage() -> impl IntoView {
    with_me(|me: Me| {
        let create = ServerAction::<CreateWorkspace>::new();
        let error = move || create.value().get().and_then(Result::err).map(|error| view! { <ErrorNotice error/> });
        let list = me
            .workspaces
            .iter()
            .map(|w| {
                view! {
                    <li>
                        <a href=format!("/w/{}", w.id)>{w.name.clone()}</a>
                        <span class="role">{w.role.as_str()}</span>
                        <code class="muted">{w.app_id.clone()}</code>
                    </li>
                }
            })
            .collect_view();
        view! {
            <Frame me=me.clone() workspace=None section="home">
                <h1>"Your workspaces"</h1>
                <ul class="workspace-list">{list}</ul>
                <section class="card">
                    <h2>"New workspace"</h2>
                    {error}
                    <ActionForm action=create>
                        <label>"Name"<input type="text" name="name" required/></label>
                        <button type="submit" class="primary">"Create workspace"</button>
                    </ActionForm>
                </section>
            </Frame>
        }
    })
}
