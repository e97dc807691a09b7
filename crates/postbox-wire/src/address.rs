//! Where the local daemon listens by default: a convention both ends must share.

use std::path::PathBuf;

/// The default socket path, from the environment (`env` looks a variable up) and the caller's uid:
///
/// 1. `$POSTBOX_SOCKET`, if set and not empty;
/// 2. else `$XDG_RUNTIME_DIR/postbox.sock` (a per-user directory the system already keeps 0700);
/// 3. else `/tmp/postbox-$UID/postbox.sock` (the daemon creates the directory 0700).
///
/// Pure, so that the rule is tested without touching the process environment.
pub fn default_socket_path(env: impl Fn(&str) -> Option<String>, uid: u32) -> PathBuf {
    let set = |name: &str| env(name).filter(|value| !value.is_empty());
    if let Some(path) = set("POSTBOX_SOCKET") {
        return PathBuf::from(path);
    }
    if let Some(dir) = set("XDG_RUNTIME_DIR") {
        return PathBuf::from(dir).join("postbox.sock");
    }
    PathBuf::from(format!("/tmp/postbox-{uid}/postbox.sock"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn follows_the_three_rules_in_order() {
        let all = [
            ("POSTBOX_SOCKET", "/s.sock"),
            ("XDG_RUNTIME_DIR", "/run/user/7"),
        ];
        assert_eq!(default_socket_path(env(&all), 7), PathBuf::from("/s.sock"));
        let xdg = [("XDG_RUNTIME_DIR", "/run/user/7")];
        assert_eq!(
            default_socket_path(env(&xdg), 7),
            PathBuf::from("/run/user/7/postbox.sock")
        );
        let empty = [("POSTBOX_SOCKET", ""), ("XDG_RUNTIME_DIR", "")];
        assert_eq!(
            default_socket_path(env(&empty), 7),
            PathBuf::from("/tmp/postbox-7/postbox.sock")
        );
    }
}
