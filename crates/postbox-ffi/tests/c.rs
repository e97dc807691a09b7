//! The C tests and the C example, compiled with the system's C compiler against the libpostbox
//! this build produced, and run: against an in-process node, and against a real daemon this test
//! hosts on a unique temporary socket. Any non-zero exit fails the test, with the program's output.
//!
//! Each `c/tests/*.c` is one concern (basics, errors, attributes, direct messages, select,
//! leases, many at once, threads); each takes the node's URL as its first argument. The example
//! is built as a user would: installed by `install.sh` into a temporary prefix, then compiled
//! with `pkg-config --cflags --libs postbox`, and once more linked statically.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;

use postbox_daemon::{Daemon, DaemonConfig};

/// The crate's directory.
fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Where cargo put libpostbox.so and libpostbox.a for this build: beside this test's binary.
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().to_path_buf();
    for lib in ["libpostbox.so", "libpostbox.a"] {
        assert!(
            dir.join(lib).exists(),
            "{lib} was not built in {}",
            dir.display()
        );
    }
    dir
}

/// The C tests, by name.
fn c_tests() -> Vec<PathBuf> {
    let mut tests: Vec<PathBuf> = std::fs::read_dir(crate_dir().join("c/tests"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "c"))
        .collect();
    tests.sort();
    assert!(tests.len() >= 7, "the C tests are missing: {tests:?}");
    tests
}

fn compiler() -> String {
    std::env::var("CC").unwrap_or_else(|_| "cc".to_owned())
}

/// Runs `command`, failing the test with its output unless it exits 0.
fn run(command: &mut Command, what: &str) -> String {
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

/// Compiles `source` into `out`, linked with the shared libpostbox (found at run time through
/// the rpath), plus `extra` arguments.
fn compile(source: &Path, out: &Path, extra: &[String]) {
    let mut cc = Command::new(compiler());
    cc.args([
        "-std=c11",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-pedantic",
        "-O1",
        "-g",
    ])
    .arg("-I")
    .arg(crate_dir().join("include"))
    .arg(source)
    .arg("-o")
    .arg(out)
    .args(extra)
    .arg("-lpthread");
    run(&mut cc, &format!("cc {}", source.display()));
}

fn shared_link_args() -> Vec<String> {
    let dir = lib_dir().display().to_string();
    vec![
        format!("-L{dir}"),
        "-lpostbox".to_owned(),
        format!("-Wl,-rpath,{dir}"),
    ]
}

/// Runs a compiled C program with `args`, killed if it runs past two minutes.
fn run_c(program: &Path, args: &[&str]) -> String {
    let mut command = Command::new("timeout");
    command
        .args(["--kill-after=5s", "120s"])
        .arg(program)
        .args(args);
    run(&mut command, &program.display().to_string())
}

/// Compiles every C test into `dir` and runs each with `url`.
fn run_c_tests(dir: &Path, url: &str) {
    for source in c_tests() {
        let stem = source.file_stem().unwrap().to_string_lossy().into_owned();
        let program = dir.join(&stem);
        compile(&source, &program, &shared_link_args());
        let out = run_c(&program, &[url]);
        assert!(
            out.contains(&format!("{stem}: ok")),
            "{stem} printed {out:?}"
        );
    }
}

/// A daemon on a unique socket in a temporary directory, served by a thread of this test until
/// dropped.
struct HostedDaemon {
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl HostedDaemon {
    fn start() -> HostedDaemon {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("postbox.sock");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready, bound) = mpsc::channel();
        let config = DaemonConfig::new().with_socket_path(&socket);
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let daemon = Daemon::bind(config).unwrap();
                ready.send(()).unwrap();
                let shutdown = async {
                    let _ = stopped.await;
                };
                daemon.serve(shutdown).await.unwrap();
            });
        });
        bound.recv().expect("the daemon binds its socket");
        HostedDaemon {
            url: format!("unix://{}", socket.display()),
            stop: Some(stop),
            thread: Some(thread),
            _dir: dir,
        }
    }
}

impl Drop for HostedDaemon {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[test]
fn c_tests_pass_on_an_in_process_node() {
    let dir = tempfile::tempdir().unwrap();
    run_c_tests(dir.path(), "inproc://c-tests");
}

#[test]
fn c_tests_pass_through_a_daemon() {
    let daemon = HostedDaemon::start();
    let dir = tempfile::tempdir().unwrap();
    run_c_tests(dir.path(), &daemon.url);
}

/// Installs libpostbox with `install.sh` (from this build, not rebuilding it) under `prefix`;
/// the directory holding the installed `postbox.pc`.
fn install(prefix: &Path) -> PathBuf {
    let mut script = Command::new("bash");
    script
        .arg(crate_dir().join("install.sh"))
        .arg(prefix)
        .env("POSTBOX_LIB_DIR", lib_dir());
    run(&mut script, "install.sh");
    for installed in ["lib/libpostbox.so", "lib/libpostbox.a", "include/postbox.h"] {
        assert!(prefix.join(installed).exists(), "{installed} not installed");
    }
    prefix.join("lib/pkgconfig")
}

fn pkg_config(pc_dir: &Path, args: &[&str]) -> Vec<String> {
    let mut command = Command::new("pkg-config");
    command
        .env("PKG_CONFIG_PATH", pc_dir)
        .args(args)
        .arg("postbox");
    let flags = run(
        &mut command,
        "pkg-config (install it: apt-get install pkg-config)",
    );
    flags.split_whitespace().map(str::to_owned).collect()
}

#[test]
fn the_example_builds_with_pkg_config_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("prefix");
    let pc_dir = install(&prefix);
    let mut flags = pkg_config(&pc_dir, &["--cflags", "--libs"]);
    flags.push(format!("-Wl,-rpath,{}", prefix.join("lib").display()));
    let program = dir.path().join("example");
    compile(&crate_dir().join("c/examples/workers.c"), &program, &flags);
    let out = run_c(&program, &[]);
    assert!(out.contains("all 10 jobs done"), "{out}");
}

#[test]
fn the_example_links_statically() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("prefix");
    let pc_dir = install(&prefix);
    // `--static` adds Libs.private: what the Rust standard library needs from the system.
    let mut flags = vec![prefix.join("lib/libpostbox.a").display().to_string()];
    flags.extend(
        pkg_config(&pc_dir, &["--static", "--libs-only-l"])
            .into_iter()
            .filter(|flag| flag != "-lpostbox"),
    );
    let program = dir.path().join("example-static");
    compile(&crate_dir().join("c/examples/workers.c"), &program, &flags);
    let out = run_c(&program, &[]);
    assert!(out.contains("all 10 jobs done"), "{out}");
    let needs = run(
        Command::new("ldd").arg(&program),
        "ldd on the static example",
    );
    assert!(!needs.contains("libpostbox"), "linked dynamically: {needs}");
}
