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
    /// The JSON line (with its trailing newline) before base64; `known_types` are the
    /// `CR_TYPE` values the agent serves (the caller's list; empty accepts any type).
    pub fn json_line(&self, known_types: &[String]) -> Result<String, CredentialsError> {
        let kind = get(&self.kind)
            .ok_or_else(|| CredentialsError::UnknownType("<not provided>".into()))?;
        let kind = if kind == "ElasticCR" { "ecr" } else { kind };
        if !known_types.is_empty() && !known_types.iter().any(|known| known == kind) {
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
    pub fn credentials(&self, known_types: &[String]) -> Result<String, CredentialsError> {
        Ok(base64::engine::general_purpose::STANDARD.encode(self.json_line(known_types)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The twelve types, as the caller (cra-cli, from cra-core) passes them.
    fn types() -> Vec<String> {
        [
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
        ]
        .map(str::to_owned)
        .to_vec()
    }

    fn line(inputs: &RegistryInputs) -> Result<String, CredentialsError> {
        inputs.json_line(&types())
    }

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
            line(&inputs("harbor-cr")).unwrap(),
            "{\"type\":\"harbor-cr\", \"username\":\"labuser\", \"password\":\"p@ss\", \"registryBase\":\"registry.example:5000\"}\n"
        );
        assert_eq!(
            line(&inputs("digitalocean-cr")).unwrap(),
            "{\"type\":\"digitalocean-cr\", \"username\":\"dop_v1\", \"password\":\"dop_v1\", \"registryBase\":\"registry.example:5000\"}\n"
        );
        assert_eq!(
            line(&inputs("ecr")).unwrap(),
            "{\"type\":\"ecr\",\"roleArn\":\"arn:aws:iam::1:role/r\",\"extra\":{\"region\":\"eu-west-1\",\"externalId\":\"ext\"}}\n"
        );
        assert_eq!(
            line(&inputs("ElasticCR")).unwrap(),
            line(&inputs("ecr")).unwrap()
        );
        for kind in types() {
            assert!(line(&inputs(&kind)).unwrap().ends_with("}\n"));
        }
    }

    #[test]
    fn ecr_without_an_external_id_leaves_it_out() {
        let mut ecr = inputs("ecr");
        ecr.external_id = None;
        assert_eq!(
            line(&ecr).unwrap(),
            "{\"type\":\"ecr\",\"roleArn\":\"arn:aws:iam::1:role/r\",\"extra\":{\"region\":\"eu-west-1\"}}\n"
        );
        ecr.external_id = Some(String::new());
        assert!(!line(&ecr).unwrap().contains("externalId"));
    }

    #[test]
    fn credentials_are_base64_of_the_line() {
        let encoded = inputs("docker-hub").credentials(&types()).unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap();
        assert_eq!(
            String::from_utf8(decoded).unwrap(),
            line(&inputs("docker-hub")).unwrap()
        );
    }

    #[test]
    fn missing_variables_give_the_stock_errors() {
        let mut ecr = inputs("ecr");
        ecr.region = None;
        assert_eq!(
            line(&ecr).unwrap_err().to_string(),
            "ecr requires the following parameters: CR_ROLE_ARN and CR_REGION."
        );
        let mut doc = inputs("digitalocean-cr");
        doc.token = Some(String::new());
        assert_eq!(
            line(&doc).unwrap_err().to_string(),
            "digitalocean-cr requires the following parameters: CR_TOKEN."
        );
        let mut acr = inputs("acr");
        acr.password = None;
        assert_eq!(
            line(&acr).unwrap_err().to_string(),
            "acr requires the following parameters: CR_USERNAME,CR_PASSWORD."
        );
        assert_eq!(
            line(&inputs("nope")).unwrap_err().to_string(),
            "unknown container registry type: nope"
        );
        assert!(line(&RegistryInputs::default()).is_err());
        // Without a list from the caller, any type is taken as given.
        assert!(inputs("nope").json_line(&[]).is_ok());
    }

    #[test]
    fn debug_hides_secrets() {
        let shown = format!("{:?}", inputs("acr"));
        assert!(!shown.contains("p@ss") && !shown.contains("labuser") && !shown.contains("dop_v1"));
    }
}
