//! `/w/:ws/webhooks`: security alerts by webhook: endpoints, their signing secret (shown
//! once), test events and each endpoint's delivery log.

use countersign_core::policy::{permits, Action};
use countersign_core::webhook::EventType;
use countersign_proto::{WebhookDelivery, WebhookEndpoint, WorkspaceSummary};
use leptos::prelude::*;
use uuid::Uuid;

use super::{workspace_page, CopyButton, ErrorNotice};
use crate::api::{
    list_webhook_deliveries, list_webhooks, CreateWebhook, DeleteWebhook, SendTestWebhook, SetWebhookEnabled,
};

/// The webhooks page.
#[component]
pub fn WebhooksPage() -> impl IntoView {
    workspace_page("webhooks", |ws| view! { <Webhooks ws/> })
}

#[component]
fn Webhooks(ws: WorkspaceSummary) -> impl IntoView {
    let intro = view! {
        <h1>"Webhooks"</h1>
        <p class="muted">"Security alerts sent to your own HTTPS endpoints as they happen: key changes, member and policy changes, and alerts from live traffic. Each request is signed the Standard Webhooks way and retried until your endpoint accepts it."</p>
    };
    if !permits(ws.role, Action::ChangeSettings) {
        return view! {
            {intro}
            <p class="notice" data-testid="webhooks-forbidden">"Only owners and admins manage webhooks."</p>
        }
        .into_any();
    }
    let id = ws.id;
    let create = ServerAction::<CreateWebhook>::new();
    let toggle = ServerAction::<SetWebhookEnabled>::new();
    let delete = ServerAction::<DeleteWebhook>::new();
    let test = ServerAction::<SendTestWebhook>::new();
    let hooks = Resource::new(
        move || (create.version().get(), toggle.version().get(), delete.version().get()),
        move |_| list_webhooks(id),
    );
    let error = move || {
        let t = toggle.value().get().and_then(Result::err);
        let d = delete.value().get().and_then(Result::err);
        let s = test.value().get().and_then(Result::err);
        t.or(d).or(s).map(|error| view! { <ErrorNotice error/> })
    };
    // A saved endpoint is listed above: the form returns to its defaults for the next one.
    let form = NodeRef::<leptos::html::Form>::new();
    Effect::new(move |_| {
        if matches!(create.value().get(), Some(Ok(_))) {
            if let Some(form) = form.get() {
                form.reset();
            }
        }
    });
    let created = move || {
        create.value().get().map(|result| match result {
            Ok(hook) => view! {
                <div class="notice success" role="status" data-testid="webhook-created">
                    <strong>"Endpoint added. Its signing secret is shown only this once:"</strong>
                    <p class="secret-line"><code data-testid="webhook-secret">{hook.secret.clone()}</code> " " <CopyButton text=hook.secret/></p>
                    <p>"Store it with your receiver to verify the " <code>"webhook-signature"</code> " header (see the README)."</p>
                </div>
            }
            .into_any(),
            Err(error) => view! { <ErrorNotice error/> }.into_any(),
        })
    };
    let list = move || {
        Suspend::new(async move {
            match hooks.await {
                Ok(list) if list.is_empty() => view! {
                    <p class="card muted" data-testid="no-webhooks">"No endpoints yet. Add one below to receive security alerts."</p>
                }
                .into_any(),
                Ok(list) => list.into_iter().map(|hook| view! { <Endpoint hook ws=id toggle delete test/> }).collect_view().into_any(),
                Err(error) => view! { <ErrorNotice error/> }.into_any(),
            }
        })
    };
    let choices = EventType::SUBSCRIBABLE
        .into_iter()
        .enumerate()
        .map(|(i, event)| {
            view! {
                <label class="check event-choice">
                    <input type="checkbox" name=format!("events[{i}]") value=event.as_str() checked=true/>
                    <span><code>{event.as_str()}</code><br/><span class="muted small">{event.describe()}</span></span>
                </label>
            }
        })
        .collect_view();
    view! {
        {intro}
        {error}
        {created}
        <section class="webhooks" data-testid="webhooks">
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>{list}</Transition>
        </section>
        <section class="card">
            <h2>"Add an endpoint"</h2>
            <ActionForm action=create node_ref=form>
                <input type="hidden" name="workspace" value=id.to_string()/>
                <label>"Endpoint URL"
                    <input type="url" name="url" required maxlength="2048" placeholder="https://hooks.example.com/countersign" autocomplete="off"/>
                </label>
                <p class="muted small">"HTTPS only, to a public address: private, loopback and link-local targets are refused."</p>
                <fieldset class="events">
                    <legend>"Events"</legend>
                    <div class="event-grid">{choices}</div>
                </fieldset>
                <button type="submit" class="primary">"Add endpoint"</button>
            </ActionForm>
        </section>
    }
    .into_any()
}

#[component]
fn Endpoint(
    hook: WebhookEndpoint,
    ws: Uuid,
    toggle: ServerAction<SetWebhookEnabled>,
    delete: ServerAction<DeleteWebhook>,
    test: ServerAction<SendTestWebhook>,
) -> impl IntoView {
    let hook_id = hook.id;
    let refresh = RwSignal::new(0u32);
    // A test event is delivered within seconds: look again shortly after sending one.
    Effect::new(move |_| {
        if test.version().get() > 0 {
            for delay in [1500, 4000, 10000] {
                set_timeout(move || refresh.update(|n| *n += 1), std::time::Duration::from_millis(delay));
            }
        }
    });
    let deliveries =
        Resource::new(move || (test.version().get(), refresh.get()), move |_| list_webhook_deliveries(ws, hook_id));
    let (state, state_class) = match (hook.enabled, &hook.disabled_reason) {
        (true, _) => ("Enabled", "badge primary"),
        (false, Some(_)) => ("Disabled", "badge revoked"),
        (false, None) => ("Paused", "badge rotating"),
    };
    let reason = hook
        .disabled_reason
        .clone()
        .map(|reason| view! { <p class="notice error" data-testid="disabled-reason">{reason}</p> });
    let events = hook.events.iter().map(|e| view! { <li><code>{e.clone()}</code></li> }).collect_view();
    let (toggle_label, enable) = if hook.enabled { ("Pause", false) } else { ("Enable", true) };
    let rows = move || {
        Suspend::new(async move {
            match deliveries.await {
                Ok(list) if list.is_empty() => {
                    view! { <tr><td colspan="5" class="muted">"Nothing sent yet."</td></tr> }.into_any()
                }
                Ok(list) => list.into_iter().map(|d| view! { <DeliveryRow d/> }).collect_view().into_any(),
                Err(error) => view! { <tr><td colspan="5"><ErrorNotice error/></td></tr> }.into_any(),
            }
        })
    };
    view! {
        <article class="card webhook" data-webhook=hook.url.clone()>
            <header class="webhook-head">
                <code class="url">{hook.url.clone()}</code>
                <span class=state_class data-testid="webhook-state">{state}</span>
            </header>
            {reason}
            <ul class="chips" aria-label="Events">{events}</ul>
            <div class="row-actions">
                <ActionForm action=test>
                    <input type="hidden" name="workspace" value=ws.to_string()/>
                    <input type="hidden" name="hook" value=hook_id.to_string()/>
                    <button type="submit" class="primary">"Send test event"</button>
                </ActionForm>
                <ActionForm action=toggle>
                    <input type="hidden" name="workspace" value=ws.to_string()/>
                    <input type="hidden" name="hook" value=hook_id.to_string()/>
                    <input type="hidden" name="enabled" value=enable.to_string()/>
                    <button type="submit">{toggle_label}</button>
                </ActionForm>
                <details class="confirm">
                    <summary>"Delete"</summary>
                    <p>"The endpoint and its delivery log are removed; queued events are dropped."</p>
                    <ActionForm action=delete>
                        <input type="hidden" name="workspace" value=ws.to_string()/>
                        <input type="hidden" name="hook" value=hook_id.to_string()/>
                        <button type="submit" class="danger">"Delete endpoint"</button>
                    </ActionForm>
                </details>
            </div>
            <div class="deliveries-head">
                <h3>"Recent deliveries"</h3>
                <button type="button" class="link" on:click=move |_| refresh.update(|n| *n += 1)>"Refresh"</button>
            </div>
            <table class="table deliveries" data-testid="deliveries">
                <thead><tr><th>"Event"</th><th>"Status"</th><th>"Attempts"</th><th>"Response"</th><th>"Last attempt"</th></tr></thead>
                <tbody><Transition fallback=|| view! { <tr><td colspan="5">"Loading…"</td></tr> }>{rows}</Transition></tbody>
            </table>
        </article>
    }
}

#[component]
fn DeliveryRow(d: WebhookDelivery) -> impl IntoView {
    let badge = match d.status.as_str() {
        "delivered" => "badge primary",
        "failed" => "badge revoked",
        _ => "badge rotating",
    };
    let response = match (d.response_code, &d.error) {
        (Some(code), _) if (200..300).contains(&code) => format!("HTTP {code}"),
        (_, Some(error)) => error.clone(),
        (Some(code), None) => format!("HTTP {code}"),
        (None, None) => "—".to_owned(),
    };
    let next = d
        .next_attempt_at
        .filter(|_| d.status == "pending" && d.attempts > 0)
        .map(|at| format!("retry at {}", at.format("%H:%M:%S UTC")));
    let when = d
        .last_attempt_at
        .map(|at| at.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| "queued".to_owned());
    view! {
        <tr data-status=d.status.clone()>
            <td data-label="Event"><code>{d.event_type.clone()}</code></td>
            <td data-label="Status"><span class=badge>{d.status.clone()}</span></td>
            <td data-label="Attempts" class="num">{d.attempts}</td>
            <td data-label="Response" class="response">{response}{next.map(|n| view! { <br/><span class="muted small">{n}</span> })}</td>
            <td data-label="Last attempt">{when}</td>
        </tr>
    }
}
