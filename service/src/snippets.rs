//! The Snippets page's facts: a workspace's app id, primary `kid` and token policy, handed to
//! the pure generator in `countersign_core::snippets`.

use countersign_core::policy::Action;
use countersign_core::snippets::{snippets, SnippetContext, Snippets};
use uuid::Uuid;

use crate::error::ServiceResult;
use crate::security::{SecurityRow, SECURITY_COLUMNS};
use crate::{Actor, Service};

impl Service {
    /// The workspace's snippets, filled in with its app id, primary key id and token profile.
    /// Every role may see them: they hold no secret.
    pub async fn snippets(&self, actor: &Actor, workspace_id: Uuid) -> ServiceResult<Snippets> {
        let mut tenant = self.tenant(actor, workspace_id, Action::View).await?;
        let row: SecurityRow = crate::db::query_as(&format!("SELECT {SECURITY_COLUMNS} FROM workspaces WHERE id = $1"))
            .bind(workspace_id)
            .fetch_one(tenant.conn())
            .await?;
        let kid: Option<String> =
            crate::db::query_scalar("SELECT kid FROM workspace_keys WHERE workspace_id = $1 AND state = 'primary'")
                .bind(workspace_id)
                .fetch_optional(tenant.conn())
                .await?;
        let settings = row.settings();
        let context = SnippetContext::new(
            &row.app_id,
            kid.as_deref(),
            settings.token_profile,
            &settings.user_id_claims,
            settings.expected_issuer.as_deref(),
            settings.max_token_lifetime_seconds,
            &self.settings().public_url,
        );
        Ok(snippets(&context))
    }
}
