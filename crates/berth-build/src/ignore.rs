//! `.dockerignore` with Docker's rules (moby/patternmatcher): one pattern a
//! line, `#` comments, `!` exceptions, a leading `/` means the context root,
//! `*` and `?` stay inside one path element, `**` spans any number of them,
//! a pattern that matches a directory matches everything under it, and the
//! last matching line wins.

use regex::Regex;

#[derive(Debug)]
struct Pattern {
    exclusion: bool,
    re: Regex,
    /// The pattern as written (cleaned), for `skips`.
    text: String,
}

#[derive(Debug, Default)]
pub struct Ignore {
    patterns: Vec<Pattern>,
}

/// Go's `filepath.Clean` for slash paths, relative to the context root.
pub fn clean(p: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else if !p.starts_with('/') {
                    out.push("..");
                }
            }
            x => out.push(x),
        }
    }
    if out.is_empty() {
        ".".into()
    } else {
        out.join("/")
    }
}

/// A shell-style pattern as a regular expression, as patternmatcher builds it.
pub fn glob_regex(pattern: &str, escape_ok: bool) -> Result<Regex, String> {
    let mut re = String::from("^");
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '*' if chars.get(i + 1) == Some(&'*') => {
                i += 1;
                if chars.get(i + 1) == Some(&'/') {
                    // `**/` is zero or more directories.
                    i += 1;
                    re.push_str("(.*/)?");
                } else {
                    re.push_str(".*");
                }
            }
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            '[' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&x| x == ']')
                    .ok_or_else(|| format!("syntax error in pattern {pattern:?}"))?;
                let mut class: String = chars[i + 1..i + 1 + end].iter().collect();
                if let Some(rest) = class.strip_prefix('!') {
                    class = format!("^{rest}");
                }
                re.push('[');
                re.push_str(&class.replace('\\', "\\\\"));
                re.push(']');
                i += end + 1;
            }
            '\\' if escape_ok => {
                i += 1;
                match chars.get(i) {
                    Some(n) => re.push_str(&regex::escape(&n.to_string())),
                    None => return Err(format!("syntax error in pattern {pattern:?}")),
                }
            }
            other => re.push_str(&regex::escape(&other.to_string())),
        }
        i += 1;
    }
    re.push('$');
    Regex::new(&re).map_err(|e| format!("bad pattern {pattern:?}: {e}"))
}

impl Ignore {
    pub fn parse(text: &str) -> Result<Ignore, String> {
        let mut patterns = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (exclusion, pat) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            if pat.is_empty() {
                return Err("illegal exclusion pattern: \"!\"".into());
            }
            let pat = clean(pat.trim_start_matches('/'));
            patterns.push(Pattern {
                exclusion,
                re: glob_regex(&pat, true)?,
                text: pat,
            });
        }
        Ok(Ignore { patterns })
    }

    /// Whether a walk of the context leaves `path` out, with what below it:
    /// an excluded directory is still walked when an exception could match
    /// something in it (`docs` then `!docs/keep.md`), by dockerd's rule: an
    /// exception pattern that begins with the directory's path.
    pub fn skips(&self, path: &str, is_dir: bool) -> bool {
        if !self.excluded(path) {
            return false;
        }
        if !is_dir {
            return true;
        }
        let dir = format!("{}/", clean(path));
        !self
            .patterns
            .iter()
            .any(|p| p.exclusion && format!("{}/", p.text).starts_with(&dir))
    }

    /// Whether `path` (relative to the context root, `/`-separated) is excluded.
    pub fn excluded(&self, path: &str) -> bool {
        let path = clean(path);
        let mut excluded = false;
        for p in &self.patterns {
            if excluded != p.exclusion {
                // Only a pattern of the other kind can change the answer.
                continue;
            }
            let mut hit = p.re.is_match(&path);
            if !hit {
                // A match on a parent directory covers what is below it.
                let mut parent = path.as_str();
                while let Some((dir, _)) = parent.rsplit_once('/') {
                    if p.re.is_match(dir) {
                        hit = true;
                        break;
                    }
                    parent = dir;
                }
            }
            if hit {
                excluded = !p.exclusion;
            }
        }
        excluded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_rules() {
        let ig = Ignore::parse("# comment\n*/temp*\n*/*/temp*\ntemp?\n/secret\n**/*.log\n!keep.log\nnode_modules\n*.md\n!README*.md\nREADME-secret.md\n").unwrap();
        for (p, want) in [
            ("somedir/temporary.txt", true),
            ("somedir/sub/temp", true),
            ("tempa", true),
            ("temp", false),
            ("secret", true),
            ("secret/deep/file", true),
            ("dir/secret", false),
            ("a.log", true),
            ("x/y/z.log", true),
            ("keep.log", false),
            ("node_modules/a/b.js", true),
            ("notes.md", true),
            ("README.md", false),
            ("README-secret.md", true),
            ("src/main.rs", false),
        ] {
            assert_eq!(ig.excluded(p), want, "{p}");
        }
    }

    #[test]
    fn exceptions_inside_excluded_directories() {
        let ig = Ignore::parse("docs\n!docs/keep.md\nbuild\n").unwrap();
        assert!(
            ig.excluded("docs") && !ig.skips("docs", true),
            "walked for its exception"
        );
        assert!(!ig.skips("docs/keep.md", false));
        assert!(ig.skips("docs/other.md", false));
        assert!(ig.skips("build", true), "no exception below: skipped whole");
        assert!(!ig.skips("src", true));
        let ig = Ignore::parse("*\n!**/keep\n").unwrap();
        assert!(
            ig.skips("deep", true),
            "dockerd's rule is the exception's own prefix"
        );
    }

    #[test]
    fn cleaning_and_bad_patterns() {
        assert_eq!(clean("./a//b/../c/"), "a/c");
        assert_eq!(clean("../x"), "../x");
        assert!(Ignore::parse("[abc").is_err());
        assert!(Ignore::parse("!").is_err());
        let ig = Ignore::parse("a/**/b\n").unwrap();
        assert!(ig.excluded("a/b") && ig.excluded("a/x/y/b") && !ig.excluded("c/b"));
    }
}
