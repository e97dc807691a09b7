//! The conformance suite against a daemon over TLS with a token: a fresh daemon, CA and
//! certificate per test.

postbox_conformance::conformance_tests!(tls, postbox_conformance::TlsTransport::start());
