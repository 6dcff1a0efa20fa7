//! One adapter per registry type; each adds only auth, listing and quirks to the shared
//! [`distribution::Client`](crate::distribution::Client).

pub mod generic;

pub use generic::Generic;
