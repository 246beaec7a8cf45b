//! `public/openapi.yaml` describes every route the server has, with every method it answers,
//! and nothing it does not: the routes come from the router itself (`v1_routes`, plus the data
//! plane and health routes), their methods from asking the router, so a route added without
//! its documentation fails here.

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};
use sqlx::PgPool;

use crate::support::{Auth, TestApp};

/// Routes outside `v1_routes`: the data plane and the health endpoints.
const OTHER_ROUTES: [&str; 5] = ["/api/v1/identify", "/api/v1/signatures", "/healthz", "/readyz", "/metrics"];
const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

/// A path with its parameters' names left out (`/w/{id}` and `/w/{workspace_id}` are one route).
fn shape(path: &str) -> String {
    path.split('/').map(|part| if part.starts_with('{') { "{}" } else { part }).collect::<Vec<_>>().join("/")
}

/// (path shape, method) of every operation the document lists under `paths:`.
fn documented() -> BTreeSet<(String, String)> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../public/openapi.yaml"))
        .expect("public/openapi.yaml");
    let mut operations = BTreeSet::new();
    let mut path: Option<String> = None;
    let mut in_paths = false;
    for line in text.lines() {
        if !line.starts_with(' ') && !line.is_empty() {
            in_paths = line == "paths:";
            continue;
        }
        if !in_paths {
            continue;
        }
        if let Some(p) = line.strip_prefix("  /").and_then(|p| p.strip_suffix(':')) {
            path = Some(shape(&format!("/{p}")));
        } else if let (Some(p), Some(method)) = (&path, line.strip_prefix("    ").and_then(|m| m.strip_suffix(':'))) {
            if METHODS.contains(&method) {
                operations.insert((p.clone(), method.to_owned()));
            }
        }
    }
    operations
}

#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn the_document_lists_every_route_and_method(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let mut paths: Vec<String> =
        countersign_server::http::v1_routes().into_iter().map(|(path, _)| format!("/api/v1{path}")).collect();
    paths.extend(OTHER_ROUTES.map(str::to_owned));
    let mut served = BTreeSet::new();
    for path in &paths {
        let concrete = path.replace("{kid}", "k_x").replace("{name}", "plan").replace("{user_id}", "u");
        let concrete = concrete
            .split('/')
            .map(|part| if part.starts_with('{') { uuid::Uuid::nil().to_string() } else { part.to_owned() })
            .collect::<Vec<_>>()
            .join("/");
        for method in METHODS {
            let verb = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let reply = app.send(verb, &concrete, Some(serde_json::json!({})), &Auth::None, &[]).await;
            assert_ne!(reply.status, StatusCode::NOT_FOUND, "{method} {concrete} is routed: {}", reply.body);
            if reply.status != StatusCode::METHOD_NOT_ALLOWED {
                served.insert((shape(path), method.to_owned()));
            }
        }
    }
    let documented = documented();
    assert!(documented.len() > 40, "the document was read: {documented:?}");
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(undocumented.is_empty(), "served but not in public/openapi.yaml: {undocumented:?}");
    assert!(unserved.is_empty(), "in public/openapi.yaml but not served: {unserved:?}");
}
