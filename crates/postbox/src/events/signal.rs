//! POSIX signals by number and name.

use std::fmt;
use std::str::FromStr;

use signal_hook::consts::signal as sig;
use signal_hook::low_level::signal_name;

/// A POSIX signal: its number on this system and its name (`SIGUSR1`).
///
/// Parsed from a name with or without `SIG`, in any case (`SIGUSR1`, `usr1`), or from a number.
///
/// ```
/// use postbox::events::Signal;
///
/// assert_eq!("usr1".parse::<Signal>(), Ok(Signal::USR1));
/// assert_eq!("SIGTERM".parse::<Signal>().map(|s| s.name()), Ok("SIGTERM"));
/// assert!("SIGNOPE".parse::<Signal>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Signal(i32);

/// The signals postbox knows by name, which are every signal it can name in an event.
const KNOWN: [i32; 24] = [
    sig::SIGHUP,
    sig::SIGINT,
    sig::SIGQUIT,
    sig::SIGILL,
    sig::SIGTRAP,
    sig::SIGABRT,
    sig::SIGBUS,
    sig::SIGFPE,
    sig::SIGKILL,
    sig::SIGUSR1,
    sig::SIGSEGV,
    sig::SIGUSR2,
    sig::SIGPIPE,
    sig::SIGALRM,
    sig::SIGTERM,
    sig::SIGCHLD,
    sig::SIGCONT,
    sig::SIGSTOP,
    sig::SIGTSTP,
    sig::SIGTTIN,
    sig::SIGTTOU,
    sig::SIGURG,
    sig::SIGWINCH,
    sig::SIGSYS,
];

impl Signal {
    /// `SIGHUP`: the terminal hung up; daemons read it as "reload".
    pub const HUP: Signal = Signal(sig::SIGHUP);
    /// `SIGINT`: Ctrl-C.
    pub const INT: Signal = Signal(sig::SIGINT);
    /// `SIGQUIT`: Ctrl-\.
    pub const QUIT: Signal = Signal(sig::SIGQUIT);
    /// `SIGTERM`: the polite request to end.
    pub const TERM: Signal = Signal(sig::SIGTERM);
    /// `SIGKILL`: cannot be caught; seen only in a child's exit.
    pub const KILL: Signal = Signal(sig::SIGKILL);
    /// `SIGUSR1`: for the program's own use.
    pub const USR1: Signal = Signal(sig::SIGUSR1);
    /// `SIGUSR2`: for the program's own use.
    pub const USR2: Signal = Signal(sig::SIGUSR2);
    /// `SIGCHLD`: a child process stopped or ended.
    pub const CHLD: Signal = Signal(sig::SIGCHLD);
    /// `SIGALRM`: an `alarm(2)` expired.
    pub const ALRM: Signal = Signal(sig::SIGALRM);
    /// `SIGPIPE`: a write to a pipe nobody reads.
    pub const PIPE: Signal = Signal(sig::SIGPIPE);
    /// `SIGWINCH`: the terminal changed size.
    pub const WINCH: Signal = Signal(sig::SIGWINCH);

    /// The signal numbered `number` here, if postbox knows its name.
    pub fn from_number(number: i32) -> Option<Signal> {
        KNOWN.contains(&number).then_some(Signal(number))
    }

    /// The signal's number on this system.
    pub fn number(self) -> i32 {
        self.0
    }

    /// The signal's name, with `SIG` (`"SIGUSR1"`).
    pub fn name(self) -> &'static str {
        signal_name(self.0).unwrap_or("SIGUNKNOWN")
    }

    /// Whether a program may watch it: not `SIGKILL` and `SIGSTOP`, which cannot be caught, nor
    /// `SIGSEGV`, `SIGILL` and `SIGFPE`, whose handler must not return.
    pub fn can_watch(self) -> bool {
        !signal_hook::consts::FORBIDDEN.contains(&self.0)
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a text is not a signal.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[error("unknown signal {0:?}: expected a name like SIGUSR1 or USR1, or a number")]
pub struct UnknownSignal(pub String);

impl FromStr for Signal {
    type Err = UnknownSignal;

    fn from_str(text: &str) -> Result<Signal, UnknownSignal> {
        let unknown = || UnknownSignal(text.to_owned());
        if let Ok(number) = text.parse::<i32>() {
            return Signal::from_number(number).ok_or_else(unknown);
        }
        let upper = text.to_ascii_uppercase();
        let name = upper.strip_prefix("SIG").unwrap_or(&upper);
        KNOWN
            .into_iter()
            .map(Signal)
            .find(|signal| signal.name().strip_prefix("SIG") == Some(name))
            .ok_or_else(unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_signal_has_its_own_name_and_parses_back() {
        for number in KNOWN {
            let signal = Signal(number);
            assert_ne!(signal.name(), "SIGUNKNOWN", "{number}");
            assert_eq!(signal.name().parse(), Ok(signal));
            assert_eq!(number.to_string().parse(), Ok(signal));
        }
    }

    #[test]
    fn names_parse_with_or_without_sig_in_any_case() {
        for text in ["SIGUSR2", "USR2", "usr2", "SigUsr2"] {
            assert_eq!(text.parse(), Ok(Signal::USR2), "{text}");
        }
        for bad in ["", "SIG", "USR3", "0", "-1", "999"] {
            assert!(bad.parse::<Signal>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn uncatchable_signals_cannot_be_watched() {
        assert!(!Signal::KILL.can_watch());
        assert!(Signal::USR1.can_watch());
    }
}
