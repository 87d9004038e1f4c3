//! Typed results of client-level calls.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `ping` result.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PingResponse {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub timestamp: String,
    #[serde(rename = "protocolVersion", default)]
    pub protocol_version: Option<u32>,
}

/// `status.get` result.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct StatusResponse {
    #[serde(default)]
    pub version: String,
    #[serde(rename = "protocolVersion", default)]
    pub protocol_version: Option<u32>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `auth.getStatus` result.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct AuthStatus {
    #[serde(rename = "isAuthenticated", default)]
    pub is_authenticated: bool,
    #[serde(rename = "authType", default, skip_serializing_if = "Option::is_none")]
    pub auth_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login: Option<String>,
    #[serde(rename = "statusMessage", default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One entry of `session.list`. `created_at` equals `start_time` (the backend-services guide
/// reads `createdAt`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SessionMetadata {
    #[serde(rename = "sessionId")]
    pub session_id: String,
    #[serde(rename = "startTime", default)]
    pub start_time: String,
    #[serde(rename = "modifiedTime", default)]
    pub modified_time: String,
    #[serde(rename = "createdAt", default)]
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(rename = "isRemote", default)]
    pub is_remote: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl SessionMetadata {
    /// `start_time` as a time (None when the CLI sent none or not RFC 3339).
    pub fn started_at(&self) -> Option<std::time::SystemTime> {
        time_of(&self.start_time)
    }

    /// `modified_time` as a time (None when the CLI sent none or not RFC 3339).
    pub fn modified_at(&self) -> Option<std::time::SystemTime> {
        time_of(&self.modified_time)
    }

    pub(crate) fn normalize(mut self) -> Self {
        if self.created_at.is_empty() {
            self.created_at = self.start_time.clone();
        }
        self
    }
}

/// Filter for `list_sessions` (JSON: `cwd`/`workingDirectory`, `gitRoot`/`git_root`,
/// `repository`, `branch`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionListFilter {
    #[serde(skip_serializing_if = "Option::is_none", alias = "workingDirectory", alias = "working_directory", default)]
    pub cwd: Option<String>,
    #[serde(rename = "gitRoot", alias = "git_root", skip_serializing_if = "Option::is_none", default)]
    pub git_root: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub repository: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub branch: Option<String>,
}

fn time_of(s: &str) -> Option<std::time::SystemTime> {
    let ms = crate::reaper::parse_rfc3339_ms(s)?;
    let d = std::time::Duration::from_millis(ms.unsigned_abs());
    if ms >= 0 { std::time::UNIX_EPOCH.checked_add(d) } else { std::time::UNIX_EPOCH.checked_sub(d) }
}
