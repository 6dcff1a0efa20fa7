//! Tests of the cache directory: round trips, damaged entries, eviction.

use std::sync::Arc;

use cra_core::digest::Algorithm;

use super::*;
use crate::analyzers::{builtin, Analyzer};
use crate::layer::{walk, Budget, Walk};
use crate::testutil::{gzip, tar, Item};

const STATUS: &[u8] =
    b"Package: bash\nStatus: install ok installed\nVersion: 5.2-1\nArchitecture: amd64\n";

fn walked() -> LayerFindings {
    let analyzers: Vec<Arc<dyn Analyzer>> = builtin().into_iter().map(Arc::from).collect();
    let blob = gzip(&tar(&[
        Item::File("./var/lib/dpkg/status", STATUS),
        Item::File("./etc/.wh.motd", b""),
        Item::File("./opt/.wh..wh..opq", b""),
        Item::Symlink("./etc/os-release", "../usr/lib/os-release"),
        Item::File("../escape", b"x"),
    ]));
    let budget = Budget::new(None);
    let findings = walk(
        &blob[..],
        &Walk {
            label: "layer 1 (test)",
            analyzers: &analyzers,
            blob_algorithm: Some(Algorithm::Sha256),
            compressed: &budget,
            unpacked: &budget,
            on_bytes: &|_| {},
        },
    )
    .unwrap();
    assert!(!findings.files.is_empty() && !findings.warnings.is_empty());
    findings
}

fn key(n: u8) -> String {
    AnalyzerSet::new([]).layer_key(&Digest::sha256_of(&[n]))
}

fn entry_files(cache: &LayerCache) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for shard in fs::read_dir(cache.entries()).unwrap() {
        for f in fs::read_dir(shard.unwrap().path()).unwrap() {
            out.push(f.unwrap().path());
        }
    }
    out
}

#[test]
fn a_stored_layer_comes_back_identical_under_its_new_label() {
    let dir = tempfile::tempdir().unwrap();
    let cache = LayerCache::open(dir.path(), DEFAULT_MAX_SIZE).unwrap();
    let findings = walked();
    assert!(cache.layer(&key(1), "layer 1 (test)").is_none());
    cache.put_layer(&key(1), &findings, "layer 1 (test)");
    let back = cache.layer(&key(1), "layer 1 (test)").unwrap();
    assert_eq!(
        back,
        LayerFindings {
            blob_digest: None,
            ..findings.clone()
        }
    );
    let elsewhere = cache.layer(&key(1), "layer 4 (test)").unwrap();
    assert!(elsewhere.warnings[0].starts_with("layer 4 (test): "));
    // A second handle on the same directory (another process) sees it too.
    let other = LayerCache::open(dir.path(), DEFAULT_MAX_SIZE).unwrap();
    assert!(other.layer(&key(1), "layer 1 (test)").is_some());
    assert_eq!(
        cache.stats(),
        CacheStats {
            layer_hits: 2,
            layer_misses: 1,
            ..CacheStats::default()
        }
    );
    // Nothing is left in the temporary directory.
    assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
}

#[test]
fn truncated_or_corrupt_entries_are_discarded_and_missed() {
    let dir = tempfile::tempdir().unwrap();
    let cache = LayerCache::open(dir.path(), DEFAULT_MAX_SIZE).unwrap();
    let findings = walked();
    for damage in 0..3 {
        cache.put_layer(&key(1), &findings, "l");
        let [path] = &entry_files(&cache)[..] else {
            panic!("one entry expected")
        };
        let mut bytes = fs::read(path).unwrap();
        match damage {
            0 => bytes.truncate(bytes.len() - 7),
            1 => {
                let last = bytes.len() - 3;
                bytes[last] ^= 0x20;
            }
            _ => bytes.truncate(0),
        }
        fs::write(path, &bytes).unwrap();
        assert!(cache.layer(&key(1), "l").is_none(), "damage {damage}");
        assert!(!path.exists(), "damaged entry {damage} is removed");
    }
    assert_eq!(cache.stats().discarded, 3);
    // A payload that passes its checksum but is not a layer is refused too.
    cache.write(&key(2), b"{\"not\":\"a layer\"}");
    assert!(cache.layer(&key(2), "l").is_none());
    assert_eq!(cache.stats().discarded, 4);
}

#[test]
fn configs_are_checked_against_their_digest() {
    let dir = tempfile::tempdir().unwrap();
    let cache = LayerCache::open(dir.path(), DEFAULT_MAX_SIZE).unwrap();
    let config = br#"{"os":"linux"}"#;
    let digest = Digest::sha256_of(config);
    assert!(cache.config(&digest).is_none());
    cache.put_config(&digest, config);
    assert_eq!(cache.config(&digest).unwrap(), config);
    // An entry with a valid frame but the wrong content for its digest is not trusted.
    cache.write(&key::config_key(&digest), b"{}");
    assert!(cache.config(&digest).is_none());
    assert!(cache.config(&digest).is_none());
    let s = cache.stats();
    assert_eq!((s.config_hits, s.config_misses, s.discarded), (1, 3, 1));
}

#[test]
fn eviction_keeps_the_bound_and_the_recently_used() {
    let dir = tempfile::tempdir().unwrap();
    let max = 16 * 1024;
    let cache = LayerCache::open(dir.path(), max).unwrap();
    let payload = vec![b'x'; 1000];
    cache.write(&key(0), &payload);
    for n in 1..=100u8 {
        cache.write(&key(n), &payload);
        // Keep entry 0 in use; set its time explicitly, since file times can be coarse.
        assert!(cache.read(&key(0)).is_some(), "entry 0 evicted at {n}");
        let later = SystemTime::now() + std::time::Duration::from_secs(3600);
        fs::File::options()
            .write(true)
            .open(cache.path(&key(0)))
            .unwrap()
            .set_modified(later)
            .unwrap();
        assert!(cache.size().unwrap() <= max, "over the bound after {n}");
    }
    assert!(cache.read(&key(100)).is_some(), "the newest entry is kept");
    assert!(cache.read(&key(1)).is_none(), "the oldest entry is evicted");
}

#[test]
fn several_processes_writing_and_evicting_keep_the_bound_and_sound_entries() {
    let dir = tempfile::tempdir().unwrap();
    let max = 32 * 1024;
    let findings = walked();
    std::thread::scope(|s| {
        for t in 0..4u8 {
            let findings = &findings;
            let path = dir.path();
            s.spawn(move || {
                // Each thread has its own handle, as a separate process would.
                let cache = LayerCache::open(path, max).unwrap();
                for n in 0..60u8 {
                    let k = key(n.wrapping_mul(4).wrapping_add(t) % 120);
                    if cache.layer(&k, "l").is_none() {
                        cache.put_layer(&k, findings, "l");
                    }
                }
            });
        }
    });
    let cache = LayerCache::open(dir.path(), max).unwrap();
    cache.evict().unwrap();
    assert!(cache.size().unwrap() <= max);
    for n in 0..120u8 {
        if let Some(f) = cache.layer(&key(n), "l") {
            assert_eq!(f.files, findings.files);
        }
    }
    assert_eq!(cache.stats().discarded, 0, "no reader saw a partial entry");
}

#[tokio::test]
async fn a_claim_is_released_by_success_failure_and_cancellation() {
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    let cache = LayerCache::open(dir.path(), DEFAULT_MAX_SIZE).unwrap();
    let patience = Duration::from_secs(10);

    // A second claim waits while the first is held, and gets in once it is dropped (the walk
    // failed: nothing was stored, so the waiter computes the entry itself).
    let first = cache.claim(&key(1)).await;
    let waiter = tokio::spawn({
        let cache = cache.clone();
        async move {
            let _claim = cache.claim(&key(1)).await;
            cache.layer(&key(1), "layer 0 (test)").is_some()
        }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!waiter.is_finished(), "the waiter waits for the first walk");
    // Another key is not held up.
    drop(
        tokio::time::timeout(patience, cache.claim(&key(2)))
            .await
            .unwrap(),
    );
    drop(first);
    let found = tokio::time::timeout(patience, waiter)
        .await
        .unwrap()
        .unwrap();
    assert!(!found, "a failed walk leaves no entry behind");

    // The first walk succeeds: the waiter finds its entry.
    let first = cache.claim(&key(1)).await;
    let waiter = tokio::spawn({
        let cache = cache.clone();
        async move {
            let _claim = cache.claim(&key(1)).await;
            cache.layer(&key(1), "layer 0 (test)")
        }
    });
    cache.put_layer(&key(1), &walked(), "layer 1 (test)");
    drop(first);
    let found = tokio::time::timeout(patience, waiter)
        .await
        .unwrap()
        .unwrap();
    assert!(found.is_some(), "the waiter takes the first walk's entry");

    // A scan cancelled while it holds the claim does not leave the waiter hanging.
    let held = tokio::spawn({
        let cache = cache.clone();
        async move {
            let _claim = cache.claim(&key(3)).await;
            std::future::pending::<()>().await;
        }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    let waiter = tokio::spawn({
        let cache = cache.clone();
        async move { drop(cache.claim(&key(3)).await) }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!waiter.is_finished());
    held.abort();
    tokio::time::timeout(patience, waiter)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cache.inner.in_flight.len(), 0, "no key stays claimed");
}
