//! Examples are listed as `[[example]]` targets.
