//! Keeps the suite whole: every case function in `src/cases/` is instantiated by
//! `conformance_tests!`, and the macro names no case twice.

use std::collections::BTreeSet;
use std::path::Path;

/// `(concept, case)` for every `pub fn case<T: Transport>` in `src/cases/*.rs`.
fn case_functions() -> BTreeSet<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/cases");
    let mut cases = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).expect("src/cases") {
        let path = entry.expect("entry").path();
        let concept = path
            .file_stem()
            .expect("stem")
            .to_string_lossy()
            .into_owned();
        if concept == "mod" {
            continue;
        }
        let source = std::fs::read_to_string(&path).expect("source");
        for line in source.lines() {
            if let Some(rest) = line.strip_prefix("pub fn ") {
                let (name, generics) = rest.split_once('<').expect("a generic case");
                assert!(
                    generics.starts_with("T: Transport>"),
                    "{concept}::{name} is public but not a case"
                );
                cases.insert((concept.clone(), name.to_owned()));
            }
        }
    }
    cases
}

/// `(concept, case)` for every case the macro in `src/lib.rs` lists.
fn listed_cases() -> Vec<(String, String)> {
    let lib = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs"))
        .expect("src/lib.rs");
    let mut listed = Vec::new();
    let mut concept: Option<String> = None;
    for line in lib.lines().map(str::trim) {
        if let Some(name) = line.strip_suffix(": [") {
            concept = Some(name.to_owned());
        } else if line == "]," {
            concept = None;
        } else if let (Some(concept), Some(case)) = (&concept, line.strip_suffix(',')) {
            listed.push((concept.clone(), case.to_owned()));
        }
    }
    listed
}

#[test]
fn every_case_is_instantiated_exactly_once() {
    let functions = case_functions();
    let listed = listed_cases();
    let unique: BTreeSet<_> = listed.iter().cloned().collect();
    assert_eq!(unique.len(), listed.len(), "a case is listed twice");
    let missing: Vec<_> = functions.difference(&unique).collect();
    assert!(
        missing.is_empty(),
        "cases missing from conformance_tests!: {missing:?}"
    );
    let unknown: Vec<_> = unique.difference(&functions).collect();
    assert!(
        unknown.is_empty(),
        "conformance_tests! lists unknown cases: {unknown:?}"
    );
    assert!(functions.len() > 50, "found only {} cases", functions.len());
}
