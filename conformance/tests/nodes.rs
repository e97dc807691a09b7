//! The conformance suite across two nodes: every process on node `a`, every mailbox on node
//! `b`, linked over mutual TLS; a fresh pair per test.

postbox_conformance::conformance_tests!(nodes, postbox_conformance::NodesTransport::start());
