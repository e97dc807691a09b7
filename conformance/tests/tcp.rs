//! The conformance suite against a daemon over TCP with a token: a fresh daemon per test.

postbox_conformance::conformance_tests!(tcp, postbox_conformance::TcpTransport::start());
