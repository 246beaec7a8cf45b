//! Who may do what in a workspace: the one permission table of PRODUCT.md ("Roles"), used by
//! the HTTP API, the dashboard's server functions and the dashboard's navigation alike.

use serde::{Deserialize, Serialize};

/// A member's role in one workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Admin,
    Developer,
    Support,
}

impl Role {
    /// Every role, most powerful first.
    pub const ALL: [Role; 4] = [Role::Owner, Role::Admin, Role::Developer, Role::Support];

    /// The wire name (`owner`, `admin`, ...), as stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Developer => "developer",
            Role::Support => "support",
        }
    }

    /// Parses a wire name; `None` for anything else (matched exactly, lowercase).
    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

/// Something a member may try to do in a workspace: one row of the permission table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// View settings, key metadata, logs, the debugger and snippets.
    View,
    /// Read a secret in clear.
    RevealSecret,
    /// Rotate or revoke a secret.
    RotateOrRevokeKey,
    /// Change modes, attributes, token policy; import a secret.
    ChangeSettings,
    /// Add, re-role or remove members.
    ManageMembers,
    /// Delete the workspace or transfer its ownership.
    DeleteOrTransfer,
}

/// Whether `role` may perform `action`. The only place permissions are decided.
pub fn permits(role: Role, action: Action) -> bool {
    use Action::*;
    use Role::*;
    match action {
        View => true,
        RevealSecret => matches!(role, Owner | Admin | Developer),
        RotateOrRevokeKey => matches!(role, Owner | Admin | Support),
        ChangeSettings | ManageMembers => matches!(role, Owner | Admin),
        DeleteOrTransfer => role == Owner,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table of PRODUCT.md, cell by cell.
    #[test]
    fn matches_the_product_table() {
        let table = [
            (Action::View, [true, true, true, true]),
            (Action::RevealSecret, [true, true, true, false]),
            (Action::RotateOrRevokeKey, [true, true, false, true]),
            (Action::ChangeSettings, [true, true, false, false]),
            (Action::ManageMembers, [true, true, false, false]),
            (Action::DeleteOrTransfer, [true, false, false, false]),
        ];
        for (action, row) in table {
            for (role, expected) in Role::ALL.into_iter().zip(row) {
                assert_eq!(permits(role, action), expected, "{role:?} {action:?}");
            }
        }
    }

    /// Role names round-trip and are matched exactly.
    #[test]
    fn role_names() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("Owner"), None);
        assert_eq!(Role::parse(""), None);
    }
}
