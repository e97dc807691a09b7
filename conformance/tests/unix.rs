//! The conformance suite against a daemon through its Unix socket: a fresh daemon per test.

postbox_conformance::conformance_tests!(unix, postbox_conformance::UnixTransport::start());
