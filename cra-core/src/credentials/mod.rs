//! Registry credentials as the product passes them: `CR_CREDENTIALS`, base64 of one JSON object.
//!
//! Every type but ECR: `{"type":"<kind>","username":"…","password":"…","registryBase":"…"}`.
//! ECR: `{"type":"ecr","roleArn":"…","extra":{"region":"…","externalId":"…"}}`.
//! Secrets are held in [`Secret`], whose `Debug` and `Display` print `****`.
//! A broker client builds the value from its `CR_*` settings ([`RegistryVariables`]).

mod variables;

pub use variables::RegistryVariables;

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::kind::{RegistryKind, UnknownKind};

/// A secret string that never shows itself in `Debug` or `Display`.
#[derive(Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

/// Credentials for one registry, decoded from `CR_CREDENTIALS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryCredentials {
    /// Username and password (or token) for every registry type but ECR.
    Basic {
        /// The registry type.
        kind: RegistryKind,
        /// The registry base: a host, optionally with a path (`host/artifactory/api/docker/repo`)
        /// and an explicit `http://` or `https://` scheme.
        registry_base: String,
        /// The user name (for DigitalOcean, the token).
        username: String,
        /// The password or token.
        password: Secret,
    },
    /// AWS ECR: the agent assumes `role_arn` and asks ECR for a registry token.
    Ecr {
        /// The role to assume.
        role_arn: String,
        /// The AWS region.
        region: String,
        /// The external id for the assume-role call, if any.
        external_id: Option<Secret>,
        /// An explicit registry host (`<account>.dkr.ecr.<region>.amazonaws.com`), if known.
        registry_base: Option<String>,
    },
}

/// Why `CR_CREDENTIALS` could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// The value is not base64.
    #[error("credentials are not valid base64")]
    Base64(#[source] base64::DecodeError),
    /// The decoded value is not the expected JSON.
    #[error("credentials are not valid JSON")]
    Json(#[source] serde_json::Error),
    /// The `type` field names no known registry type.
    #[error(transparent)]
    UnknownType(#[from] UnknownKind),
    /// A field that this registry type needs is missing or empty.
    #[error("credentials for {kind} lack the {field:?} field")]
    Missing {
        /// The registry type.
        kind: RegistryKind,
        /// The missing JSON field.
        field: &'static str,
    },
    /// A `CR_*` setting that this registry type needs is missing or empty (the stock message).
    #[error("{kind} requires the following parameters: {needs}")]
    MissingVariables {
        /// The registry type.
        kind: RegistryKind,
        /// The settings it needs, as the stock message lists them.
        needs: &'static str,
    },
    /// `CR_TYPE` is not set.
    #[error("CR_TYPE is required: one of {}", RegistryKind::names().collect::<Vec<_>>().join(", "))]
    NoType,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Wire {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    registry_base: Option<String>,
    #[serde(default)]
    role_arn: Option<String>,
    #[serde(default)]
    extra: Option<WireExtra>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireExtra {
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    external_id: Option<String>,
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.trim().is_empty())
}

impl RegistryCredentials {
    /// Decodes the base64 `CR_CREDENTIALS` value (an `Authorization` header value may carry a
    /// scheme word such as `Basic ` or `Bearer ` before it; that word is skipped).
    pub fn from_base64(value: &str) -> Result<Self, CredentialsError> {
        let value = value.trim();
        let value = value.rsplit(' ').next().unwrap_or(value);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(value)
            .map_err(CredentialsError::Base64)?;
        Self::from_json(&bytes)
    }

    /// Decodes the JSON form.
    pub fn from_json(bytes: &[u8]) -> Result<Self, CredentialsError> {
        let wire: Wire = serde_json::from_slice(bytes).map_err(CredentialsError::Json)?;
        let kind = RegistryKind::from_str(&wire.kind)?;
        if kind == RegistryKind::Ecr {
            let role_arn = non_empty(wire.role_arn).ok_or(CredentialsError::Missing {
                kind,
                field: "roleArn",
            })?;
            let extra = wire.extra.unwrap_or(WireExtra {
                region: None,
                external_id: None,
            });
            let region = non_empty(extra.region).ok_or(CredentialsError::Missing {
                kind,
                field: "extra.region",
            })?;
            return Ok(RegistryCredentials::Ecr {
                role_arn,
                region,
                external_id: non_empty(extra.external_id).map(Secret),
                registry_base: non_empty(wire.registry_base),
            });
        }
        let registry_base = non_empty(wire.registry_base).ok_or(CredentialsError::Missing {
            kind,
            field: "registryBase",
        })?;
        Ok(RegistryCredentials::Basic {
            kind,
            registry_base,
            username: wire.username.unwrap_or_default(),
            password: Secret(wire.password.unwrap_or_default()),
        })
    }

    /// Encodes to the product's JSON-then-base64 form, byte for byte as the stock deployment
    /// builds `CR_CREDENTIALS` from its `CR_*` settings (its spacing and trailing newline
    /// included; values are JSON-escaped, which changes nothing for the values it accepts).
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.json_line())
    }

    /// The JSON line [`Self::to_base64`] encodes.
    fn json_line(&self) -> String {
        let text = |value: &str| serde_json::Value::from(value).to_string();
        match self {
            RegistryCredentials::Basic {
                kind,
                registry_base,
                username,
                password,
            } => format!(
                "{{\"type\":{}, \"username\":{}, \"password\":{}, \"registryBase\":{}}}\n",
                text(kind.as_str()),
                text(username),
                text(password.expose()),
                text(registry_base)
            ),
            RegistryCredentials::Ecr {
                role_arn,
                region,
                external_id,
                registry_base,
            } => {
                let external = external_id
                    .as_ref()
                    .map(|id| format!(",\"externalId\":{}", text(id.expose())))
                    .unwrap_or_default();
                let base = registry_base
                    .as_deref()
                    .map(|base| format!(",\"registryBase\":{}", text(base)))
                    .unwrap_or_default();
                format!(
                    "{{\"type\":\"ecr\",\"roleArn\":{},\"extra\":{{\"region\":{}{external}}}{base}}}\n",
                    text(role_arn),
                    text(region)
                )
            }
        }
    }

    /// The registry type.
    pub fn kind(&self) -> RegistryKind {
        match self {
            RegistryCredentials::Basic { kind, .. } => *kind,
            RegistryCredentials::Ecr { .. } => RegistryKind::Ecr,
        }
    }

    /// The registry base, when the credentials name one.
    pub fn registry_base(&self) -> Option<&str> {
        match self {
            RegistryCredentials::Basic { registry_base, .. } => Some(registry_base),
            RegistryCredentials::Ecr { registry_base, .. } => registry_base.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;

    #[test]
    fn decodes_stock_basic_form_with_newline() {
        let json = "{\"type\":\"harbor-cr\", \"username\":\"robot$ci\", \"password\":\"s3cr3t\", \"registryBase\":\"harbor.local\"}\n";
        let c = RegistryCredentials::from_base64(&STANDARD.encode(json)).unwrap();
        match &c {
            RegistryCredentials::Basic {
                kind,
                registry_base,
                username,
                password,
            } => {
                assert_eq!(*kind, RegistryKind::Harbor);
                assert_eq!(registry_base, "harbor.local");
                assert_eq!(username, "robot$ci");
                assert_eq!(password.expose(), "s3cr3t");
            }
            other => panic!("unexpected {other:?}"),
        }
        let debug = format!("{c:?}");
        assert!(!debug.contains("s3cr3t"), "{debug}");
        assert!(debug.contains("****"));
        let again = RegistryCredentials::from_base64(&c.to_base64()).unwrap();
        assert_eq!(again, c);
    }

    #[test]
    fn decodes_ecr_form_and_header_prefix() {
        let json = r#"{"type":"ecr","roleArn":"arn:aws:iam::123456789012:role/cra","extra":{"region":"eu-west-1","externalId":"ext-42"}}"#;
        let header = format!("Bearer {}", STANDARD.encode(json));
        let c = RegistryCredentials::from_base64(&header).unwrap();
        assert_eq!(c.kind(), RegistryKind::Ecr);
        let debug = format!("{c:?}");
        assert!(!debug.contains("ext-42"), "{debug}");
        match c {
            RegistryCredentials::Ecr {
                role_arn, region, ..
            } => {
                assert_eq!(role_arn, "arn:aws:iam::123456789012:role/cra");
                assert_eq!(region, "eu-west-1");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn encodes_the_stock_bytes() {
        let basic = RegistryCredentials::Basic {
            kind: RegistryKind::Harbor,
            registry_base: "registry.example:5000".into(),
            username: "labuser".into(),
            password: Secret::new("p@ss"),
        };
        assert_eq!(
            basic.json_line(),
            "{\"type\":\"harbor-cr\", \"username\":\"labuser\", \"password\":\"p@ss\", \"registryBase\":\"registry.example:5000\"}\n"
        );
        let mut ecr = RegistryCredentials::Ecr {
            role_arn: "arn:aws:iam::1:role/r".into(),
            region: "eu-west-1".into(),
            external_id: Some(Secret::new("ext")),
            registry_base: None,
        };
        assert_eq!(
            ecr.json_line(),
            "{\"type\":\"ecr\",\"roleArn\":\"arn:aws:iam::1:role/r\",\"extra\":{\"region\":\"eu-west-1\",\"externalId\":\"ext\"}}\n"
        );
        if let RegistryCredentials::Ecr {
            external_id,
            registry_base,
            ..
        } = &mut ecr
        {
            *external_id = None;
            *registry_base = Some("1.dkr.ecr.eu-west-1.amazonaws.com".into());
        }
        assert_eq!(
            ecr.json_line(),
            "{\"type\":\"ecr\",\"roleArn\":\"arn:aws:iam::1:role/r\",\"extra\":{\"region\":\"eu-west-1\"},\"registryBase\":\"1.dkr.ecr.eu-west-1.amazonaws.com\"}\n"
        );
        assert_eq!(
            RegistryCredentials::from_base64(&ecr.to_base64()).unwrap(),
            ecr
        );
        // A value the stock producer would have broken is escaped.
        let quoted = RegistryCredentials::Basic {
            kind: RegistryKind::Quay,
            registry_base: "q".into(),
            username: "a\"b".into(),
            password: Secret::new("c\\d\n"),
        };
        assert_eq!(
            RegistryCredentials::from_base64(&quoted.to_base64()).unwrap(),
            quoted
        );
    }

    #[test]
    fn clear_errors() {
        let cases = [
            ("%%%".to_owned(), "base64"),
            (STANDARD.encode("not json"), "JSON"),
            (
                STANDARD.encode(r#"{"type":"nope","registryBase":"x"}"#),
                "unknown registry type",
            ),
            (
                STANDARD.encode(r#"{"type":"acr","username":"u"}"#),
                "registryBase",
            ),
            (
                STANDARD.encode(r#"{"type":"ecr","extra":{"region":"r"}}"#),
                "roleArn",
            ),
            (
                STANDARD.encode(r#"{"type":"ecr","roleArn":"a"}"#),
                "extra.region",
            ),
        ];
        for (input, want) in cases {
            let err = RegistryCredentials::from_base64(&input)
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{input}: {err}");
        }
    }
}
