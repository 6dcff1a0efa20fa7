//! The text format's field formatter: every message and field value is escaped, so text from
//! images and registries cannot end a log line early or send terminal escape sequences.

use std::fmt;

use cra_core::text::escape_untrusted;
use tracing::field::Field;
use tracing_subscriber::field::MakeExt;
use tracing_subscriber::fmt::format::{debug_fn, Writer};
use tracing_subscriber::fmt::FormatFields;

/// `message` first as it is, then `name=value` pairs separated by spaces, all escaped.
pub(super) fn escaping() -> impl for<'w> FormatFields<'w> + Send + Sync + 'static {
    debug_fn(write_field).delimited(" ")
}

fn write_field(writer: &mut Writer<'_>, field: &Field, value: &dyn fmt::Debug) -> fmt::Result {
    // `Debug` of a message is its text; of a `%display` field, its `Display`; of a `?debug`
    // field, its `Debug`, which for strings is already quoted and escaped.
    let text = format!("{value:?}");
    match field.name() {
        "message" => write!(writer, "{}", escape_untrusted(&text)),
        name => write!(
            writer,
            "{}={}",
            name.trim_start_matches("r#"),
            escape_untrusted(&text)
        ),
    }
}
