//! The Artifact Registry REST API v1 as data (pure): URLs, response shapes, image names and
//! page cursors.
//!
//! `GET v1/projects/<p>/locations/<l>/repositories?pageSize=&pageToken=` lists repositories
//! (`{"repositories":[{"name":"projects/p/locations/l/repositories/r","format":"DOCKER"}],
//! "nextPageToken":"…"}`); `GET …/repositories/<r>/dockerImages?pageSize=&pageToken=` lists one
//! entry per digest (`{"dockerImages":[{"name":"…/dockerImages/app@sha256:…","uri":
//! "l-docker.pkg.dev/p/r/app@sha256:…","tags":["1.0"],"uploadTime":"…","updateTime":"…"}],
//! "nextPageToken":"…"}`).

use percent_encoding::percent_decode_str;
use serde::Deserialize;
use url::Url;

use super::super::vendor::{api_url, segment};
use crate::error::{Error, Result};

/// The public API host.
pub(crate) const API: &str = "https://artifactregistry.googleapis.com";
/// The largest page the API serves.
pub(crate) const MAX_PAGE: u32 = 1000;
/// What our REST cursors start with, so they cannot be confused with `_catalog` cursors (which
/// start with `/`).
const CURSOR_TAG: &str = "artifact-registry?";

/// The location of an Artifact Registry host: `europe-west1-docker.pkg.dev` → `europe-west1`.
pub(crate) fn location_of(host: &str) -> Option<&str> {
    let name = host.split(':').next().unwrap_or(host);
    name.strip_suffix("-docker.pkg.dev")
        .filter(|l| !l.is_empty() && !l.contains('.'))
}

/// The project and repository a base path names: `proj/repo` → (`proj`, `repo`); a
/// domain-scoped project `example.com:proj` is written `example.com/proj` in image paths.
pub(crate) fn project_and_repository(path: &str) -> (Option<String>, Option<String>) {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (project, rest) = match segments.as_slice() {
        [domain, id, rest @ ..] if domain.contains('.') => (format!("{domain}:{id}"), rest),
        [id, rest @ ..] => ((*id).to_owned(), rest),
        [] => return (None, None),
    };
    (Some(project), rest.first().map(|r| (*r).to_owned()))
}

/// Where the REST calls of one base go.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// The API root (ends with `/`).
    pub(crate) api: Url,
    /// The project id.
    pub(crate) project: String,
    /// The location.
    pub(crate) location: String,
}

impl Target {
    fn parent(&self) -> String {
        format!(
            "v1/projects/{}/locations/{}",
            segment(&self.project),
            segment(&self.location)
        )
    }

    /// `GET …/repositories/<repository>`.
    pub(crate) fn repository(&self, repository: &str) -> Result<Url> {
        api_url(
            &self.api,
            &format!("{}/repositories/{}", self.parent(), segment(repository)),
        )
    }

    /// One page of `GET …/repositories`.
    pub(crate) fn repositories(&self, size: u32, token: Option<&str>) -> Result<Url> {
        let mut url = api_url(&self.api, &format!("{}/repositories", self.parent()))?;
        page_query(&mut url, size, token);
        Ok(url)
    }

    /// One page of `GET …/repositories/<repository>/dockerImages`.
    pub(crate) fn images(&self, repository: &str, size: u32, token: Option<&str>) -> Result<Url> {
        let mut url = api_url(
            &self.api,
            &format!(
                "{}/repositories/{}/dockerImages",
                self.parent(),
                segment(repository)
            ),
        )?;
        page_query(&mut url, size, token);
        Ok(url)
    }
}

fn page_query(url: &mut Url, size: u32, token: Option<&str>) {
    let mut q = url.query_pairs_mut();
    q.append_pair("pageSize", &size.clamp(1, MAX_PAGE).to_string());
    if let Some(token) = token {
        q.append_pair("pageToken", token);
    }
}

/// A page of `ListRepositories`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Repositories {
    /// The repositories.
    #[serde(default)]
    pub(crate) repositories: Vec<Repository>,
    /// The token of the next page.
    #[serde(default)]
    pub(crate) next_page_token: Option<String>,
}

/// One repository.
#[derive(Debug, Deserialize)]
pub(crate) struct Repository {
    /// `projects/<p>/locations/<l>/repositories/<r>`.
    pub(crate) name: String,
    /// `DOCKER`, `MAVEN`, `NPM`, …
    #[serde(default)]
    pub(crate) format: Option<String>,
}

impl Repository {
    /// The repository id, if this is a Docker repository.
    pub(crate) fn docker_id(&self) -> Option<&str> {
        if self.format.as_deref().is_some_and(|f| f != "DOCKER") {
            return None;
        }
        self.name.rsplit('/').next().filter(|id| !id.is_empty())
    }
}

/// A page of `ListDockerImages`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DockerImages {
    /// The images, one per digest.
    #[serde(default)]
    pub(crate) docker_images: Vec<DockerImage>,
    /// The token of the next page.
    #[serde(default)]
    pub(crate) next_page_token: Option<String>,
}

/// One image digest.
#[derive(Debug, Deserialize)]
pub(crate) struct DockerImage {
    /// `projects/<p>/locations/<l>/repositories/<r>/dockerImages/<image>@<digest>`, the image
    /// path percent-encoded.
    #[serde(default)]
    pub(crate) name: String,
    /// `<l>-docker.pkg.dev/<p>/<r>/<image>@<digest>`.
    #[serde(default)]
    pub(crate) uri: Option<String>,
}

impl DockerImage {
    /// The repository name as the registry knows it: `<p>/<r>/<image>`, from `uri`, else from
    /// `name` (whose image path follows `/dockerImages/`, percent-encoded).
    pub(crate) fn repository_name(&self, target: &Target, repository: &str) -> Option<String> {
        let from_uri = self
            .uri
            .as_deref()
            .and_then(|u| u.split_once('/'))
            .map(|(_, path)| path.split('@').next().unwrap_or(path).to_owned());
        let name = from_uri.or_else(|| {
            let (_, image) = self.name.split_once("/dockerImages/")?;
            let image = percent_decode_str(image).decode_utf8().ok()?;
            let image = image.split('@').next().unwrap_or(&image);
            let project = target.project.replace(':', "/");
            Some(format!("{project}/{repository}/{image}"))
        })?;
        (!name.is_empty() && !name.ends_with('/')).then_some(name)
    }
}

/// Where a REST listing stands: the repository being walked, its `pageToken`, and the last name
/// returned (images come one per digest, so an image may continue on the next page).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Cursor {
    /// The repository id.
    pub(crate) repository: String,
    /// The next `pageToken` in it; `None` to start it.
    pub(crate) token: Option<String>,
    /// The last name returned so far.
    pub(crate) last: Option<String>,
}

impl Cursor {
    /// Whether a caller's cursor is one of ours.
    pub(crate) fn is_rest(cursor: &str) -> bool {
        cursor.starts_with(CURSOR_TAG)
    }

    /// Parses a cursor made by [`Cursor::encode`].
    pub(crate) fn decode(cursor: &str) -> Result<Cursor> {
        let invalid = || Error::InvalidInput("invalid page cursor".to_owned());
        let query = cursor.strip_prefix(CURSOR_TAG).ok_or_else(invalid)?;
        let mut out = Cursor::default();
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            match k.as_ref() {
                "repository" => out.repository = v.into_owned(),
                "page" => out.token = Some(v.into_owned()),
                "last" => out.last = Some(v.into_owned()),
                _ => return Err(invalid()),
            }
        }
        if out.repository.is_empty() {
            return Err(invalid());
        }
        Ok(out)
    }

    /// The cursor as an opaque string.
    pub(crate) fn encode(&self) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::from(CURSOR_TAG));
        s.append_pair("repository", &self.repository);
        if let Some(token) = &self.token {
            s.append_pair("page", token);
        }
        if let Some(last) = &self.last {
            s.append_pair("last", last);
        }
        s.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target {
            api: Url::parse("https://artifactregistry.googleapis.com/").unwrap(),
            project: "proj".into(),
            location: "europe-west1".into(),
        }
    }

    #[test]
    fn locations_from_hosts() {
        assert_eq!(
            location_of("europe-west1-docker.pkg.dev"),
            Some("europe-west1")
        );
        assert_eq!(location_of("us-docker.pkg.dev:443"), Some("us"));
        for other in [
            "gcr.io",
            "-docker.pkg.dev",
            "127.0.0.1:5000",
            "a.b-docker.pkg.dev",
        ] {
            assert_eq!(location_of(other), None, "{other}");
        }
    }

    #[test]
    fn projects_and_repositories_from_paths() {
        let cases = [
            ("", (None, None)),
            ("proj", (Some("proj"), None)),
            ("proj/repo", (Some("proj"), Some("repo"))),
            ("proj/repo/team", (Some("proj"), Some("repo"))),
            (
                "example.com/proj/repo",
                (Some("example.com:proj"), Some("repo")),
            ),
        ];
        for (path, (project, repository)) in cases {
            assert_eq!(
                project_and_repository(path),
                (project.map(str::to_owned), repository.map(str::to_owned)),
                "{path}"
            );
        }
    }

    #[test]
    fn builds_urls() {
        let t = target();
        assert_eq!(
            t.images("repo", 5000, Some("tok/en")).unwrap().as_str(),
            "https://artifactregistry.googleapis.com/v1/projects/proj/locations/europe-west1/repositories/repo/dockerImages?pageSize=1000&pageToken=tok%2Fen"
        );
        assert_eq!(
            t.repositories(1, None).unwrap().as_str(),
            "https://artifactregistry.googleapis.com/v1/projects/proj/locations/europe-west1/repositories?pageSize=1"
        );
        assert_eq!(
            t.repository("a/../b").unwrap().path(),
            "/v1/projects/proj/locations/europe-west1/repositories/a%2F..%2Fb"
        );
    }

    #[test]
    fn image_names_from_uri_or_name() {
        let t = target();
        let body = br#"{"dockerImages":[
            {"name":"projects/proj/locations/europe-west1/repositories/repo/dockerImages/team%2Fapp@sha256:aa",
             "uri":"europe-west1-docker.pkg.dev/proj/repo/team/app@sha256:aa","tags":["1.0"],
             "uploadTime":"2026-10-01T12:00:00.123Z"},
            {"name":"projects/proj/locations/europe-west1/repositories/repo/dockerImages/team%2Fapp@sha256:bb"},
            {"name":"garbage"}],
            "nextPageToken":"n1"}"#;
        let page: DockerImages = serde_json::from_slice(body).unwrap();
        let names: Vec<Option<String>> = page
            .docker_images
            .iter()
            .map(|i| i.repository_name(&t, "repo"))
            .collect();
        assert_eq!(
            names,
            vec![
                Some("proj/repo/team/app".to_owned()),
                Some("proj/repo/team/app".to_owned()),
                None
            ]
        );
        assert_eq!(page.next_page_token.as_deref(), Some("n1"));
    }

    #[test]
    fn docker_repositories_only() {
        let page: Repositories = serde_json::from_slice(
            br#"{"repositories":[{"name":"projects/p/locations/l/repositories/img","format":"DOCKER"},
                {"name":"projects/p/locations/l/repositories/jars","format":"MAVEN"}]}"#,
        )
        .unwrap();
        let ids: Vec<Option<&str>> = page
            .repositories
            .iter()
            .map(Repository::docker_id)
            .collect();
        assert_eq!(ids, vec![Some("img"), None]);
        assert_eq!(page.next_page_token, None);
    }

    #[test]
    fn cursors_round_trip_and_reject_others() {
        let c = Cursor {
            repository: "repo".into(),
            token: Some("a&b=c".into()),
            last: Some("proj/repo/app".into()),
        };
        let s = c.encode();
        assert!(Cursor::is_rest(&s));
        assert_eq!(Cursor::decode(&s).unwrap(), c);
        assert!(!Cursor::is_rest("/v2/_catalog?n=2&last=x"));
        for bad in [
            "artifact-registry?",
            "artifact-registry?page=x",
            "artifact-registry?repository=r&evil=1",
            "/v2/_catalog",
        ] {
            assert!(Cursor::decode(bad).is_err(), "{bad}");
        }
    }
}
