//! Platforms and their enforcement modes (PRODUCT.md, "Concepts": platform, mode).

use serde::{Deserialize, Serialize};

/// The client platform an identify request comes from; each has its own [`Mode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    /// A browser widget: the only platform the `Origin` allowlist applies to.
    Web,
    /// The iOS SDK.
    Ios,
    /// The Android SDK.
    Android,
}

impl Platform {
    /// Every platform, in the dashboard's order.
    pub const ALL: [Platform; 3] = [Platform::Web, Platform::Ios, Platform::Android];

    /// The wire name (`web`, `ios`, `android`).
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Web => "web",
            Platform::Ios => "ios",
            Platform::Android => "android",
        }
    }

    /// The name people read (`Web`, `iOS`, `Android`).
    pub fn label(self) -> &'static str {
        match self {
            Platform::Web => "Web",
            Platform::Ios => "iOS",
            Platform::Android => "Android",
        }
    }

    /// Parses a wire name, matched exactly (lowercase); `None` for anything else.
    pub fn parse(name: &str) -> Option<Platform> {
        Platform::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

/// How a platform treats an identity that fails verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Accept identities unverified (verification still runs, so the log is truthful).
    Off,
    /// Verify, accept anyway, and log what enforcement would reject.
    Monitor,
    /// Reject what fails (HTTP 401). The default for new workspaces.
    Enforce,
}

impl Mode {
    /// Every mode, weakest first.
    pub const ALL: [Mode; 3] = [Mode::Off, Mode::Monitor, Mode::Enforce];

    /// The wire name (`off`, `monitor`, `enforce`).
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Off => "off",
            Mode::Monitor => "monitor",
            Mode::Enforce => "enforce",
        }
    }

    /// Parses a wire name, matched exactly (lowercase); `None` for anything else.
    pub fn parse(name: &str) -> Option<Mode> {
        Mode::ALL.into_iter().find(|m| m.as_str() == name)
    }
}

/// One [`Mode`] per platform, as in `security.modes` of the management API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Modes {
    /// Mode of the `web` platform.
    pub web: Mode,
    /// Mode of the `ios` platform.
    pub ios: Mode,
    /// Mode of the `android` platform.
    pub android: Mode,
}

impl Modes {
    /// The same mode on every platform (`Modes::all(Mode::Enforce)` is the contract's default).
    pub fn all(mode: Mode) -> Modes {
        Modes { web: mode, ios: mode, android: mode }
    }

    /// The mode of `platform`.
    pub fn get(&self, platform: Platform) -> Mode {
        match platform {
            Platform::Web => self.web,
            Platform::Ios => self.ios,
            Platform::Android => self.android,
        }
    }

    /// Sets the mode of `platform`.
    pub fn set(&mut self, platform: Platform, mode: Mode) {
        match platform {
            Platform::Web => self.web = mode,
            Platform::Ios => self.ios = mode,
            Platform::Android => self.android = mode,
        }
    }
}

impl Default for Modes {
    /// `enforce` everywhere: the contract's default for a new workspace.
    fn default() -> Self {
        Modes::all(Mode::Enforce)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Platform and mode names round-trip, equal their serde names and are matched exactly.
    #[test]
    fn names_round_trip() {
        for p in Platform::ALL {
            assert_eq!(Platform::parse(p.as_str()), Some(p));
            assert_eq!(serde_json::to_value(p).ok(), Some(p.as_str().into()));
        }
        for m in Mode::ALL {
            assert_eq!(Mode::parse(m.as_str()), Some(m));
            assert_eq!(serde_json::to_value(m).ok(), Some(m.as_str().into()));
        }
        assert_eq!(Platform::parse("iOS"), None);
        assert_eq!(Mode::parse("Enforce"), None);
    }

    /// `get` and `set` address the right platform; the default enforces everywhere.
    #[test]
    fn modes_per_platform() {
        let mut modes = Modes::default();
        assert_eq!(modes, Modes::all(Mode::Enforce));
        modes.set(Platform::Ios, Mode::Monitor);
        modes.set(Platform::Android, Mode::Off);
        assert_eq!(modes.get(Platform::Web), Mode::Enforce);
        assert_eq!(modes.get(Platform::Ios), Mode::Monitor);
        assert_eq!(modes.get(Platform::Android), Mode::Off);
        let json = serde_json::to_value(modes).ok();
        assert_eq!(json, Some(serde_json::json!({"web": "enforce", "ios": "monitor", "android": "off"})));
    }
}
