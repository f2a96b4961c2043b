//! What the CLI says when a command fails, in the docker CLI's words: the
//! program's name as invoked (`docker` through a link of that name), flag
//! and argument errors with docker's usage lines, `run`'s `docker: …` form,
//! and docker's exit codes.

use std::sync::OnceLock;

use berth_client::ClientError;
use clap::error::{ContextKind, ContextValue, ErrorKind};

use crate::CliError;

/// `docker` when invoked through a link of that name, else `berth`.
pub fn prog() -> &'static str {
    static PROG: OnceLock<&'static str> = OnceLock::new();
    PROG.get_or_init(|| {
        let argv0 = std::env::args_os().next().unwrap_or_default();
        let base = std::path::Path::new(&argv0)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if base == "docker" {
            "docker"
        } else {
            "berth"
        }
    })
}

/// The command path the arguments name (`["container", "ls"]`), walking
/// clap's tree past global flags, as far as names match.
pub fn command_path(cmd: &clap::Command, args: &[String]) -> Vec<String> {
    let mut path = Vec::new();
    let mut cur = cmd;
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        if a == "-H" || a == "--host" {
            it.next();
            continue;
        }
        if a.starts_with('-') {
            continue;
        }
        match cur
            .get_subcommands()
            .find(|s| s.get_name() == a || s.get_all_aliases().any(|al| al == a))
        {
            Some(sub) => {
                path.push(sub.get_name().to_string());
                cur = sub;
            }
            None => break,
        }
    }
    path
}

/// docker's usage line for a command path, with this program's name.
pub fn usage(path: &[String]) -> String {
    let key = path.join(" ");
    let line = crate::usage::USAGE
        .iter()
        .find(|(p, _)| *p == key)
        .map(|(_, u)| u.to_string())
        .unwrap_or_else(|| format!("docker {key} [OPTIONS]"));
    named(&line)
}

fn named(docker_text: &str) -> String {
    match docker_text.strip_prefix("docker") {
        Some(rest) => format!("{}{rest}", prog()),
        None => docker_text.to_string(),
    }
}

fn full(path: &[String]) -> String {
    if path.is_empty() {
        prog().to_string()
    } else {
        format!("{} {}", prog(), path.join(" "))
    }
}

/// How many arguments a usage line takes: (at least, at most).
fn arity(usage: &str) -> (usize, Option<usize>) {
    let words: Vec<&str> = usage
        .split_whitespace()
        .skip(1)
        .filter(|w| !w.starts_with("[OPTIONS]") && !w.starts_with('-'))
        .filter(|w| w.chars().any(|c| c.is_ascii_uppercase()) && *w != "|")
        .collect();
    let mut min = 0;
    let mut max = Some(0);
    for w in &words {
        if w.contains("...") {
            max = None;
        }
        if w.starts_with('[') {
            max = max.map(|m| m + 1);
        } else {
            min += 1;
            max = max.map(|m| m + 1);
        }
    }
    (min, max)
}

/// docker's message about the number of arguments, and the word its hint starts with.
fn arity_message(path: &[String]) -> (String, &'static str) {
    let u = usage(path);
    let name = full(path);
    let plural = |n: usize| if n == 1 { "argument" } else { "arguments" };
    match arity(&u) {
        (0, Some(0)) => (format!("'{name}' accepts no arguments"), "Run"),
        (n, Some(m)) if n == m => (format!("'{name}' requires {n} {}", plural(n)), "Run"),
        (n, None) => (
            format!("'{name}' requires at least {n} {}", plural(n)),
            "See",
        ),
        (n, Some(m)) => (
            format!(
                "'{name}' requires at least {n} and at most {m} {}",
                plural(m)
            ),
            "See",
        ),
    }
}

fn context(e: &clap::Error, kind: ContextKind) -> Option<&str> {
    match e.get(kind)? {
        ContextValue::String(s) => Some(s.as_str()),
        ContextValue::Strings(v) => v.first().map(String::as_str),
        _ => None,
    }
}

/// A clap error as docker prints it, with the exit code docker gives it.
pub fn parse_error(e: &clap::Error, cmd: &clap::Command, args: &[String]) -> (String, i32) {
    let path = command_path(cmd, args);
    let flag_error = |msg: String| {
        (
            format!(
                "{msg}\n\nUsage:  {}\n\nRun '{} --help' for more information",
                usage(&path),
                full(&path)
            ),
            125,
        )
    };
    let arg_error = || {
        let (msg, hint) = arity_message(&path);
        (
            format!(
                "{}: {msg}\n\nUsage:  {}\n\n{hint} '{} --help' for more information",
                prog(),
                usage(&path),
                full(&path)
            ),
            1,
        )
    };
    match e.kind() {
        ErrorKind::UnknownArgument => {
            let arg = context(e, ContextKind::InvalidArg).unwrap_or("");
            if let Some(long) = arg.strip_prefix("--") {
                flag_error(format!(
                    "unknown flag: --{}",
                    long.split('=').next().unwrap_or("")
                ))
            } else if let Some(short) = arg.strip_prefix('-') {
                let c = short.chars().next().unwrap_or('-');
                flag_error(format!("unknown shorthand flag: '{c}' in {arg}"))
            } else {
                arg_error()
            }
        }
        ErrorKind::InvalidSubcommand => {
            // A group's own usage line is shown; the top level's is not.
            let usage_line = if path.is_empty() {
                String::new()
            } else {
                format!("\n\nUsage:  {}", usage(&path))
            };
            (
                format!(
                    "{}: unknown command: {} {}{usage_line}\n\nRun '{} --help' for more information",
                    prog(),
                    full(&path),
                    context(e, ContextKind::InvalidSubcommand).unwrap_or(""),
                    full(&path)
                ),
                1,
            )
        }
        ErrorKind::MissingRequiredArgument
        | ErrorKind::TooFewValues
        | ErrorKind::WrongNumberOfValues => arg_error(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            let arg = context(e, ContextKind::InvalidArg).unwrap_or("");
            let value = context(e, ContextKind::InvalidValue).unwrap_or("");
            if value.is_empty() {
                let flag = arg.split([' ', '=']).next().unwrap_or(arg);
                flag_error(format!("flag needs an argument: {flag}"))
            } else {
                let why = e
                    .source()
                    .map_or_else(|| "invalid value".into(), |s| go_parse_error(s, value));
                flag_error(format!(
                    "invalid argument {value:?} for {:?} flag: {why}",
                    docker_flag(cmd, &path, arg)
                ))
            }
        }
        _ => {
            let text = e.render().to_string();
            let first = text
                .lines()
                .next()
                .unwrap_or("")
                .trim_start_matches("error: ");
            flag_error(first.to_string())
        }
    }
}

/// A number that does not parse, in Go's `strconv` words.
fn go_parse_error(e: &(dyn std::error::Error + 'static), value: &str) -> String {
    use std::num::IntErrorKind;
    if let Some(i) = e.downcast_ref::<std::num::ParseIntError>() {
        let why = match i.kind() {
            IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => "value out of range",
            _ => "invalid syntax",
        };
        return format!("strconv.ParseInt: parsing {value:?}: {why}");
    }
    if e.downcast_ref::<std::num::ParseFloatError>().is_some() {
        return format!("strconv.ParseFloat: parsing {value:?}: invalid syntax");
    }
    e.to_string()
}

/// `-n, --last` as docker names a flag, from clap's `--last <LAST>`.
fn docker_flag(cmd: &clap::Command, path: &[String], arg: &str) -> String {
    let long = arg
        .split([' ', '='])
        .next()
        .unwrap_or(arg)
        .trim_start_matches('-');
    let mut cur = cmd;
    for p in path {
        if let Some(s) = cur.find_subcommand(p) {
            cur = s;
        }
    }
    let short = cur
        .get_arguments()
        .find(|a| a.get_long() == Some(long))
        .and_then(|a| a.get_short());
    match short {
        Some(s) => format!("-{s}, --{long}"),
        None => format!("--{long}"),
    }
}

use std::error::Error as _;

/// docker's exit codes: 1 for what a command reports, 125 for flag errors
/// and for `run` (the daemon or the CLI failed), 126/127 when the
/// container's command cannot be run.
pub fn exit_code(e: &CliError, run: bool) -> i32 {
    match e {
        CliError::Exit(c) | CliError::Status(_, c) => *c,
        CliError::Plain(_) => 1,
        CliError::Usage(_) => 125,
        CliError::Client(ClientError::Api { message, .. }) if run => {
            let m = message.to_ascii_lowercase();
            if m.contains("executable file not found") || m.contains("no such file or directory") {
                127
            } else if m.contains("permission denied") {
                126
            } else {
                125
            }
        }
        _ if run => 125,
        _ => 1,
    }
}

/// The text a failed command leaves on stderr.
pub fn report(e: &CliError, run: bool) -> Option<String> {
    let text = match e {
        CliError::Exit(_) => return None,
        // docker leaves the reason out; `-D`-style detail is for the daemon's log.
        CliError::Client(ClientError::Connect { host, .. }) => format!(
            "Cannot connect to the {} daemon at {host}. Is the {} daemon running?",
            if prog() == "docker" {
                "Docker"
            } else {
                "Berth"
            },
            prog()
        ),
        CliError::Plain(m) => return Some(m.clone()),
        e => e.to_string(),
    };
    Some(if run {
        format!(
            "{}: {text}\n\nRun '{} run --help' for more information",
            prog(),
            prog()
        )
    } else {
        text
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arities_from_usage_lines() {
        assert_eq!(arity("docker ps [OPTIONS]"), (0, Some(0)));
        assert_eq!(
            arity("docker rm [OPTIONS] CONTAINER [CONTAINER...]"),
            (1, None)
        );
        assert_eq!(arity("docker rename CONTAINER NEW_NAME"), (2, Some(2)));
        assert_eq!(
            arity("docker port CONTAINER [PRIVATE_PORT[/PROTO]]"),
            (1, Some(2))
        );
        assert_eq!(
            arity("docker run [OPTIONS] IMAGE [COMMAND] [ARG...]"),
            (1, None)
        );
    }
}
