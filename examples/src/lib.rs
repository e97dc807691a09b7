//! Runnable examples of postbox; see the `[[example]]` targets (`cargo run --example NAME`).
//!
//! What an example shares with tests lives here: [`chat`], the room that `cargo run --example
//! chat` talks in.

pub mod chat;
