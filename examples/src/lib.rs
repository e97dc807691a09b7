//! Runnable examples of postbox; see the `[[example]]` targets (`cargo run --example NAME`).
