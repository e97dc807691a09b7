//! `postbox top`: a live view of the node's mailboxes and processes, busiest first.
//!
//! This is the thin terminal driver: it takes snapshots, hands them to [`crate::activity`] (which
//! computes rates, order and rows), draws the result with ratatui and reads keys. The terminal is
//! put back as it was — raw mode off, the alternate screen left, the cursor shown — however the
//! command ends: `q`, Esc or Ctrl-C (a key in raw mode), an error (the node went away), or a
//! panic (a hook restores it before the usual report).

use std::io::{self, IsTerminal as _, Stdout};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context as _;
use postbox::Process;
use postbox_core::Timestamp;
use ratatui::Frame;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::cursor::{Hide, Show};
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Row, Table};

use crate::activity::{Snapshot, View, rate};
use crate::args::TopArgs;
use crate::exit::CliError;
use crate::node::Node;
use crate::values::show_bytes;

/// `postbox top [--interval D]`.
///
/// # Errors
///
/// [`CliError::NotATerminal`] when stdout is not a terminal (checked before anything is drawn);
/// connecting; a snapshot failing (the node went away); the terminal failing.
pub(crate) fn run(node: &Node, args: &TopArgs) -> anyhow::Result<()> {
    if !io::stdout().is_terminal() {
        return Err(CliError::NotATerminal.into());
    }
    let process = node.connect()?;
    let url = node.url();
    let started = Instant::now();
    // The first snapshot before the screen changes: a failure is reported on a normal terminal.
    let first = snapshot(&process, started)?;
    let mut screen = Screen::enter().context("cannot set up the terminal")?;
    let mut previous: Option<Snapshot> = None;
    let mut current = first;
    loop {
        let view = View::new(previous.as_ref(), &current);
        screen.draw(&view, &url, args.interval)?;
        let next = Instant::now() + args.interval;
        // Keys and resizes until the next refresh.
        loop {
            let left = next.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            if !event::poll(left).context("cannot read the terminal")? {
                continue;
            }
            match event::read().context("cannot read the terminal")? {
                Event::Key(key) if quits(key) => return Ok(()),
                Event::Resize(..) => screen.draw(&view, &url, args.interval)?,
                _ => {}
            }
        }
        previous = Some(current);
        current = snapshot(&process, started)?;
    }
}

/// Whether `key` ends `top`: `q`, Esc, or Ctrl-C (which raw mode delivers as a key).
fn quits(key: KeyEvent) -> bool {
    key.kind == KeyEventKind::Press
        && match key.code {
            KeyCode::Char('q' | 'Q') | KeyCode::Esc => true,
            KeyCode::Char('c') => key.modifiers.contains(KeyModifiers::CONTROL),
            _ => false,
        }
}

/// What the node reports now.
///
/// # Errors
///
/// A listing failing: the node went away, typically.
fn snapshot(process: &Process, started: Instant) -> anyhow::Result<Snapshot> {
    let failed = "cannot read the node's state";
    Ok(Snapshot {
        at: started.elapsed(),
        now: Timestamp::from_system_time(SystemTime::now()),
        node: process.node_stats().context(failed)?,
        mailboxes: process.list_mailboxes().context(failed)?,
        processes: process.list_processes().context(failed)?,
    })
}

/// The terminal while `top` owns it; dropping it gives it back.
struct Screen {
    /// ratatui's handle on stdout.
    terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl Screen {
    /// Raw mode, the alternate screen, no cursor; and a panic hook that undoes them before the
    /// previous hook reports the panic.
    fn enter() -> io::Result<Screen> {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
        enable_raw_mode()?;
        let entered = execute!(io::stdout(), EnterAlternateScreen, Hide)
            .and_then(|()| Terminal::new(CrosstermBackend::new(io::stdout())));
        match entered {
            Ok(terminal) => Ok(Screen { terminal }),
            Err(error) => {
                restore();
                Err(error)
            }
        }
    }

    /// Draws `view`.
    fn draw(&mut self, view: &View, url: &str, interval: Duration) -> anyhow::Result<()> {
        self.terminal
            .draw(|frame| render(frame, view, url, interval))
            .context("cannot draw on the terminal")?;
        Ok(())
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        restore();
    }
}

/// Gives the terminal back: raw mode off, the alternate screen left, the cursor shown. Each step
/// is tried whatever the others do; there is nowhere to report a failure.
fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(io::stdout(), LeaveAlternateScreen, Show);
}

/// One frame: a header with the node's totals, the mailboxes, the processes, a key hint.
fn render(frame: &mut Frame<'_>, view: &View, url: &str, interval: Duration) {
    let [header, mailboxes, processes, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Percentage(50),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    let node = &view.node;
    let rates = view.node_rates;
    frame.render_widget(
        Line::from(format!(
            "postbox top  {url}  {} processes  {} mailboxes  {} queued ({})  {} sent/s  {} recv/s",
            node.processes,
            node.mailboxes,
            node.queued_messages,
            show_bytes(node.queued_bytes),
            rate(rates.map(|r| r.sent)),
            rate(rates.map(|r| r.received)),
        )),
        header,
    );
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let mailbox_rows = view.mailboxes.iter().map(|m| {
        Row::new([
            m.name.clone(),
            m.messages.to_string(),
            m.bytes.to_string(),
            rate(m.rates.map(|r| r.sent)),
            rate(m.rates.map(|r| r.received)),
            m.blocked_senders.to_string(),
            m.blocked_receivers.to_string(),
        ])
    });
    let mailbox_table = Table::new(
        mailbox_rows,
        [
            Constraint::Fill(1),
            Constraint::Length(8),
            Constraint::Length(10),
            Constraint::Length(9),
            Constraint::Length(9),
            Constraint::Length(9),
            Constraint::Length(9),
        ],
    )
    .header(
        Row::new([
            "NAME",
            "MSGS",
            "BYTES",
            "SENT/s",
            "RECV/s",
            "SEND-WAIT",
            "RECV-WAIT",
        ])
        .style(bold),
    )
    .block(Block::bordered().title(" mailboxes, busiest first "));
    frame.render_widget(mailbox_table, mailboxes);
    let dash = |text: Option<String>| text.unwrap_or_else(|| "-".to_owned());
    let process_rows = view.processes.iter().map(|p| {
        Row::new([
            p.pid.to_string(),
            dash(p.os_pid.map(|pid| pid.to_string())),
            dash(p.name.clone()),
            p.inbox.to_string(),
            dash((!p.waits.is_empty()).then(|| p.waits.join("; "))),
            dash(p.command.clone()),
        ])
    });
    let process_table = Table::new(
        process_rows,
        [
            Constraint::Length(6),
            Constraint::Length(8),
            Constraint::Length(12),
            Constraint::Length(6),
            Constraint::Fill(1),
            Constraint::Fill(1),
        ],
    )
    .header(Row::new(["PID", "OS-PID", "NAME", "INBOX", "WAITING", "COMMAND"]).style(bold))
    .block(Block::bordered().title(" processes "));
    frame.render_widget(process_table, processes);
    frame.render_widget(
        Line::from(format!(
            "every {}  q, Esc or Ctrl-C quits",
            crate::output::duration(interval)
        )),
        footer,
    );
}

#[cfg(test)]
mod tests {
    use postbox_core::{EngineStats, MailboxAttrs, MailboxId, MailboxStats, Owner, Pid};
    use ratatui::backend::TestBackend;

    use super::*;

    #[test]
    fn q_esc_and_ctrl_c_quit_and_other_keys_do_not() {
        let key = |code, modifiers| KeyEvent::new(code, modifiers);
        assert!(quits(key(KeyCode::Char('q'), KeyModifiers::NONE)));
        assert!(quits(key(KeyCode::Esc, KeyModifiers::NONE)));
        assert!(quits(key(KeyCode::Char('c'), KeyModifiers::CONTROL)));
        assert!(!quits(key(KeyCode::Char('c'), KeyModifiers::NONE)));
        assert!(!quits(key(KeyCode::Char('x'), KeyModifiers::NONE)));
    }

    #[test]
    fn a_frame_shows_the_totals_the_mailboxes_and_the_key_hint() {
        let stats = MailboxStats {
            id: MailboxId::from_raw(1),
            name: "jobs".into(),
            attrs: MailboxAttrs::system_owned(),
            owner: Owner::Process(Pid::from_raw(1)),
            uid: 0,
            gid: 0,
            mode: postbox_core::Mode::default(),
            messages: 3,
            bytes: 30,
            total_sent: 3,
            total_received: 0,
            dropped: 0,
            last_send: None,
            last_recv: None,
            created: Timestamp::ZERO,
            changed: Timestamp::ZERO,
            blocked_senders: 0,
            blocked_receivers: 0,
            openers: 1,
            leased: 0,
            dead_lettered: 0,
            duplicates_dropped: 0,
        };
        let snapshot = Snapshot {
            at: Duration::ZERO,
            now: Timestamp::ZERO,
            node: EngineStats {
                processes: 2,
                mailboxes: 1,
                ..EngineStats::default()
            },
            mailboxes: vec![stats],
            processes: Vec::new(),
        };
        let view = View::new(None, &snapshot);
        let mut terminal = Terminal::new(TestBackend::new(100, 20)).unwrap();
        terminal
            .draw(|frame| render(frame, &view, "unix:///x.sock", Duration::from_secs(1)))
            .unwrap();
        let text: String = terminal
            .backend()
            .buffer()
            .content()
            .iter()
            .map(|cell| cell.symbol())
            .collect();
        assert!(text.contains("2 processes"), "{text}");
        assert!(text.contains("jobs"), "{text}");
        assert!(text.contains("SENT/s"), "{text}");
        assert!(text.contains("q, Esc or Ctrl-C quits"), "{text}");
    }
}
