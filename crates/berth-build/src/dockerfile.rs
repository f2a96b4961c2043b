//! The Dockerfile as Berth runs it: parse-dockerfile's syntax tree turned
//! into owned stages and steps that keep their line numbers. Arguments stay
//! raw here; variables are substituted when a step runs, with the values it sees.

use parse_dockerfile as pd;

use crate::error::BuildError;

#[derive(Debug, Clone)]
pub struct Dockerfile {
    pub escape: char,
    /// ARGs before the first FROM: usable in FROM lines only (unless redeclared).
    pub global_args: Vec<ArgDecl>,
    pub stages: Vec<Stage>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ArgDecl {
    pub name: String,
    /// Raw, substituted when the ARG step runs.
    pub default: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Stage {
    pub index: usize,
    pub name: Option<String>,
    /// Raw image reference, `scratch`, or another stage's name.
    pub base: String,
    pub platform: Option<String>,
    pub line: usize,
    pub text: String,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone)]
pub struct Step {
    pub line: usize,
    /// The instruction as written, continuations joined (progress and history).
    pub text: String,
    pub op: Op,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CommandForm {
    Shell(String),
    Exec(Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Path(String),
    /// `COPY <<EOF /dest`: the file's content.
    HereDoc {
        body: String,
        expand: bool,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct CopyOp {
    pub add: bool,
    pub sources: Vec<Source>,
    pub dest: String,
    pub from: Option<String>,
    pub chown: Option<String>,
    pub chmod: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HealthOp {
    pub test: Option<CommandForm>,
    pub interval: Option<String>,
    pub timeout: Option<String>,
    pub start_period: Option<String>,
    pub start_interval: Option<String>,
    pub retries: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Here-documents are folded into the shell command.
    Run {
        command: CommandForm,
        network: Option<String>,
    },
    Cmd(CommandForm),
    Entrypoint(CommandForm),
    Env(String),
    Label(String),
    Arg(Vec<ArgDecl>),
    Expose(Vec<String>),
    Volume(Vec<String>),
    User(String),
    Workdir(String),
    Stopsignal(String),
    Healthcheck(HealthOp),
    Shell(Vec<String>),
    Onbuild(String),
    Maintainer(String),
    Copy(CopyOp),
}

impl Op {
    /// Steps that only change the image's config.
    pub fn config_only(&self) -> bool {
        !matches!(self, Op::Run { .. } | Op::Copy(_))
    }
}

/// Line (1-based) of a byte offset.
fn line_of(text: &str, pos: usize) -> usize {
    text.as_bytes()[..pos.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Removes line continuations and the comment lines inside them, as Docker
/// does before running a shell-form command.
pub fn join_continuations(s: &str, escape: char) -> String {
    let mut out = String::new();
    let mut lines = s.split('\n').peekable();
    let mut continued = false;
    while let Some(line) = lines.next() {
        if continued
            && (line.trim_start().starts_with('#') || line.trim().is_empty())
            && lines.peek().is_some()
        {
            continue;
        }
        let trimmed = line.trim_end();
        if let Some(body) = trimmed.strip_suffix(escape) {
            if lines.peek().is_some() {
                out.push_str(body);
                continued = true;
                continue;
            }
        }
        out.push_str(line);
        continued = false;
        if lines.peek().is_some() {
            out.push('\n');
        }
    }
    out
}

fn keyword_start(i: &pd::Instruction<'_>) -> usize {
    use pd::Instruction as I;
    match i {
        I::Add(x) => x.add.span.start,
        I::Arg(x) => x.arg.span.start,
        I::Cmd(x) => x.cmd.span.start,
        I::Copy(x) => x.copy.span.start,
        I::Entrypoint(x) => x.entrypoint.span.start,
        I::Env(x) => x.env.span.start,
        I::Expose(x) => x.expose.span.start,
        I::From(x) => x.from.span.start,
        I::Healthcheck(x) => x.healthcheck.span.start,
        I::Label(x) => x.label.span.start,
        I::Maintainer(x) => x.maintainer.span.start,
        I::Onbuild(x) => x.onbuild.span.start,
        I::Run(x) => x.run.span.start,
        I::Shell(x) => x.shell.span.start,
        I::Stopsignal(x) => x.stopsignal.span.start,
        I::User(x) => x.user.span.start,
        I::Volume(x) => x.volume.span.start,
        I::Workdir(x) => x.workdir.span.start,
        _ => 0,
    }
}

fn command(c: &pd::Command<'_>, escape: char) -> CommandForm {
    match c {
        pd::Command::Exec(a) => {
            CommandForm::Exec(a.value.iter().map(|s| s.value.to_string()).collect())
        }
        pd::Command::Shell(s) => {
            CommandForm::Shell(join_continuations(s.value, escape).trim().to_string())
        }
        _ => CommandForm::Shell(String::new()),
    }
}

/// An instruction's `--flags`, checked against the ones it takes.
struct Flags {
    what: &'static str,
    line: usize,
    flags: Vec<(String, Option<String>)>,
}

impl Flags {
    fn new(
        what: &'static str,
        line: usize,
        flags: &[pd::Flag<'_>],
        allowed: &[&str],
    ) -> Result<Self, BuildError> {
        let mut out = Vec::new();
        for f in flags {
            let name = f.name.value.to_string();
            if !allowed.contains(&name.as_str()) {
                return Err(BuildError::parse(
                    line,
                    format!("{what}: unknown flag: --{name}"),
                ));
            }
            out.push((name, f.value.as_ref().map(|v| v.value.to_string())));
        }
        Ok(Flags {
            what,
            line,
            flags: out,
        })
    }

    fn value(&self, name: &str) -> Result<Option<String>, BuildError> {
        match self.flags.iter().rev().find(|(n, _)| n == name) {
            None => Ok(None),
            Some((_, Some(v))) => Ok(Some(v.clone())),
            Some((_, None)) => Err(BuildError::parse(
                self.line,
                format!("{}: --{name} needs a value", self.what),
            )),
        }
    }
}

fn arg_decls(raw: &str) -> Vec<ArgDecl> {
    raw.split_whitespace()
        .map(|w| match w.split_once('=') {
            Some((k, v)) => ArgDecl {
                name: k.into(),
                default: Some(v.into()),
            },
            None => ArgDecl {
                name: w.into(),
                default: None,
            },
        })
        .collect()
}

fn step(i: &pd::Instruction<'_>, text: &str, escape: char, line: usize) -> Result<Op, BuildError> {
    use pd::Instruction as I;
    let s = |u: &pd::UnescapedString<'_>| u.value.to_string();
    Ok(match i {
        I::Run(r) => {
            let flags = Flags::new("RUN", line, &r.options, &["network"])?;
            let network = flags.value("network")?;
            let command = match (r.here_docs.first(), &r.arguments) {
                (Some(doc), pd::Command::Shell(rest)) => {
                    let rest = join_continuations(rest.value, escape);
                    if rest.trim().is_empty() {
                        // The here-document is the script, run by the shell.
                        CommandForm::Shell(doc.value.to_string())
                    } else {
                        // `RUN <<EOF cmd`: the shell reads the document on cmd's stdin.
                        let delim = "BERTH_HEREDOC_EOF";
                        let open = if doc.expand {
                            delim.to_string()
                        } else {
                            format!("'{delim}'")
                        };
                        let mut body = doc.value.to_string();
                        if !body.ends_with('\n') {
                            body.push('\n');
                        }
                        CommandForm::Shell(format!("<<{open} {}\n{body}{delim}", rest.trim()))
                    }
                }
                (_, c) => command(c, escape),
            };
            Op::Run { command, network }
        }
        I::Cmd(c) => Op::Cmd(command(&c.arguments, escape)),
        I::Entrypoint(c) => Op::Entrypoint(command(&c.arguments, escape)),
        I::Env(e) => Op::Env(s(&e.arguments)),
        I::Label(l) => Op::Label(s(&l.arguments)),
        I::Arg(a) => Op::Arg(arg_decls(&a.arguments.value)),
        I::Expose(e) => Op::Expose(e.arguments.iter().map(s).collect()),
        I::Volume(v) => Op::Volume(match &v.arguments {
            pd::JsonOrStringArray::Json(a) => a.value.iter().map(s).collect(),
            pd::JsonOrStringArray::String(a) => a.iter().map(s).collect(),
        }),
        I::User(u) => Op::User(s(&u.arguments)),
        I::Workdir(w) => Op::Workdir(s(&w.arguments)),
        I::Stopsignal(x) => Op::Stopsignal(s(&x.arguments)),
        I::Shell(x) => Op::Shell(x.arguments.iter().map(s).collect()),
        I::Maintainer(m) => Op::Maintainer(s(&m.name)),
        I::Onbuild(o) => {
            if matches!(
                *o.instruction,
                I::From(_) | I::Onbuild(_) | I::Maintainer(_)
            ) {
                return Err(BuildError::parse(
                    line,
                    format!("{text}: that instruction is not allowed as an ONBUILD trigger"),
                ));
            }
            // The trigger is stored as written and parsed again when it fires.
            let after = text.trim_start()[7..].trim_start();
            Op::Onbuild(after.to_string())
        }
        I::Healthcheck(h) => {
            let f = Flags::new(
                "HEALTHCHECK",
                line,
                &h.options,
                &[
                    "interval",
                    "timeout",
                    "start-period",
                    "start-interval",
                    "retries",
                ],
            )?;
            let test = match &h.arguments {
                pd::HealthcheckArguments::Cmd { arguments, .. } => Some(command(arguments, escape)),
                _ => None,
            };
            Op::Healthcheck(HealthOp {
                test,
                interval: f.value("interval")?,
                timeout: f.value("timeout")?,
                start_period: f.value("start-period")?,
                start_interval: f.value("start-interval")?,
                retries: f.value("retries")?,
            })
        }
        I::Copy(c) => {
            let f = Flags::new(
                "COPY",
                line,
                &c.options,
                &["from", "chown", "chmod", "link", "parents", "exclude"],
            )?;
            if f.flags
                .iter()
                .any(|(n, _)| n == "parents" || n == "exclude")
            {
                return Err(BuildError::parse(
                    line,
                    "COPY --parents and --exclude are not supported by this version of berthd",
                ));
            }
            Op::Copy(CopyOp {
                add: false,
                sources: sources(&c.src),
                dest: s(&c.dest),
                from: f.value("from")?,
                chown: f.value("chown")?,
                chmod: f.value("chmod")?,
            })
        }
        I::Add(c) => {
            let f = Flags::new(
                "ADD",
                line,
                &c.options,
                &["chown", "chmod", "link", "keep-git-dir", "checksum"],
            )?;
            if f.value("checksum")?.is_some() {
                return Err(BuildError::parse(
                    line,
                    "ADD --checksum is not supported by this version of berthd",
                ));
            }
            Op::Copy(CopyOp {
                add: true,
                sources: sources(&c.src),
                dest: s(&c.dest),
                from: None,
                chown: f.value("chown")?,
                chmod: f.value("chmod")?,
            })
        }
        I::From(_) => unreachable!("FROM starts a stage"),
        _ => {
            return Err(BuildError::parse(
                line,
                format!("unknown instruction: {text}"),
            ))
        }
    })
}

fn sources(src: &[pd::Source<'_>]) -> Vec<Source> {
    src.iter()
        .map(|s| match s {
            pd::Source::Path(p) => Source::Path(p.value.to_string()),
            pd::Source::HereDoc(d) => Source::HereDoc {
                body: d.value.to_string(),
                expand: d.expand,
            },
            _ => Source::Path(String::new()),
        })
        .collect()
}

/// The first line of an instruction, continuations joined: what Docker prints as the step.
fn display(raw: &str, escape: char) -> String {
    let joined = join_continuations(raw, escape);
    joined.lines().next().unwrap_or_default().trim().to_string()
}

/// The heredoc operator in `s` outside quotes, if any: (start, end) byte offsets.
fn heredoc_operator(s: &str) -> Option<(usize, usize)> {
    let b = s.as_bytes();
    let mut quote = None;
    let mut i = 0;
    while i < b.len() {
        match (quote, b[i]) {
            (None, b'\'' | b'"') => quote = Some(b[i]),
            (Some(q), c) if c == q => quote = None,
            (None, b'\\') => i += 1,
            (None, b'<') if b.get(i + 1) == Some(&b'<') && b.get(i + 2) != Some(&b'<') => {
                let mut j = i + 2;
                if b.get(j) == Some(&b'-') {
                    j += 1;
                }
                let quoted = matches!(b.get(j), Some(b'\'' | b'"'));
                if quoted {
                    j += 1;
                }
                let word = j;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                    j += 1;
                }
                if j == word {
                    return None;
                }
                if quoted {
                    j += 1;
                }
                return Some((i, j.min(b.len())));
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// `RUN cat <<EOF > f` becomes `RUN <<EOF cat > f`, the same command to a
/// shell (redirections may come first), in the form parse-dockerfile takes:
/// it only knows a here-document that starts the command. Lines keep their numbers.
fn hoist_heredocs(text: &str) -> String {
    let mut out = Vec::new();
    for line in text.split('\n') {
        let trimmed = line.trim_start();
        // By `get`: byte 4 may fall inside a character of a hostile line.
        let is_run = trimmed.len() > 4
            && trimmed
                .get(..4)
                .is_some_and(|k| k.eq_ignore_ascii_case("RUN "));
        if !is_run {
            out.push(line.to_string());
            continue;
        }
        let indent = &line[..line.len() - trimmed.len()];
        let mut rest = trimmed[4..].trim_start();
        let mut flags = String::new();
        while rest.starts_with("--") {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            flags.push_str(&rest[..end]);
            flags.push(' ');
            rest = rest[end..].trim_start();
        }
        match heredoc_operator(rest) {
            Some((a, b)) if a > 0 => {
                let command = format!("{} {}", rest[..a].trim_end(), rest[b..].trim_start());
                out.push(format!(
                    "{indent}{} {flags}{} {}",
                    &trimmed[..3],
                    &rest[a..b],
                    command.trim()
                ));
            }
            _ => out.push(line.to_string()),
        }
    }
    out.join("\n")
}

/// The parser's errors in dockerd's words where they say the same thing.
fn parse_error(e: pd::Error) -> BuildError {
    let message = format!("{e:#}");
    if let Some(word) = message
        .strip_prefix("unknown instruction '")
        .and_then(|m| m.strip_suffix('\''))
    {
        return BuildError::parse(e.line(), format!("unknown instruction: {word}"));
    }
    // An instruction before any FROM.
    if message == "expected FROM" {
        return BuildError::parse(0, "no build stage in current context");
    }
    BuildError::parse(e.line(), message)
}

pub fn parse(text: &str) -> Result<Dockerfile, BuildError> {
    // A UTF-8 byte order mark is not part of the first instruction (Docker
    // drops it too); the parser would drop it and count its spans without it.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let hoisted = hoist_heredocs(text);
    let text = hoisted.as_str();
    let parsed = pd::parse(text).map_err(parse_error)?;
    let escape = parsed
        .parser_directives
        .escape
        .as_ref()
        .map(|d| d.value.value)
        .unwrap_or('\\');
    let starts: Vec<usize> = parsed.instructions.iter().map(keyword_start).collect();
    let raw_text = |idx: usize| {
        let end = starts.get(idx + 1).copied().unwrap_or(text.len());
        // Comments between two instructions belong to neither.
        let slice = &text[starts[idx]..end];
        let kept: Vec<&str> = slice
            .split('\n')
            .enumerate()
            .filter(|(n, l)| *n == 0 || !l.trim_start().starts_with('#'))
            .map(|(_, l)| l)
            .collect();
        kept.join("\n").trim_end().to_string()
    };
    let mut global_args = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    for (idx, ins) in parsed.instructions.iter().enumerate() {
        let line = line_of(text, starts[idx]);
        let raw = raw_text(idx);
        match ins {
            pd::Instruction::From(f) => {
                let flags = Flags::new("FROM", line, &f.options, &["platform"])?;
                let name = f.as_.as_ref().map(|(_, n)| n.value.to_ascii_lowercase());
                if let Some(n) = &name {
                    let ok = n.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                        && n.chars()
                            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
                    if !ok {
                        return Err(BuildError::parse(line, format!("invalid name for build stage: {n:?}, name can't start with a number or contain symbols")));
                    }
                }
                stages.push(Stage {
                    index: stages.len(),
                    name,
                    base: f.image.value.to_string(),
                    platform: flags.value("platform")?,
                    line,
                    text: display(&raw, escape),
                    steps: Vec::new(),
                });
            }
            pd::Instruction::Arg(a) if stages.is_empty() => {
                global_args.extend(arg_decls(&a.arguments.value))
            }
            other => {
                let op = step(other, &raw, escape, line)?;
                let stage = stages.last_mut().expect("the parser requires FROM first");
                stage.steps.push(Step {
                    line,
                    text: display(&raw, escape),
                    op,
                });
            }
        }
    }
    Ok(Dockerfile {
        escape,
        global_args,
        stages,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_steps_and_lines() {
        let df = parse(
            "# syntax=docker/dockerfile:1\nARG V=1\nFROM busybox:$V AS Build\n# note\nRUN echo a \\\n  # inner\n  && echo b\nCOPY --from=x --chown=1:2 a b /d/\nFROM scratch\nCMD [\"sh\"]\n",
        )
        .unwrap();
        assert_eq!(
            df.global_args,
            vec![ArgDecl {
                name: "V".into(),
                default: Some("1".into())
            }]
        );
        assert_eq!(df.stages.len(), 2);
        let s = &df.stages[0];
        assert_eq!(
            (s.name.as_deref(), s.base.as_str(), s.line),
            (Some("build"), "busybox:$V", 3)
        );
        assert_eq!(s.steps[0].line, 5);
        assert_eq!(
            s.steps[0].op,
            Op::Run {
                command: CommandForm::Shell("echo a   && echo b".into()),
                network: None
            }
        );
        assert_eq!(s.steps[0].text, "RUN echo a   && echo b");
        match &s.steps[1].op {
            Op::Copy(c) => {
                assert_eq!(c.from.as_deref(), Some("x"));
                assert_eq!(c.chown.as_deref(), Some("1:2"));
                assert_eq!(
                    c.sources,
                    vec![Source::Path("a".into()), Source::Path("b".into())]
                );
                assert_eq!(c.dest, "/d/");
            }
            o => panic!("{o:?}"),
        }
        assert_eq!(
            df.stages[1].steps[0].op,
            Op::Cmd(CommandForm::Exec(vec!["sh".into()]))
        );
    }

    #[test]
    fn heredocs() {
        let df = parse("FROM a\nRUN <<EOF\necho one\necho two\nEOF\nRUN <<'X' sh -e\necho $HOME\nX\nCOPY <<F /f\nbody\nF\n").unwrap();
        let st = &df.stages[0].steps;
        assert_eq!(
            st[0].op,
            Op::Run {
                command: CommandForm::Shell("echo one\necho two\n".into()),
                network: None
            }
        );
        assert_eq!(
            st[1].op,
            Op::Run {
                command: CommandForm::Shell(
                    "<<'BERTH_HEREDOC_EOF' sh -e\necho $HOME\nBERTH_HEREDOC_EOF".into()
                ),
                network: None
            }
        );
        match &st[2].op {
            Op::Copy(c) => assert_eq!(
                c.sources,
                vec![Source::HereDoc {
                    body: "body\n".into(),
                    expand: true
                }]
            ),
            o => panic!("{o:?}"),
        }
    }

    #[test]
    fn heredoc_after_the_command() {
        let df = parse("FROM a\nRUN cat <<EOF > /f && echo \"<<not\"\nline $HOME\nEOF\nRUN --network=none tee <<-'X' /g\n\tq\n\tX\nRUN echo '<<EOF'\n").unwrap();
        let st = &df.stages[0].steps;
        assert_eq!(
            st[0].op,
            Op::Run {
                command: CommandForm::Shell(
                    "<<BERTH_HEREDOC_EOF cat > /f && echo \"<<not\"\nline $HOME\nBERTH_HEREDOC_EOF"
                        .into()
                ),
                network: None
            }
        );
        assert_eq!(st[1].line, 5);
        assert_eq!(
            st[1].op,
            Op::Run {
                command: CommandForm::Shell(
                    "<<'BERTH_HEREDOC_EOF' tee /g\nq\nBERTH_HEREDOC_EOF".into()
                ),
                network: Some("none".into())
            }
        );
        assert_eq!(
            st[2].op,
            Op::Run {
                command: CommandForm::Shell("echo '<<EOF'".into()),
                network: None
            }
        );
    }

    #[test]
    fn lines_with_multibyte_characters_near_the_start_parse_or_fail_cleanly() {
        // Found by the dockerfile fuzz target: a byte-4 slice inside U+FEFF.
        let e = parse("FROM busybox\n\u{1}\u{e}\u{feff}\n").unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
        parse("FROM busybox\nRUN échos \"é\"\n").unwrap();
        // And a byte order mark before the first instruction (the parser's
        // spans do not count it).
        let df = parse("\u{feff}FROM busybox\nRUN echo 𭪱\nRUN true\n").unwrap();
        assert_eq!(df.stages[0].steps[0].text, "RUN echo 𭪱");
    }

    #[test]
    fn errors_name_the_line() {
        for (text, line, what) in [
            ("FROM a\nBOGUS x\n", 2, "line 2: unknown instruction: BOGUS"),
            ("RUN x\n", 0, "no build stage in current context"),
            ("FROM a\nCOPY a\n", 2, "two arguments"),
            ("FROM a AS x\nFROM b AS x\n", 2, "duplicate"),
            ("", 0, "FROM"),
            ("FROM a\nCOPY --bogus=1 a b\n", 2, "unknown flag"),
            ("FROM a\nRUN <<EOF\nno end\n", 4, "here-document"),
            ("FROM a AS 1x\n", 1, "invalid name"),
            ("FROM a\nONBUILD FROM b\n", 2, "not allowed"),
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.line(), Some(line).filter(|&l| l > 0), "{text:?}: {e}");
            assert!(e.to_string().contains(what), "{text:?}: {e}");
        }
    }

    #[test]
    fn escape_directive() {
        let df = parse("# escape=`\nFROM a\nRUN echo a `\n  b\n").unwrap();
        assert_eq!(df.escape, '`');
        assert_eq!(
            df.stages[0].steps[0].op,
            Op::Run {
                command: CommandForm::Shell("echo a   b".into()),
                network: None
            }
        );
    }
}
