//! `postbox certs`: a cluster's certificate authority, and the certificates it signs for nodes and
//! clients.
//!
//! `init` makes the CA (`ca.pem`, and `ca.key`, the secret that signs); `issue NAME` makes
//! `NAME.pem` and `NAME.key`, signed by it, with NAME as the subject's common name and as a DNS
//! name, so that the same certificate serves a daemon (server authentication: the name a client
//! connects to) and a client or node (client authentication: the name it is known by). Keys are
//! ECDSA P-256, written with mode 0600; a directory the command creates gets mode 0700. Nothing is
//! overwritten without `--force`.

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use time::{Duration, OffsetDateTime};

use crate::args::{CertsInitArgs, CertsIssueArgs, usage_error};

/// How long a CA is valid: ten years, so that a cluster does not expire under its operators.
const CA_DAYS: i64 = 3650;

/// How far back a certificate's validity starts, so that a peer whose clock is a little behind
/// does not see it as not yet valid.
const CLOCK_SKEW: Duration = Duration::minutes(5);

/// The longest name a certificate is issued for (a DNS name's limit).
const MAX_NAME_LEN: usize = 253;

/// `postbox certs init --dir DIR [--force]`: writes `ca.pem` and `ca.key` into DIR and prints
/// their paths.
///
/// # Errors
///
/// A CA already in DIR (without `--force`); the directory or a file cannot be written.
pub(crate) fn init(args: &CertsInitArgs) -> anyhow::Result<()> {
    let cert_path = args.dir.join("ca.pem");
    let key_path = args.dir.join("ca.key");
    if !args.force && (cert_path.exists() || key_path.exists()) {
        anyhow::bail!(
            "{} already holds a CA: certificates it signed would no longer be trusted by a new \
             one; give --force to replace it anyway",
            args.dir.display()
        );
    }
    let key = KeyPair::generate().context("cannot generate the CA's key")?;
    let mut params = CertificateParams::default();
    // A name of its own (from its public key): verifiers look an issuer up by name, so two
    // clusters' CAs with one name would make a foreign certificate fail as a bad signature
    // rather than as an unknown CA.
    let raw = key.public_key_raw();
    let id: String = raw[raw.len().saturating_sub(4)..]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    params.distinguished_name = distinguished_name(&format!("postbox cluster CA {id}"));
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    set_validity(&mut params, CA_DAYS);
    let cert = params
        .self_signed(&key)
        .context("cannot sign the CA's certificate")?;
    create_dir(&args.dir)?;
    write_file(&key_path, &key.serialize_pem(), Secret::Key)?;
    write_file(&cert_path, &cert.pem(), Secret::Public)?;
    println!("{}", cert_path.display());
    println!("{}", key_path.display());
    Ok(())
}

/// `postbox certs issue NAME --dir DIR [--dns NAME]... [--ip ADDR]... [--days N] [--force]`:
/// writes `NAME.pem` and `NAME.key`, signed by DIR's CA, and prints their paths.
///
/// # Errors
///
/// Usage: NAME not a DNS name. No CA in DIR (run `postbox certs init`), an unreadable or invalid
/// CA, `NAME.pem` or `NAME.key` already there (without `--force`), a file that cannot be written.
pub(crate) fn issue(args: &CertsIssueArgs) -> anyhow::Result<()> {
    check_name(&args.name)?;
    for dns in &args.dns {
        check_name(dns)?;
    }
    let issuer = load_ca(&args.dir)?;
    let (cert_path, key_path) = issued_paths(&args.dir, &args.name);
    if !args.force && (cert_path.exists() || key_path.exists()) {
        anyhow::bail!(
            "{} already holds a certificate for {:?}; give --force to replace it",
            args.dir.display(),
            args.name
        );
    }
    let mut params = CertificateParams::default();
    params.distinguished_name = distinguished_name(&args.name);
    let dns_names = std::iter::once(&args.name).chain(&args.dns);
    for dns in dns_names {
        let name = dns
            .clone()
            .try_into()
            .with_context(|| format!("{dns:?} is not a DNS name"))?;
        params.subject_alt_names.push(SanType::DnsName(name));
    }
    params
        .subject_alt_names
        .extend(args.ip.iter().copied().map(SanType::IpAddress));
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    params.use_authority_key_identifier_extension = true;
    set_validity(&mut params, i64::from(args.days));
    let key = KeyPair::generate().context("cannot generate the key")?;
    let cert = params
        .signed_by(&key, &issuer)
        .with_context(|| format!("cannot sign the certificate for {:?}", args.name))?;
    write_file(&key_path, &key.serialize_pem(), Secret::Key)?;
    write_file(&cert_path, &cert.pem(), Secret::Public)?;
    println!("{}", cert_path.display());
    println!("{}", key_path.display());
    Ok(())
}

/// The CA in `dir`, ready to sign.
fn load_ca(dir: &Path) -> anyhow::Result<Issuer<'static, KeyPair>> {
    let cert_path = dir.join("ca.pem");
    let key_path = dir.join("ca.key");
    if !cert_path.exists() && !key_path.exists() {
        anyhow::bail!(
            "no CA in {}: run `postbox certs init --dir {}` first",
            dir.display(),
            dir.display()
        );
    }
    let key_pem = read_pem(&key_path)?;
    let key = KeyPair::from_pem(&key_pem)
        .with_context(|| format!("{} holds no usable private key", key_path.display()))?;
    let cert_pem = read_pem(&cert_path)?;
    Issuer::from_ca_cert_pem(&cert_pem, key)
        .with_context(|| format!("{} holds no usable CA certificate", cert_path.display()))
}

/// The largest PEM file read, checked before reading it: a certificate or key is a few KiB.
const MAX_PEM_SIZE: u64 = 1 << 20;

/// The text of a PEM file of at most [`MAX_PEM_SIZE`] bytes.
fn read_pem(path: &Path) -> anyhow::Result<String> {
    let size = std::fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    if size > MAX_PEM_SIZE {
        anyhow::bail!(
            "{} is {size} bytes, too large for a certificate or key (at most {MAX_PEM_SIZE})",
            path.display()
        );
    }
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Refuses a name that is not a DNS name (letters, digits, `-` and `.`, not starting with `.` or
/// `-`), which also keeps it a plain file name inside the directory.
fn check_name(name: &str) -> anyhow::Result<()> {
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && !name.starts_with(['.', '-'])
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if valid {
        Ok(())
    } else {
        Err(usage_error(format!(
            "invalid name {name:?}: a certificate's name is a DNS name (letters, digits, '-' and \
             '.', at most {MAX_NAME_LEN} characters, not starting with '.' or '-')"
        )))
    }
}

/// A subject whose common name is `name`.
fn distinguished_name(name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    dn
}

/// Valid from a little before now for `days` days.
fn set_validity(params: &mut CertificateParams, days: i64) {
    let now = OffsetDateTime::now_utc();
    params.not_before = now - CLOCK_SKEW;
    params.not_after = now + Duration::days(days);
}

/// Creates `dir` (and missing parents) with mode 0700 if it is missing.
fn create_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create the directory {}", dir.display()))
}

/// Whether a file holds a secret.
#[derive(Clone, Copy)]
enum Secret {
    /// A private key: only its owner may read it (0600).
    Key,
    /// A certificate: anyone may read it (0644).
    Public,
}

/// Writes `text` to `path`, replacing what is there, created with the mode `secret` asks for. A
/// file that exists is removed first, so that a key never keeps a wider mode it had before.
fn write_file(path: &Path, text: &str, secret: Secret) -> anyhow::Result<()> {
    let mode = match secret {
        Secret::Key => 0o600,
        Secret::Public => 0o644,
    };
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => {
            return Err(error).with_context(|| format!("cannot replace {}", path.display()));
        }
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The paths of the certificate and key `issue` writes for `name` in `dir`.
fn issued_paths(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    )
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn issue_args(dir: &Path, name: &str) -> CertsIssueArgs {
        CertsIssueArgs {
            name: name.to_owned(),
            dir: dir.to_owned(),
            dns: vec!["alias.example".to_owned()],
            ip: vec![IpAddr::from([127, 0, 0, 1])],
            days: 30,
            force: false,
        }
    }

    #[test]
    fn init_then_issue_writes_private_keys_and_refuses_to_overwrite() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("certs");
        let init_args = CertsInitArgs {
            dir: dir.clone(),
            force: false,
        };
        init(&init_args).unwrap();
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("ca.key")), 0o600);
        let refused = init(&init_args).unwrap_err().to_string();
        assert!(refused.contains("--force"), "{refused}");

        issue(&issue_args(&dir, "node-a")).unwrap();
        let (cert, key) = issued_paths(&dir, "node-a");
        assert_eq!(mode(&key), 0o600);
        assert!(
            std::fs::read_to_string(&cert)
                .unwrap()
                .starts_with("-----BEGIN CERTIFICATE-----")
        );
        let again = issue(&issue_args(&dir, "node-a")).unwrap_err().to_string();
        assert!(again.contains("--force"), "{again}");
        let forced = CertsIssueArgs {
            force: true,
            ..issue_args(&dir, "node-a")
        };
        issue(&forced).unwrap();
    }

    #[test]
    fn issue_without_a_ca_says_to_run_init() {
        let root = tempfile::tempdir().unwrap();
        let error = issue(&issue_args(root.path(), "a"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("run `postbox certs init"), "{error}");
    }

    #[test]
    fn names_that_are_not_dns_names_are_refused() {
        for bad in ["", "../x", "-a", ".a", "a b", "a/b", "é"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        for good in ["a", "node-1", "db.example.com"] {
            assert!(check_name(good).is_ok(), "{good:?}");
        }
    }
}
