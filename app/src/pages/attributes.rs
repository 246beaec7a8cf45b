//! `/w/:ws/attributes`: the attribute registry and which attributes only a signature may set.

use countersign_core::policy::{permits, Action};
use countersign_core::text::thousands;
use countersign_core::{AttributeDef, AttributeType};
use countersign_proto::WorkspaceSummary;
use leptos::prelude::*;

use super::{workspace_page, ErrorNotice};
use crate::api::{get_attribute_stats, list_attributes, CreateAttribute, DeleteAttribute, SetSecureOnly};

/// The attributes page.
#[component]
pub fn AttributesPage() -> impl IntoView {
    workspace_page("attributes", |ws| view! { <Attributes ws/> })
}

const TYPES: [AttributeType; 4] =
    [AttributeType::String, AttributeType::Number, AttributeType::Boolean, AttributeType::Datetime];

#[component]
fn Attributes(ws: WorkspaceSummary) -> impl IntoView {
    let can_change = permits(ws.role, Action::ChangeSettings);
    let create = ServerAction::<CreateAttribute>::new();
    let toggle = ServerAction::<SetSecureOnly>::new();
    let delete = ServerAction::<DeleteAttribute>::new();
    let id = ws.id;
    let versions = move || (create.version().get(), toggle.version().get(), delete.version().get());
    let attributes = Resource::new(versions, move |_| list_attributes(id));
    let usage = Resource::new(versions, move |_| get_attribute_stats(id));
    let error = move || {
        let c = create.value().get().and_then(Result::err);
        let t = toggle.value().get().and_then(Result::err);
        let d = delete.value().get().and_then(Result::err);
        c.or(t).or(d).map(|error| view! { <ErrorNotice error/> })
    };
    let rows = move || {
        Suspend::new(async move {
            // Without the counts the rows still show; the preview then asks no confirmation.
            let usage = usage.await.map(|stats| stats.items).unwrap_or_default();
            let unsigned_of = |name: &str| usage.iter().find(|u| u.name == name).map_or(0, |u| u.unsigned_updates);
            match attributes.await {
                Ok(list) if list.is_empty() => view! { <tr><td colspan="5" class="muted">"No attributes yet: unregistered attributes are ignored."</td></tr> }.into_any(),
                Ok(list) => list
                    .into_iter()
                    .map(|a| {
                        let unsigned = unsigned_of(&a.name);
                        view! { <AttributeRow a unsigned ws=id can_change toggle delete/> }
                    })
                    .collect_view()
                    .into_any(),
                Err(error) => view! { <tr><td colspan="5"><ErrorNotice error/></td></tr> }.into_any(),
            }
        })
    };
    let types = TYPES.into_iter().map(|t| view! { <option value=t.as_str()>{t.as_str()}</option> }).collect_view();
    view! {
        <h1>"Attributes"</h1>
        <p class="muted">"Registered attributes are stored on contacts. A secure-only attribute is accepted only from inside a verified JWT, never from the widget's unsigned data."</p>
        {error}
        <table class="table attributes" data-testid="attributes">
            <thead><tr><th>"Name"</th><th>"Type"</th><th>"Secure only"</th><th>"Unsigned updates, 7 days"</th><th></th></tr></thead>
            <tbody><Transition fallback=|| view! { <tr><td colspan="5">"Loading…"</td></tr> }>{rows}</Transition></tbody>
        </table>
        {can_change.then(|| view! {
            <section class="card">
                <h2>"Register an attribute"</h2>
                <ActionForm action=create>
                    <input type="hidden" name="workspace" value=id.to_string()/>
                    <div class="row">
                        <label>"Name"<input type="text" name="name" required placeholder="plan"/></label>
                        <label>"Type"<select name="kind">{types}</select></label>
                        <label class="check"><input type="checkbox" name="secure_only"/>" Secure only"</label>
                        <button type="submit" class="primary">"Add attribute"</button>
                    </div>
                </ActionForm>
            </section>
        })}
    }
}

/// One attribute. `unsigned` is how many updates of it arrived unsigned in the last 7 days:
/// marking it secure-only shows that figure and asks to confirm it first.
#[component]
fn AttributeRow(
    a: AttributeDef,
    unsigned: i64,
    ws: uuid::Uuid,
    can_change: bool,
    toggle: ServerAction<SetSecureOnly>,
    delete: ServerAction<DeleteAttribute>,
) -> impl IntoView {
    let actions = can_change.then(|| {
        let (name_a, name_b) = (a.name.clone(), a.name.clone());
        let label = if a.secure_only { "Allow unsigned" } else { "Make secure only" };
        view! {
            <div class="row-actions">
                <ActionForm action=toggle>
                    <input type="hidden" name="workspace" value=ws.to_string()/>
                    <input type="hidden" name="name" value=name_a/>
                    <input type="hidden" name="kind" value=a.kind.as_str()/>
                    <input type="hidden" name="secure_only" value=(!a.secure_only).to_string()/>
                    {(!a.secure_only && unsigned > 0).then(|| view! {
                        <label class="check"><input type="checkbox" name="confirm" required/>
                            {format!(" Confirm: reject unsigned updates ({} in 7 days)", thousands(unsigned))}</label>
                    })}
                    <button type="submit">{label}</button>
                </ActionForm>
                <ActionForm action=delete>
                    <input type="hidden" name="workspace" value=ws.to_string()/>
                    <input type="hidden" name="name" value=name_b/>
                    <button type="submit" class="danger">"Delete"</button>
                </ActionForm>
            </div>
        }
    });
    view! {
        <tr data-attribute=a.name.clone()>
            <td><code>{a.name.clone()}</code></td>
            <td>{a.kind.as_str()}</td>
            <td>{if a.secure_only { "yes" } else { "no" }}</td>
            <td data-testid="unsigned-updates">{unsigned_words(&a, unsigned)}</td>
            <td>{actions}</td>
        </tr>
    }
}

/// The unsigned-updates cell: what secure-only would have refused, or what it did.
fn unsigned_words(a: &AttributeDef, unsigned: i64) -> String {
    match (a.secure_only, unsigned) {
        (true, _) => "refused when unsigned".to_owned(),
        (false, 0) => "none".to_owned(),
        (false, n) => format!("{} would be rejected", thousands(n)),
    }
}
