//! Where `unsafe` may appear in the shim, checked: `unsafe` blocks only in `src/sys.rs`, each
//! with a `// SAFETY:` comment; other modules allow the `unsafe_code` lint only to export C
//! symbols (`#[unsafe(no_mangle)]`), and say so.

use std::path::Path;

fn sources() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&path).unwrap())
        })
        .collect();
    files.sort();
    files
}

#[test]
fn unsafe_blocks_live_in_sys_alone_each_with_a_safety_comment() {
    for (name, text) in sources() {
        let lines: Vec<&str> = text.lines().collect();
        for (number, line) in lines.iter().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            let unsafe_code = ["unsafe {", "unsafe fn", "unsafe impl", "unsafe extern"]
                .iter()
                .any(|pattern| code.contains(pattern));
            if !unsafe_code {
                continue;
            }
            assert_eq!(
                name,
                "sys.rs",
                "unsafe code outside sys.rs: {name}:{}",
                number + 1
            );
            let justified = lines[number.saturating_sub(4)..number]
                .iter()
                .any(|before| before.contains("// SAFETY:"));
            assert!(justified, "no SAFETY comment before sys.rs:{}", number + 1);
        }
    }
}

#[test]
fn modules_allow_unsafe_code_only_to_export_c_symbols() {
    for (name, text) in sources() {
        if !text.contains("#![allow(unsafe_code)]") || name == "sys.rs" {
            continue;
        }
        assert!(
            text.contains("// Exports C symbols (`#[unsafe(no_mangle)]`)"),
            "{name} allows unsafe_code without saying why"
        );
        assert!(
            text.contains("#[unsafe(no_mangle)]"),
            "{name} exports nothing"
        );
    }
}
