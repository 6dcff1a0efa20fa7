//! A hasher that runs on a thread of its own, so that sha256 runs beside the inflater and the
//! tar walk instead of after them.
//!
//! Bytes are copied into fixed-size chunks and sent over a bounded channel; the worker hands
//! each chunk back for reuse, so a hasher holds at most a handful of chunks however large the
//! stream is.
//! If the thread cannot be started, the bytes are hashed inline instead.

use std::io;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::JoinHandle;

use cra_core::digest::{Algorithm, Hasher};
use cra_core::Digest;

/// Bytes per chunk handed to the worker.
const CHUNK: usize = 128 * 1024;
/// Chunks queued for the worker before `update` waits for it.
const QUEUED: usize = 4;

/// An incremental hasher whose work happens on another thread.
#[derive(Debug)]
pub struct BackgroundHasher {
    mode: Mode,
}

#[derive(Debug)]
enum Mode {
    Inline(Hasher),
    Worker(Worker),
}

#[derive(Debug)]
struct Worker {
    current: Vec<u8>,
    queue: SyncSender<Vec<u8>>,
    recycled: Receiver<Vec<u8>>,
    thread: JoinHandle<Digest>,
}

impl BackgroundHasher {
    /// Starts a hasher for `algorithm`.
    pub fn new(algorithm: Algorithm) -> Self {
        let (queue, incoming) = mpsc::sync_channel::<Vec<u8>>(QUEUED);
        let (give_back, recycled) = mpsc::channel::<Vec<u8>>();
        let spawned = std::thread::Builder::new()
            .name("cra-hash".to_owned())
            .spawn(move || {
                let mut hasher = Hasher::new(algorithm);
                for mut chunk in incoming {
                    hasher.update(&chunk);
                    chunk.clear();
                    // The owner may be gone already (it only drops the queue after the last
                    // chunk); a chunk nobody takes back is simply freed.
                    let _ = give_back.send(chunk);
                }
                hasher.finish()
            });
        let mode = match spawned {
            Ok(thread) => Mode::Worker(Worker {
                current: Vec::with_capacity(CHUNK),
                queue,
                recycled,
                thread,
            }),
            Err(e) => {
                tracing::debug!("hashing inline, no thread: {e}");
                Mode::Inline(Hasher::new(algorithm))
            }
        };
        Self { mode }
    }

    /// Feeds bytes.
    pub fn update(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        let worker = match &mut self.mode {
            Mode::Inline(h) => {
                h.update(bytes);
                return Ok(());
            }
            Mode::Worker(w) => w,
        };
        while !bytes.is_empty() {
            let take = (CHUNK - worker.current.len()).min(bytes.len());
            worker.current.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if worker.current.len() == CHUNK {
                worker.send()?;
            }
        }
        Ok(())
    }

    /// The digest of everything fed, once the worker has caught up.
    pub fn finish(self) -> io::Result<Digest> {
        match self.mode {
            Mode::Inline(h) => Ok(h.finish()),
            Mode::Worker(mut w) => {
                if !w.current.is_empty() {
                    w.send()?;
                }
                drop(w.queue);
                w.thread.join().map_err(|_| worker_gone())
            }
        }
    }
}

impl Worker {
    fn send(&mut self) -> io::Result<()> {
        let next = self
            .recycled
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(CHUNK));
        let full = std::mem::replace(&mut self.current, next);
        self.queue.send(full).map_err(|_| worker_gone())
    }
}

fn worker_gone() -> io::Error {
    io::Error::other("the hashing thread stopped")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest_in_pieces(data: &[u8], piece: usize) -> Digest {
        let mut h = BackgroundHasher::new(Algorithm::Sha256);
        for p in data.chunks(piece) {
            h.update(p).unwrap();
        }
        h.finish().unwrap()
    }

    #[test]
    fn matches_the_inline_digest_whatever_the_piece_sizes() {
        let data: Vec<u8> = (0..(3 * CHUNK + 12_345))
            .map(|i| (i * 31 % 251) as u8)
            .collect();
        let want = Digest::sha256_of(&data);
        for piece in [1, 511, 4096, CHUNK - 1, CHUNK, CHUNK + 1, data.len()] {
            assert_eq!(digest_in_pieces(&data, piece), want, "piece {piece}");
        }
    }

    #[test]
    fn empty_input_and_sha512() {
        assert_eq!(digest_in_pieces(b"", 1), Digest::sha256_of(b""));
        let mut h = BackgroundHasher::new(Algorithm::Sha512);
        h.update(b"abc").unwrap();
        let mut inline = Hasher::new(Algorithm::Sha512);
        inline.update(b"abc");
        assert_eq!(h.finish().unwrap(), inline.finish());
    }
}
