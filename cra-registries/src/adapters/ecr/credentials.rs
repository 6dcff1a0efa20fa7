//! The ECR credential chain: default AWS credentials → `sts:AssumeRole` → ECR
//! `GetAuthorizationToken` → Basic `AWS:<password>` for the registry.

use std::time::{Duration, SystemTime};

use aws_config::sts::AssumeRoleProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ecr::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use base64::Engine as _;
use cra_core::{ErrorKind, Secret};

use crate::error::{Error, Result};

/// The AWS configuration whose credentials come from assuming `role_arn` (with `external_id`)
/// using the default credential chain; `endpoint` overrides every service endpoint (tests),
/// else the standard `AWS_ENDPOINT_URL*` environment applies.
pub(crate) async fn assumed_role_config(
    role_arn: &str,
    region: &str,
    external_id: Option<&Secret>,
    endpoint: Option<&str>,
) -> SdkConfig {
    let mut loader =
        aws_config::defaults(BehaviorVersion::latest()).region(Region::new(region.to_owned()));
    if let Some(endpoint) = endpoint {
        loader = loader.endpoint_url(endpoint);
    }
    let base = loader.load().await;
    let mut assume = AssumeRoleProvider::builder(role_arn)
        .session_name("cra-agent")
        .configure(&base);
    if let Some(id) = external_id {
        assume = assume.external_id(id.expose());
    }
    let provider = assume.build().await;
    base.into_builder()
        .credentials_provider(aws_sdk_ecr::config::SharedCredentialsProvider::new(
            provider,
        ))
        .build()
}

/// The registry user and password inside an ECR authorization token (`base64("AWS:<pw>")`).
pub(crate) fn decode_token(token: &str) -> Result<(String, Secret)> {
    let bad = || {
        Error::protocol(
            "GetAuthorizationToken",
            "authorization token is not base64 of user:password",
        )
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(token.trim())
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (user, password) = text.split_once(':').ok_or_else(bad)?;
    Ok((user.to_owned(), Secret::new(password)))
}

/// How long to use a registry password: until `expires_at` less a margin, and at least a minute
/// (an already expired answer is retried a minute later instead of on every call).
pub(crate) fn valid_until(expires_at: Option<SystemTime>, now: SystemTime) -> SystemTime {
    let margin = Duration::from_secs(5 * 60);
    let floor = now + Duration::from_secs(60);
    match expires_at.and_then(|t| t.checked_sub(margin)) {
        Some(t) if t > floor => t,
        _ => floor,
    }
}

/// Classifies an AWS SDK error by its service error code.
pub(crate) fn sdk_error<E, R>(what: &str, err: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let code = err.code().map(str::to_owned);
    let detail = match (&code, err.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.clone(),
        _ => DisplayErrorContext(&err).to_string(),
    };
    let kind = match code.as_deref() {
        Some(
            "RepositoryNotFoundException" | "ImageNotFoundException" | "RegistryNotFoundException",
        ) => ErrorKind::NotFound,
        Some(
            "AccessDenied"
            | "AccessDeniedException"
            | "UnrecognizedClientException"
            | "InvalidClientTokenId"
            | "ExpiredToken"
            | "ExpiredTokenException"
            | "InvalidSignatureException"
            | "SignatureDoesNotMatch",
        ) => ErrorKind::Unauthorized,
        Some("ThrottlingException" | "Throttling" | "TooManyRequestsException") => {
            ErrorKind::RateLimited
        }
        Some("InvalidParameterException" | "ValidationException") => ErrorKind::InvalidInput,
        Some(_) => ErrorKind::Protocol,
        None if detail.contains("AccessDenied") || detail.contains("credentials") => {
            ErrorKind::Unauthorized
        }
        None => ErrorKind::Unavailable,
    };
    Error::Cloud {
        what: what.to_owned(),
        detail,
        kind,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_tokens() {
        let token = base64::engine::general_purpose::STANDARD.encode("AWS:123456789012-auth-token");
        let (user, pw) = decode_token(&token).unwrap();
        assert_eq!(user, "AWS");
        assert_eq!(pw.expose(), "123456789012-auth-token");
        assert!(decode_token("%%%").is_err());
        assert!(
            decode_token(&base64::engine::general_purpose::STANDARD.encode("nocolon")).is_err()
        );
    }

    #[test]
    fn validity_has_margin_and_floor() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let in_12h = now + Duration::from_secs(12 * 3600);
        assert_eq!(
            valid_until(Some(in_12h), now),
            in_12h - Duration::from_secs(300)
        );
        let past = SystemTime::UNIX_EPOCH + Duration::from_secs(10);
        assert_eq!(valid_until(Some(past), now), now + Duration::from_secs(60));
        assert_eq!(valid_until(None, now), now + Duration::from_secs(60));
    }
}
