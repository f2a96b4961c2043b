//! Docker's word processing for Dockerfile arguments: variable substitution
//! (`$a`, `${a}`, `${a:-b}`, `${a-b}`, `${a:+b}`, `${a+b}`, `${a:?msg}`),
//! quote removal and the escape character, and splitting into words.
//! RUN, CMD and ENTRYPOINT are not processed here: their shell does it.

use std::collections::BTreeMap;

/// The variables a step sees: its stage's ENV and the ARGs in scope.
pub type Vars = BTreeMap<String, String>;

pub struct Lexer {
    pub escape: char,
}

struct Scan<'a> {
    chars: Vec<char>,
    pos: usize,
    escape: char,
    vars: &'a Vars,
}

impl Lexer {
    /// One word: substitutions done, quotes and escapes removed.
    pub fn word(&self, s: &str, vars: &Vars) -> Result<String, String> {
        let mut sc = Scan::new(s, self.escape, vars);
        let words = sc.run(false, None)?;
        Ok(words.concat())
    }

    /// Several words, split on unquoted white space (also inside the values of
    /// unquoted variables, as Docker does).
    pub fn words(&self, s: &str, vars: &Vars) -> Result<Vec<String>, String> {
        let mut sc = Scan::new(s, self.escape, vars);
        sc.run(true, None)
    }

    /// `name=value` pairs of ENV, LABEL and ARG, or the legacy `ENV name value`
    /// form. Words keep their quotes until processed, so `a="b c"` is one pair.
    pub fn pairs(
        &self,
        s: &str,
        vars: &Vars,
        legacy: bool,
    ) -> Result<Vec<(String, String)>, String> {
        let raw = self.raw_words(s);
        if raw.is_empty() {
            return Err("requires at least one argument".into());
        }
        if legacy && !raw[0].contains('=') {
            // `ENV name value with spaces`: everything after the name is the value.
            let name = raw[0].clone();
            let rest = s.trim_start()[name.len()..].trim();
            return Ok(vec![(self.word(&name, vars)?, self.word(rest, vars)?)]);
        }
        raw.iter()
            .map(|w| {
                let (k, v) = w.split_once('=').ok_or_else(|| {
                    format!("syntax error - can't find = in {w:?}. Must be of the form: name=value")
                })?;
                if k.is_empty() {
                    return Err(format!("{w:?}: a name is required before ="));
                }
                Ok((self.word(k, vars)?, self.word(v, vars)?))
            })
            .collect()
    }

    /// Splits on unquoted white space keeping quotes and escapes in each word.
    fn raw_words(&self, s: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut cur = String::new();
        let mut quote: Option<char> = None;
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            match quote {
                Some(q) => {
                    cur.push(c);
                    if c == self.escape && q == '"' {
                        if let Some(n) = chars.next() {
                            cur.push(n);
                        }
                    } else if c == q {
                        quote = None;
                    }
                }
                None if c.is_whitespace() => {
                    if !cur.is_empty() {
                        out.push(std::mem::take(&mut cur));
                    }
                }
                None => {
                    cur.push(c);
                    if c == self.escape {
                        if let Some(n) = chars.next() {
                            cur.push(n);
                        }
                    } else if c == '"' || c == '\'' {
                        quote = Some(c);
                    }
                }
            }
        }
        if !cur.is_empty() {
            out.push(cur);
        }
        out
    }
}

impl<'a> Scan<'a> {
    fn new(s: &str, escape: char, vars: &'a Vars) -> Self {
        Scan {
            chars: s.chars().collect(),
            pos: 0,
            escape,
            vars,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }

    /// Scans until the end or `stop` (the `}` closing a `${...}` word).
    fn run(&mut self, split: bool, stop: Option<char>) -> Result<Vec<String>, String> {
        let mut words = Vec::new();
        let mut cur = String::new();
        // A word made only of quotes ("") is still a word.
        let mut started = false;
        while let Some(c) = self.peek() {
            if Some(c) == stop {
                break;
            }
            self.pos += 1;
            if c == '\'' {
                started = true;
                loop {
                    match self.next() {
                        Some('\'') => break,
                        Some(x) => cur.push(x),
                        None => return Err(
                            "unexpected end of statement while looking for matching single-quote"
                                .into(),
                        ),
                    }
                }
            } else if c == '"' {
                started = true;
                loop {
                    match self.next() {
                        Some('"') => break,
                        Some('$') => cur.push_str(&self.dollar()?.0),
                        Some(x) if x == self.escape => match self.peek() {
                            Some(n) if n == '"' || n == '$' || n == self.escape => {
                                self.pos += 1;
                                cur.push(n);
                            }
                            _ => cur.push(x),
                        },
                        Some(x) => cur.push(x),
                        None => return Err(
                            "unexpected end of statement while looking for matching double-quote"
                                .into(),
                        ),
                    }
                }
            } else if c == self.escape {
                if let Some(n) = self.next() {
                    cur.push(n);
                }
                started = true;
            } else if c == '$' {
                let (value, was_var) = self.dollar()?;
                if split && was_var {
                    // Unquoted expansions split into words.
                    let mut parts = value.split(char::is_whitespace);
                    if let Some(first) = parts.next() {
                        cur.push_str(first);
                    }
                    for p in parts {
                        if !cur.is_empty() || started {
                            words.push(std::mem::take(&mut cur));
                        }
                        started = false;
                        cur.push_str(p);
                    }
                    started |= !cur.is_empty();
                } else {
                    cur.push_str(&value);
                    started = true;
                }
            } else if split && c.is_whitespace() {
                if started || !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
                started = false;
            } else {
                cur.push(c);
                started = true;
            }
        }
        if started || !cur.is_empty() || (!split && words.is_empty()) {
            words.push(cur);
        }
        Ok(words)
    }

    /// After a `$`: the substituted value, and whether it was a variable at all.
    fn dollar(&mut self) -> Result<(String, bool), String> {
        match self.peek() {
            Some('{') => {
                self.pos += 1;
                let name = self.name();
                if name.is_empty() {
                    return Err("missing ':' in substitution".into());
                }
                let value = self.vars.get(&name).cloned();
                match self.next() {
                    Some('}') => Ok((value.unwrap_or_default(), true)),
                    Some(c) => {
                        let colon = c == ':';
                        let op = if colon { self.next() } else { Some(c) };
                        let word = self.run(false, Some('}'))?.concat();
                        if self.next() != Some('}') {
                            return Err(format!("syntax error: missing '}}' in ${{{name}"));
                        }
                        // With ':', an empty value counts as unset.
                        let set = match &value {
                            Some(v) => !colon || !v.is_empty(),
                            None => false,
                        };
                        let out = match op {
                            Some('-') => {
                                if set {
                                    value.unwrap_or_default()
                                } else {
                                    word
                                }
                            }
                            Some('+') => {
                                if set {
                                    word
                                } else {
                                    String::new()
                                }
                            }
                            Some('?') => {
                                if set {
                                    value.unwrap_or_default()
                                } else if word.is_empty() {
                                    return Err(format!("{name}: is not allowed to be unset"));
                                } else {
                                    return Err(format!("{name}: {word}"));
                                }
                            }
                            _ => {
                                return Err(format!(
                                    "unsupported modifier in substitution ${{{name}...}}"
                                ))
                            }
                        };
                        Ok((out, true))
                    }
                    None => Err(format!("syntax error: missing '}}' in ${{{name}")),
                }
            }
            _ => {
                let name = self.name();
                if name.is_empty() {
                    Ok(("$".into(), false))
                } else {
                    Ok((self.vars.get(&name).cloned().unwrap_or_default(), true))
                }
            }
        }
    }

    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == '_' {
                name.push(c);
                self.pos += 1;
            } else {
                break;
            }
        }
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        [("a", "1"), ("e", ""), ("sp", "x y")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn w(s: &str) -> String {
        Lexer { escape: '\\' }.word(s, &vars()).unwrap()
    }

    #[test]
    fn substitution_and_modifiers() {
        assert_eq!(w("$a-${a}"), "1-1");
        assert_eq!(w("${nope:-dflt}"), "dflt");
        assert_eq!(w("${e:-dflt}"), "dflt");
        assert_eq!(w("${e-dflt}"), "");
        assert_eq!(w("${a:+set}"), "set");
        assert_eq!(w("${nope:+set}"), "");
        assert_eq!(w("${e+set}"), "set");
        assert_eq!(w("${nope:-${a}x}"), "1x");
        assert_eq!(w("cost $"), "cost $");
        assert!(Lexer { escape: '\\' }
            .word("${nope:?must be set}", &vars())
            .unwrap_err()
            .contains("must be set"));
        assert!(Lexer { escape: '\\' }.word("${a", &vars()).is_err());
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(w(r#""$a b""#), "1 b");
        assert_eq!(w("'$a b'"), "$a b");
        assert_eq!(w(r"\$a"), "$a");
        assert_eq!(w(r#""a\"b""#), "a\"b");
        assert_eq!(w(r#""a\nb""#), "a\\nb");
        assert_eq!(Lexer { escape: '`' }.word("`$a", &vars()).unwrap(), "$a");
        assert!(Lexer { escape: '\\' }.word("'open", &vars()).is_err());
    }

    #[test]
    fn words_and_pairs() {
        let l = Lexer { escape: '\\' };
        assert_eq!(
            l.words("a  $sp \"$sp\" ''", &vars()).unwrap(),
            ["a", "x", "y", "x y", ""]
        );
        assert_eq!(
            l.pairs(r#"A=1 B="two words" C=a\ b"#, &vars(), true)
                .unwrap(),
            [
                ("A".into(), "1".into()),
                ("B".into(), "two words".into()),
                ("C".into(), "a b".into())
            ]
        );
        assert_eq!(
            l.pairs("NAME some value", &vars(), true).unwrap(),
            [("NAME".into(), "some value".into())]
        );
        assert!(l.pairs("novalue", &vars(), false).is_err());
        assert!(l.pairs("=x", &vars(), false).is_err());
    }
}
