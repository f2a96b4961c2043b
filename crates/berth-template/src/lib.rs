//! Go's text/template, as the docker CLI's `--format` takes it, evaluated
//! against JSON values: fields, variables, pipelines and parenthesised
//! ones, `if`/`range`/`with`/`else`, Go's built-in functions and docker's
//! (`json`, `split`, `join`, `title`, `lower`, `upper`, `pad`, `truncate`),
//! Go's way of printing values and Go's error messages.
//!
//! Written here rather than taken from a crate: the Rust ports keep maps
//! sorted, and docker prints its structs' fields in their order (which the
//! API's JSON keeps), so `{{json .State}}` would come out reordered. Errors
//! are Go's text (`template: :1:2: executing …`), as callers print them.

mod exec;
mod funcs;
mod parse;
mod print;

use serde_json::Value;

pub use exec::{Context, Fields};
pub use print::{escape_html, sort_maps};

/// Templates over the API's JSON (inspect, version, info, events): a missing key is an error.
pub const MAP: Context<'static> = Context {
    fields: Fields::Map,
    methods: None,
    header: false,
};
use parse::{Expr, Node, Pipeline};

/// What went wrong, in Go's words (`template: :1: unclosed action`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// The template does not parse.
    #[error("{0}")]
    Parse(String),
    /// It parses, but fails on this data (a missing field, a function's error).
    #[error("{0}")]
    Exec(String),
}

#[derive(Debug, Clone)]
pub struct Template {
    nodes: Vec<Node>,
    src: String,
    pub table: bool,
}

impl Template {
    /// A template as `inspect`, `version`, `info` and `events` take it: as written.
    pub fn parse(src: &str) -> Result<Template, Error> {
        Ok(Template {
            nodes: parse::parse(src).map_err(Error::Parse)?,
            src: src.to_string(),
            table: false,
        })
    }

    /// A list's format as docker's formatter prepares it: the `table`
    /// prefix taken off, spaces trimmed, `\t` and `\n` written out.
    pub fn parse_list(format: &str) -> Result<Template, Error> {
        let (table, body) = match format.strip_prefix("table") {
            Some(rest) => (true, rest),
            None => (false, format),
        };
        let body = body
            .trim_matches(' ')
            .replace("\\t", "\t")
            .replace("\\n", "\n");
        let mut t = Template::parse(&body)?;
        t.table = table;
        Ok(t)
    }

    pub fn render(&self, data: &Value, ctx: &Context) -> Result<String, Error> {
        let mut e = exec::Exec::new(ctx, &self.src, data);
        e.run(&self.nodes, data).map_err(Error::Exec)?;
        Ok(e.out)
    }

    /// A table's header row: the template over `{field: title}` for the
    /// fields it names, with docker's functions returning their argument.
    pub fn header(&self, title: &dyn Fn(&str) -> String) -> String {
        let mut names = Vec::new();
        fields_of(&self.nodes, &mut names);
        let map: serde_json::Map<String, Value> = names
            .into_iter()
            .map(|n| {
                let t = title(&n);
                (n, Value::String(t))
            })
            .collect();
        let ctx = Context {
            fields: Fields::Map,
            methods: None,
            header: true,
        };
        self.render(&Value::Object(map), &ctx).unwrap_or_default()
    }
}

/// The first field names a template reads on dot.
fn fields_of(nodes: &[Node], out: &mut Vec<String>) {
    fn pipe(p: &Pipeline, out: &mut Vec<String>) {
        for c in &p.cmds {
            for a in &c.args {
                match &a.expr {
                    Expr::Field { recv: None, names } if !out.contains(&names[0]) => {
                        out.push(names[0].clone())
                    }
                    Expr::Pipe(p) => pipe(p, out),
                    _ => {}
                }
            }
        }
    }
    for n in nodes {
        match n {
            Node::Action(p) => pipe(p, out),
            Node::If(p, a, b) | Node::Range(p, a, b) | Node::With(p, a, b) => {
                pipe(p, out);
                fields_of(a, out);
                fields_of(b, out);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn r(t: &str, d: &Value) -> Result<String, String> {
        Template::parse(t)
            .and_then(|t| t.render(d, &MAP))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn renders_what_docker_users_write() {
        let d = json!({"ID": "abc", "State": {"Status": "running", "Running": true}, "Names": ["a", "b"],
            "Labels": {"k": "v", "a": "1"}, "N": 3, "Size": 1984241.0, "Empty": []});
        let ok = |t: &str| r(t, &d).unwrap();
        assert_eq!(ok("{{.ID}}"), "abc");
        assert_eq!(ok("{{.State.Status}}!"), "running!");
        assert_eq!(
            ok("{{json .State}}"),
            r#"{"Status":"running","Running":true}"#
        );
        assert_eq!(ok("{{index .Labels \"k\"}}"), "v");
        assert_eq!(ok("{{join .Names \",\"}}"), "a,b");
        assert_eq!(ok("{{.Names}} {{.N}} {{.Size}}"), "[a b] 3 1984241");
        assert_eq!(
            ok("{{.State | json}}"),
            r#"{"Status":"running","Running":true}"#
        );
        assert_eq!(ok("{{upper .ID}} {{title \"net-a b\"}}"), "ABC Net-A B");
        assert_eq!(ok("{{.Labels}} {{.State}}"), "map[a:1 k:v] {running true}");
        assert_eq!(ok("{{range .Names}}<{{.}}>{{end}}"), "<a><b>");
        assert_eq!(
            ok("{{range $i, $n := .Names}}{{$i}}={{$n}} {{end}}"),
            "0=a 1=b "
        );
        assert_eq!(
            ok("{{range $k, $v := .Labels}}{{$k}}{{$v}};{{end}}"),
            "a1;kv;"
        );
        assert_eq!(ok("{{range .Empty}}x{{else}}none{{end}}"), "none");
        assert_eq!(ok("{{with .State}}{{.Status}}{{end}}"), "running");
        assert_eq!(
            ok("{{if eq .N 3}}three{{else if eq .N 4}}four{{end}}"),
            "three"
        );
        assert_eq!(ok("{{if and .ID (not .Empty)}}y{{else}}n{{end}}"), "y");
        assert_eq!(ok("{{$x := .ID}}{{$x}}-{{$.N}}"), "abc-3");
        assert_eq!(
            ok("{{printf \"%-5s|%03d|%.1f\" .ID .N 2.25}}"),
            "abc  |003|2.2"
        );
        assert_eq!(ok("{{join (split \"a,b,c\" \",\") \"|\"}}"), "a|b|c");
        assert_eq!(ok("{{index (split \"a,b\" \",\") 1}}"), "b");
        assert_eq!(
            ok("[{{pad .ID 1 2}}] {{truncate .ID 2}} {{len .Names}}"),
            "[ abc  ] ab 2"
        );
        assert_eq!(ok("a  {{- \" b \" -}}  c"), "a b c");
        assert_eq!(ok("{{/* note */}}{{println .ID}}"), "abc\n");
        assert_eq!(
            ok("{{range .Names}}{{if eq . \"b\"}}{{break}}{{end}}{{.}}{{end}}"),
            "a"
        );
        assert_eq!(ok("{{(index .Names 0)}}{{(.State).Status}}"), "arunning");
        assert_eq!(
            ok("{{.STATE.Status}}"),
            "running",
            "Go field names match JSON names case-insensitively"
        );
        assert!(
            r("{{.state}}", &d).is_err(),
            "a lower-case name is no Go field"
        );
    }

    #[test]
    fn errors_read_as_go_writes_them() {
        let d = json!({"Config": {"A": 1}, "S": "x", "Nil": null});
        let e = |t: &str| r(t, &d).unwrap_err();
        assert_eq!(
            e("{{.Nosuch}}"),
            r#"template: :1:2: executing "" at <.Nosuch>: map has no entry for key "Nosuch""#
        );
        assert_eq!(
            e("{{.Config.Nosuch.Deeper}}"),
            r#"template: :1:9: executing "" at <.Config.Nosuch.Deeper>: map has no entry for key "Nosuch""#
        );
        assert_eq!(
            e("{{.Nil.X}}"),
            r#"template: :1:6: executing "" at <.Nil.X>: nil pointer evaluating interface {}.X"#
        );
        assert!(
            e("{{index .S 5}}").contains("error calling index"),
            "{}",
            e("{{index .S 5}}")
        );
        assert_eq!(
            Template::parse("{{.ID").unwrap_err().to_string(),
            "template: :1: unclosed action"
        );
        assert_eq!(
            Template::parse("{{nosuch .ID}}").unwrap_err().to_string(),
            r#"template: :1: function "nosuch" not defined"#
        );
        assert_eq!(
            Template::parse("{{if .A}}x").unwrap_err().to_string(),
            "template: :1: unexpected EOF"
        );
        assert_eq!(
            Template::parse("{{end}}").unwrap_err().to_string(),
            "template: :1: unexpected {{end}}"
        );
        assert!(Template::parse("{{\"open}}").is_err());
        assert!(Template::parse("{{(.A}}").is_err());
        assert!(Template::parse("{{break}}").is_err());
        let strict = Context {
            fields: Fields::Struct("*formatter.ContainerContext"),
            methods: None,
            header: false,
        };
        assert_eq!(
            Template::parse("{{.Nosuch}}")
                .unwrap()
                .render(&json!({}), &strict)
                .unwrap_err()
                .to_string(),
            r#"template: :1:2: executing "" at <.Nosuch>: can't evaluate field Nosuch in type *formatter.ContainerContext"#
        );
    }

    #[test]
    fn methods_headers_and_list_formats() {
        let t =
            Template::parse_list("table {{.ID}}\\t{{upper .Names}}\\t{{.Label \"k\"}}").unwrap();
        assert!(t.table);
        assert_eq!(t.header(&|f| f.to_uppercase()), "ID\tNAMES\t");
        let methods = json!({"Label": {"k": "v"}});
        let ctx = Context {
            fields: Fields::Struct("T"),
            methods: Some(&methods),
            header: false,
        };
        assert_eq!(
            t.render(&json!({"ID": "1", "Names": "n"}), &ctx).unwrap(),
            "1\tN\tv"
        );
        let t = Template::parse("{{json .}}").unwrap();
        assert_eq!(
            t.render(&json!({"R": "<none>"}), &ctx).unwrap(),
            r#"{"R":"\u003cnone\u003e"}"#
        );
        assert_eq!(
            t.render(&json!({"R": "<none>"}), &MAP).unwrap(),
            r#"{"R":"<none>"}"#
        );
    }

    #[test]
    fn hostile_templates_fail_cleanly() {
        for src in [
            "{{",
            "}}{{",
            "{{-}}",
            "{{ - }}",
            "{{$}}",
            "{{$x.}}",
            "{{..}}",
            "{{(}}",
            "{{)}}",
            "{{|}}",
            "{{.A|}}",
            "{{range}}",
            "{{else}}",
            "{{if}}{{end}}",
            "{{`x}}",
            "{{\"\\u12\"}}",
            "{{1e999}}",
            "{{-1.}}",
            "{{.A.B.C.D.E.F.G}}",
            "{{printf \"%\"}}",
            "{{printf \"%5.2q\" 1}}",
            "{{range 3}}{{.}}{{end}}",
            "{{slice \"ab\" 1 5}}",
        ] {
            if let Ok(t) = Template::parse(src) {
                let _ = t.render(&json!({"A": {"B": 1}}), &MAP);
            }
        }
    }
}
