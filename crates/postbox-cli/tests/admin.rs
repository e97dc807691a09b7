//! `create`, `open`, `rm`, `set`, `ls`, `stat` and `ps` through the real binary and a real daemon.

mod support;

use support::Daemon;

#[test]
fn create_passes_every_attribute_to_the_daemon() {
    let daemon = Daemon::start();
    daemon
        .run(&[
            "create",
            "jobs",
            "--capacity",
            "8",
            "--max-bytes",
            "64KiB",
            "--size",
            "max:1KiB",
            "--order",
            "priority",
            "--overflow",
            "drop-oldest",
            "--receivers",
            "round-robin",
            "--mode",
            "0640",
        ])
        .code(0);
    let stats = daemon.stat("jobs");
    let attrs = &stats["attrs"];
    assert_eq!(attrs["capacity"]["Bounded"]["messages"], 8);
    assert_eq!(attrs["capacity"]["Bounded"]["bytes"], 64 << 10);
    assert_eq!(attrs["size"]["Variable"], 1 << 10);
    assert_eq!(attrs["order"], "Priority");
    assert_eq!(attrs["overflow"], "DropOldest");
    assert_eq!(attrs["receivers"]["Shared"], "RoundRobin");
    assert_eq!(
        attrs["ownership"], "System",
        "the CLI creates system-owned mailboxes"
    );
    assert_eq!(stats["mode"], 0o640);
    assert!(stats["owner"]["System"].is_object(), "{stats}");
}

#[test]
fn create_defaults_follow_the_semantics_table_for_system_owned_mailboxes() {
    let daemon = Daemon::start();
    daemon.run(&["create", "plain"]).code(0);
    daemon
        .run(&[
            "create",
            "meet",
            "--capacity",
            "zero",
            "--receivers",
            "pair",
        ])
        .code(0);
    daemon
        .run(&[
            "create",
            "all",
            "--capacity",
            "unbounded",
            "--size",
            "fixed:16",
        ])
        .code(0);
    let plain = daemon.stat("plain");
    assert_eq!(plain["attrs"]["capacity"]["Bounded"]["messages"], 64);
    assert_eq!(plain["attrs"]["capacity"]["Bounded"]["bytes"], 1 << 20);
    assert_eq!(plain["attrs"]["receivers"]["Shared"], "FirstWaiting");
    assert_eq!(plain["attrs"]["order"], "Fifo");
    assert_eq!(plain["mode"], 0o600);
    assert_eq!(daemon.stat("meet")["attrs"]["capacity"], "Zero");
    assert_eq!(daemon.stat("meet")["attrs"]["receivers"], "Pair");
    assert_eq!(daemon.stat("all")["attrs"]["capacity"], "Unbounded");
    assert_eq!(daemon.stat("all")["attrs"]["size"]["Fixed"], 16);
}

#[test]
fn create_refuses_a_taken_name_and_contradictory_attributes_with_exit_1() {
    let daemon = Daemon::start();
    daemon.run(&["create", "jobs"]).code(0);
    let taken = daemon.run(&["create", "jobs"]).code(1);
    assert!(taken.stderr.contains("already exists"), "{}", taken.stderr);
    let contradiction = daemon
        .run(&[
            "create",
            "odd",
            "--capacity",
            "zero",
            "--overflow",
            "drop-oldest",
        ])
        .code(1);
    assert!(
        contradiction.stderr.contains("invalid attributes"),
        "{}",
        contradiction.stderr
    );
}

#[test]
fn open_checks_existence_and_or_create_creates_once() {
    let daemon = Daemon::start();
    daemon.run(&["open", "jobs"]).code(5);
    daemon
        .run(&["open", "jobs", "--or-create", "--capacity", "3"])
        .code(0);
    daemon.run(&["open", "jobs"]).code(0);
    // Attributes are ignored when it exists.
    daemon
        .run(&["open", "jobs", "--or-create", "--capacity", "9"])
        .code(0);
    assert_eq!(
        daemon.stat("jobs")["attrs"]["capacity"]["Bounded"]["messages"],
        3
    );
}

#[test]
fn rm_deletes_and_a_second_rm_is_not_found_exit_5() {
    let daemon = Daemon::start();
    daemon.run(&["create", "jobs"]).code(0);
    daemon.run(&["rm", "jobs"]).code(0);
    let gone = daemon.run(&["rm", "jobs"]).code(5);
    assert!(gone.stderr.contains("jobs"), "{}", gone.stderr);
    daemon.run(&["stat", "jobs"]).code(5);
    // The name is free again at once.
    daemon.run(&["create", "jobs"]).code(0);
}

#[test]
fn ls_prints_an_aligned_table_and_json() {
    let daemon = Daemon::start();
    let empty = daemon.run(&["ls"]).ok();
    assert_eq!(empty.lines().count(), 1, "only the header: {empty}");
    daemon
        .run(&["create", "beta", "--capacity", "zero"])
        .code(0);
    daemon
        .run(&["create", "alpha-with-a-long-name", "--capacity", "4"])
        .code(0);
    daemon
        .run(&["send", "alpha-with-a-long-name", "hello"])
        .code(0);
    let table = daemon.run(&["ls"]).ok();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(lines[0].starts_with("NAME "), "{table}");
    assert!(
        lines[1].starts_with("alpha-with-a-long-name  "),
        "sorted by name: {table}"
    );
    assert!(lines[2].starts_with("beta "), "{table}");
    // Every column starts at the same offset on every line.
    let column = lines[0].find("MSGS").unwrap() + "MSGS".len();
    assert_eq!(&lines[1][column - 1..column], "1", "{table}");
    assert_eq!(&lines[2][column - 1..column], "0", "{table}");
    assert!(
        lines[1].contains("4 msgs, 1MiB") && lines[2].contains("zero"),
        "{table}"
    );

    let json = daemon.run(&["ls", "--json"]).code(0).json();
    let names: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alpha-with-a-long-name", "beta"]);
    assert_eq!(json[0]["messages"], 1);
    assert_eq!(json[0]["bytes"], 5);
}

#[test]
fn stat_shows_a_mailbox_and_without_a_name_the_node() {
    let daemon = Daemon::start();
    daemon.run(&["create", "jobs"]).code(0);
    daemon.run(&["send", "jobs", "12345"]).code(0);
    let text = daemon.run(&["stat", "jobs"]).ok();
    for expected in [
        "name",
        "jobs",
        "capacity",
        "64 msgs, 1MiB",
        "receivers",
        "shared",
        "messages",
        "last send",
        "blocked senders",
    ] {
        assert!(text.contains(expected), "stat lacks {expected:?}: {text}");
    }
    let stats = daemon.stat("jobs");
    assert_eq!(
        (stats["messages"].as_u64(), stats["bytes"].as_u64()),
        (Some(1), Some(5))
    );
    assert_eq!(stats["total_sent"], 1);
    assert_eq!(
        stats["openers"], 0,
        "stat must not count itself as an opener"
    );

    let node = daemon.run(&["stat", "--json"]).code(0).json();
    assert_eq!(node["mailboxes"], 1);
    assert_eq!(node["queued_messages"], 1);
    assert_eq!(node["processes"], 1, "only the stat command itself");
    let text = daemon.run(&["stat"]).ok();
    assert!(
        text.contains("processes") && text.contains("queued bytes"),
        "{text}"
    );
    daemon.run(&["stat", "missing"]).code(5);
}

#[test]
fn set_changes_mode_byte_limit_and_owner() {
    let daemon = Daemon::start();
    daemon.run(&["create", "jobs", "--mode", "0600"]).code(0);
    daemon
        .run(&["set", "jobs", "--mode", "0666", "--max-bytes", "2MiB"])
        .code(0);
    let stats = daemon.stat("jobs");
    assert_eq!(stats["mode"], 0o666);
    assert_eq!(stats["attrs"]["capacity"]["Bounded"]["bytes"], 2 << 20);
    let gid = stats["gid"].as_u64().unwrap();
    daemon.run(&["set", "jobs", "--owner", "4242"]).code(0);
    let stats = daemon.stat("jobs");
    assert_eq!(stats["owner"]["System"]["uid"], 4242);
    assert_eq!(
        stats["owner"]["System"]["gid"], gid,
        "without :GID the group stays"
    );
    daemon.run(&["set", "jobs", "--owner", "4242:77"]).code(0);
    assert_eq!(daemon.stat("jobs")["gid"], 77);
    daemon.run(&["set", "missing", "--mode", "0600"]).code(5);
}

#[test]
fn set_max_bytes_on_a_mailbox_without_a_byte_limit_is_an_error_exit_1() {
    let daemon = Daemon::start();
    daemon
        .run(&["create", "meet", "--capacity", "zero"])
        .code(0);
    let out = daemon.run(&["set", "meet", "--max-bytes", "1KiB"]).code(1);
    assert!(out.stderr.contains("invalid argument"), "{}", out.stderr);
}

#[test]
fn ps_lists_live_processes_with_their_names() {
    let daemon = Daemon::start();
    let worker = daemon.spawn(&["recv", "--inbox", "--as", "worker"]);
    let pid = worker.announced_pid();
    let table = daemon.run(&["ps"]).ok();
    assert!(table.lines().next().unwrap().starts_with("PID"), "{table}");
    let row = table
        .lines()
        .find(|line| line.contains("worker"))
        .unwrap_or_else(|| panic!("worker missing: {table}"));
    assert_eq!(
        row.split_whitespace().next(),
        Some(pid.to_string().as_str()),
        "{table}"
    );
    let json = daemon.run(&["ps", "--json"]).code(0).json();
    let listed = json.as_array().unwrap();
    assert_eq!(listed.len(), 2, "the worker and ps itself: {json}");
    let entry = listed.iter().find(|p| p["pid"] == pid).unwrap();
    assert_eq!(entry["name"], "worker");
}

#[test]
fn create_sets_redelivery_and_stat_shows_it() {
    let daemon = Daemon::start();
    daemon.run(&["create", "dead"]).code(0);
    daemon
        .run(&[
            "create",
            "jobs",
            "--lease-time",
            "30s",
            "--max-deliveries",
            "5",
            "--dead-letter",
            "dead",
        ])
        .code(0);
    let stats = daemon.stat("jobs");
    let redelivery = &stats["attrs"]["redelivery"];
    assert_eq!(redelivery["lease_time"]["secs"], 30);
    assert_eq!(redelivery["max_deliveries"], 5);
    assert_eq!(redelivery["dead_letter"], daemon.stat("dead")["id"]);
    assert_eq!(
        (stats["leased"].as_u64(), stats["dead_lettered"].as_u64()),
        (Some(0), Some(0))
    );

    let text = daemon.run(&["stat", "jobs"]).ok();
    for line in [
        "lease time",
        "30s",
        "max deliveries",
        "5",
        "dead letter",
        "dead",
    ] {
        assert!(text.contains(line), "{line:?} in\n{text}");
    }
}

#[test]
fn a_dead_letter_mailbox_must_exist_and_needs_max_deliveries() {
    let daemon = Daemon::start();
    let missing = daemon
        .run(&[
            "create",
            "jobs",
            "--max-deliveries",
            "3",
            "--dead-letter",
            "nowhere",
        ])
        .code(5);
    assert!(
        missing
            .stderr
            .contains("cannot open the dead-letter mailbox nowhere (create it first)"),
        "{}",
        missing.stderr
    );
    daemon.run(&["create", "dead"]).code(0);
    let usage = daemon
        .run(&["create", "jobs", "--dead-letter", "dead"])
        .code(2);
    assert!(
        usage.stderr.contains("--max-deliveries"),
        "{}",
        usage.stderr
    );
    let zero = daemon
        .run(&["create", "jobs", "--lease-time", "0s"])
        .code(1);
    assert!(
        zero.stderr.contains("lease time must be above zero"),
        "{}",
        zero.stderr
    );
}

#[test]
fn ps_shows_os_pids_command_lines_and_what_each_process_waits_for() {
    let daemon = Daemon::start();
    daemon.run(&["create", "full", "--capacity", "1"]).code(0);
    daemon.run(&["send", "full", "x"]).code(0);
    let worker = daemon.spawn(&["recv", "--inbox", "--as", "worker"]);
    let pid = worker.announced_pid();
    let sender = daemon.spawn(&["send", "full", "waits for room"]);
    daemon.wait_for_stat("full", "blocked_senders", 1);
    daemon.wait_until_waiting(pid);

    let json = daemon.run(&["ps", "--json"]).code(0).json();
    let listed = json.as_array().unwrap();
    let find = |os_pid: u32| {
        listed
            .iter()
            .find(|p| p["os_pid"] == os_pid)
            .unwrap_or_else(|| panic!("OS pid {os_pid} is not listed: {json}"))
    };
    let entry = find(worker.os_pid());
    assert_eq!(entry["pid"], pid);
    let command = entry["command"].as_str().expect("a command line");
    assert!(command.starts_with(support::BIN), "{command}");
    assert!(command.ends_with(" recv --inbox --as worker"), "{command}");
    let waits = entry["waits"].as_array().unwrap();
    assert_eq!(waits.len(), 1, "{json}");
    assert_eq!(waits[0]["kind"], "Recv");
    assert_eq!(waits[0]["on"], serde_json::json!(["Inbox"]));
    assert!(waits[0]["since"].as_u64() > Some(0));

    let entry = find(sender.os_pid());
    assert!(
        entry["command"]
            .as_str()
            .unwrap()
            .ends_with(" send full waits for room")
    );
    assert_eq!(entry["waits"][0]["kind"], "Send");
    assert_eq!(
        entry["waits"][0]["on"],
        serde_json::json!([{"Mailbox": "full"}])
    );

    // The table: the OS pid beside the postbox pid, what it waits for, the command last.
    let table = daemon.run(&["ps"]).ok();
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "PID", "OS-PID", "NAME", "UID", "GID", "INBOX", "OWNS", "WAITING", "COMMAND"
        ]
    );
    let row = table
        .lines()
        .find(|line| line.contains("worker"))
        .unwrap_or_else(|| panic!("worker missing: {table}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        cells[..3],
        [
            pid.to_string().as_str(),
            &worker.os_pid().to_string(),
            "worker"
        ]
    );
    assert!(row.contains("recv inbox "), "{row}");
    assert!(row.ends_with("recv --inbox --as worker"), "{row}");
    let row = table
        .lines()
        .find(|line| line.contains("send full"))
        .unwrap();
    assert!(row.contains(" send full "), "{row}");
    drop(sender);
    drop(worker);
}
