//! OAuth2 access tokens for Google APIs from the registry credentials.
//!
//! With the user `_json_key` (or `_json_key_base64`) the password is a service-account JSON key:
//! a JWT signed RS256 with its `private_key` (claims `iss` = `client_email`, `scope`, `aud` =
//! `token_uri`, `iat`, `exp` one hour later) is exchanged at the key's `token_uri` with the
//! JWT-bearer grant (RFC 7523), and the access token is cached until a minute before it expires.
//! With the user `oauth2accesstoken` the password already is an access token.
//! Key material never reaches `Debug`, logs or error messages.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use cra_core::Secret;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use tracing::debug;
use url::Url;

use crate::distribution::auth;
use crate::distribution::request::{Auth, Request};
use crate::distribution::Client;
use crate::error::{Error, Result};

/// The scope of the access tokens asked for.
pub(crate) const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
/// The JWT-bearer grant type (RFC 7523 section 2.1).
const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Google's token endpoint, for a key without `token_uri`.
const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// How long a signed assertion is valid (Google accepts at most an hour).
const ASSERTION_LIFETIME: u64 = 3600;
/// How long before its expiry a cached access token is renewed.
const RENEW_MARGIN: Duration = Duration::from_secs(60);
/// What a credential error is about.
const WHAT: &str = "service-account key";

/// The fields of a service-account JSON key that the grant uses.
#[derive(Deserialize)]
struct KeyFile {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    client_email: String,
    private_key: String,
    #[serde(default)]
    private_key_id: Option<String>,
    #[serde(default)]
    token_uri: Option<String>,
}

/// A parsed service-account key.
pub(crate) struct ServiceAccount {
    email: String,
    key_id: Option<String>,
    token_uri: Url,
    key: EncodingKey,
}

impl std::fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("email", &self.email)
            .field("token_uri", &self.token_uri.as_str())
            .field("private_key", &"****")
            .finish_non_exhaustive()
    }
}

/// The claims of the signed assertion.
#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

impl ServiceAccount {
    /// Parses a service-account JSON key; the error says what is wrong without quoting the key.
    pub(crate) fn parse(json: &str) -> Result<ServiceAccount, String> {
        let file: KeyFile = serde_json::from_str(json).map_err(|e| describe_json_error(&e))?;
        if file.kind.as_deref().is_some_and(|k| k != "service_account") {
            return Err("the JSON key is not of type service_account".to_owned());
        }
        let key = EncodingKey::from_rsa_pem(file.private_key.as_bytes())
            .map_err(|_| "the key's private_key is not a PEM RSA private key".to_owned())?;
        let token_uri = Url::parse(file.token_uri.as_deref().unwrap_or(DEFAULT_TOKEN_URI))
            .ok()
            .filter(|u| matches!(u.scheme(), "https" | "http"))
            .ok_or_else(|| "the key's token_uri is not an http(s) URL".to_owned())?;
        Ok(ServiceAccount {
            email: file.client_email,
            key_id: file.private_key_id.filter(|k| !k.is_empty()),
            token_uri,
            key,
        })
    }

    /// The signed JWT-bearer assertion, valid for an hour from `now` (seconds since the epoch).
    fn assertion(&self, now: u64) -> Result<String> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid.clone_from(&self.key_id);
        let claims = Claims {
            iss: &self.email,
            scope: SCOPE,
            aud: self.token_uri.as_str(),
            iat: now,
            exp: now + ASSERTION_LIFETIME,
        };
        // The signing error says nothing about the key, but the key is what failed.
        jsonwebtoken::encode(&header, &claims, &self.key).map_err(|_| Error::Unauthorized {
            what: WHAT.to_owned(),
            detail: "cannot sign with the key's private_key".to_owned(),
        })
    }
}

/// Says what is wrong with a JSON document without quoting it: serde's messages for wrong
/// types quote the offending value, which may be key material.
fn describe_json_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let why = match e.classify() {
        serde_json::error::Category::Data if text.starts_with("missing field") => {
            // "missing field `client_email`" names only the field.
            text.split(" at line")
                .next()
                .unwrap_or("a field is missing")
                .to_owned()
        }
        serde_json::error::Category::Data => "a field has the wrong type".to_owned(),
        serde_json::error::Category::Eof => "the JSON ends early".to_owned(),
        _ => "it is not valid JSON".to_owned(),
    };
    format!(
        "the password is not a service-account JSON key: {why} (line {}, column {})",
        e.line(),
        e.column()
    )
}

/// Where access tokens come from.
#[derive(Debug)]
enum Grant {
    /// The JWT-bearer grant with a service-account key.
    ServiceAccount(ServiceAccount),
    /// A ready access token (`oauth2accesstoken`).
    AccessToken(Secret),
    /// A `_json_key` password that is not a usable key; why.
    Invalid(String),
}

/// Access tokens for Google APIs, cached until shortly before they expire.
#[derive(Debug)]
pub(crate) struct AccessTokens {
    grant: Grant,
    cached: Mutex<Option<(Secret, Instant)>>,
}

impl AccessTokens {
    /// The token source the registry credentials allow: `None` unless the user is `_json_key`,
    /// `_json_key_base64` or `oauth2accesstoken`.
    pub(crate) fn from_credentials(username: &str, password: &Secret) -> Option<AccessTokens> {
        let grant = match username {
            "_json_key" => parse_grant(password.expose()),
            "_json_key_base64" => {
                match base64::engine::general_purpose::STANDARD.decode(password.expose().trim()) {
                    Ok(raw) => match String::from_utf8(raw) {
                        Ok(json) => parse_grant(&json),
                        Err(_) => Grant::Invalid("the base64 key is not UTF-8 JSON".to_owned()),
                    },
                    Err(_) => Grant::Invalid("the password is not base64".to_owned()),
                }
            }
            "oauth2accesstoken" if !password.is_empty() => Grant::AccessToken(password.clone()),
            _ => return None,
        };
        Some(AccessTokens {
            grant,
            cached: Mutex::new(None),
        })
    }

    /// Whether a refused token can be replaced by a fresh one.
    pub(crate) fn renewable(&self) -> bool {
        matches!(self.grant, Grant::ServiceAccount(_))
    }

    /// A valid access token: the cached one, or a new one from the token endpoint.
    pub(crate) async fn token(&self, client: &Client) -> Result<Secret> {
        let account = match &self.grant {
            Grant::ServiceAccount(account) => account,
            Grant::AccessToken(token) => return Ok(token.clone()),
            Grant::Invalid(why) => {
                return Err(Error::Unauthorized {
                    what: WHAT.to_owned(),
                    detail: why.clone(),
                })
            }
        };
        let mut cached = self.cached.lock().await;
        if let Some((token, renew_at)) = cached.as_ref() {
            if Instant::now() < *renew_at {
                return Ok(token.clone());
            }
        }
        let token = exchange(client, account).await?;
        let renew_in = token
            .lifetime
            .checked_sub(RENEW_MARGIN)
            .unwrap_or(token.lifetime / 2);
        *cached = Some((token.value.clone(), Instant::now() + renew_in));
        Ok(token.value)
    }

    /// Drops the cached token (the API refused it).
    pub(crate) async fn forget(&self) {
        *self.cached.lock().await = None;
    }
}

fn parse_grant(json: &str) -> Grant {
    match ServiceAccount::parse(json) {
        Ok(account) => Grant::ServiceAccount(account),
        Err(why) => Grant::Invalid(why),
    }
}

/// `POST <token_uri>` with the signed assertion.
async fn exchange(client: &Client, account: &ServiceAccount) -> Result<auth::Token> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let assertion = account.assertion(now)?;
    let req = Request {
        method: http::Method::POST,
        ..Request::get(account.token_uri.clone(), Auth::None)
    }
    .form(&[("grant_type", GRANT_TYPE), ("assertion", &assertion)]);
    debug!(request = %req.what(), account = %account.email, "exchanging a signed service-account assertion for an access token");
    let body = client
        .oauth_token_request(&req, "the token endpoint refused the service-account key")
        .await?;
    auth::parse_token(&body)
        .ok_or_else(|| Error::protocol(req.what(), "token response has no access_token"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_keys_are_described_without_being_quoted() {
        let secretish = "s3cr3t-material";
        for (json, want) in [
            (format!("{{\"private_key\": \"{secretish}\""), "ends early"),
            (format!("\"{secretish}\""), "wrong type"),
            (format!("{{\"client_email\": 5, \"private_key\": \"{secretish}\"}}"), "wrong type"),
            (format!("{{\"private_key\": \"{secretish}\"}}"), "missing field `client_email`"),
            (secretish.to_owned(), "not valid JSON"),
            (
                format!("{{\"type\": \"service_account\", \"client_email\": \"a@b\", \"private_key\": \"{secretish}\"}}"),
                "not a PEM RSA private key",
            ),
            (
                "{\"type\": \"authorized_user\", \"client_email\": \"a@b\", \"private_key\": \"x\"}".to_owned(),
                "not of type service_account",
            ),
        ] {
            let err = ServiceAccount::parse(&json).unwrap_err();
            assert!(err.contains(want), "{json}: {err}");
            assert!(!err.contains(secretish), "{err}");
        }
    }

    #[test]
    fn only_google_users_get_tokens() {
        let secret = Secret::new("{}");
        assert!(AccessTokens::from_credentials("someone", &secret).is_none());
        let t = AccessTokens::from_credentials("_json_key", &secret).unwrap();
        assert!(!t.renewable());
        assert!(format!("{t:?}").contains("Invalid"));
        let t = AccessTokens::from_credentials("_json_key_base64", &Secret::new("%%%")).unwrap();
        assert!(matches!(t.grant, Grant::Invalid(ref w) if w.contains("base64")));
        let t = AccessTokens::from_credentials("oauth2accesstoken", &Secret::new("ya29.token"))
            .unwrap();
        assert!(matches!(t.grant, Grant::AccessToken(_)));
        assert!(!format!("{t:?}").contains("ya29.token"));
    }
}
