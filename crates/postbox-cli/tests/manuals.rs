//! Shell completions and manual pages, generated from the command line's definition.

mod support;

use support::{command, run_command};

fn postbox(args: &[&str]) -> support::Out {
    run_command(command(args), None)
}

/// Every command `postbox --help` lists.
fn commands() -> Vec<String> {
    let help = postbox(&["--help"]).ok();
    let listed = help
        .split("Commands:")
        .nth(1)
        .expect("a command list")
        .split("Options:")
        .next()
        .expect("the list");
    listed
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

#[test]
fn completions_cover_every_command_in_each_shell() {
    let names = commands();
    assert!(
        names.contains(&"recv".to_owned()) && names.len() > 10,
        "{names:?}"
    );
    for (shell, marker) in [
        ("bash", "_postbox()"),
        ("zsh", "#compdef postbox"),
        ("fish", "complete -c postbox"),
    ] {
        let script = postbox(&["completions", shell]).ok();
        assert!(script.contains(marker), "{shell}: no {marker:?}");
        for name in &names {
            assert!(script.contains(name.as_str()), "{shell}: no {name}");
        }
    }
}

#[test]
fn completions_for_an_unknown_shell_or_with_a_url_are_usage_errors() {
    postbox(&["completions", "tcsh"]).code(2);
    postbox(&["--url", "unix:///nowhere", "completions", "bash"]).code(2);
}

#[test]
fn man_writes_a_page_for_postbox_and_each_command() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let out = dir.path().join("man1");
    postbox(&["man", out.to_str().expect("utf-8 path")]).code(0);
    let main = std::fs::read_to_string(out.join("postbox.1")).expect("postbox.1");
    assert!(main.contains(".TH postbox 1"), "{main}");
    for name in commands() {
        let page = std::fs::read_to_string(out.join(format!("postbox-{name}.1")))
            .unwrap_or_else(|e| panic!("postbox-{name}.1: {e}"));
        assert!(page.contains(&format!(".TH postbox-{name} 1")), "{page}");
        assert!(
            page.contains(&format!("postbox {name}")),
            "synopsis of {name}"
        );
    }
}

#[test]
fn man_into_a_place_it_cannot_write_says_where() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a directory").expect("write");
    let out = postbox(&["man", file.to_str().expect("utf-8 path")]).code(1);
    assert!(out.stderr.contains("a-file"), "{}", out.stderr);
}
