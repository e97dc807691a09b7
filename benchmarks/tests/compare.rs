//! The `compare` program end to end: real processes, real files.

use std::path::Path;
use std::process::Command;

fn compare(args: &[&str], out: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_compare"))
        .args(args)
        .arg("--out")
        .arg(out)
        .output()
        .expect("the compare binary runs")
}

#[test]
fn a_small_comparison_measures_every_case_and_writes_every_file() {
    let out = tempfile::tempdir().unwrap();
    let run = compare(
        &[
            "--smoke",
            "--only",
            "unix stream,crossbeam,postbox unix://",
            "--sizes",
            "64",
        ],
        out.path(),
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    for file in [
        "results.md",
        "results.json",
        "latency.svg",
        "throughput.svg",
    ] {
        assert!(out.path().join(file).exists(), "{file} missing; {stderr}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("results.json")).unwrap())
            .unwrap();
    let cases = json["cases"].as_array().unwrap();
    // 3 mechanisms × 4 workloads × 2 series × 1 size.
    assert_eq!(cases.len(), 24);
    for case in cases {
        let status = case["outcome"]["status"].as_str().unwrap();
        let stream_without_queue = case["mechanism"] == "unix stream"
            && (case["workload"] == "fan-in" || case["workload"] == "competing");
        if stream_without_queue {
            assert_eq!(status, "unsupported", "{case}");
            assert_eq!(case["outcome"]["reason"], "no shared queue");
        } else {
            assert_eq!(status, "measured", "{case}");
            assert_eq!(case["outcome"]["repetitions"].as_array().unwrap().len(), 1);
        }
    }
    let markdown = std::fs::read_to_string(out.path().join("results.md")).unwrap();
    assert!(
        markdown.contains("| unix stream | n/a: no shared queue |"),
        "{markdown}"
    );
    assert!(markdown.contains("## Targets"), "{markdown}");
    assert!(json["machine"]["cpu_model"].is_string());
}

#[test]
fn the_call_row_is_measured_beside_send_and_receive_and_judged_against_it() {
    let out = tempfile::tempdir().unwrap();
    let run = compare(
        &[
            "--smoke",
            "--only",
            "postbox unix://,postbox unix:// call",
            "--sizes",
            "64",
            "--series",
            "cross-CPU",
        ],
        out.path(),
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("results.json")).unwrap())
            .unwrap();
    let calls: Vec<_> = json["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|case| case["mechanism"] == "postbox unix:// call")
        .collect();
    assert_eq!(calls.len(), 4, "one case per workload");
    for case in calls {
        let status = case["outcome"]["status"].as_str().unwrap();
        if case["workload"] == "ping-pong" {
            assert_eq!(status, "measured", "{case}");
        } else {
            assert_eq!(status, "unsupported", "{case}");
        }
    }
    let markdown = std::fs::read_to_string(out.path().join("results.md")).unwrap();
    assert!(
        markdown.contains("RTT p50: postbox unix:// call ÷ postbox unix:// ≤ 1.1×"),
        "{markdown}"
    );
}

#[test]
fn the_node_link_row_crosses_two_real_daemons_and_is_judged_against_tcp() {
    // The real `postbox` binary: $POSTBOX_BIN, else the one beside `compare` (a workspace build
    // or `cargo test` at the root makes it).
    let beside = Path::new(env!("CARGO_BIN_EXE_compare")).with_file_name("postbox");
    assert!(
        std::env::var_os("POSTBOX_BIN").is_some() || beside.is_file(),
        "no postbox binary at {}: build it (cargo build -p postbox-cli) or set POSTBOX_BIN",
        beside.display()
    );
    let out = tempfile::tempdir().unwrap();
    let run = compare(
        &[
            "--smoke",
            "--only",
            "postbox tcp://,postbox node link",
            "--sizes",
            "64",
            "--series",
            "cross-CPU",
        ],
        out.path(),
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("results.json")).unwrap())
            .unwrap();
    let links: Vec<_> = json["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|case| case["mechanism"] == "postbox node link")
        .collect();
    assert_eq!(links.len(), 4, "one case per workload");
    for case in links {
        let status = case["outcome"]["status"].as_str().unwrap();
        if case["workload"] == "ping-pong" || case["workload"] == "throughput" {
            assert_eq!(status, "measured", "{case}");
        } else {
            assert_eq!(status, "unsupported", "{case}");
        }
    }
    let markdown = std::fs::read_to_string(out.path().join("results.md")).unwrap();
    for text in [
        "throughput: postbox node link ÷ postbox tcp:// ≥ 0.5×",
        "RTT p50: postbox node link ÷ postbox tcp:// ≤ 2.5×",
        "## postbox node link ÷ postbox tcp://",
        "| ping-pong | cross-CPU | 64 B | RTT p50 ",
        "| throughput | cross-CPU | 64 B | messages/s ",
    ] {
        assert!(markdown.contains(text), "no {text:?} in\n{markdown}");
    }
}

#[test]
fn an_unknown_mechanism_is_refused_with_the_list() {
    let out = tempfile::tempdir().unwrap();
    let run = compare(&["--only", "carrier pigeon"], out.path());
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("no mechanism matches"), "{stderr}");
    assert!(stderr.contains("unix stream"), "{stderr}");
}
