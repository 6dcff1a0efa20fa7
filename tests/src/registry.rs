//! A real CNCF distribution registry on loopback, seeding helpers, and stub HTTP servers.
//!
//! [`RegistryServer::start`] runs `docker-registry serve` on `127.0.0.1` with a random free port,
//! a temporary storage directory and, on request, htpasswd basic auth or TLS with a generated CA.
//! The process is killed when the value is dropped.
//! [`RegistryServer::push_image`] uploads an image with the registry API (monolithic upload).
//! [`StubServer::spawn`] serves an axum router on loopback for faults the real registry cannot
//! produce (wrong digests, 429s, redirects) and for vendor REST APIs.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cra_core::manifest::media_type;
use cra_core::{Digest, RegistryCredentials, RegistryKind, Secret};

use crate::image::{Compression, Image, Layer};

/// The path of the registry binary (Debian's `docker-registry` package).
pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

/// How the registry authenticates and whether it serves TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// Plain HTTP, no authentication.
    None,
    /// Plain HTTP with htpasswd basic auth for one user.
    Htpasswd {
        /// The user name.
        user: String,
        /// The password.
        pass: String,
    },
    /// HTTPS with a certificate signed by a CA generated for this server; no authentication.
    Tls,
    /// HTTPS with a generated CA and htpasswd basic auth for one user.
    TlsHtpasswd {
        /// The user name.
        user: String,
        /// The password.
        pass: String,
    },
}

impl Auth {
    /// Htpasswd auth for `user`/`pass`.
    pub fn htpasswd(user: &str, pass: &str) -> Auth {
        Auth::Htpasswd {
            user: user.to_owned(),
            pass: pass.to_owned(),
        }
    }

    fn user_pass(&self) -> Option<(&str, &str)> {
        match self {
            Auth::Htpasswd { user, pass } | Auth::TlsHtpasswd { user, pass } => {
                Some((user.as_str(), pass.as_str()))
            }
            Auth::None | Auth::Tls => None,
        }
    }

    fn tls(&self) -> bool {
        matches!(self, Auth::Tls | Auth::TlsHtpasswd { .. })
    }
}

/// Whether the registry binary is installed; tests that need it skip with a message otherwise.
#[allow(clippy::print_stderr)]
pub fn registry_available() -> bool {
    let found = Path::new(REGISTRY_BIN).exists();
    if !found {
        eprintln!("skipping: {REGISTRY_BIN} is not installed (apt-get install docker-registry)");
    }
    found
}

/// A running `docker-registry`; dropping it kills the process.
#[derive(Debug)]
pub struct RegistryServer {
    child: Child,
    port: u16,
    auth: Auth,
    dir: tempfile::TempDir,
    ca_pem: Option<String>,
    http: reqwest::Client,
}

/// What [`RegistryServer::push_image`] uploaded.
#[derive(Debug, Clone)]
pub struct PushedImage {
    /// The manifest's digest.
    pub digest: Digest,
    /// The manifest bytes as uploaded.
    pub manifest: Vec<u8>,
    /// The manifest's media type.
    pub media_type: String,
    /// The config blob's digest.
    pub config_digest: Digest,
    /// The layer digests, in order.
    pub layer_digests: Vec<Digest>,
}

/// A free port on 127.0.0.1 (bound, read, released).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

impl RegistryServer {
    /// Starts a registry and waits until it answers `GET /v2/` (at most 15 seconds).
    pub async fn start(auth: Auth) -> RegistryServer {
        Self::start_with(auth, false).await
    }

    /// Starts a registry that writes an access log, read by [`RegistryServer::blob_requests`].
    pub async fn start_logged(auth: Auth) -> RegistryServer {
        Self::start_with(auth, true).await
    }

    async fn start_with(auth: Auth, access_log: bool) -> RegistryServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let storage = dir.path().join("storage");
        std::fs::create_dir_all(&storage).expect("storage dir");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: {}\n\
             storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n",
            !access_log,
            storage.display()
        );
        if let Some((user, pass)) = auth.user_pass() {
            let htpasswd = dir.path().join("htpasswd");
            let out = Command::new("htpasswd")
                .args(["-Bbn", user, pass])
                .output()
                .expect("htpasswd from apache2-utils must be installed");
            assert!(out.status.success(), "htpasswd failed: {out:?}");
            std::fs::write(&htpasswd, &out.stdout).expect("write htpasswd");
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: test-realm\n    path: {}\n",
                htpasswd.display()
            ));
        }
        let ca_pem = if auth.tls() {
            let (ca, cert, key) = generate_tls();
            std::fs::write(dir.path().join("ca.pem"), &ca).expect("write ca");
            std::fs::write(dir.path().join("cert.pem"), &cert).expect("write cert");
            std::fs::write(dir.path().join("key.pem"), &key).expect("write key");
            Some(ca)
        } else {
            None
        };
        let port = free_port();
        config.push_str(&format!(
            "http:\n  addr: 127.0.0.1:{port}\n  secret: cra-test-secret\n"
        ));
        if ca_pem.is_some() {
            config.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                dir.path().join("cert.pem").display(),
                dir.path().join("key.pem").display()
            ));
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).expect("write config");
        // The access log goes to stdout.
        let stdout = if access_log {
            Stdio::from(std::fs::File::create(dir.path().join("access.log")).expect("access log"))
        } else {
            Stdio::null()
        };
        let child = Command::new(REGISTRY_BIN)
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(Stdio::null())
            .spawn()
            .expect("start docker-registry");
        let mut builder = reqwest::Client::builder().timeout(Duration::from_secs(30));
        if let Some(ca) = &ca_pem {
            builder = builder.add_root_certificate(
                reqwest::Certificate::from_pem(ca.as_bytes()).expect("ca pem"),
            );
        }
        let server = RegistryServer {
            child,
            port,
            auth,
            dir,
            ca_pem,
            http: builder.build().expect("reqwest client"),
        };
        server.wait_ready().await;
        server
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        let url = format!("{}/v2/", self.base_url());
        while Instant::now() < deadline {
            if self.http.get(&url).send().await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("docker-registry did not answer on {url} within 15s");
    }

    /// How many blob requests (GET or HEAD `/v2/<repo>/blobs/<digest>`) the registry has
    /// answered; needs [`RegistryServer::start_logged`].
    pub fn blob_requests(&self) -> usize {
        let log = std::fs::read_to_string(self.dir.path().join("access.log"))
            .expect("the registry was started with start_logged");
        log.lines()
            .filter(|l| {
                (l.contains("\"GET /v2/") || l.contains("\"HEAD /v2/")) && l.contains("/blobs/sha")
            })
            .count()
    }

    /// How many times the registry answered a GET of the blob `digest` (in any repository);
    /// needs [`RegistryServer::start_logged`].
    pub fn blob_gets(&self, digest: &str) -> usize {
        let log = std::fs::read_to_string(self.dir.path().join("access.log"))
            .expect("the registry was started with start_logged");
        let path = format!("/blobs/{digest} ");
        log.lines()
            .filter(|l| l.contains("\"GET /v2/") && l.contains(&path))
            .count()
    }

    /// `127.0.0.1:PORT`, as written in image references.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        let scheme = if self.auth.tls() { "https" } else { "http" };
        format!("{scheme}://{}", self.host())
    }

    /// The user name, when the registry has htpasswd auth.
    pub fn username(&self) -> Option<String> {
        self.auth.user_pass().map(|(u, _)| u.to_owned())
    }

    /// The password, when the registry has htpasswd auth.
    pub fn password(&self) -> Option<Secret> {
        self.auth.user_pass().map(|(_, p)| Secret::new(p))
    }

    /// Credentials of `kind` for this registry, with `registryBase` = [`Self::base_url`].
    pub fn credentials(&self, kind: RegistryKind) -> RegistryCredentials {
        RegistryCredentials::Basic {
            kind,
            registry_base: self.base_url(),
            username: self.username().unwrap_or_default(),
            password: self.password().unwrap_or_default(),
        }
    }

    /// The PEM of the generated CA, for TLS registries.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// The path of the generated CA bundle, for TLS registries.
    pub fn ca_bundle_path(&self) -> Option<PathBuf> {
        self.ca_pem.as_ref().map(|_| self.dir.path().join("ca.pem"))
    }

    fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        let rb = self.http.request(method, url);
        match self.auth.user_pass() {
            Some((u, p)) => rb.basic_auth(u, Some(p)),
            None => rb,
        }
    }

    /// Uploads a blob with a monolithic upload (POST, then PUT with the digest); returns its digest.
    pub async fn push_blob(&self, repo: &str, bytes: &[u8]) -> Digest {
        let digest = Digest::sha256_of(bytes);
        let start = format!("{}/v2/{repo}/blobs/uploads/", self.base_url());
        let resp = self
            .request(reqwest::Method::POST, &start)
            .send()
            .await
            .expect("start upload");
        assert_eq!(resp.status(), 202, "start upload: {resp:?}");
        let location = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .expect("upload location")
            .to_owned();
        let mut url = reqwest::Url::parse(&self.base_url())
            .and_then(|base| base.join(&location))
            .expect("upload url");
        url.query_pairs_mut()
            .append_pair("digest", &digest.to_string());
        let resp = self
            .request(reqwest::Method::PUT, url.as_str())
            .header("content-type", "application/octet-stream")
            .body(bytes.to_vec())
            .send()
            .await
            .expect("finish upload");
        assert_eq!(resp.status(), 201, "finish upload: {resp:?}");
        digest
    }

    /// Uploads a manifest under `reference` (a tag or a digest); returns its digest.
    pub async fn push_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Digest {
        let url = format!("{}/v2/{repo}/manifests/{reference}", self.base_url());
        let resp = self
            .request(reqwest::Method::PUT, &url)
            .header("content-type", media_type)
            .body(bytes.to_vec())
            .send()
            .await
            .expect("put manifest");
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        assert_eq!(status, 201, "put manifest {repo}:{reference}: {body}");
        Digest::sha256_of(bytes)
    }

    /// Pushes `image` with every layer gzipped (a manifest here has one layer media type).
    pub async fn push_gzipped(&self, repo: &str, tag: &str, image: &Image) -> PushedImage {
        let image = Image::new(
            &image.arch,
            image
                .layers
                .iter()
                .map(|l| Layer::from_tar(l.tar.clone(), Compression::Gzip))
                .collect(),
        );
        let layers: Vec<Vec<u8>> = image.layers.iter().map(|l| l.blob.clone()).collect();
        self.push_image(
            repo,
            tag,
            &image.config,
            &layers,
            "application/vnd.oci.image.layer.v1.tar+gzip",
        )
        .await
    }

    /// Uploads the config and layers (already compressed) and a manifest tagged `tag`.
    ///
    /// The manifest is Docker schema2 when `layer_media_type` is a Docker type, OCI otherwise.
    pub async fn push_image(
        &self,
        repo: &str,
        tag: &str,
        config: &[u8],
        layers: &[Vec<u8>],
        layer_media_type: &str,
    ) -> PushedImage {
        let docker = layer_media_type.starts_with("application/vnd.docker.");
        let (manifest_type, config_type) = if docker {
            (media_type::DOCKER_MANIFEST, media_type::DOCKER_CONFIG)
        } else {
            (media_type::OCI_MANIFEST, media_type::OCI_CONFIG)
        };
        let config_digest = self.push_blob(repo, config).await;
        let mut layer_digests = Vec::new();
        let mut layer_entries = Vec::new();
        for layer in layers {
            let d = self.push_blob(repo, layer).await;
            layer_entries.push(serde_json::json!({
                "mediaType": layer_media_type, "digest": d.to_string(), "size": layer.len(),
            }));
            layer_digests.push(d);
        }
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": manifest_type,
            "config": {"mediaType": config_type, "digest": config_digest.to_string(), "size": config.len()},
            "layers": layer_entries,
        });
        let manifest = serde_json::to_vec(&manifest).expect("manifest json");
        let digest = self
            .push_manifest(repo, tag, manifest_type, &manifest)
            .await;
        PushedImage {
            digest,
            manifest,
            media_type: manifest_type.to_owned(),
            config_digest,
            layer_digests,
        }
    }

    /// Pushes a small OCI image with one layer of `layer` bytes; the config names `arch`.
    pub async fn push_small_image(
        &self,
        repo: &str,
        tag: &str,
        arch: &str,
        layer: &[u8],
    ) -> PushedImage {
        let config = serde_json::json!({
            "architecture": arch, "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [Digest::sha256_of(layer).to_string()]},
            "config": {},
        });
        let config = serde_json::to_vec(&config).expect("config json");
        self.push_image(
            repo,
            tag,
            &config,
            &[layer.to_vec()],
            "application/vnd.oci.image.layer.v1.tar",
        )
        .await
    }

    /// Pushes an OCI index over `images` (each with its platform), plus any `extra` descriptors
    /// given as raw JSON (attestations), tagged `tag`; returns the index digest and bytes.
    pub async fn push_index(
        &self,
        repo: &str,
        tag: &str,
        images: &[(&PushedImage, &str, &str)],
        extra: &[serde_json::Value],
    ) -> (Digest, Vec<u8>) {
        let mut manifests: Vec<serde_json::Value> = images
            .iter()
            .map(|(img, os, arch)| {
                serde_json::json!({
                    "mediaType": img.media_type, "digest": img.digest.to_string(),
                    "size": img.manifest.len(), "platform": {"os": os, "architecture": arch},
                })
            })
            .collect();
        manifests.extend(extra.iter().cloned());
        let index = serde_json::json!({
            "schemaVersion": 2, "mediaType": media_type::OCI_INDEX, "manifests": manifests,
        });
        let bytes = serde_json::to_vec(&index).expect("index json");
        let digest = self
            .push_manifest(repo, tag, media_type::OCI_INDEX, &bytes)
            .await;
        (digest, bytes)
    }
}

impl Drop for RegistryServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Generates a CA and a leaf certificate for `127.0.0.1` and `localhost` signed by it.
/// Returns (CA PEM, leaf certificate chain PEM, leaf key PEM).
pub fn generate_tls() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate().expect("ca key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "cra test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = ca_params.self_signed(&ca_key).expect("ca cert");
    let leaf_key = KeyPair::generate().expect("leaf key");
    let mut leaf_params =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .expect("leaf params");
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "127.0.0.1");
    let leaf = leaf_params
        .signed_by(&leaf_key, &ca, &ca_key)
        .expect("leaf cert");
    (
        ca.pem(),
        format!("{}{}", leaf.pem(), ca.pem()),
        leaf_key.serialize_pem(),
    )
}

/// An axum router served on `127.0.0.1:<random>`; the server stops when this is dropped.
#[derive(Debug)]
pub struct StubServer {
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl StubServer {
    /// Serves `router` on a fresh loopback port.
    pub async fn spawn(router: axum::Router) -> StubServer {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind stub");
        let addr = listener.local_addr().expect("stub addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        StubServer {
            addr,
            shutdown: Some(tx),
        }
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for StubServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
