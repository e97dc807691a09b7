//! The role process: opens its endpoints on pinned threads, says `ready`, waits for `go`, plays
//! its roles and reports.

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::sync::mpsc::channel;
use std::sync::{Arc, Barrier};

use crate::child_process::die_with_parent;
use crate::cpu::pin_thread;
use crate::mechanism::{Case, Mechanism};
use crate::plan::{Assignment, RunCounts};

use super::protocol::{
    ChildLine, RoleResult, format_assignment, format_workload, parse_assignment, parse_workload,
    role_label,
};
use super::role::play;

/// The hidden `role` subcommand's arguments: one run's case, and the roles this process plays.
#[derive(Clone, Debug, clap::Args)]
pub struct RoleArgs {
    /// The mechanism's name, as in the registry.
    #[arg(long)]
    pub mechanism: String,
    /// The workload: `ping-pong`, `throughput`, `fan-in:N`, `competing:N`.
    #[arg(long)]
    pub workload: String,
    /// Every message's size in bytes.
    #[arg(long)]
    pub size: usize,
    /// What `prepare` returned for the run.
    #[arg(long)]
    pub address: String,
    /// See [`RunCounts::count`].
    #[arg(long)]
    pub count: u64,
    /// See [`RunCounts::warmup`].
    #[arg(long, default_value_t = 0)]
    pub warmup: u64,
    /// See [`RunCounts::min`].
    #[arg(long, default_value_t = 0)]
    pub min: u64,
    /// See [`RunCounts::window_ms`].
    #[arg(long, default_value_t = 0)]
    pub window_ms: u64,
    /// A role and its CPU, `ROLE@CPU` (repeated: the roles run as threads of this process).
    #[arg(long = "assign", required = true)]
    pub assignments: Vec<String>,
}

impl RoleArgs {
    /// The arguments for a child playing `assignments` of `case`.
    pub fn new(
        mechanism: &dyn Mechanism,
        case: &Case,
        address: &str,
        counts: RunCounts,
        assignments: &[Assignment],
    ) -> RoleArgs {
        RoleArgs {
            mechanism: mechanism.name(),
            workload: format_workload(case.workload),
            size: case.size,
            address: address.to_owned(),
            count: counts.count,
            warmup: counts.warmup,
            min: counts.min,
            window_ms: counts.window_ms,
            assignments: assignments.iter().copied().map(format_assignment).collect(),
        }
    }

    /// As command-line arguments, after the subcommand's name.
    pub fn to_args(&self) -> Vec<String> {
        let mut args = vec![
            "--mechanism".to_owned(),
            self.mechanism.clone(),
            "--workload".to_owned(),
            self.workload.clone(),
            "--size".to_owned(),
            self.size.to_string(),
            "--address".to_owned(),
            self.address.clone(),
            "--count".to_owned(),
            self.count.to_string(),
            "--warmup".to_owned(),
            self.warmup.to_string(),
            "--min".to_owned(),
            self.min.to_string(),
            "--window-ms".to_owned(),
            self.window_ms.to_string(),
        ];
        for assignment in &self.assignments {
            args.push("--assign".to_owned());
            args.push(assignment.clone());
        }
        args
    }
}

/// Prints a protocol line on stdout, at once.
fn say(line: &ChildLine) {
    let mut stdout = std::io::stdout().lock();
    // If the harness is gone there is nobody to tell; the parent-death signal ends us anyway.
    let _ = writeln!(stdout, "{}", line.render());
    let _ = stdout.flush();
}

/// Reports `message` as this child's failure and exits, without waiting for role threads that
/// may be blocked on peers that will never come.
fn fail(message: String) -> ! {
    say(&ChildLine::Error(message));
    std::process::exit(1)
}

/// Runs `f`, turning a panic (a bug in a mechanism) into an error at once, so that the run fails
/// now rather than when the harness's timeout expires. The panic message itself has already
/// gone to stderr.
fn unwound<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .map_err(|_| "panicked (see the message above)".to_owned())
}

/// Runs the `role` subcommand: plays `args`' roles of one run with the mechanism of that name
/// among `mechanisms`, speaking the [protocol](super::protocol) on stdin and stdout.
pub fn run_child(args: &RoleArgs, mechanisms: &[Box<dyn Mechanism>]) -> ExitCode {
    if let Err(e) = die_with_parent() {
        fail(e.to_string());
    }
    let Some(mechanism) = mechanisms.iter().find(|m| m.name() == args.mechanism) else {
        fail(format!("no mechanism called {:?}", args.mechanism));
    };
    let Some(workload) = parse_workload(&args.workload) else {
        fail(format!("unknown workload {:?}", args.workload));
    };
    let case = Case {
        workload,
        size: args.size,
    };
    let counts = RunCounts {
        count: args.count,
        warmup: args.warmup,
        min: args.min,
        window_ms: args.window_ms,
    };
    let mut assignments = Vec::new();
    for text in &args.assignments {
        match parse_assignment(text) {
            Some(assignment) => assignments.push(assignment),
            None => fail(format!("bad role assignment {text:?} (expected ROLE@CPU)")),
        }
    }
    // Listening roles open first, as the mechanism contract says.
    assignments.sort_by_key(|a| !a.role.listens());
    // A process that plays one role (or several on one CPU) is pinned as a whole, before anything
    // else starts, so that every thread a mechanism starts inherits the CPU.
    if let Some(first) = assignments.first()
        && assignments.iter().all(|a| a.cpu == first.cpu)
        && let Err(e) = pin_thread(first.cpu)
    {
        fail(format!("cannot pin to CPU {}: {e}", first.cpu));
    }
    play_roles(
        mechanism.as_ref(),
        &case,
        &args.address,
        counts,
        &assignments,
    )
}

/// One thread per role: open, wait for `go`, play, report; endpoints stay open until exit.
fn play_roles(
    mechanism: &dyn Mechanism,
    case: &Case,
    address: &str,
    counts: RunCounts,
    assignments: &[Assignment],
) -> ! {
    let roles = assignments.len();
    let go = Arc::new(Barrier::new(roles + 1));
    // Never reached by the main thread: role threads wait here, holding their endpoints open,
    // until the process exits.
    let hold = Arc::new(Barrier::new(roles + 1));
    let (opened_tx, opened_rx) = channel::<(usize, Result<(), String>)>();
    let (done_tx, done_rx) = channel::<(usize, Result<RoleResult, String>)>();
    std::thread::scope(|scope| {
        let start = |slot: usize, assignment: Assignment| {
            let (go, hold) = (go.clone(), hold.clone());
            let (opened_tx, done_tx) = (opened_tx.clone(), done_tx.clone());
            let label = role_label(assignment.role);
            let spawned = std::thread::Builder::new()
                .name(label.clone())
                .spawn_scoped(scope, move || {
                    let opened = pin_thread(assignment.cpu)
                        .map_err(|e| format!("cannot pin to CPU {}: {e}", assignment.cpu))
                        .and_then(|()| {
                            unwound(|| mechanism.open(case, address, assignment.role))?
                                .map_err(|e| format!("open failed: {e}"))
                        });
                    let mut endpoint = match opened {
                        Ok(endpoint) => {
                            let _ = opened_tx.send((slot, Ok(())));
                            endpoint
                        }
                        Err(e) => {
                            let _ = opened_tx.send((slot, Err(format!("{label}: {e}"))));
                            return;
                        }
                    };
                    go.wait();
                    let result = unwound(|| play(assignment.role, case, counts, endpoint.as_mut()))
                        .and_then(|played| played.map_err(|e| e.to_string()))
                        .map_err(|e| format!("{label}: {e}"));
                    let _ = done_tx.send((slot, result));
                    hold.wait();
                    drop(endpoint);
                });
            if let Err(e) = spawned {
                fail(format!("cannot start a thread: {e}"));
            }
        };
        let listening = assignments.iter().filter(|a| a.role.listens()).count();
        for (phase, range) in [(0, 0..listening), (1, listening..roles)] {
            for slot in range.clone() {
                start(slot, assignments[slot]);
            }
            for _ in range {
                match opened_rx.recv() {
                    Ok((_, Ok(()))) => {}
                    Ok((_, Err(e))) => fail(e),
                    Err(_) => fail(format!("a role thread died while opening (phase {phase})")),
                }
            }
        }
        say(&ChildLine::Ready);
        let mut line = String::new();
        match std::io::stdin().lock().read_line(&mut line) {
            Ok(_) if line.trim() == "go" => {}
            Ok(0) => std::process::exit(1), // The harness is gone; nobody waits for us.
            Ok(_) => fail(format!("expected `go`, got {:?}", line.trim())),
            Err(e) => fail(format!("cannot read stdin: {e}")),
        }
        go.wait();
        let mut results: Vec<Option<RoleResult>> = vec![None; roles];
        for _ in 0..roles {
            match done_rx.recv() {
                Ok((slot, Ok(result))) => results[slot] = Some(result),
                Ok((_, Err(e))) => fail(e),
                Err(_) => fail("a role thread died while playing".to_owned()),
            }
        }
        say(&ChildLine::Result(results.into_iter().flatten().collect()));
        // Keep every endpoint open until the harness ends this process (it closes our stdin or
        // kills us once all roles of the run have reported).
        let mut rest = String::new();
        let _ = std::io::stdin().lock().read_line(&mut rest);
        std::process::exit(0)
    });
    std::process::exit(0)
}
