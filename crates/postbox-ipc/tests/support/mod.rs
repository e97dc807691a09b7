//! What the tests share: the shim cargo built, compiling a C program, and running one natively
//! or preloaded, killed if it runs past two minutes.

use std::path::{Path, PathBuf};
use std::process::Command;

/// This crate's directory (the C sources are under `c/`).
pub(crate) fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The shim cargo built for this test: beside this test's binary.
pub(crate) fn shim() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let shim = exe.parent().unwrap().join("libpostbox_ipc.so");
    assert!(shim.exists(), "{} was not built", shim.display());
    shim
}

/// Runs `command` as `what`, which must succeed; its stdout.
pub(crate) fn run(command: &mut Command, what: &str) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{what} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Compiles the C program `source` into `out`.
pub(crate) fn compile(source: &Path, out: &Path) {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    let mut command = Command::new(cc);
    command
        .args(["-std=gnu11", "-Wall", "-Wextra", "-Werror", "-O1", "-g"])
        .arg(source)
        .arg("-o")
        .arg(out)
        .arg("-lrt"); // the mq_* functions, on C libraries before glibc 2.34
    run(&mut command, &format!("cc {}", source.display()));
}

/// `program` with `args`, killed if it runs past two minutes: natively, or preloading the shim
/// against the daemon at `url`; not yet run.
pub(crate) fn program(program: &Path, args: &[&str], preload: Option<&str>) -> Command {
    let mut command = Command::new("timeout");
    command
        .args(["--kill-after=5s", "120s"])
        .arg(program)
        .args(args);
    if let Some(url) = preload {
        command.env("LD_PRELOAD", shim()).env("POSTBOX_URL", url);
    }
    command
}

/// Runs `program` with `args` (see [`program`]), which must succeed; its stdout.
pub(crate) fn run_program(path: &Path, args: &[&str], preload: Option<&str>) -> String {
    let how = if preload.is_some() {
        "preloaded"
    } else {
        "native"
    };
    run(
        &mut program(path, args, preload),
        &format!("{} {args:?} ({how})", path.display()),
    )
}
