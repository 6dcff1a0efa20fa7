//! Page cursors as `/list-paginated` hands them out and takes them back: the registry adapter's
//! own cursor (a URL path, a page number, a vendor token), base64url-encoded without padding.
//!
//! The encoding gives cursors a form the OpenAPI document states exactly ([`MAX_LEN`] characters
//! of `A-Z a-z 0-9 - _`), so that a client can tell a well-formed cursor from a malformed one
//! before asking: a malformed one is answered 400, and a well-formed one the agent did not issue
//! (or one the registry no longer knows) names no page, and is answered 404 `page_not_found`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use crate::agent::error::ApiError;

/// The longest cursor the agent takes.
pub const MAX_LEN: usize = 4096;

/// The cursor the agent hands out for the adapter's `next`.
pub fn encode(adapter_cursor: &str) -> String {
    URL_SAFE_NO_PAD.encode(adapter_cursor)
}

/// The adapter's cursor inside `cursor`; 400 when `cursor` does not have the documented form,
/// 404 `page_not_found` when it has it but holds no cursor.
pub fn decode(cursor: &str) -> Result<String, ApiError> {
    let well_formed = (1..=MAX_LEN).contains(&cursor.len())
        && cursor
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
    if !well_formed {
        return Err(ApiError::bad_request(format!(
            "cursor must be 1 to {MAX_LEN} characters of A-Z, a-z, 0-9, '-' and '_'"
        )));
    }
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .filter(|inner| !inner.is_empty())
        .ok_or_else(ApiError::page_not_found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_have_the_documented_form() {
        for inner in ["/v2/a/tags/list?last=x&n=2", "7", "tok/+=?&é"] {
            let cursor = encode(inner);
            assert!(cursor
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            assert_eq!(decode(&cursor).unwrap(), inner);
        }
    }

    #[test]
    fn malformed_cursors_are_400_and_well_formed_strangers_404() {
        for bad in ["", "a b", "abc=", "a/b", "a+b", &"A".repeat(MAX_LEN + 1)] {
            assert_eq!(decode(bad).unwrap_err().status, 400, "{bad:?}");
        }
        // One character cannot be base64; `_w` decodes to a byte that is not UTF-8.
        for stranger in ["A", "_w", "AAAAA"] {
            let err = decode(stranger).unwrap_err();
            assert_eq!((err.status.as_u16(), err.code), (404, "page_not_found"));
        }
    }
}
