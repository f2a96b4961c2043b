//! Go's text/template syntax, lexed and parsed into a tree: text, actions
//! (pipelines with variable declarations), `if`/`range`/`with` with `else`
//! (and `else if`/`else with`), `break`/`continue`, comments and the `{{-`
//! `-}}` trim markers. Positions are byte offsets, as Go reports them.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `.`
    Dot,
    /// `.A.B` (on dot), or fields after a variable or a parenthesised pipeline.
    Field {
        recv: Option<Box<Expr>>,
        names: Vec<String>,
    },
    /// `$x.A.B` (`$` alone is the data the template was given).
    Var {
        name: String,
        names: Vec<String>,
    },
    Lit(Value),
    Nil,
    /// A function name (the first word of a command).
    Ident(String),
    /// `( pipeline )`.
    Pipe(Box<Pipeline>),
}

/// An expression with where it starts and how it reads (for error messages).
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    pub expr: Expr,
    pub pos: usize,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    pub args: Vec<Term>,
    pub pos: usize,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    /// Variables declared (`:=`) or assigned (`=`) with the pipeline's value.
    pub vars: Vec<String>,
    pub declare: bool,
    pub cmds: Vec<Command>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Text(String),
    Action(Pipeline),
    If(Pipeline, Vec<Node>, Vec<Node>),
    Range(Pipeline, Vec<Node>, Vec<Node>),
    With(Pipeline, Vec<Node>, Vec<Node>),
    Break,
    Continue,
}

/// Functions a template may call: Go's built-ins and the docker CLI's.
pub const FUNCS: &[&str] = &[
    "and", "or", "not", "len", "index", "slice", "print", "printf", "println", "eq", "ne", "lt",
    "le", "gt", "ge", "urlquery", "json", "split", "join", "title", "lower", "upper", "pad",
    "truncate",
];

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Field(String),
    Var(String),
    Dot,
    Str(String),
    Num(Value),
    Word(String),
    Open,
    Close,
    Bar,
    Comma,
    Declare,
    Assign,
}

fn err(msg: impl std::fmt::Display, src: &str, pos: usize) -> String {
    let line = 1 + src[..pos.min(src.len())].matches('\n').count();
    format!("template: :{line}: {msg}")
}

/// Splits one action's text into tokens, each with its offset in `src`.
fn lex_action(src: &str, start: usize, end: usize) -> Result<Vec<(Tok, usize, usize)>, String> {
    let b = src.as_bytes();
    let mut i = start;
    let mut out = Vec::new();
    let ident = |i: &mut usize| {
        let s = *i;
        while *i < end && (b[*i].is_ascii_alphanumeric() || b[*i] == b'_' || b[*i] >= 0x80) {
            *i += 1;
        }
        src[s..*i].to_string()
    };
    while i < end {
        let c = b[i];
        let s = i;
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => {
                i += 1;
                continue;
            }
            b'(' => {
                i += 1;
                out.push((Tok::Open, s, i));
            }
            b')' => {
                i += 1;
                out.push((Tok::Close, s, i));
            }
            b'|' => {
                i += 1;
                out.push((Tok::Bar, s, i));
            }
            b',' => {
                i += 1;
                out.push((Tok::Comma, s, i));
            }
            b':' if b.get(i + 1) == Some(&b'=') => {
                i += 2;
                out.push((Tok::Declare, s, i));
            }
            b'=' => {
                i += 1;
                out.push((Tok::Assign, s, i));
            }
            b'"' => {
                i += 1;
                let mut v = String::new();
                loop {
                    if i >= end {
                        return Err(err("unterminated quoted string", src, s));
                    }
                    let ch = src[i..].chars().next().unwrap_or('\0');
                    i += ch.len_utf8();
                    match ch {
                        '"' => break,
                        '\\' => {
                            let e = src[i..].chars().next().unwrap_or('\0');
                            i += e.len_utf8();
                            match e {
                                'n' => v.push('\n'),
                                't' => v.push('\t'),
                                'r' => v.push('\r'),
                                '\\' => v.push('\\'),
                                '"' => v.push('"'),
                                '\'' => v.push('\''),
                                'u' if i + 4 <= end => {
                                    let code = u32::from_str_radix(&src[i..i + 4], 16)
                                        .map_err(|_| err("invalid syntax", src, s))?;
                                    v.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                                    i += 4;
                                }
                                _ => return Err(err("invalid syntax", src, s)),
                            }
                        }
                        '\n' => return Err(err("unterminated quoted string", src, s)),
                        o => v.push(o),
                    }
                }
                out.push((Tok::Str(v), s, i));
            }
            b'`' => {
                let close = src[i + 1..end]
                    .find('`')
                    .ok_or_else(|| err("unterminated raw quoted string", src, s))?;
                let v = src[i + 1..i + 1 + close].to_string();
                i += close + 2;
                out.push((Tok::Str(v), s, i));
            }
            b'.' => {
                i += 1;
                if i < end && (b[i].is_ascii_alphabetic() || b[i] == b'_') {
                    let name = ident(&mut i);
                    out.push((Tok::Field(name), s, i));
                } else if i < end && b[i].is_ascii_digit() {
                    i = s;
                    out.push(number(src, &mut i, end)?);
                } else {
                    out.push((Tok::Dot, s, i));
                }
            }
            b'$' => {
                i += 1;
                let name = ident(&mut i);
                out.push((Tok::Var(format!("${name}")), s, i));
            }
            b'-' | b'+' | b'0'..=b'9' => out.push(number(src, &mut i, end)?),
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let w = ident(&mut i);
                out.push((Tok::Word(w), s, i));
            }
            _ => {
                let ch = src[i..].chars().next().unwrap_or('?');
                return Err(err(format!("unexpected {ch:?} in command"), src, s));
            }
        }
    }
    Ok(out)
}

fn number(src: &str, i: &mut usize, end: usize) -> Result<(Tok, usize, usize), String> {
    let s = *i;
    let b = src.as_bytes();
    while *i < end && (b[*i].is_ascii_alphanumeric() || matches!(b[*i], b'.' | b'+' | b'-' | b'_'))
    {
        // A sign only leads the number or follows an exponent.
        if matches!(b[*i], b'+' | b'-') && *i > s && !matches!(b[*i - 1], b'e' | b'E') {
            break;
        }
        *i += 1;
    }
    let text = &src[s..*i];
    let v = if let Ok(n) = text.parse::<i64>() {
        Value::from(n)
    } else if let Some(h) = text.strip_prefix("0x") {
        Value::from(
            i64::from_str_radix(h, 16)
                .map_err(|_| err(format!("bad number syntax: {text:?}"), src, s))?,
        )
    } else {
        text.parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| err(format!("bad number syntax: {text:?}"), src, s))?
    };
    Ok((Tok::Num(v), s, *i))
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<(Tok, usize, usize)>,
    at: usize,
    /// Where this action starts (for messages about an empty one).
    action: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|t| &t.0)
    }

    fn pos(&self) -> usize {
        self.toks.get(self.at).map_or(self.action, |t| t.1)
    }

    fn end_of(&self, i: usize) -> usize {
        self.toks.get(i).map_or(self.action, |t| t.2)
    }

    fn fail<T>(&self, msg: impl std::fmt::Display) -> Result<T, String> {
        Err(err(msg, self.src, self.pos()))
    }

    fn pipeline(&mut self, decl_ok: bool, in_parens: bool) -> Result<Pipeline, String> {
        let mut vars = Vec::new();
        let mut declare = false;
        // `$x :=`, `$x =`, `$i, $v :=` (the comma form in range only, as Go).
        if decl_ok {
            let save = self.at;
            let mut names = Vec::new();
            while let Some(Tok::Var(v)) = self.peek() {
                names.push(v.clone());
                self.at += 1;
                match self.peek() {
                    Some(Tok::Comma) if names.len() < 2 => self.at += 1,
                    _ => break,
                }
            }
            match self.peek() {
                Some(Tok::Declare) if !names.is_empty() => {
                    self.at += 1;
                    vars = names;
                    declare = true;
                }
                Some(Tok::Assign) if !names.is_empty() => {
                    self.at += 1;
                    vars = names;
                }
                _ => self.at = save,
            }
        }
        let mut cmds = Vec::new();
        loop {
            let mut args = Vec::new();
            while let Some(t) = self.peek() {
                if matches!(t, Tok::Bar) || (matches!(t, Tok::Close) && in_parens) {
                    break;
                }
                args.push(self.operand()?);
            }
            if args.is_empty() {
                return self.fail("missing value for command");
            }
            let pos = args[0].pos;
            let text = self.src[pos..self.end_of(self.at - 1)].to_string();
            cmds.push(Command { args, pos, text });
            if matches!(self.peek(), Some(Tok::Bar)) {
                self.at += 1;
                continue;
            }
            break;
        }
        Ok(Pipeline {
            vars,
            declare,
            cmds,
        })
    }

    fn operand(&mut self) -> Result<Term, String> {
        let (tok, pos, _) = self.toks[self.at].clone();
        self.at += 1;
        let mut expr = match tok {
            Tok::Dot => Expr::Dot,
            Tok::Field(f) => Expr::Field {
                recv: None,
                names: vec![f],
            },
            Tok::Var(v) => Expr::Var {
                name: v,
                names: vec![],
            },
            Tok::Str(s) => Expr::Lit(Value::String(s)),
            Tok::Num(n) => Expr::Lit(n),
            Tok::Word(w) => match w.as_str() {
                "true" => Expr::Lit(Value::Bool(true)),
                "false" => Expr::Lit(Value::Bool(false)),
                "nil" => Expr::Nil,
                _ if FUNCS.contains(&w.as_str()) => Expr::Ident(w),
                _ => return Err(err(format!("function {w:?} not defined"), self.src, pos)),
            },
            Tok::Open => {
                let p = self.pipeline(false, true)?;
                if !matches!(self.peek(), Some(Tok::Close)) {
                    return self.fail("unclosed left paren");
                }
                self.at += 1;
                Expr::Pipe(Box::new(p))
            }
            Tok::Close => return Err(err("unexpected right paren", self.src, pos)),
            _ => {
                return Err(err(
                    format!("unexpected {:?} in operand", tok),
                    self.src,
                    pos,
                ))
            }
        };
        // Fields written right after the operand (no space) chain onto it.
        while let Some((Tok::Field(f), fpos, _)) = self.toks.get(self.at).cloned() {
            if fpos != self.end_of(self.at - 1) {
                break;
            }
            self.at += 1;
            match &mut expr {
                Expr::Field { names, .. } | Expr::Var { names, .. } => names.push(f),
                Expr::Dot => {
                    return Err(err("unexpected . after term \".\"", self.src, fpos));
                }
                _ => {
                    expr = Expr::Field {
                        recv: Some(Box::new(expr)),
                        names: vec![f],
                    }
                }
            }
        }
        let text = self.src[pos..self.end_of(self.at - 1)].to_string();
        Ok(Term { expr, pos, text })
    }
}

/// One `{{ … }}` of the source: its tokens' span and the text after it.
enum Piece {
    Text(String),
    Action { start: usize, end: usize },
}

fn split(src: &str) -> Result<Vec<Piece>, String> {
    let mut out = Vec::new();
    let mut i = 0;
    let mut trim_next = false;
    while i < src.len() {
        let Some(open) = src[i..].find("{{").map(|o| o + i) else {
            let mut t = &src[i..];
            if trim_next {
                t = t.trim_start();
            }
            out.push(Piece::Text(t.to_string()));
            break;
        };
        let mut text = &src[i..open];
        if trim_next {
            text = text.trim_start();
        }
        let mut start = open + 2;
        let b = src.as_bytes();
        if b.get(start) == Some(&b'-') && b.get(start + 1).is_some_and(|c| c.is_ascii_whitespace())
        {
            text = text.trim_end();
            start += 1;
        }
        if !text.is_empty() {
            out.push(Piece::Text(text.to_string()));
        }
        // Find the closing delimiter outside quoted strings.
        let mut j = start;
        let mut close = None;
        while j < src.len() {
            match b[j] {
                b'"' => {
                    j += 1;
                    while j < src.len() && b[j] != b'"' && b[j] != b'\n' {
                        j += if b[j] == b'\\' { 2 } else { 1 };
                    }
                }
                b'`' => {
                    j += 1;
                    while j < src.len() && b[j] != b'`' {
                        j += 1;
                    }
                }
                b'}' if b.get(j + 1) == Some(&b'}') => {
                    close = Some(j);
                    break;
                }
                _ => {}
            }
            j += 1;
        }
        let Some(close) = close else {
            return Err(err("unclosed action", src, src.len()));
        };
        let mut end = close;
        trim_next = false;
        if end > start && b[end - 1] == b'-' && end - 1 > start && b[end - 2].is_ascii_whitespace()
        {
            end -= 1;
            trim_next = true;
        }
        out.push(Piece::Action { start, end });
        i = close + 2;
    }
    Ok(out)
}

/// What ends a list of nodes.
enum Stop {
    Eof,
    End,
    Else(Option<(String, Pipeline)>),
}

struct Tree<'a> {
    src: &'a str,
    pieces: Vec<Piece>,
    at: usize,
    loops: usize,
}

impl Tree<'_> {
    fn list(&mut self) -> Result<(Vec<Node>, Stop), String> {
        let mut nodes = Vec::new();
        while self.at < self.pieces.len() {
            let i = self.at;
            self.at += 1;
            let (start, end) = match &self.pieces[i] {
                Piece::Text(t) => {
                    nodes.push(Node::Text(t.clone()));
                    continue;
                }
                Piece::Action { start, end } => (*start, *end),
            };
            let inner = self.src[start..end].trim();
            if inner.starts_with("/*") {
                if !inner.ends_with("*/") {
                    return Err(err("unclosed comment", self.src, start));
                }
                continue;
            }
            let toks = lex_action(self.src, start, end)?;
            let mut p = Parser {
                src: self.src,
                toks,
                at: 0,
                action: start,
            };
            let keyword = match p.peek() {
                Some(Tok::Word(w)) => Some(w.clone()),
                _ => None,
            };
            let body_pipeline = |p: &mut Parser, decl: bool| -> Result<Pipeline, String> {
                p.at = 1;
                let pipe = p.pipeline(decl, false)?;
                if p.at < p.toks.len() {
                    return p.fail("unexpected token in pipeline");
                }
                Ok(pipe)
            };
            match keyword.as_deref() {
                Some("end") => return Ok((nodes, Stop::End)),
                Some("else") => {
                    let chained = match p.toks.get(1).map(|t| &t.0) {
                        Some(Tok::Word(w)) if w == "if" || w == "with" => {
                            let kw = w.clone();
                            p.at = 2;
                            let pipe = p.pipeline(true, false)?;
                            Some((kw, pipe))
                        }
                        None => None,
                        _ => return Err(err("unexpected token after else", self.src, start)),
                    };
                    return Ok((nodes, Stop::Else(chained)));
                }
                Some(kw @ ("if" | "range" | "with")) => {
                    if p.toks.len() == 1 {
                        return Err(err(format!("missing value for {kw}"), self.src, start));
                    }
                    let pipe = body_pipeline(&mut p, true)?;
                    nodes.push(self.control(kw, pipe)?);
                }
                Some(kw @ ("break" | "continue")) => {
                    if self.loops == 0 {
                        return Err(err(
                            format!("{{{{{kw}}}}} outside {{{{range}}}}"),
                            self.src,
                            start,
                        ));
                    }
                    nodes.push(if kw == "break" {
                        Node::Break
                    } else {
                        Node::Continue
                    });
                }
                Some(kw @ ("define" | "template" | "block")) => {
                    return Err(err(
                        format!("{kw} is not supported by berth"),
                        self.src,
                        start,
                    ));
                }
                _ => {
                    if p.toks.is_empty() {
                        return Err(err("missing value for command", self.src, start));
                    }
                    let pipe = p.pipeline(true, false)?;
                    if p.at < p.toks.len() {
                        return p.fail(format!(
                            "unexpected {:?} in command",
                            &self.src[p.toks[p.at].1..p.toks[p.at].2]
                        ));
                    }
                    nodes.push(Node::Action(pipe));
                }
            }
        }
        Ok((nodes, Stop::Eof))
    }

    fn control(&mut self, kw: &str, pipe: Pipeline) -> Result<Node, String> {
        if kw == "range" {
            self.loops += 1;
        }
        let (body, stop) = self.list()?;
        if kw == "range" {
            self.loops -= 1;
        }
        let els = match stop {
            Stop::Eof => return Err(err("unexpected EOF", self.src, self.src.len())),
            Stop::End => vec![],
            Stop::Else(None) => {
                let (els, stop) = self.list()?;
                match stop {
                    Stop::End => els,
                    Stop::Eof => return Err(err("unexpected EOF", self.src, self.src.len())),
                    Stop::Else(_) => {
                        return Err(err(
                            "expected end; found {{else}}",
                            self.src,
                            self.src.len(),
                        ))
                    }
                }
            }
            // `{{else if …}}`: a nested if whose end closes both.
            Stop::Else(Some((kw2, pipe2))) => vec![self.control(&kw2, pipe2)?],
        };
        Ok(match kw {
            "if" => Node::If(pipe, body, els),
            "range" => Node::Range(pipe, body, els),
            _ => Node::With(pipe, body, els),
        })
    }
}

/// Parses a template's source into its nodes.
pub fn parse(src: &str) -> Result<Vec<Node>, String> {
    let pieces = split(src)?;
    let mut t = Tree {
        src,
        pieces,
        at: 0,
        loops: 0,
    };
    let (nodes, stop) = t.list()?;
    match stop {
        Stop::Eof => Ok(nodes),
        Stop::End => Err(err("unexpected {{end}}", src, src.len())),
        Stop::Else(_) => Err(err("unexpected {{else}}", src, src.len())),
    }
}
