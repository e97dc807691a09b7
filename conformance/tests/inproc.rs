//! The conformance suite against the in-process transport: a fresh `InprocNode` per test.

postbox_conformance::conformance_tests!(inproc, postbox_conformance::InprocTransport::new());
