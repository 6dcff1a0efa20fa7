//! The stock environment variables of a container-registry-agent broker client, as plain
//! optional strings, and their validation into a [`ClientConfig`].
//!
//! The registry credentials come ready-made (`CR_CREDENTIALS`): the caller builds them from the
//! `CR_*` settings (`cra client` with cra-core's types), and hands the settings themselves over
//! as data, by name, for the substitutions rules may ask for.

use std::time::Duration;

use super::{ClientConfig, Proxy, Reconnect, Validation};
use crate::error::{Error, FilterError};
use crate::filter::vars::Exposure;
use crate::filter::{Filter, Vars};
use crate::session::Timing;
use crate::token::Token;

/// The settings that are credentials: the far side may have them substituted into the
/// `Authorization` header of a request to the agent, and nowhere else (a request asking for one
/// elsewhere is refused). Variables an `ACCEPT` file names are treated the same way.
pub const SECRET_VARIABLES: &[&str] = &[
    "CR_CREDENTIALS",
    "CR_USERNAME",
    "CR_PASSWORD",
    "CR_TOKEN",
    "CR_EXTERNAL_ID",
];

/// The settings the far side may have substituted anywhere: they say where things are, not
/// how to get in.
pub const PLAIN_VARIABLES: &[&str] = &[
    "BROKER_CLIENT_URL",
    "CR_TYPE",
    "CR_BASE",
    "CR_ROLE_ARN",
    "CR_REGION",
];

/// The `BROKER_CLIENT_VALIDATION_URL` used when none is given and `CR_AGENT_URL` is set.
pub const DEFAULT_VALIDATION_URL: &str = "${CR_AGENT_URL}/systemcheck";

/// The default `BROKER_SERVER_URL`.
pub const DEFAULT_SERVER_URL: &str = "https://broker.snyk.io";

/// Raw settings, one field per environment variable.
#[derive(Clone, Default)]
pub struct Settings {
    /// `BROKER_TOKEN`.
    pub broker_token: Option<String>,
    /// `BROKER_SERVER_URL`.
    pub broker_server_url: Option<String>,
    /// `BROKER_CLIENT_URL`.
    pub broker_client_url: Option<String>,
    /// `CR_AGENT_URL`.
    pub cr_agent_url: Option<String>,
    /// `CR_CREDENTIALS`: what the agent receives in `Authorization` (required).
    pub cr_credentials: Option<String>,
    /// The `CR_*` settings the credentials were built from (`CR_TYPE`, `CR_BASE`, `CR_USERNAME`,
    /// `CR_PASSWORD`, `CR_TOKEN`, `CR_ROLE_ARN`, `CR_REGION`, `CR_EXTERNAL_ID`), by name, for
    /// substitutions; each is exposed as [`SECRET_VARIABLES`] and [`PLAIN_VARIABLES`] say, and
    /// any other name as a secret.
    pub registry_variables: Vec<(String, String)>,
    /// `ACCEPT`: path to an accept.json replacing the built-in rules.
    pub accept: Option<String>,
    /// `BROKER_CLIENT_VALIDATION_URL`.
    pub validation_url: Option<String>,
    /// `BROKER_CLIENT_VALIDATION_AUTHORIZATION_HEADER`; `CR_CREDENTIALS` when absent.
    pub validation_authorization: Option<String>,
    /// `BROKER_CLIENT_VALIDATION_TIMEOUT_MS`.
    pub validation_timeout_ms: Option<u64>,
    /// `CA_CERT`: path to a PEM bundle.
    pub ca_cert: Option<String>,
    /// `SOCKET_PING_INTERVAL` (ms).
    pub ping_interval_ms: Option<u64>,
    /// `SOCKET_PONG_TIMEOUT` (ms).
    pub pong_timeout_ms: Option<u64>,
    /// `SOCKET_MAX_RESPONSE_LENGTH`.
    pub max_response_length: Option<usize>,
    /// `HTTP_PROXY`: the proxy to `http` servers and agents.
    pub http_proxy: Option<String>,
    /// `HTTPS_PROXY`: the proxy to `https` servers and agents.
    pub https_proxy: Option<String>,
    /// `NO_PROXY`: hosts reached directly.
    pub no_proxy: Option<String>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("broker_server_url", &self.broker_server_url)
            .field("cr_agent_url", &self.cr_agent_url)
            .field("accept", &self.accept)
            .field("no_proxy", &self.no_proxy)
            .finish_non_exhaustive()
    }
}

fn present(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl Settings {
    /// Validates the settings; variables an `ACCEPT` file names are read from the process
    /// environment.
    pub fn into_config(self) -> Result<ClientConfig, Error> {
        self.into_config_with(|name| std::env::var(name).ok())
    }

    /// Validates the settings, reading variables an `ACCEPT` file names through `env`.
    pub fn into_config_with(
        self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<ClientConfig, Error> {
        let token = present(&self.broker_token).ok_or(Error::Setting {
            name: "BROKER_TOKEN",
            reason: "is required".into(),
        })?;
        let server = present(&self.broker_server_url).unwrap_or(DEFAULT_SERVER_URL);
        let server_url = url::Url::parse(server).map_err(|e| Error::Setting {
            name: "BROKER_SERVER_URL",
            reason: e.to_string(),
        })?;
        let credentials = present(&self.cr_credentials)
            .ok_or(Error::Setting {
                name: "CR_CREDENTIALS",
                reason: "is required (or the CR_* settings it is built from)".into(),
            })?
            .to_owned();
        let vars = self.vars(&credentials, &env)?;
        let filter = match present(&self.accept) {
            Some(path) => {
                let json = std::fs::read_to_string(path).map_err(|source| FilterError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                Filter::from_json(&json, &vars)?
            }
            None => Filter::container_registry_agent(&vars)?,
        };
        let ca_pem = match present(&self.ca_cert) {
            Some(path) => Some(std::fs::read(path).map_err(|source| Error::Tls {
                path: path.to_owned(),
                source: Box::new(source),
            })?),
            None => None,
        };
        let proxy = Proxy::new(
            present(&self.http_proxy),
            present(&self.https_proxy),
            present(&self.no_proxy),
        )?;
        // The stock agent image's default: the agent's own system check.
        let validation_url = present(&self.validation_url)
            .map(str::to_owned)
            .or_else(|| {
                vars.get("CR_AGENT_URL")
                    .map(|_| DEFAULT_VALIDATION_URL.to_owned())
            });
        let validation = validation_url.as_deref().map(|url| Validation {
            url: expand(url, &vars),
            authorization: present(&self.validation_authorization)
                .map(str::to_owned)
                .or_else(|| Some(credentials.clone())),
            timeout: Duration::from_millis(self.validation_timeout_ms.unwrap_or(5000)),
        });
        Ok(ClientConfig {
            token: Token::new(token),
            server_url,
            client_url: present(&self.broker_client_url).map(str::to_owned),
            filter,
            vars,
            validation,
            timing: Timing {
                ping_interval: Duration::from_millis(self.ping_interval_ms.unwrap_or(25_000)),
                pong_timeout: Duration::from_millis(self.pong_timeout_ms.unwrap_or(10_000)),
            },
            reconnect: Reconnect::default(),
            connect_timeout: super::dial::CONNECT_TIMEOUT,
            ca_pem,
            proxy,
            max_ack_body: self.max_response_length.unwrap_or(20_971_520),
            max_local_body: 10 * 1024 * 1024,
            client_id: uuid::Uuid::new_v4().to_string(),
        })
    }

    /// The variables rules and substitutions may read, each with its [`Exposure`]: see
    /// [`SECRET_VARIABLES`] and [`PLAIN_VARIABLES`]; `CR_AGENT_URL` is for rules only; what an
    /// `ACCEPT` file names is secret (`BROKER_*` ones for rules only).
    fn vars(
        &self,
        credentials: &str,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<Vars, Error> {
        let mut vars = Vars::new();
        if let Some(agent) = present(&self.cr_agent_url) {
            vars.insert("CR_AGENT_URL", agent.trim_end_matches('/'));
        }
        if let Some(client) = present(&self.broker_client_url) {
            vars.insert_substitutable("BROKER_CLIENT_URL", client);
        }
        vars.insert_secret("CR_CREDENTIALS", credentials);
        for (name, value) in &self.registry_variables {
            let value = value.trim();
            if value.is_empty() || name == "CR_CREDENTIALS" {
                continue;
            }
            let exposure = if PLAIN_VARIABLES.contains(&name.as_str()) {
                Exposure::Plain
            } else {
                Exposure::Secret
            };
            vars.insert_as(name.clone(), value, exposure);
        }
        if let Some(path) = present(&self.accept) {
            let json = std::fs::read_to_string(path).map_err(|source| FilterError::Read {
                path: path.to_owned(),
                source,
            })?;
            for name in Filter::referenced_vars(&json)? {
                if vars.get(&name).is_some() {
                    continue;
                }
                if let Some(value) = env(&name) {
                    if name.starts_with("BROKER_") {
                        vars.insert(name, value);
                    } else {
                        vars.insert_secret(name, value);
                    }
                }
            }
        }
        Ok(vars)
    }
}

/// Expands `${VAR}` and `$CR_AGENT_URL` (as the stock `.env` handling does) in a URL setting.
fn expand(value: &str, vars: &Vars) -> String {
    let filled = vars.interpolate(value);
    match vars.get("CR_AGENT_URL") {
        Some(agent) => filled.replace("$CR_AGENT_URL", agent),
        None => filled,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the caller hands over: ready-made credentials and the settings they came from.
    const CREDENTIALS: &str = "eyJ0eXBlIjoiaGFyYm9yLWNyIn0=";

    fn variables(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn base() -> Settings {
        Settings {
            broker_token: Some("tok".into()),
            broker_server_url: Some("http://127.0.0.1:1".into()),
            cr_agent_url: Some("http://127.0.0.1:2/".into()),
            cr_credentials: Some(CREDENTIALS.into()),
            registry_variables: variables(&[
                ("CR_TYPE", "harbor-cr"),
                ("CR_BASE", "h.example"),
                ("CR_USERNAME", "u"),
                ("CR_PASSWORD", "p"),
            ]),
            validation_url: Some("$CR_AGENT_URL/systemcheck".into()),
            ..Settings::default()
        }
    }

    #[test]
    fn builds_credentials_vars_and_validation() {
        let config = base().into_config_with(|_| None).unwrap();
        let expected = CREDENTIALS;
        assert_eq!(config.vars.get("CR_CREDENTIALS"), Some(expected));
        assert_eq!(config.vars.substitute_authorization("${CR_USERNAME}"), "u");
        assert_eq!(config.vars.substitute("${CR_USERNAME}"), "");
        assert_eq!(config.vars.substitute("${CR_TYPE}"), "harbor-cr");
        assert_eq!(config.vars.substitute("${CR_AGENT_URL}"), "");
        assert_eq!(config.vars.substitute("${BROKER_TOKEN}"), "");
        assert_eq!(config.vars.substitute_authorization("${BROKER_TOKEN}"), "");
        let validation = config.validation.unwrap();
        assert_eq!(validation.url, "http://127.0.0.1:2/systemcheck");
        assert_eq!(validation.authorization.as_deref(), Some(expected));
        let shown = format!("{:?}", base());
        assert!(
            !shown.contains("\"p\"") && !shown.contains(CREDENTIALS),
            "{shown}"
        );
    }

    #[test]
    fn every_setting_has_its_documented_exposure() {
        let mut s = base();
        s.broker_client_url = Some("http://client:7341".into());
        s.registry_variables.extend(variables(&[
            ("CR_TOKEN", "t"),
            ("CR_ROLE_ARN", "arn"),
            ("CR_REGION", "r"),
            ("CR_EXTERNAL_ID", "x"),
            ("CR_SOMETHING_NEW", "y"),
        ]));
        let vars = s.into_config_with(|_| None).unwrap().vars;
        for name in SECRET_VARIABLES {
            assert_eq!(vars.exposure(name), Some(Exposure::Secret), "{name}");
        }
        for name in PLAIN_VARIABLES {
            assert_eq!(vars.exposure(name), Some(Exposure::Plain), "{name}");
        }
        assert_eq!(vars.exposure("CR_AGENT_URL"), Some(Exposure::RulesOnly));
        // A setting the broker has no word on is a secret.
        assert_eq!(vars.exposure("CR_SOMETHING_NEW"), Some(Exposure::Secret));
        assert_eq!(vars.exposure("BROKER_TOKEN"), None);
        assert_eq!(
            vars.substitute("${BROKER_CLIENT_URL}"),
            "http://client:7341"
        );
    }

    #[test]
    fn credentials_are_required_and_errors_name_the_variable() {
        let mut s = base();
        s.registry_variables.clear();
        assert_eq!(
            s.into_config_with(|_| None)
                .unwrap()
                .vars
                .get("CR_CREDENTIALS"),
            Some(CREDENTIALS)
        );
        let mut s = base();
        s.cr_credentials = Some(" ".into());
        let err = s.into_config_with(|_| None).unwrap_err().to_string();
        assert!(err.contains("CR_CREDENTIALS"), "{err}");
        let mut s = base();
        s.broker_token = None;
        assert!(s
            .into_config_with(|_| None)
            .unwrap_err()
            .to_string()
            .contains("BROKER_TOKEN"));
        let mut s = base();
        s.broker_server_url = Some("not a url".into());
        assert!(s.into_config_with(|_| None).is_err());
    }

    #[test]
    fn the_system_check_defaults_to_the_agents() {
        let mut s = base();
        s.validation_url = None;
        let validation = s.clone().into_config_with(|_| None).unwrap().validation;
        assert_eq!(validation.unwrap().url, "http://127.0.0.1:2/systemcheck");
        s.cr_agent_url = None;
        assert!(s.into_config_with(|_| None).unwrap().validation.is_none());
    }

    #[test]
    fn accept_files_read_only_the_variables_they_name() {
        let dir = std::env::temp_dir().join(format!("cra-accept-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("accept.json");
        std::fs::write(
            &path,
            r#"{"private":[{"method":"any","path":"/*","origin":"${ARTIFACTORY_URL}"}]}"#,
        )
        .unwrap();
        let mut s = base();
        s.accept = Some(path.to_string_lossy().into_owned());
        let config = s
            .into_config_with(|name| match name {
                "ARTIFACTORY_URL" => Some("http://art".into()),
                "HOME" => Some("/root".into()),
                _ => None,
            })
            .unwrap();
        assert_eq!(config.vars.get("ARTIFACTORY_URL"), Some("http://art"));
        assert_eq!(
            config.vars.exposure("ARTIFACTORY_URL"),
            Some(Exposure::Secret)
        );
        assert!(config.vars.get("HOME").is_none());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
