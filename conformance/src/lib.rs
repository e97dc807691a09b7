//! The postbox conformance suite: one behaviour suite, generic over transports.
//!
//! postbox promises one behaviour whatever the transport: a user cannot tell `inproc://`,
//! `unix://` and `tcp://` apart by what operations do or by the errors they return. This crate
//! is that promise, executable. Following iceoryx2's conformance tests, every case is a generic
//! function over a [`Transport`], and one macro, [`conformance_tests!`], instantiates every case as
//! a `#[test]` for a given transport. A transport's whole suite is one line:
//!
//! ```ignore
//! // conformance/tests/inproc.rs: a fresh in-process node per test
//! postbox_conformance::conformance_tests!(inproc, postbox_conformance::InprocTransport::new());
//! // conformance/tests/unix.rs: a fresh embedded daemon per test, reached through its socket
//! postbox_conformance::conformance_tests!(unix, postbox_conformance::UnixTransport::start());
//! // conformance/tests/shm.rs: the same, every payload attached as a sealed memfd, both ways
//! postbox_conformance::conformance_tests!(unix_shm, postbox_conformance::ShmTransport::start());
//! ```
//!
//! which yields tests named `<suite>::<concept>::<case>`, e.g.
//! `unix::capacity::drop_oldest_keeps_the_newest` (run one concept of one transport with
//! `cargo test -p postbox-conformance unix::rights`).
//!
//! # What is covered
//!
//! The user-visible contract of `docs/semantics.md`, through the public `postbox` API only, one module
//! of [`cases`] per concept:
//!
//! | module | what it pins |
//! |---|---|
//! | [`cases::smoke`] | one message each way; run first |
//! | [`cases::lifecycle`] | create / open / open_or_create / close / delete, names, stale handles |
//! | [`cases::capacity`] | zero (rendezvous), bounded, unbounded, `Full`, drop-oldest |
//! | [`cases::sizes`] | fixed (`WrongSize`), variable (`TooLarge`), `InvalidType` |
//! | [`cases::selectors`] | `Any` / `Type` / `NotType` / `TypeAtMost` / `From`, FIFO and priority order |
//! | [`cases::direct`] | `send_to`, `recv_from`, `recv_any`, the inbox bound, receipts, names |
//! | [`cases::rights`] | owner-only receive, grants, exclusive and pair `Busy` / `PeerGone`, `set_owner` |
//! | [`cases::dispatch`] | first-waiting and round-robin dispatch, receipts, rendezvous among waiting senders |
//! | [`cases::permissions`] | mode bits across uids, root's bypass |
//! | [`cases::termination`] | dropping a process: `Gone`, `PeerGone`, down notifications, `Disconnected` |
//! | [`cases::select`] | port sets over mailboxes and the inbox |
//! | [`cases::flavours`] | `*_timeout`, `*_deadline`, `*_async` |
//! | [`cases::batches`] | `send_batch` as that many sends, `recv_many` as that many receives, at every edge |
//! | [`cases::cancel`] | a dropped waiting `*_async` receive loses no message, on every transport |
//! | [`cases::leases`] | acknowledged receive: ack, nack, a dropped lease, a dead receiver, every flavour |
//! | [`cases::consumers`] | a window taken ahead on lease; what was not handed out goes back on stop, drop and death |
//! | [`cases::stats`] | `stat`, `list_mailboxes`, `node_stats`, `set_mode`, `set_max_bytes` |
//! | [`cases::limits`] | the queued-bytes quota, the per-uid mailbox quota |
//! | [`cases::services`] | `#[postbox::service]`: a typed client and serve loop over a mailbox and an inbox |
//! | [`cases::calls`] | call / reply / fail to a pid and a mailbox, revoked rights and late replies, `PeerGone`, no responders |
//! | [`cases::errors`] | readable `Display` for every error; every failed send hands its message back |
//!
//! Cases that need thread timing are kept few and deterministic: a case that needs an operation
//! to be blocked starts it on a scoped thread and polls `stat()` (`blocked_senders`,
//! `blocked_receivers`) or the process list (`waiting`) until it shows, never sleeping a guessed
//! amount.
//!
//! # Skipped cases
//!
//! A transport that cannot start processes as another uid ([`Transport::process_as`] returns
//! `None`, as [`UnixTransport`] does: the daemon learns the uid from the socket) skips the cases
//! that need several uids, printing the reason on stderr (`--nocapture` shows it). When its
//! processes also run as root, whose bypass would hide the checks, it skips the owner-only
//! administration cases too. Limits too large to reach quickly are skipped the same way.
//! [`InprocTransport`] impersonates any uid, so nothing is skipped on it.
//!
//! # Adding a transport
//!
//! Implement [`Transport`] — a fresh, isolated node per value (for a daemon: start one on a
//! unique socket in a temporary directory, stop it on drop, as [`UnixTransport`] does) — and add
//! one file of one line, as `tests/tcp.rs` is:
//!
//! ```ignore
//! postbox_conformance::conformance_tests!(tcp, postbox_conformance::TcpTransport::start());
//! ```
//!
//! Every case then runs against it; nothing in [`cases`] changes.
//!
//! # Adding a case
//!
//! Write a documented `pub fn case_name<T: Transport>(t: &T)` in the module of its concept and
//! list it in [`conformance_tests!`]; `tests/complete.rs` fails until both are done.

mod daemon;
mod inproc;
mod nodes;
mod support;

pub mod cases;

pub use daemon::{AttachedPayloads, ShmTransport, TcpTransport, TlsTransport, UnixTransport};
pub use inproc::InprocTransport;
pub use nodes::NodesTransport;

use postbox::{Credentials, Limits, Process};

/// Where a transport's processes and mailboxes live (see [`Transport::layout`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Layout {
    /// Processes and mailboxes on the one node their processes connect to:
    /// [`Process::node_stats`] counts everything.
    OneNode,
    /// Processes on node `processes`, mailboxes on node `mailboxes`: the processes are counted
    /// by `processes`' statistics (the other's hold only their proxies), everything else by
    /// the sum of both nodes' (a message into a mailbox counts on `mailboxes`, a direct one
    /// between processes on `processes`).
    Split {
        /// The node every process connects to.
        processes: &'static str,
        /// The node every mailbox lives on.
        mailboxes: &'static str,
    },
}

/// A way of reaching a postbox node: what the suite runs against.
///
/// A value is one node, fresh and isolated: the suite creates one per test and assumes it starts
/// with no mailboxes, no registered names and no processes but those the test starts. Processes
/// started from one value all reach the same node.
pub trait Transport {
    /// A short name for messages, e.g. `"inproc"`, `"unix"`, `"tcp"`.
    fn name(&self) -> &str;

    /// Starts a new process on this transport's node, running as whoever the transport runs as
    /// (the test's OS user for `inproc`, the socket peer's uid for a daemon).
    ///
    /// # Panics
    ///
    /// When the node cannot be reached: the suite cannot run at all.
    fn process(&self) -> Process;

    /// Starts a new process running as `creds`, or `None` when the transport cannot impersonate
    /// another user (a daemon takes the uid from the socket, never from the client). Cases that
    /// need several uids are skipped on `None`, with the reason printed.
    fn process_as(&self, creds: Credentials) -> Option<Process>;

    /// The limits the node enforces (message size, inbox capacity, quotas), which the limit cases
    /// check against.
    fn limits(&self) -> Limits;

    /// Where this transport's processes and mailboxes live: on one node (the default), or
    /// split over two. The cases that count a node's whole activity ([`cases::stats`]'
    /// `node_stats_count_the_whole_node`, say) read it through the statistics of every node
    /// involved, so that a count broken on either fails them.
    fn layout(&self) -> Layout {
        Layout::OneNode
    }

    /// Why this transport does not run case `case` of `concept`, when it does not: the case is
    /// then skipped with the reason printed. Every transport runs every case by default.
    fn unsupported(&self, concept: &str, case: &str) -> Option<&'static str> {
        let _ = (concept, case);
        None
    }
}

/// Instantiates every conformance case as a `#[test]` against one transport.
///
/// `conformance_tests!(suite, transport_expr)` makes a module `suite` with one submodule per
/// concept and one test per case; each test evaluates `transport_expr` afresh, so each gets its
/// own node. Write the expression with full paths (it is expanded inside nested modules).
///
/// ```ignore
/// postbox_conformance::conformance_tests!(inproc, postbox_conformance::InprocTransport::new());
/// ```
#[macro_export]
macro_rules! conformance_tests {
    ($suite:ident, $transport:expr) => {
        $crate::conformance_tests!(@expand $suite, $transport, {
            smoke: [
                smoke,
            ],
            lifecycle: [
                create_then_open_reach_one_mailbox,
                create_on_a_taken_name_is_already_exists,
                open_of_a_missing_name_is_not_found,
                names_outside_the_rule_are_invalid_name,
                open_or_create_creates_once_then_opens,
                racing_open_or_create_yields_one_mailbox,
                closing_a_handle_is_not_delete,
                delete_makes_every_handle_gone,
                deleted_name_is_reused_by_a_new_mailbox,
                delete_wakes_waiters_with_gone,
                only_the_owner_or_root_deletes,
            ],
            capacity: [
                zero_capacity_without_receiver_is_full,
                zero_capacity_send_waits_for_a_receiver,
                zero_capacity_try_send_meets_a_waiting_receiver,
                bounded_message_limit_fills_then_is_full,
                bounded_byte_limit_counts_payload_bytes,
                blocked_sender_enters_when_room_frees,
                unbounded_takes_beyond_the_default_limit,
                drop_oldest_keeps_the_newest,
                drop_oldest_in_priority_order_drops_the_lowest_priority,
                drop_oldest_fails_a_receipt_with_dropped,
                contradictory_capacity_is_invalid_attributes,
            ],
            sizes: [
                fixed_size_takes_exactly_its_size,
                variable_size_takes_up_to_its_maximum,
                byte_capacity_caps_the_message_size,
                impossible_sizes_are_invalid_attributes,
                direct_sends_above_the_maximum_are_too_large,
                types_below_one_are_invalid_type,
                payloads_types_and_priorities_arrive_intact,
            ],
            selectors: [
                any_takes_messages_in_fifo_order,
                type_takes_the_first_of_exactly_that_type,
                not_type_takes_the_first_of_another_type,
                type_at_most_takes_the_lowest_type_first,
                from_takes_one_senders_messages,
                from_a_terminated_sender_drains_then_is_peer_gone,
                priority_order_serves_highest_first,
                fifo_order_ignores_priority,
                selectors_scan_in_priority_order,
                a_blocked_selector_wakes_only_for_a_match,
                messages_go_to_the_receiver_they_match,
            ],
            direct: [
                send_to_reaches_recv_any,
                a_process_may_send_to_itself,
                recv_from_takes_only_that_senders_messages,
                inbox_supports_typed_receive,
                send_to_unknown_or_terminated_pids_fails,
                recv_from_a_terminated_peer_drains_then_is_peer_gone,
                a_full_inbox_makes_senders_wait,
                receipt_send_to_waits_until_taken,
                receipt_send_to_timeout_withdraws_the_message,
                registered_names_find_live_processes,
            ],
            rights: [
                owner_alone_receives_by_default,
                grant_and_revoke_receive,
                revoke_wakes_a_waiting_grantee,
                grants_need_the_owner_receivers_policy,
                only_the_owner_administers,
                exclusive_first_receiver_holds_the_right,
                exclusive_right_is_released_on_termination,
                pair_links_the_first_sender_and_receiver,
                pair_sender_leaving_is_peer_gone_for_the_receiver,
                pair_receiver_leaving_is_peer_gone_for_the_sender,
                set_owner_passes_ownership_on,
                a_passed_mailbox_dies_with_its_new_owner,
                set_owner_wakes_the_old_owners_receive,
            ],
            dispatch: [
                first_waiting_serves_the_longest_waiting,
                round_robin_rotates_among_the_waiting,
                each_message_goes_to_exactly_one_receiver,
                a_receipt_names_whoever_takes_the_message,
                a_waiting_receipt_fails_gone_on_delete,
                a_rendezvous_receiver_takes_waiting_senders_in_priority_order,
                a_rendezvous_receiver_selects_among_waiting_senders,
            ],
            permissions: [
                mode_bits_gate_open_send_and_receive,
                list_shows_only_usable_mailboxes,
                the_owning_uid_and_root_administer,
                root_bypasses_mode_bits,
                owner_only_receive_ignores_the_mode,
                grants_do_not_override_the_mode,
                a_mode_change_wakes_the_receivers_it_denies,
                system_owned_owner_receive_is_by_uid,
                open_or_create_without_permission_is_denied,
            ],
            termination: [
                the_owners_termination_deletes_its_mailboxes,
                the_owners_termination_wakes_waiters_with_gone,
                system_owned_mailboxes_outlive_their_creator,
                a_waiting_recv_from_gets_peer_gone,
                a_waiting_receipt_send_to_gets_peer_gone,
                a_waiting_rendezvous_into_a_dying_owners_mailbox_is_gone,
                monitors_get_a_down_notification_after_the_messages,
                the_down_notification_wakes_a_waiting_recv_from,
                monitor_edge_cases,
                every_monitor_is_notified,
                handles_outliving_their_process_are_disconnected,
                waiting_operations_of_a_terminated_process_are_disconnected,
                the_process_list_tracks_live_processes,
                a_down_notification_is_never_lost,
            ],
            select: [
                the_first_ready_branch_wins_and_takes_one_message,
                each_branch_has_its_own_selector,
                the_inbox_is_a_branch,
                nothing_ready_is_empty_or_timeout,
                a_past_deadline_still_takes_a_ready_message,
                a_waiting_select_wakes_for_any_branch,
                a_waiting_select_wakes_for_the_inbox,
                a_failing_branch_is_named,
                a_mailbox_may_appear_in_several_branches,
            ],
            flavours: [
                timeouts_fail_after_the_time_and_leave_nothing,
                past_deadlines_complete_only_what_is_ready,
                ready_async_operations_complete_on_their_own,
                a_waiting_async_receive_completes_on_send,
                an_async_rendezvous_names_its_receiver,
                dropping_a_waiting_future_withdraws_it,
                huge_timeouts_wait_like_blocking_calls,
                threads_of_one_process_blocked_at_once_each_get_their_answer,
                a_blocked_call_and_a_waiting_future_of_one_process_are_both_answered,
            ],
            batches: [
                a_batch_is_that_many_sends_in_order,
                try_send_batch_stops_at_full_and_hands_back_the_rest,
                a_failing_message_stops_the_batch_where_it_fails,
                a_blocking_batch_waits_for_room_message_by_message,
                a_timed_out_batch_hands_back_what_it_did_not_send,
                recv_many_takes_what_is_ready_up_to_its_maximum,
                recv_many_waits_for_the_first_message,
                recv_many_of_large_messages_loses_none,
                batch_futures_send_and_receive_in_order,
                pipelined_batches_keep_their_order_while_they_wait,
                a_waiting_batch_whose_mailbox_is_deleted_hands_everything_back,
            ],
            cancel: [
                a_dropped_mailbox_receive_loses_nothing,
                a_dropped_selective_or_many_receive_loses_nothing,
                a_dropped_inbox_receive_loses_nothing,
                a_dropped_lease_gives_the_message_back_at_once,
                a_dropped_select_loses_nothing,
                a_dropped_rendezvous_receive_loses_nothing,
                a_dropped_receive_of_a_down_notification_loses_nothing,
            ],
            leases: [
                an_acknowledged_lease_is_received_once,
                a_nacked_lease_goes_back_to_the_front,
                a_dropped_lease_or_a_dead_receiver_gives_the_message_back,
                lease_flavours_wait_as_receives_do,
            ],
            redelivery: [
                an_unsettled_lease_ends_after_the_lease_time,
                a_lease_settled_in_time_stays_settled,
                a_message_delivered_its_most_times_moves_to_the_dead_letter_mailbox,
            ],
            consumers: [
                a_consumer_receives_in_order,
                stopping_returns_what_was_not_handed_out,
                dropping_a_consumer_returns_too,
                a_dead_consumers_messages_go_back,
                what_was_handed_out_is_acknowledged_when_the_consumer_waits,
                a_consumer_receives_asynchronously,
                competing_consumers_lose_nothing_at_the_end,
                a_consumer_of_a_deleted_mailbox_gets_gone,
            ],
            stats: [
                stat_reports_attributes_owner_and_mode,
                stat_counts_messages_and_records_the_last_users,
                failed_and_withdrawn_sends_are_not_counted,
                openers_counts_processes,
                set_mode_changes_the_mode_and_change_time,
                set_max_bytes_changes_the_byte_limit,
                list_mailboxes_is_sorted_by_name,
                node_stats_count_the_whole_node,
                lowering_max_bytes_fails_senders_that_can_never_fit,
                the_process_list_says_what_each_process_waits_for,
            ],
            peek: [
                peek_shows_the_queue_in_receive_order_and_takes_nothing,
                peek_with_a_selector_shows_what_that_receive_would_take,
                peek_leaves_waiting_receivers_waiting,
                peek_needs_the_right_to_receive,
                a_peek_of_large_messages_is_bounded_by_one_answer,
            ],
            purge: [
                purge_drops_every_queued_message_and_counts_them,
                purge_lets_waiting_senders_in,
                purge_fails_waiting_receipts_with_dropped,
                only_the_owner_or_root_purges,
            ],
            limits: [
                the_queued_bytes_quota_is_enforced,
                the_mailboxes_per_uid_quota_is_enforced,
            ],
            broadcast: [
                three_members_each_get_every_message_in_order,
                a_broadcast_joiner_sees_only_later_messages,
                a_broadcast_with_no_members_is_dropped_and_counted,
                a_slow_member_blocks_the_broadcast_sender,
                broadcast_drop_oldest_loses_only_the_slow_members_oldest,
                a_members_death_releases_a_blocked_broadcast_sender,
                a_broadcast_rendezvous_completes_when_every_member_took_it,
                typed_broadcast_receive_is_per_member,
                broadcast_stats_count_messages_once_and_deliveries_each,
            ],
            services: [
                a_typed_service_answers_through_a_mailbox,
                a_typed_service_answers_through_an_inbox,
            ],
            calls: [
                a_call_to_a_pid_returns_the_reply,
                a_call_to_a_mailbox_is_answered_by_its_receiver,
                a_failed_request_carries_the_servers_bytes,
                a_late_reply_is_counted_and_never_delivered_to_a_later_call,
                a_timed_out_call_nobody_took_hands_its_request_back,
                a_dropped_call_future_withdraws_or_revokes,
                a_servers_death_fails_its_calls_at_once,
                a_call_nobody_can_answer_fails_at_once,
                a_callers_death_revokes_the_reply_right,
                a_second_reply_is_refused,
                only_the_receiver_may_reply,
                queued_requests_of_a_deleted_or_purged_mailbox_fail_their_calls,
                peek_shows_requests_without_the_right_to_answer,
                a_full_mailbox_makes_the_call_wait_under_its_deadline,
                a_dropped_receive_keeps_the_request_it_took,
            ],
            errors: [
                every_error_displays_as_lowercase_human_text,
                every_failed_send_hands_the_message_back,
                errors_from_the_transport_read_well,
            ],
        });
    };
    (@expand $suite:ident, $transport:expr, {
        $($concept:ident: [$($case:ident),* $(,)?]),* $(,)?
    }) => {
        #[allow(unused_imports)]
        mod $suite {
            use super::*;
            $(
                mod $concept {
                    use super::*;
                    $(
                        #[test]
                        fn $case() {
                            let transport = $transport;
                            let (concept, case) = (stringify!($concept), stringify!($case));
                            if let Some(reason) =
                                $crate::Transport::unsupported(&transport, concept, case)
                            {
                                eprintln!(
                                    "conformance: {concept}::{case} skipped on {}: {reason}",
                                    $crate::Transport::name(&transport)
                                );
                                return;
                            }
                            $crate::cases::$concept::$case(&transport);
                        }
                    )*
                }
            )*
        }
    };
}
