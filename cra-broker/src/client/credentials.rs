//! `CR_CREDENTIALS`: the registry credentials the agent receives, built from the `CR_*` settings
//! exactly as the stock container-registry-agent deployment builds them (same bytes, spaces and
//! trailing newline included; values are not JSON-escaped, as the stock producer does not).

use base64::Engine;

/// The `CR_*` inputs.
#[derive(Clone, Default)]
pub struct RegistryInputs {
    /// `CR_TYPE`.
    pub kind: Option<String>,
    /// `CR_BASE`.
    pub base: Option<String>,
    /// `CR_USERNAME`.
    pub username: Option<String>,
    /// `CR_PASSWORD`.
    pub password: Option<String>,
    /// `CR_TOKEN`.
    pub token: Option<String>,
    /// `CR_ROLE_ARN`.
    pub role_arn: Option<String>,
    /// `CR_REGION`.
    pub region: Option<String>,
    /// `CR_EXTERNAL_ID`.
    pub external_id: Option<String>,
}

impl std::fmt::Debug for RegistryInputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryInputs")
            .field("kind", &self.kind)
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// The registry types the agent serves.
pub const TYPES: &[&str] = &[
    "docker-hub",
    "ecr",
    "acr",
    "gcr",
    "artifactory-cr",
    "harbor-cr",
    "quay-cr",
    "github-cr",
    "nexus-cr",
    "digitalocean-cr",
    "gitlab-cr",
    "google-artifact-cr",
];

/// Why the credentials cannot be built; the messages are the stock ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    /// `CR_TYPE` is missing or not a known type.
    #[error("unknown container registry type: {0}")]
    UnknownType(String),
    /// A variable the type needs is missing.
    #[error("{kind} requires the following parameters: {needs}")]
    Missing {
        /// The registry type.
        kind: String,
        /// The variables it needs, as the stock message lists them.
        needs: &'static str,
    },
}

fn get(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}

impl RegistryInputs {
    /// The JSON line (with its trailing newline) before base64.
    pub fn json_line(&self) -> Result<String, CredentialsError> {
        let kind = get(&self.kind)
            .ok_or_else(|| CredentialsError::UnknownType("<not provided>".into()))?;
        let kind = if kind == "ElasticCR" { "ecr" } else { kind };
        if !TYPES.contains(&kind) {
            return Err(CredentialsError::UnknownType(kind.to_owned()));
        }
        let base = get(&self.base).unwrap_or_default();
        let missing = |needs| CredentialsError::Missing {
            kind: kind.to_owned(),
            needs,
        };
        Ok(match kind {
            "ecr" => {
                let (Some(arn), Some(region)) = (get(&self.role_arn), get(&self.region)) else {
                    return Err(missing("CR_ROLE_ARN and CR_REGION."));
                };
                // The external id is optional, as the stock documentation makes it.
                let external = get(&self.external_id)
                    .map(|id| format!(",\"externalId\":\"{id}\""))
                    .unwrap_or_default();
                format!(
                    "{{\"type\":\"{kind}\",\"roleArn\":\"{arn}\",\"extra\":{{\"region\":\"{region}\"{external}}}}}\n"
                )
            }
            "digitalocean-cr" => {
                let token = get(&self.token).ok_or_else(|| missing("CR_TOKEN."))?;
                format!(
                    "{{\"type\":\"{kind}\", \"username\":\"{token}\", \"password\":\"{token}\", \"registryBase\":\"{base}\"}}\n"
                )
            }
            _ => {
                let (Some(user), Some(password)) = (get(&self.username), get(&self.password))
                else {
                    return Err(missing("CR_USERNAME,CR_PASSWORD."));
                };
                format!(
                    "{{\"type\":\"{kind}\", \"username\":\"{user}\", \"password\":\"{password}\", \"registryBase\":\"{base}\"}}\n"
                )
            }
        })
    }

    /// `CR_CREDENTIALS`: base64 of [`Self::json_line`].
    pub fn credentials(&self) -> Result<String, CredentialsError> {
        Ok(base64::engine::general_purpose::STANDARD.encode(self.json_line()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(kind: &str) -> RegistryInputs {
        RegistryInputs {
            kind: Some(kind.into()),
            base: Some("registry.example:5000".into()),
            username: Some("labuser".into()),
            password: Some("p@ss".into()),
            token: Some("dop_v1".into()),
            role_arn: Some("arn:aws:iam::1:role/r".into()),
            region: Some("eu-west-1".into()),
            external_id: Some("ext".into()),
        }
    }

    #[test]
    fn exact_bytes_per_type() {
        assert_eq!(
            inputs("harbor-cr").json_line().unwrap(),
            "{\"type\":\"harbor-cr\", \"username\":\"labuser\", \"password\":\"p@ss\", \"registryBase\":\"registry.example:5000\"}\n"
        );
        assert_eq!(
            inputs("digitalocean-cr").json_line().unwrap(),
            "{\"type\":\"digitalocean-cr\", \"username\":\"dop_v1\", \"password\":\"dop_v1\", \"registryBase\":\"registry.example:5000\"}\n"
        );
        assert_eq!(
            inputs("ecr").json_line().unwrap(),
            "{\"type\":\"ecr\",\"roleArn\":\"arn:aws:iam::1:role/r\",\"extra\":{\"region\":\"eu-west-1\",\"externalId\":\"ext\"}}\n"
        );
        assert_eq!(
            inputs("ElasticCR").json_line().unwrap(),
            inputs("ecr").json_line().unwrap()
        );
        for kind in TYPES {
            assert!(inputs(kind).json_line().unwrap().ends_with("}\n"));
        }
    }

    #[test]
    fn ecr_without_an_external_id_leaves_it_out() {
        let mut ecr = inputs("ecr");
        ecr.external_id = None;
        assert_eq!(
            ecr.json_line().unwrap(),
            "{\"type\":\"ecr\",\"roleArn\":\"arn:aws:iam::1:role/r\",\"extra\":{\"region\":\"eu-west-1\"}}\n"
        );
        ecr.external_id = Some(String::new());
        assert!(!ecr.json_line().unwrap().contains("externalId"));
    }

    #[test]
    fn credentials_are_base64_of_the_line() {
        let encoded = inputs("docker-hub").credentials().unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap();
        assert_eq!(
            String::from_utf8(decoded).unwrap(),
            inputs("docker-hub").json_line().unwrap()
        );
    }

    #[test]
    fn missing_variables_give_the_stock_errors() {
        let mut ecr = inputs("ecr");
        ecr.region = None;
        assert_eq!(
            ecr.json_line().unwrap_err().to_string(),
            "ecr requires the following parameters: CR_ROLE_ARN and CR_REGION."
        );
        let mut doc = inputs("digitalocean-cr");
        doc.token = Some(String::new());
        assert_eq!(
            doc.json_line().unwrap_err().to_string(),
            "digitalocean-cr requires the following parameters: CR_TOKEN."
        );
        let mut acr = inputs("acr");
        acr.password = None;
        assert_eq!(
            acr.json_line().unwrap_err().to_string(),
            "acr requires the following parameters: CR_USERNAME,CR_PASSWORD."
        );
        assert_eq!(
            inputs("nope").json_line().unwrap_err().to_string(),
            "unknown container registry type: nope"
        );
        assert!(RegistryInputs::default().json_line().is_err());
    }

    #[test]
    fn debug_hides_secrets() {
        let shown = format!("{:?}", inputs("acr"));
        assert!(!shown.contains("p@ss") && !shown.contains("labuser") && !shown.contains("dop_v1"));
    }
}
