//! What a chat shows, one line each: `[HH:MM:SS] WHO: TEXT` and its kin.
//!
//! Everything shown that came from another process (what it said, the name it announced) is
//! untrusted: it is decoded leniently and its control characters are replaced, so that nobody
//! can move the cursor, clear the screen or retitle the terminal of the people they talk to.

use jiff::tz::TimeZone;
use postbox_core::Timestamp;

/// One line of the conversation, before its time is put in front.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) enum Shown<'a> {
    /// Someone said something in the room: `bob: hello`.
    Said {
        /// Who.
        who: &'a str,
        /// What, as sent.
        text: &'a [u8],
    },
    /// Someone said something to this chat alone: `alice → you: psst`.
    ToYou {
        /// Who.
        from: &'a str,
        /// What, as sent.
        text: &'a [u8],
    },
    /// This chat said something to one person: `you → bob: psst`.
    FromYou {
        /// To whom.
        to: &'a str,
        /// What.
        text: &'a [u8],
    },
    /// Someone joined the room (this chat too, when its own announcement comes back).
    Joined(&'a str),
    /// Someone was already in the room when this chat joined.
    Here(&'a str),
    /// Someone left the room: quit, lost its connection, or was killed.
    Left(&'a str),
    /// The members, for `/who`, this chat's own name marked.
    Members {
        /// The room.
        room: &'a str,
        /// Everyone in it, sorted.
        names: &'a [String],
        /// This chat's own name among them.
        me: &'a str,
    },
}

impl Shown<'_> {
    /// The line as shown: the time `at` in `zone` as `[HH:MM:SS]`, then what happened.
    pub(crate) fn line(&self, at: Timestamp, zone: &TimeZone) -> String {
        let what = match self {
            Shown::Said { who, text } => format!("{who}: {}", printable(text)),
            Shown::ToYou { from, text } => format!("{from} → you: {}", printable(text)),
            Shown::FromYou { to, text } => format!("you → {to}: {}", printable(text)),
            Shown::Joined(who) => format!("{who} joined"),
            Shown::Here(who) => format!("{who} is here"),
            Shown::Left(who) => format!("{who} left"),
            Shown::Members { room, names, me } => {
                let names: Vec<String> = names
                    .iter()
                    .map(|name| match name == me {
                        true => format!("{name} (you)"),
                        false => name.clone(),
                    })
                    .collect();
                format!("in {room}: {}", names.join(", "))
            }
        };
        format!("[{}] {what}", clock(at, zone))
    }
}

/// `at` as `HH:MM:SS` in `zone`; a time beyond what the calendar can show (the largest
/// timestamp) as `??:??:??`.
pub(crate) fn clock(at: Timestamp, zone: &TimeZone) -> String {
    let nanos = i128::from(at.as_nanos());
    match jiff::Timestamp::from_nanosecond(nanos) {
        Ok(time) => time.to_zoned(zone.clone()).strftime("%H:%M:%S").to_string(),
        Err(_) => "??:??:??".to_owned(),
    }
}

/// `bytes` as text fit for a terminal: invalid UTF-8 and every control character (escape,
/// carriage return, backspace, ...) but the tab shown as `�`.
pub(crate) fn printable(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .map(|c| match c.is_control() && c != '\t' {
            true => char::REPLACEMENT_CHARACTER,
            false => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2023-11-14 22:13:20.5 UTC.
    const AT: Timestamp = Timestamp::from_nanos(1_700_000_000_500_000_000);

    #[test]
    fn each_kind_of_line_has_its_own_form_after_the_time() {
        let utc = TimeZone::UTC;
        let line = |shown: Shown<'_>| shown.line(AT, &utc);
        assert_eq!(
            line(Shown::Said {
                who: "bob",
                text: b"hello"
            }),
            "[22:13:20] bob: hello"
        );
        assert_eq!(
            line(Shown::ToYou {
                from: "alice",
                text: b"psst"
            }),
            "[22:13:20] alice → you: psst"
        );
        assert_eq!(
            line(Shown::FromYou {
                to: "bob",
                text: b"psst"
            }),
            "[22:13:20] you → bob: psst"
        );
        assert_eq!(line(Shown::Joined("bob")), "[22:13:20] bob joined");
        assert_eq!(line(Shown::Here("bob")), "[22:13:20] bob is here");
        assert_eq!(line(Shown::Left("bob")), "[22:13:20] bob left");
        let names = ["alice".to_owned(), "bob".to_owned()];
        assert_eq!(
            line(Shown::Members {
                room: "lobby",
                names: &names,
                me: "bob"
            }),
            "[22:13:20] in lobby: alice, bob (you)"
        );
    }

    #[test]
    fn the_time_is_shown_in_the_zone_given() {
        let tokyo = TimeZone::fixed(jiff::tz::offset(9));
        assert_eq!(clock(AT, &tokyo), "07:13:20");
        assert_eq!(clock(Timestamp::from_nanos(u64::MAX), &tokyo), "08:34:33");
    }

    #[test]
    fn control_characters_and_bad_utf8_cannot_reach_the_terminal() {
        assert_eq!(
            printable(b"a\x1b[2Jb\rc\x08d\te"),
            "a\u{fffd}[2Jb\u{fffd}c\u{fffd}d\te"
        );
        assert_eq!(printable(b"caf\xc3\xa9 \xff"), "café \u{fffd}");
        assert_eq!(printable("\u{9b}31m".as_bytes()), "\u{fffd}31m");
    }
}
