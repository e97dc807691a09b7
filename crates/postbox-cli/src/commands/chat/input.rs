//! What a typed line asks for: a line for the room, or a command (`/who`, `/msg`, `/quit`).

/// The commands, as `/help` lists them.
pub(crate) const HELP: &str = "commands: /who lists the members, /msg PEER TEXT sends TEXT to \
                               PEER alone, /quit leaves (so does Ctrl-D), //TEXT says /TEXT";

/// One typed line, understood.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) enum Input<'a> {
    /// Nothing to do: an empty line.
    Nothing,
    /// Say this to the room. A line starting with `//` says the rest with one `/`.
    Say(&'a [u8]),
    /// `/msg PEER TEXT`: say TEXT to PEER alone.
    Msg {
        /// The person: a registered name (or `NAME@NODE`), passed on as written.
        peer: &'a str,
        /// What to say.
        text: &'a [u8],
    },
    /// `/msg` without a peer or without text.
    MsgUsage,
    /// `/who`: list the members.
    Who,
    /// `/quit`: leave.
    Quit,
    /// `/help`.
    Help,
    /// A `/command` that is none of these.
    Unknown(String),
}

impl<'a> Input<'a> {
    /// What `line` (without its newline) asks for.
    pub(crate) fn parse(line: &'a [u8]) -> Input<'a> {
        if line.iter().all(u8::is_ascii_whitespace) {
            return Input::Nothing;
        }
        let Some(command) = line.strip_prefix(b"/") else {
            return Input::Say(line);
        };
        if command.starts_with(b"/") {
            return Input::Say(command);
        }
        let (word, rest) = split_word(command);
        match word {
            b"who" => Input::Who,
            b"quit" | b"exit" => Input::Quit,
            b"help" => Input::Help,
            b"msg" => {
                let (peer, text) = split_word(rest);
                match (std::str::from_utf8(peer), text.is_empty()) {
                    (Ok(peer), false) if !peer.is_empty() => Input::Msg { peer, text },
                    _ => Input::MsgUsage,
                }
            }
            _ => Input::Unknown(format!("/{}", String::from_utf8_lossy(word))),
        }
    }
}

/// The first word of `text` and what follows it, spaces between them skipped.
fn split_word(text: &[u8]) -> (&[u8], &[u8]) {
    let text = trim_start(text);
    let end = text
        .iter()
        .position(u8::is_ascii_whitespace)
        .unwrap_or(text.len());
    let (word, rest) = text.split_at(end);
    (word, trim_start(rest))
}

/// `text` without its leading spaces.
fn trim_start(text: &[u8]) -> &[u8] {
    let start = text
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(text.len());
    &text[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines_are_said_and_blank_ones_ignored() {
        assert_eq!(Input::parse(b"hello there"), Input::Say(b"hello there"));
        assert_eq!(Input::parse(b"  "), Input::Nothing);
        assert_eq!(Input::parse(b""), Input::Nothing);
        assert_eq!(Input::parse(b"//etc/hosts"), Input::Say(b"/etc/hosts"));
    }

    #[test]
    fn commands_are_understood_and_others_named() {
        assert_eq!(Input::parse(b"/who"), Input::Who);
        assert_eq!(Input::parse(b"/quit"), Input::Quit);
        assert_eq!(Input::parse(b"/exit"), Input::Quit);
        assert_eq!(Input::parse(b"/help"), Input::Help);
        assert_eq!(Input::parse(b"/dance now"), Input::Unknown("/dance".into()));
        assert_eq!(Input::parse(b"/"), Input::Unknown("/".into()));
    }

    #[test]
    fn msg_takes_a_peer_and_the_rest_of_the_line_as_it_is() {
        assert_eq!(
            Input::parse(b"/msg  bob   see  you"),
            Input::Msg {
                peer: "bob",
                text: b"see  you"
            }
        );
        assert_eq!(
            Input::parse(b"/msg alice@b hi"),
            Input::Msg {
                peer: "alice@b",
                text: b"hi"
            }
        );
        assert_eq!(Input::parse(b"/msg"), Input::MsgUsage);
        assert_eq!(Input::parse(b"/msg bob"), Input::MsgUsage);
        assert_eq!(Input::parse(b"/msg bob   "), Input::MsgUsage);
        assert_eq!(Input::parse(b"/msg \xff hi"), Input::MsgUsage);
    }
}
