//! Integration tests: the real router in-process (tower `oneshot`) over a real Postgres
//! database per test (`#[sqlx::test]`). One binary, a module per area.

mod accounts;
mod bad_input;
mod browser;
mod debugger;
mod demo;
mod hostile;
mod identify;
mod invitations;
mod keys;
mod libraries;
mod limits;
mod logs;
mod members;
mod metrics;
mod migration;
mod openapi;
mod pg_restart;
mod resilience;
mod row_security;
mod sessions;
mod snippets;
mod stats;
mod support;
mod tenants;
mod throttle;
mod tokens;
mod webhooks;
