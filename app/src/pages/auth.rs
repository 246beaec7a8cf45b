//! Sign-in and sign-up pages. Plain forms: they work before (and without) hydration.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use super::ErrorNotice;
use crate::api::{Login, Signup};

/// `/login`.
#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let error = move || login.value().get().and_then(Result::err).map(|error| view! { <ErrorNotice error/> });
    // Where to go after signing in (an invitation link, for instance); checked on the server.
    let next = use_query_map()
        .read_untracked()
        .get("next")
        .map(|next| view! { <input type="hidden" name="next" value=next/> });
    view! {
        <main class="centered">
            <div class="card narrow">
                <h1>"Sign in to Countersign"</h1>
                {error}
                <ActionForm action=login>
                    {next}
                    <label>"Email"<input type="email" name="email" autocomplete="username" required/></label>
                    <label>"Password"<input type="password" name="password" autocomplete="current-password" required/></label>
                    <button type="submit" class="primary">"Sign in"</button>
                </ActionForm>
                <p class="muted">"New here? " <A href="/signup">"Create an account"</A></p>
            </div>
        </main>
    }
}

/// `/signup`.
#[component]
pub fn SignupPage() -> impl IntoView {
    let signup = ServerAction::<Signup>::new();
    let error = move || signup.value().get().and_then(Result::err).map(|error| view! { <ErrorNotice error/> });
    view! {
        <main class="centered">
            <div class="card narrow">
                <h1>"Create your account"</h1>
                {error}
                <ActionForm action=signup>
                    <label>"Email"<input type="email" name="email" autocomplete="username" required/></label>
                    <label>"Password" <small class="muted">"(10 characters or more)"</small>
                        <input type="password" name="password" autocomplete="new-password" minlength="10" required/></label>
                    <label>"Workspace name"<input type="text" name="workspace_name" placeholder="Acme Inc." required/></label>
                    <button type="submit" class="primary">"Create account"</button>
                </ActionForm>
                <p class="muted">"Already have an account? " <A href="/login">"Sign in"</A></p>
            </div>
        </main>
    }
}
