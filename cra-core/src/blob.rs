//! The blob stream type that [`Registry::fetch_blob`](crate::Registry::fetch_blob) returns.

use std::pin::Pin;

use bytes::Bytes;
use futures_core::Stream;

use crate::error::RegistryError;

/// A stream of blob bytes; an error item ends it.
pub type BlobStream = Pin<Box<dyn Stream<Item = Result<Bytes, RegistryError>> + Send + 'static>>;
