//! Log output captured in memory, to check what the code under test logs.

use std::sync::{Arc, Mutex};

use tracing::subscriber::DefaultGuard;

/// Captures everything logged on this thread at `level` or above, until dropped.
///
/// Tests on the default single-threaded tokio runtime capture their spawned tasks too.
pub struct CapturedLogs {
    buffer: Buffer,
    _guard: DefaultGuard,
}

impl CapturedLogs {
    /// Starts capturing.
    pub fn start(level: tracing::Level) -> Self {
        Self::start_filtered(&level.to_string())
    }

    /// Starts capturing what an `EnvFilter` directive such as `warn,cra_broker=trace` lets through.
    pub fn start_filtered(directives: &str) -> Self {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(directives))
            .with_writer(move || writer.clone())
            .finish();
        Self {
            buffer,
            _guard: tracing::subscriber::set_default(subscriber),
        }
    }

    /// What was logged so far.
    pub fn text(&self) -> String {
        let bytes = self.buffer.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("log buffer poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
