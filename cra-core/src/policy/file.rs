//! containers-policy.json: the typed policy and the lookup of the requirements for an image.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use base64::Engine as _;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use super::identity::{DockerIdentity, RawSignedIdentity, SignedIdentity};
use super::{scope, PolicyError};

/// The transports containers/image knows; a policy naming another one is refused.
const KNOWN_TRANSPORTS: &[&str] = &[
    "atomic",
    "containers-storage",
    "dir",
    "docker",
    "docker-archive",
    "docker-daemon",
    "oci",
    "oci-archive",
    "ostree",
    "sif",
    "tarball",
];

/// Where the public keys of a requirement come from.
#[derive(Clone, PartialEq, Eq)]
pub enum KeySource {
    /// Key files (`keyPath`, or each of `keyPaths`).
    Paths(Vec<PathBuf>),
    /// Inline key material (`keyData`, or each of sigstoreSigned's `keyDatas`), base64-decoded.
    Data(Vec<Vec<u8>>),
}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Paths(paths) => f.debug_tuple("Paths").field(paths).finish(),
            Self::Data(keys) => {
                let sizes: Vec<usize> = keys.iter().map(Vec::len).collect();
                write!(f, "Data({sizes:?} bytes)")
            }
        }
    }
}

/// One policy requirement; an image is accepted when every requirement of its scope is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// Accepts any image.
    InsecureAcceptAnything,
    /// Rejects every image.
    Reject,
    /// A GPG simple-signing signature by one of `keys`, with an identity satisfying the rule.
    SignedBy {
        /// The keyring(s) of trusted public keys.
        keys: KeySource,
        /// What the signed identity must be.
        signed_identity: SignedIdentity,
    },
    /// A sigstore signature by `key`, with an identity satisfying the rule.
    SigstoreSigned {
        /// The trusted public key (PEM).
        key: KeySource,
        /// What the signed identity must be.
        signed_identity: SignedIdentity,
    },
}

impl Requirement {
    /// The requirement's `type` as written in the policy.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::InsecureAcceptAnything => "insecureAcceptAnything",
            Self::Reject => "reject",
            Self::SignedBy { .. } => "signedBy",
            Self::SigstoreSigned { .. } => "sigstoreSigned",
        }
    }
}

/// Which part of the policy applied to an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// A `transports.docker.<scope>` entry.
    Docker(String),
    /// The docker transport's `""` entry.
    TransportDefault,
    /// The global `default`.
    Default,
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Docker(scope) => write!(f, "docker scope {scope:?}"),
            Self::TransportDefault => f.write_str("docker transport default"),
            Self::Default => f.write_str("global default"),
        }
    }
}

/// A parsed containers-policy.json; only the `docker` transport is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    default: Vec<Requirement>,
    docker_default: Option<Vec<Requirement>>,
    docker: BTreeMap<String, Vec<Requirement>>,
}

impl Policy {
    /// Parses a policy strictly: unknown or duplicate fields, an empty requirement list, an
    /// unknown transport or requirement type, and malformed scopes or identities are errors.
    pub fn from_json(bytes: &[u8]) -> Result<Self, PolicyError> {
        let raw: RawPolicy = serde_json::from_slice(bytes).map_err(PolicyError::Json)?;
        let default = convert_list(raw.default, "default")?;
        let mut docker = BTreeMap::new();
        let mut docker_default = None;
        for (transport, scopes) in raw.transports.unwrap_or_default().0 {
            if !KNOWN_TRANSPORTS.contains(&transport.as_str()) {
                return Err(PolicyError::UnknownTransport(transport));
            }
            for (name, list) in scopes.0 {
                let list = convert_list(list, &name)?;
                if transport != "docker" {
                    continue;
                }
                if name.is_empty() {
                    docker_default = Some(list);
                } else if scope::valid(&name) {
                    docker.insert(name, list);
                } else {
                    return Err(PolicyError::Scope(name));
                }
            }
        }
        Ok(Self {
            default,
            docker_default,
            docker,
        })
    }

    /// The requirements that apply to `image` and the scope they come from: the most specific
    /// docker scope, else the docker default, else the global default.
    pub fn requirements_for(&self, image: &DockerIdentity) -> (Scope, &[Requirement]) {
        for candidate in scope::candidates(image) {
            if let Some(list) = self.docker.get(&candidate) {
                return (Scope::Docker(candidate), list);
            }
        }
        match &self.docker_default {
            Some(list) => (Scope::TransportDefault, list),
            None => (Scope::Default, &self.default),
        }
    }
}

fn convert_list(raw: Vec<RawRequirement>, scope: &str) -> Result<Vec<Requirement>, PolicyError> {
    if raw.is_empty() {
        return Err(PolicyError::EmptyRequirements(scope.to_owned()));
    }
    raw.into_iter().map(Requirement::try_from).collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    default: Vec<RawRequirement>,
    transports: Option<UniqueMap<UniqueMap<Vec<RawRequirement>>>>,
}

#[derive(Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
enum RawRequirement {
    #[serde(rename = "insecureAcceptAnything")]
    InsecureAcceptAnything {},
    #[serde(rename = "reject")]
    Reject {},
    #[serde(rename = "signedBy")]
    SignedBy {
        #[serde(rename = "keyType")]
        key_type: String,
        #[serde(rename = "keyPath")]
        key_path: Option<PathBuf>,
        #[serde(rename = "keyPaths")]
        key_paths: Option<Vec<PathBuf>>,
        #[serde(rename = "keyData")]
        key_data: Option<String>,
        #[serde(rename = "signedIdentity")]
        signed_identity: Option<RawSignedIdentity>,
    },
    #[serde(rename = "sigstoreSigned")]
    SigstoreSigned {
        #[serde(rename = "keyPath")]
        key_path: Option<PathBuf>,
        #[serde(rename = "keyPaths")]
        key_paths: Option<Vec<PathBuf>>,
        #[serde(rename = "keyData")]
        key_data: Option<String>,
        #[serde(rename = "keyDatas")]
        key_datas: Option<Vec<String>>,
        #[serde(rename = "signedIdentity")]
        signed_identity: Option<RawSignedIdentity>,
    },
}

impl TryFrom<RawRequirement> for Requirement {
    type Error = PolicyError;

    fn try_from(raw: RawRequirement) -> Result<Self, PolicyError> {
        let identity = |raw: Option<RawSignedIdentity>| match raw {
            Some(raw) => SignedIdentity::try_from(raw),
            None => Ok(SignedIdentity::default()),
        };
        Ok(match raw {
            RawRequirement::InsecureAcceptAnything {} => Self::InsecureAcceptAnything,
            RawRequirement::Reject {} => Self::Reject,
            RawRequirement::SignedBy {
                key_type,
                key_path,
                key_paths,
                key_data,
                signed_identity,
            } => {
                if key_type != "GPGKeys" {
                    return Err(PolicyError::KeyType(key_type));
                }
                let keys = match (key_path, key_paths, key_data) {
                    (Some(path), None, None) => KeySource::Paths(vec![path]),
                    (None, Some(paths), None) if !paths.is_empty() => KeySource::Paths(paths),
                    (None, None, Some(data)) => KeySource::Data(vec![decode_key_data(&data)?]),
                    _ => return Err(PolicyError::KeySources("signedBy")),
                };
                Self::SignedBy {
                    keys,
                    signed_identity: identity(signed_identity)?,
                }
            }
            RawRequirement::SigstoreSigned {
                key_path,
                key_paths,
                key_data,
                key_datas,
                signed_identity,
            } => {
                // Exactly one source; a signature by any of its keys satisfies the requirement.
                let key = match (key_path, key_paths, key_data, key_datas) {
                    (Some(path), None, None, None) => KeySource::Paths(vec![path]),
                    (None, Some(paths), None, None) if !paths.is_empty() => KeySource::Paths(paths),
                    (None, None, Some(data), None) => {
                        KeySource::Data(vec![decode_key_data(&data)?])
                    }
                    (None, None, None, Some(datas)) if !datas.is_empty() => KeySource::Data(
                        datas
                            .iter()
                            .map(|data| decode_key_data(data))
                            .collect::<Result<_, _>>()?,
                    ),
                    _ => return Err(PolicyError::KeySources("sigstoreSigned")),
                };
                Self::SigstoreSigned {
                    key,
                    signed_identity: identity(signed_identity)?,
                }
            }
        })
    }
}

fn decode_key_data(data: &str) -> Result<Vec<u8>, PolicyError> {
    base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(PolicyError::KeyData)
}

/// A JSON object read into a map that refuses duplicate keys, as containers/image does.
struct UniqueMap<V>(BTreeMap<String, V>);

impl<V> Default for UniqueMap<V> {
    fn default() -> Self {
        Self(BTreeMap::new())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for UniqueMap<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct UniqueVisitor<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for UniqueVisitor<V> {
            type Value = UniqueMap<V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = BTreeMap::new();
                while let Some((key, value)) = map.next_entry::<String, V>()? {
                    if out.contains_key(&key) {
                        return Err(de::Error::custom(format!("duplicate key {key:?}")));
                    }
                    out.insert(key, value);
                }
                Ok(UniqueMap(out))
            }
        }
        deserializer.deserialize_map(UniqueVisitor(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(json: &str) -> Result<Policy, PolicyError> {
        Policy::from_json(json.as_bytes())
    }

    fn id(s: &str) -> DockerIdentity {
        s.parse().unwrap()
    }

    const LAYERED: &str = r#"{
        "default": [{"type": "reject"}],
        "transports": {
            "docker": {
                "": [{"type": "insecureAcceptAnything"}],
                "r.example:5000": [{"type": "reject"}],
                "r.example:5000/team": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/k.gpg"}],
                "r.example:5000/team/app:v1": [{"type": "insecureAcceptAnything"}],
                "*.example.org": [{"type": "sigstoreSigned", "keyData": "AAEC",
                                   "signedIdentity": {"type": "matchRepository"}}]
            },
            "dir": {"": [{"type": "insecureAcceptAnything"}]}
        }
    }"#;

    #[test]
    fn the_most_specific_scope_wins() {
        let p = policy(LAYERED).unwrap();
        let (scope, reqs) = p.requirements_for(&id("r.example:5000/team/app:v1"));
        assert_eq!(scope, Scope::Docker("r.example:5000/team/app:v1".into()));
        assert_eq!(reqs, [Requirement::InsecureAcceptAnything]);
        let (scope, reqs) = p.requirements_for(&id("r.example:5000/team/app:v2"));
        assert_eq!(scope, Scope::Docker("r.example:5000/team".into()));
        assert_eq!(reqs[0].type_name(), "signedBy");
        let (scope, _) = p.requirements_for(&id("r.example:5000/other:v1"));
        assert_eq!(scope, Scope::Docker("r.example:5000".into()));
        // A host without the port is another scope.
        let (scope, reqs) = p.requirements_for(&id("r.example/team/app:v1"));
        assert_eq!(scope, Scope::TransportDefault);
        assert_eq!(reqs, [Requirement::InsecureAcceptAnything]);
        let (scope, reqs) = p.requirements_for(&id("reg.sub.example.org/x:1"));
        assert_eq!(scope, Scope::Docker("*.example.org".into()));
        assert_eq!(
            reqs,
            [Requirement::SigstoreSigned {
                key: KeySource::Data(vec![vec![0, 1, 2]]),
                signed_identity: SignedIdentity::MatchRepository,
            }]
        );
    }

    #[test]
    fn without_a_docker_default_the_global_default_applies() {
        let p = policy(r#"{"default": [{"type": "reject"}]}"#).unwrap();
        assert_eq!(
            p.requirements_for(&id("r.example/a:1")),
            (Scope::Default, &[Requirement::Reject][..])
        );
    }

    #[test]
    fn key_sources_and_identity_defaults_are_read() {
        let p = policy(
            r#"{"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyPaths": ["/a", "/b"]}]}"#,
        )
        .unwrap();
        let (_, reqs) = p.requirements_for(&id("r.example/a:1"));
        assert_eq!(
            reqs,
            [Requirement::SignedBy {
                keys: KeySource::Paths(vec!["/a".into(), "/b".into()]),
                signed_identity: SignedIdentity::MatchRepoDigestOrExact,
            }]
        );
    }

    #[test]
    fn sigstore_key_lists_are_read() {
        let p = policy(
            r#"{"default": [{"type": "sigstoreSigned", "keyPaths": ["/a", "/b"]},
                            {"type": "sigstoreSigned", "keyDatas": ["AAE=", "Ag=="]}]}"#,
        )
        .unwrap();
        let (_, reqs) = p.requirements_for(&id("r.example/a:1"));
        assert_eq!(
            reqs,
            [
                Requirement::SigstoreSigned {
                    key: KeySource::Paths(vec!["/a".into(), "/b".into()]),
                    signed_identity: SignedIdentity::default(),
                },
                Requirement::SigstoreSigned {
                    key: KeySource::Data(vec![vec![0, 1], vec![2]]),
                    signed_identity: SignedIdentity::default(),
                },
            ]
        );
    }

    #[test]
    fn malformed_policies_are_typed_errors() {
        let cases = [
            ("not json", "json"),
            (r#"{}"#, "json"),
            (r#"{"default": []}"#, "empty"),
            (r#"{"default": [{"type": "reject"}], "extra": 1}"#, "json"),
            (r#"{"default": [{"type": "reject", "x": 1}]}"#, "json"),
            (r#"{"default": [{"type": "maybe"}]}"#, "json"),
            (
                r#"{"default": [{"type": "reject"}], "transports": {"ftp": {"": [{"type": "reject"}]}}}"#,
                "transport",
            ),
            (
                r#"{"default": [{"type": "reject"}], "transports": {"docker": {"a b": [{"type": "reject"}]}}}"#,
                "scope",
            ),
            (
                r#"{"default": [{"type": "reject"}], "transports": {"docker": {"x": [{"type": "reject"}], "x": [{"type": "reject"}]}}}"#,
                "json",
            ),
            (
                r#"{"default": [{"type": "signedBy", "keyType": "X509Certificates", "keyPath": "/k"}]}"#,
                "keytype",
            ),
            (
                r#"{"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/k", "keyData": "AA=="}]}"#,
                "sources",
            ),
            (
                r#"{"default": [{"type": "signedBy", "keyType": "GPGKeys"}]}"#,
                "sources",
            ),
            (
                r#"{"default": [{"type": "sigstoreSigned", "keyPath": "/k", "keyPaths": ["/l"]}]}"#,
                "sources",
            ),
            (
                r#"{"default": [{"type": "sigstoreSigned", "keyDatas": []}]}"#,
                "sources",
            ),
            (
                r#"{"default": [{"type": "sigstoreSigned", "keyDatas": ["AA==", "***"]}]}"#,
                "keydata",
            ),
            (
                r#"{"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyDatas": ["AA=="]}]}"#,
                "json",
            ),
            (
                r#"{"default": [{"type": "sigstoreSigned", "keyData": "***"}]}"#,
                "keydata",
            ),
            (
                r#"{"default": [{"type": "sigstoreSigned", "keyPath": "/k", "signedIdentity": {"type": "matchExact", "x": 1}}]}"#,
                "json",
            ),
        ];
        for (json, want) in cases {
            let err = policy(json).unwrap_err();
            let got = match err {
                PolicyError::Json(_) => "json",
                PolicyError::EmptyRequirements(_) => "empty",
                PolicyError::UnknownTransport(_) => "transport",
                PolicyError::Scope(_) => "scope",
                PolicyError::KeyType(_) => "keytype",
                PolicyError::KeySources(_) => "sources",
                PolicyError::KeyData(_) => "keydata",
                _ => "other",
            };
            assert_eq!(got, want, "{json}");
        }
    }
}
