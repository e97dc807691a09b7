//! Runs the comparison (placeholder until the harness lands).

fn main() {}
