//! Which queues live on another node: the mapping from `POSTBOX_IPC_MAP` and
//! `POSTBOX_IPC_MAP_FILE`, read once per process.
//!
//! A rule is `sysv:KEY=NODE` (KEY in `0x` hex or decimal, or `*` for every key, `IPC_PRIVATE`
//! included) or `posix:/NAME=NODE` (NAME exact, or with a trailing `*` every name starting so;
//! `posix:/*` is every queue). Rules are separated by commas, spaces or new lines; in the file a
//! `#` starts a comment to the end of its line. The variable's rules come first, then the
//! file's, and the first rule matching a queue wins; a queue no rule matches stays on the node
//! the process is connected to. A mapped queue is the mailbox `sysv.KKKKKKKK@NODE` or
//! `posix.NAME@NODE`, which the daemon forwards to that node.
//!
//! A mapping that cannot be read whole — a malformed rule, an unreadable or oversized file —
//! maps nothing and makes every call of the shim fail with `EINVAL`, the reason said once on
//! stderr: a program must not run with some of its queues silently on the wrong machine.

use std::fmt;
use std::sync::OnceLock;

use libc::key_t;

/// The variable holding rules.
pub(crate) const MAP_VAR: &str = "POSTBOX_IPC_MAP";
/// The variable naming a file of rules.
pub(crate) const MAP_FILE_VAR: &str = "POSTBOX_IPC_MAP_FILE";
/// The largest mapping file read (a mapping is a few lines; a larger file is a mistake).
const MAX_FILE_LEN: u64 = 1 << 20;
/// A node name's longest (as `postbox --node` accepts it).
const MAX_NODE_LEN: usize = 64;

/// The queues a rule matches.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Queues {
    /// The System V queue of this key.
    Key(key_t),
    /// Every System V queue.
    AnyKey,
    /// The POSIX queue of this name (with its leading slash).
    Name(Vec<u8>),
    /// Every POSIX queue whose name starts with this (the leading slash included).
    NamePrefix(Vec<u8>),
}

/// One rule: queues, and the node they live on.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Rule {
    queues: Queues,
    node: String,
}

/// The mapping: rules in the order they were read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct NodeMap {
    rules: Vec<Rule>,
}

/// Why the mapping could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum MapError {
    /// A rule does not parse; `origin` is where it was read.
    Rule {
        origin: String,
        rule: String,
        reason: &'static str,
    },
    /// The file named by `POSTBOX_IPC_MAP_FILE` cannot be read, or is too large.
    File { path: String, reason: String },
}

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MapError::Rule {
                origin,
                rule,
                reason,
            } => write!(f, "rule `{rule}` in {origin}: {reason}"),
            MapError::File { path, reason } => {
                write!(f, "cannot read {MAP_FILE_VAR} {path}: {reason}")
            }
        }
    }
}

impl NodeMap {
    /// The node System V key `key` lives on, if a rule maps it.
    pub(crate) fn node_of_key(&self, key: key_t) -> Option<&str> {
        self.rules.iter().find_map(|rule| match rule.queues {
            Queues::Key(k) if k == key => Some(rule.node.as_str()),
            Queues::AnyKey => Some(rule.node.as_str()),
            _ => None,
        })
    }

    /// The node POSIX queue `name` ("/NAME") lives on, if a rule maps it.
    pub(crate) fn node_of_queue(&self, name: &[u8]) -> Option<&str> {
        self.rules.iter().find_map(|rule| match &rule.queues {
            Queues::Name(n) if n == name => Some(rule.node.as_str()),
            Queues::NamePrefix(p) if name.starts_with(p) => Some(rule.node.as_str()),
            _ => None,
        })
    }

    /// Reads `text`'s rules (from `origin`, named in errors) after those there are already.
    fn add(&mut self, text: &str, origin: &str, comments: bool) -> Result<(), MapError> {
        for line in text.lines() {
            let line = match comments {
                true => line.split_once('#').map_or(line, |(before, _)| before),
                false => line,
            };
            for rule in line
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|rule| !rule.is_empty())
            {
                let parsed = parse_rule(rule).map_err(|reason| MapError::Rule {
                    origin: origin.to_owned(),
                    rule: rule.to_owned(),
                    reason,
                })?;
                self.rules.push(parsed);
            }
        }
        Ok(())
    }

    /// The mapping from `var` (the rules) and `file` (a file of rules), as this process's
    /// environment gives them.
    fn read(var: Option<&str>, file: Option<&str>) -> Result<NodeMap, MapError> {
        let mut map = NodeMap::default();
        if let Some(rules) = var {
            map.add(rules, MAP_VAR, false)?;
        }
        if let Some(path) = file.filter(|path| !path.is_empty()) {
            let text = read_file(path)?;
            map.add(&text, &format!("{MAP_FILE_VAR} {path}"), true)?;
        }
        Ok(map)
    }
}

/// The file's text, refusing one over [`MAX_FILE_LEN`] before reading it.
fn read_file(path: &str) -> Result<String, MapError> {
    let failed = |reason: String| MapError::File {
        path: path.to_owned(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|e| failed(e.to_string()))?;
    let len = file.metadata().map_err(|e| failed(e.to_string()))?.len();
    if len > MAX_FILE_LEN {
        return Err(failed(format!(
            "it holds {len} bytes, more than the {MAX_FILE_LEN} a mapping may"
        )));
    }
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::Read::take(file, MAX_FILE_LEN), &mut text)
        .map_err(|e| failed(e.to_string()))?;
    Ok(text)
}

fn parse_rule(rule: &str) -> Result<Rule, &'static str> {
    let (queues, node) = rule
        .rsplit_once('=')
        .ok_or("a rule is QUEUES=NODE (e.g. sysv:0x1234=b or posix:/jobs=b)")?;
    let node_ok = (1..=MAX_NODE_LEN).contains(&node.len())
        && node
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !node_ok {
        return Err("a node name is 1 to 64 letters, digits, '.', '_' or '-'");
    }
    let queues = if let Some(key) = queues.strip_prefix("sysv:") {
        parse_key(key)?
    } else if let Some(name) = queues.strip_prefix("posix:") {
        parse_name(name)?
    } else {
        return Err("the queues are sysv:KEY or posix:/NAME");
    };
    Ok(Rule {
        queues,
        node: node.to_owned(),
    })
}

fn parse_key(key: &str) -> Result<Queues, &'static str> {
    const NOT_A_KEY: &str = "a System V key is 0x and hex digits, a decimal number, or *";
    if key == "*" {
        return Ok(Queues::AnyKey);
    }
    let parsed = match key.strip_prefix("0x").or_else(|| key.strip_prefix("0X")) {
        // Keys are 32 bits; `ftok` and C programs often write them unsigned, in hex.
        Some(hex) => u32::from_str_radix(hex, 16).map(|k| k as key_t).ok(),
        None => key
            .parse::<key_t>()
            .ok()
            .or_else(|| key.parse::<u32>().ok().map(|k| k as key_t)),
    };
    match parsed {
        Some(libc::IPC_PRIVATE) => Err("IPC_PRIVATE (0) is mapped by sysv:* alone"),
        Some(key) => Ok(Queues::Key(key)),
        None => Err(NOT_A_KEY),
    }
}

fn parse_name(name: &str) -> Result<Queues, &'static str> {
    let rest = name
        .strip_prefix('/')
        .ok_or("a POSIX queue name starts with '/'")?;
    let (rest, prefix) = match rest.strip_suffix('*') {
        Some(rest) => (rest, true),
        None => (rest, false),
    };
    if rest.contains('/') || rest.contains('*') {
        return Err("a POSIX queue name has no '/' after the first, and '*' only at its end");
    }
    if rest.is_empty() && !prefix {
        return Err("a POSIX queue name has at least one byte after the '/'");
    }
    let bytes = name.as_bytes()[..1 + rest.len()].to_vec();
    Ok(match prefix {
        true => Queues::NamePrefix(bytes),
        false => Queues::Name(bytes),
    })
}

/// This process's mapping, read on first use. `EINVAL` when it cannot be read (the reason was
/// said on stderr, once).
pub(crate) fn loaded() -> Result<&'static NodeMap, libc::c_int> {
    static MAP: OnceLock<Result<NodeMap, MapError>> = OnceLock::new();
    let map = MAP.get_or_init(|| {
        let var = std::env::var(MAP_VAR).ok();
        let file = std::env::var(MAP_FILE_VAR).ok();
        let read = NodeMap::read(var.as_deref(), file.as_deref());
        if let Err(error) = &read {
            eprintln!(
                "postbox-ipc: cannot map queues to nodes: {error}; every System V and POSIX \
                 queue call fails with EINVAL until {MAP_VAR} and {MAP_FILE_VAR} are fixed or \
                 unset"
            );
        }
        read
    });
    map.as_ref().map_err(|_| libc::EINVAL)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(rules: &str) -> NodeMap {
        NodeMap::read(Some(rules), None).unwrap()
    }

    #[test]
    fn keys_and_names_find_their_node_and_the_first_rule_wins() {
        let m = map("sysv:0x1234=b, sysv:77=c posix:/jobs=b,posix:/orders*=c\nsysv:0x1234=d");
        assert_eq!(m.node_of_key(0x1234), Some("b"));
        assert_eq!(m.node_of_key(77), Some("c"));
        assert_eq!(m.node_of_key(0x1235), None);
        assert_eq!(m.node_of_queue(b"/jobs"), Some("b"));
        assert_eq!(m.node_of_queue(b"/jobs2"), None);
        assert_eq!(m.node_of_queue(b"/orders"), Some("c"));
        assert_eq!(m.node_of_queue(b"/orders-eu"), Some("c"));
        assert_eq!(m.node_of_queue(b"/order"), None);
        let all = map("sysv:0xffffffff=b sysv:*=c posix:/*=d");
        assert_eq!(all.node_of_key(-1), Some("b"));
        assert_eq!(all.node_of_key(libc::IPC_PRIVATE), Some("c"));
        assert_eq!(all.node_of_queue(b"/anything"), Some("d"));
        assert_eq!(NodeMap::read(None, None).unwrap(), NodeMap::default());
        assert_eq!(map(" , \n").node_of_key(1), None);
    }

    #[test]
    fn a_malformed_rule_is_named_with_its_reason() {
        for bad in [
            "sysv:zz=b",
            "sysv:0x1234",
            "sysv:0x1234=",
            "sysv:0x1234=b@c",
            "sysv:0=b",
            "sysv:0x100000000=b",
            "queue:/jobs=b",
            "posix:jobs=b",
            "posix:/a/b=b",
            "posix:/a*b=b",
            "posix:/=b",
        ] {
            let error = NodeMap::read(Some(&format!("sysv:1=b,{bad}")), None).unwrap_err();
            let named = match &error {
                MapError::Rule { rule, origin, .. } => rule == bad && origin == MAP_VAR,
                MapError::File { .. } => false,
            };
            assert!(named, "{bad}: {error:?}");
            assert!(error.to_string().contains(bad), "{error}");
        }
    }

    #[test]
    fn a_file_adds_rules_after_the_variables_with_comments() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("map");
        std::fs::write(&path, "# queues on b\nsysv:0x10=b # the jobs\nposix:/x=c\n").unwrap();
        let path = path.to_str().unwrap();
        let m = NodeMap::read(Some("sysv:0x10=a"), Some(path)).unwrap();
        assert_eq!(m.node_of_key(0x10), Some("a"));
        assert_eq!(m.node_of_queue(b"/x"), Some("c"));
        std::fs::write(dir.path().join("bad"), "posix:/x=c\nnonsense\n").unwrap();
        let bad = dir.path().join("bad");
        let error = NodeMap::read(None, bad.to_str()).unwrap_err();
        assert!(error.to_string().contains("rule `nonsense`"), "{error}");
        let missing = dir.path().join("missing");
        let error = NodeMap::read(None, missing.to_str()).unwrap_err();
        assert!(matches!(error, MapError::File { .. }), "{error:?}");
    }
}
