//! A blob stream that hashes and counts what passes through it.
//!
//! The stream ends with a [`ErrorKind::DigestMismatch`] error when the content does not hash to
//! the digest, and with [`ErrorKind::TooLarge`] as soon as it passes the size limit; the bytes
//! before that are passed on, so the consumer must treat the error as "discard everything".
//!
//! [`ErrorKind::DigestMismatch`]: cra_core::ErrorKind::DigestMismatch
//! [`ErrorKind::TooLarge`]: cra_core::ErrorKind::TooLarge

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use cra_core::digest::Hasher;
use cra_core::{Digest, RegistryError};
use futures_util::Stream;

use crate::error::Error;

/// Wraps a byte stream with digest and size checks.
pub(crate) struct Verified<S> {
    inner: S,
    hasher: Option<Hasher>,
    expected: Digest,
    seen: u64,
    max_size: Option<u64>,
    what: String,
    done: bool,
}

impl<S> std::fmt::Debug for Verified<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verified")
            .field("expected", &self.expected)
            .field("seen", &self.seen)
            .finish_non_exhaustive()
    }
}

impl<S> Verified<S> {
    /// Checks `inner` against `expected` and `max_size`; `what` names the blob in errors.
    pub(crate) fn new(inner: S, expected: Digest, max_size: Option<u64>, what: String) -> Self {
        Verified {
            inner,
            hasher: Some(expected.hasher()),
            expected,
            seen: 0,
            max_size,
            what,
            done: false,
        }
    }

    fn fail(&mut self, e: Error) -> Poll<Option<Result<Bytes, RegistryError>>> {
        self.done = true;
        Poll::Ready(Some(Err(e.into())))
    }
}

impl<S, E> Stream for Verified<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Into<Error>,
{
    type Item = Result<Bytes, RegistryError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Err(e))) => self.fail(e.into()),
            Poll::Ready(Some(Ok(chunk))) => {
                self.seen += chunk.len() as u64;
                if let Some(limit) = self.max_size {
                    if self.seen > limit {
                        let what = self.what.clone();
                        return self.fail(Error::TooLarge { what, limit });
                    }
                }
                if let Some(h) = self.hasher.as_mut() {
                    h.update(&chunk);
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(None) => {
                self.done = true;
                let actual = match self.hasher.take() {
                    Some(h) => h.finish(),
                    None => return Poll::Ready(None),
                };
                if actual == self.expected {
                    Poll::Ready(None)
                } else {
                    let e = Error::DigestMismatch {
                        what: self.what.clone(),
                        expected: self.expected.clone(),
                        actual,
                    };
                    Poll::Ready(Some(Err(e.into())))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cra_core::ErrorKind;
    use futures_util::{stream, StreamExt};

    async fn collect(
        chunks: &[&'static [u8]],
        expected: Digest,
        max: Option<u64>,
    ) -> Vec<Result<Bytes, RegistryError>> {
        let inner = stream::iter(
            chunks
                .iter()
                .map(|c| Ok::<_, Error>(Bytes::from_static(c)))
                .collect::<Vec<_>>(),
        );
        Verified::new(inner, expected, max, "blob".into())
            .collect()
            .await
    }

    #[tokio::test]
    async fn passes_good_content() {
        let items = collect(
            &[b"hello ", b"world"],
            Digest::sha256_of(b"hello world"),
            Some(11),
        )
        .await;
        assert_eq!(items.len(), 2);
        assert!(items.iter().all(Result::is_ok));
    }

    #[tokio::test]
    async fn last_item_is_digest_mismatch() {
        let items = collect(
            &[b"hello ", b"world"],
            Digest::sha256_of(b"hello there"),
            None,
        )
        .await;
        assert_eq!(items.len(), 3);
        let err = items.last().unwrap().as_ref().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::DigestMismatch);
        assert!(err
            .to_string()
            .contains(&Digest::sha256_of(b"hello world").to_string()));
    }

    #[tokio::test]
    async fn stops_past_the_limit() {
        let items = collect(
            &[b"12345", b"67890", b"abc"],
            Digest::sha256_of(b"1234567890abc"),
            Some(7),
        )
        .await;
        assert_eq!(items.len(), 2, "no item after the size error");
        assert_eq!(items[1].as_ref().unwrap_err().kind(), ErrorKind::TooLarge);
    }
}
