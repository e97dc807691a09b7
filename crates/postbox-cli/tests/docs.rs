//! The documents `postbox`'s users read (README.md, docs/*.md) against the repository and the
//! command: what they refer to exists, and what they say of the default socket is the rule.

use std::fs;
use std::path::{Path, PathBuf};

/// The repository's root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// README.md and every docs/*.md, with their text.
fn documents() -> Vec<(PathBuf, String)> {
    let docs = fs::read_dir(root().join("docs")).expect("cannot list docs/");
    let mut paths: Vec<PathBuf> = docs
        .map(|entry| entry.expect("cannot list docs/").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    paths.push(root().join("README.md"));
    paths
        .into_iter()
        .map(|path| {
            let text = fs::read_to_string(&path).expect("cannot read a document");
            (path, text)
        })
        .collect()
}

/// The words of `text` that could be file names: runs of letters, digits and `_ . / # -`, with
/// trailing dots (ends of sentences) dropped.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || "_./#-".contains(c)))
        .map(|word| word.trim_end_matches('.'))
}

#[test]
fn the_docs_name_only_top_level_documents_that_exist() {
    // Documents named in capitals (README.md, DESIGN.md, ...) live at the root, or beside the
    // document naming them.
    for (path, text) in documents() {
        let dir = path.parent().expect("a document is in a directory");
        for word in words(&text) {
            let named = word.ends_with(".md") && word.starts_with(|c: char| c.is_ascii_uppercase());
            if named {
                assert!(
                    root().join(word).exists() || dir.join(word).exists(),
                    "{} names {word}, which the repository does not contain",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn the_docs_link_only_to_documents_that_exist() {
    for (path, text) in documents() {
        let dir = path.parent().expect("a document is in a directory");
        for link in text.split("](").skip(1) {
            let target = link.split([')', '#']).next().unwrap_or_default();
            if target.ends_with(".md") && !target.contains("://") {
                assert!(
                    dir.join(target).exists(),
                    "{} links to {target}, which does not exist",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn the_readme_gives_the_whole_default_socket_rule() {
    let readme = fs::read_to_string(root().join("README.md")).expect("cannot read README.md");
    let line = readme
        .lines()
        .find(|line| line.starts_with("postbox daemon &"))
        .expect("the README starts a daemon in its shell example");
    // The rule of docs/operations.md ("The socket"), in its order.
    let rule = [
        "$POSTBOX_SOCKET",
        "$XDG_RUNTIME_DIR/postbox.sock",
        "/tmp/postbox-$UID/postbox.sock",
    ];
    let at: Vec<Option<usize>> = rule.iter().map(|part| line.find(part)).collect();
    assert!(at.iter().all(Option::is_some), "{line}");
    assert!(at.is_sorted(), "the fallbacks are out of order: {line}");
}
