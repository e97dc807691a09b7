//! TLS for network clients: `postbox certs`, `daemon --listen tls://` with `--tls-cert`,
//! `--tls-key`, `--tls-client-ca` and `--tcp-identity`, and clients with `--url tls://...`,
//! each through the real binary.

mod support;

use std::path::{Path, PathBuf};

use support::{Daemon, Out};

const TOKEN: &str = "correct-horse-battery-staple";

/// A cluster's certificates: a CA in `dir`, and what `issue` made.
struct Certs {
    dir: tempfile::TempDir,
}

impl Certs {
    /// `postbox certs init` in a fresh directory.
    fn init() -> Certs {
        let dir = tempfile::Builder::new()
            .prefix("postbox-certs-test-")
            .tempdir()
            .unwrap();
        let out = run_certs(&["init", "--dir", dir.path().join("c").to_str().unwrap()]).code(0);
        assert!(out.stdout.contains("ca.pem"), "{}", out.stdout);
        Certs { dir }
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join("c").join(file)
    }

    fn arg(&self, file: &str) -> String {
        self.path(file).to_str().unwrap().to_owned()
    }

    /// `postbox certs issue NAME` with `extra` flags.
    fn issue(&self, name: &str, extra: &[&str]) {
        let dir = self.arg("");
        let mut args = vec!["issue", name, "--dir", &dir];
        args.extend_from_slice(extra);
        run_certs(&args).code(0);
    }
}

fn run_certs(args: &[&str]) -> Out {
    let mut all = vec!["certs"];
    all.extend_from_slice(args);
    support::run_command(support::command(&all), None)
}

/// A daemon listening on `tls://127.0.0.1:0` with `node-a`'s certificate (valid for the name
/// node-a and the address 127.0.0.1), the token in `token`, and `extra` flags.
fn tls_daemon(certs: &Certs, extra: &[&str]) -> (Daemon, String) {
    let token = certs.path("token");
    std::fs::write(&token, format!("{TOKEN}\n")).unwrap();
    let (cert, key, token) = (
        certs.arg("node-a.pem"),
        certs.arg("node-a.key"),
        token.to_str().unwrap().to_owned(),
    );
    let mut flags = vec![
        "--listen",
        "tls://127.0.0.1:0",
        "--token-file",
        &token,
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
    ];
    flags.extend_from_slice(extra);
    let daemon = Daemon::start_with(&flags);
    let address = format!("127.0.0.1:{}", daemon.tcp_port());
    (daemon, address)
}

/// `postbox --url URL ARGS...` with the token in the environment.
fn over(url: &str, args: &[&str], env: &[(&str, &Path)]) -> Out {
    let mut all = vec!["--url", url];
    all.extend_from_slice(args);
    let mut command = support::command(&all);
    command.env("POSTBOX_TOKEN", TOKEN);
    for (name, value) in env {
        command.env(name, value);
    }
    support::run_command(command, None)
}

#[test]
fn three_commands_make_a_cluster_and_messages_cross_tls() {
    let certs = Certs::init();
    certs.issue("node-a", &["--ip", "127.0.0.1"]);
    certs.issue("node-b", &[]);
    for file in ["ca.key", "node-a.key", "node-b.key"] {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(certs.path(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }
    let (daemon, address) = tls_daemon(&certs, &[]);
    let ca = certs.path("ca.pem");

    daemon.run(&["create", "q"]).code(0);
    let with_ca = format!("tls://{address}?ca={}", ca.display());
    over(&with_ca, &["send", "q", "over tls"], &[]).code(0);
    // The CA from the environment, and the name from ?name= instead of the host.
    let by_name = format!("tls://{address}?name=node-a");
    let got = over(&by_name, &["recv", "q"], &[("POSTBOX_TLS_CA", &ca)]).code(0);
    assert_eq!(got.stdout, "over tls\n");
    // `POSTBOX_URL` takes tls:// URLs too.
    let mut from_env = support::command(&["ls"]);
    from_env
        .env("POSTBOX_URL", &with_ca)
        .env("POSTBOX_TOKEN", TOKEN);
    let listed = support::run_command(from_env, None).code(0);
    assert!(listed.stdout.contains('q'), "{}", listed.stdout);

    // Refusing to overwrite: the CA, and an issued certificate.
    let again = run_certs(&["init", "--dir", &certs.arg("")]).code(1);
    assert!(again.stderr.contains("--force"), "{}", again.stderr);
    let again = run_certs(&["issue", "node-b", "--dir", &certs.arg("")]).code(1);
    assert!(again.stderr.contains("--force"), "{}", again.stderr);
}

#[test]
fn issuing_without_a_ca_says_to_run_init() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_certs(&["issue", "node-a", "--dir", dir.path().to_str().unwrap()]).code(1);
    assert!(
        out.stderr.contains("run `postbox certs init"),
        "{}",
        out.stderr
    );
    let bad = run_certs(&["issue", "../evil", "--dir", dir.path().to_str().unwrap()]).code(2);
    assert!(bad.stderr.contains("invalid name"), "{}", bad.stderr);
}

#[test]
fn a_client_trusting_another_ca_is_refused_with_what_to_do() {
    let certs = Certs::init();
    certs.issue("node-a", &["--ip", "127.0.0.1"]);
    let (_daemon, address) = tls_daemon(&certs, &[]);
    let other = Certs::init();

    let url = format!("tls://{address}?ca={}", other.arg("ca.pem"));
    let out = over(&url, &["ls"], &[]).code(1);
    assert!(
        out.stderr.contains("not signed by a CA this client trusts")
            && out.stderr.contains("?ca=PATH"),
        "{}",
        out.stderr
    );
    // Without a CA the public roots are used, which do not know the cluster's CA either.
    let out = over(&format!("tls://{address}"), &["ls"], &[]).code(1);
    assert!(out.stderr.contains("webpki-roots"), "{}", out.stderr);
}

#[test]
fn a_certificate_for_another_name_is_refused() {
    let certs = Certs::init();
    certs.issue("node-a", &[]);
    let (_daemon, address) = tls_daemon(&certs, &[]);
    let ca = certs.arg("ca.pem");
    // node-a's certificate is not valid for 127.0.0.1 (no --ip), nor for node-b.
    for url in [
        format!("tls://{address}?ca={ca}"),
        format!("tls://{address}?ca={ca}&name=node-b"),
    ] {
        let out = over(&url, &["ls"], &[]).code(1);
        assert!(
            out.stderr.contains("not valid for the name"),
            "{url}: {}",
            out.stderr
        );
    }
    over(
        &format!("tls://{address}?ca={ca}&name=node-a"),
        &["ls"],
        &[],
    )
    .code(0);
}

#[test]
fn the_token_is_still_required_inside_tls() {
    let certs = Certs::init();
    certs.issue("node-a", &["--ip", "127.0.0.1"]);
    let (daemon, address) = tls_daemon(&certs, &[]);
    let url = format!("tls://{address}?ca={}", certs.arg("ca.pem"));

    let none = support::run_command(daemon.command(&["--url", &url, "ls"]), None).code(1);
    assert!(none.stderr.contains("cannot connect"), "{}", none.stderr);
    let mut wrong = daemon.command(&["--url", &url, "ls"]);
    wrong.env("POSTBOX_TOKEN", "wrong-token-entirely");
    let wrong = support::run_command(wrong, None).code(1);
    assert!(wrong.stderr.contains("handshake"), "{}", wrong.stderr);
    over(&url, &["ls"], &[]).code(0);
}

#[test]
fn a_client_ca_makes_certificates_required() {
    let certs = Certs::init();
    certs.issue("node-a", &["--ip", "127.0.0.1"]);
    certs.issue("client-1", &[]);
    let ca = certs.arg("ca.pem");
    let (_daemon, address) = tls_daemon(&certs, &["--tls-client-ca", &ca]);
    let url = format!("tls://{address}?ca={ca}");

    let without = over(&url, &["ls"], &[]).code(1);
    assert!(
        without.stderr.contains("requires a client certificate"),
        "{}",
        without.stderr
    );
    let with = format!(
        "{url}&cert={}&key={}",
        certs.arg("client-1.pem"),
        certs.arg("client-1.key")
    );
    over(&with, &["ls"], &[]).code(0);
    // From the environment as well.
    over(
        &url,
        &["ls"],
        &[
            ("POSTBOX_TLS_CERT", &certs.path("client-1.pem")),
            ("POSTBOX_TLS_KEY", &certs.path("client-1.key")),
        ],
    )
    .code(0);

    // A certificate another CA signed is not trusted.
    let other = Certs::init();
    other.issue("client-1", &[]);
    let foreign = format!(
        "{url}&cert={}&key={}",
        other.arg("client-1.pem"),
        other.arg("client-1.key")
    );
    let out = over(&foreign, &["ls"], &[]).code(1);
    assert!(
        out.stderr
            .contains("does not trust this client's certificate"),
        "{}",
        out.stderr
    );
}

#[test]
fn network_clients_act_as_the_tcp_identity() {
    let certs = Certs::init();
    certs.issue("node-a", &["--ip", "127.0.0.1"]);
    let (_daemon, address) = tls_daemon(&certs, &["--tcp-identity", "4242:4343"]);
    let url = format!("tls://{address}?ca={}", certs.arg("ca.pem"));
    let listed = over(&url, &["ps", "--json"], &[]).code(0).json();
    let only = listed.as_array().expect("an array");
    assert_eq!(only.len(), 1, "{listed}");
    assert_eq!(
        (only[0]["uid"].as_u64(), only[0]["gid"].as_u64()),
        (Some(4242), Some(4343)),
        "{listed}"
    );
}

#[test]
fn a_daemon_without_a_usable_certificate_refuses_to_start() {
    let certs = Certs::init();
    certs.issue("node-a", &[]);
    let token = certs.path("token");
    std::fs::write(&token, TOKEN).unwrap();
    let garbled = certs.path("garbled.pem");
    std::fs::write(&garbled, "not a certificate").unwrap();
    let token = token.to_str().unwrap();
    let daemon = |extra: &[&str]| {
        let mut args = vec![
            "daemon",
            "--print-config",
            "--listen",
            "tls://127.0.0.1:0",
            "--token-file",
            token,
        ];
        args.extend_from_slice(extra);
        support::run_command(support::command(&args), None)
    };
    let missing = daemon(&[]).code(2);
    assert!(
        missing.stderr.contains("--tls-cert and --tls-key"),
        "{}",
        missing.stderr
    );
    let garbled_cert = daemon(&[
        "--tls-cert",
        garbled.to_str().unwrap(),
        "--tls-key",
        &certs.arg("node-a.key"),
    ])
    .code(1);
    assert!(
        garbled_cert.stderr.contains("garbled.pem"),
        "{}",
        garbled_cert.stderr
    );
    let printed = daemon(&[
        "--tls-cert",
        &certs.arg("node-a.pem"),
        "--tls-key",
        &certs.arg("node-a.key"),
    ])
    .code(0);
    assert!(
        printed.stdout.contains("listen = \"tls://127.0.0.1:0\""),
        "{}",
        printed.stdout
    );
}

#[test]
fn a_plain_tcp_daemon_reached_with_tls_is_named_as_such() {
    let certs = Certs::init();
    let token = certs.path("token");
    std::fs::write(&token, TOKEN).unwrap();
    let daemon = Daemon::start_with(&[
        "--listen",
        "tcp://127.0.0.1:0",
        "--token-file",
        token.to_str().unwrap(),
    ]);
    let url = format!(
        "tls://127.0.0.1:{}?ca={}",
        daemon.tcp_port(),
        certs.arg("ca.pem")
    );
    let out = over(&url, &["ls"], &[]).code(1);
    assert!(
        out.stderr.contains("does not speak TLS there"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_connection_over_the_peer_limit_is_closed_and_the_client_says_so() {
    let certs = Certs::init();
    certs.issue("node-a", &["--ip", "127.0.0.1"]);
    let (daemon, address) = tls_daemon(&certs, &["--max-connections-per-peer", "1"]);
    let url = format!("tls://{address}?ca={}", certs.arg("ca.pem"));
    daemon.run(&["create", "q"]).code(0);
    let mut waiting = support::command(&["--url", &url, "recv", "q"]);
    waiting
        .env("POSTBOX_TOKEN", TOKEN)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let waiting = support::Background::spawn(waiting);
    // The Unix socket's own user is not limited per peer: `ps` there sees the TLS client.
    support::eventually("the TLS client is connected", || {
        daemon
            .run(&["ps", "--json"])
            .json()
            .as_array()
            .unwrap()
            .len()
            == 2
    });
    let refused = over(&url, &["ls"], &[]).code(1);
    assert!(
        refused
            .stderr
            .contains("closed the connection during the TLS handshake"),
        "{}",
        refused.stderr
    );
    drop(waiting);
}

#[test]
fn a_client_that_never_finishes_its_tls_handshake_is_dropped_in_time() {
    use std::io::Read as _;
    let certs = Certs::init();
    certs.issue("node-a", &["--ip", "127.0.0.1"]);
    let (_daemon, address) = tls_daemon(&certs, &["--handshake-timeout", "200ms"]);
    let mut silent = std::net::TcpStream::connect(&address).unwrap();
    silent.set_read_timeout(Some(support::PATIENCE)).unwrap();
    let started = std::time::Instant::now();
    let mut buf = [0u8; 64];
    // The daemon closes it: end of stream (or a reset), not a read that times out.
    let read = silent.read(&mut buf);
    assert!(
        matches!(read, Ok(0)) || read.is_err() && started.elapsed() < support::PATIENCE,
        "{read:?}"
    );
    assert!(started.elapsed() < support::PATIENCE / 2);
}

#[test]
fn with_client_certificates_required_the_token_may_be_left_out() {
    let certs = Certs::init();
    certs.issue("node-a", &["--ip", "127.0.0.1"]);
    certs.issue("client-1", &[]);
    let (cert, key, ca) = (
        certs.arg("node-a.pem"),
        certs.arg("node-a.key"),
        certs.arg("ca.pem"),
    );
    let server = [
        "--listen",
        "tls://127.0.0.1:0",
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
    ];
    // Without client certificates a token stays required.
    let mut print = vec!["daemon", "--print-config"];
    print.extend_from_slice(&server);
    let refused = support::run_command(support::command(&print), None).code(2);
    assert!(
        refused.stderr.contains("needs a token"),
        "{}",
        refused.stderr
    );

    let mut flags = server.to_vec();
    flags.extend_from_slice(&["--tls-client-ca", &ca]);
    let daemon = Daemon::start_with(&flags);
    let url = format!("tls://127.0.0.1:{}?ca={ca}", daemon.tcp_port());
    let with_cert = format!(
        "{url}&cert={}&key={}",
        certs.arg("client-1.pem"),
        certs.arg("client-1.key")
    );
    // No token in the environment at all.
    support::run_command(daemon.command(&["--url", &with_cert, "ls"]), None).code(0);
    let without = support::run_command(daemon.command(&["--url", &url, "ls"]), None).code(1);
    assert!(
        without.stderr.contains("requires a client certificate"),
        "{}",
        without.stderr
    );
}
