//! Integration tests: the real router in-process (tower `oneshot`) over a real Postgres
//! database per test (`#[sqlx::test]`). One binary, a module per area.

mod accounts;
mod bad_input;
mod browser;
mod hostile;
mod identify;
mod invitations;
mod keys;
mod limits;
mod logs;
mod members;
mod pg_restart;
mod resilience;
mod sessions;
mod support;
mod tenants;
mod throttle;
mod tokens;
