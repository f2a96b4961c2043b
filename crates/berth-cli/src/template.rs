//! The part of Go's text/template that docker's `--format` users write:
//! `{{.Field.Sub}}`, `{{json .}}`, `{{index .Labels "k"}}`, `{{join .Names ","}}`,
//! `{{upper …}}`, `{{lower …}}`, `{{len …}}`, pipes (`{{.X | json}}`), and
//! the `table` prefix, evaluated against JSON values.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
enum Arg {
    Field(Vec<String>),
    Str(String),
    Num(f64),
}

#[derive(Debug, Clone, PartialEq)]
struct Command {
    func: Option<String>,
    args: Vec<Arg>,
}

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Text(String),
    Action(Vec<Command>),
}

#[derive(Debug, Clone)]
pub struct Template {
    segments: Vec<Segment>,
    pub table: bool,
}

fn tokenize(src: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = src.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            chars.next();
            let mut s = String::from("\"");
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some('n') => s.push('\n'),
                        Some('t') => s.push('\t'),
                        Some(o) => s.push(o),
                        None => break,
                    },
                    '"' => {
                        closed = true;
                        break;
                    }
                    o => s.push(o),
                }
            }
            if !closed {
                return Err("unterminated quoted string".into());
            }
            out.push(s);
        } else if c == '|' {
            chars.next();
            out.push("|".into());
        } else {
            let mut s = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || c == '|' {
                    break;
                }
                s.push(c);
                chars.next();
            }
            out.push(s);
        }
    }
    Ok(out)
}

fn parse_arg(tok: &str) -> Result<Arg, String> {
    if let Some(s) = tok.strip_prefix('"') {
        return Ok(Arg::Str(s.to_string()));
    }
    if tok == "." {
        return Ok(Arg::Field(vec![]));
    }
    if let Some(path) = tok.strip_prefix('.') {
        return Ok(Arg::Field(path.split('.').map(String::from).collect()));
    }
    tok.parse::<f64>()
        .map(Arg::Num)
        .map_err(|_| format!("function \"{tok}\" not defined"))
}

const FUNCS: &[&str] = &[
    "json", "index", "join", "upper", "lower", "len", "title", "println", "print",
];

fn parse_action(src: &str) -> Result<Vec<Command>, String> {
    let tokens = tokenize(src)?;
    let mut cmds = Vec::new();
    for part in tokens.split(|t| t == "|") {
        let Some(first) = part.first() else {
            return Err("missing command in pipeline".into());
        };
        let (func, rest) = if first.starts_with('.') || first.starts_with('"') {
            (None, part)
        } else if FUNCS.contains(&first.as_str()) {
            (Some(first.clone()), &part[1..])
        } else {
            return Err(format!("function \"{first}\" not defined"));
        };
        cmds.push(Command {
            func,
            args: rest
                .iter()
                .map(|t| parse_arg(t))
                .collect::<Result<_, _>>()?,
        });
    }
    Ok(cmds)
}

impl Template {
    pub fn parse(src: &str) -> Result<Template, String> {
        let (table, body) = match src.strip_prefix("table") {
            Some(rest) => (true, rest.trim_start()),
            None => (false, src),
        };
        // Docker users write "\t" literally on the command line.
        let body = body.replace("\\t", "\t").replace("\\n", "\n");
        let mut segments = Vec::new();
        let mut rest = body.as_str();
        while let Some(i) = rest.find("{{") {
            if i > 0 {
                segments.push(Segment::Text(rest[..i].to_string()));
            }
            let after = &rest[i + 2..];
            let j = after
                .find("}}")
                .ok_or_else(|| "unclosed action".to_string())?;
            let inner = after[..j]
                .trim()
                .trim_start_matches('-')
                .trim_end_matches('-')
                .trim();
            segments.push(Segment::Action(parse_action(inner)?));
            rest = &after[j + 2..];
        }
        if !rest.is_empty() {
            segments.push(Segment::Text(rest.to_string()));
        }
        Ok(Template { segments, table })
    }

    pub fn render(&self, data: &Value) -> Result<String, String> {
        let mut out = String::new();
        for s in &self.segments {
            match s {
                Segment::Text(t) => out.push_str(t),
                Segment::Action(cmds) => {
                    let mut prev: Option<Value> = None;
                    for c in cmds {
                        prev = Some(eval(c, data, prev)?);
                    }
                    out.push_str(&go_print(prev.as_ref().unwrap_or(&Value::Null)));
                }
            }
        }
        Ok(out)
    }

    /// The column headers of a `table` format, from the fields it names.
    pub fn header(&self, names: &dyn Fn(&str) -> String) -> String {
        let mut out = String::new();
        for s in &self.segments {
            match s {
                Segment::Text(t) => out.push_str(t),
                Segment::Action(cmds) => {
                    let field = cmds.iter().flat_map(|c| &c.args).find_map(|a| match a {
                        Arg::Field(p) if !p.is_empty() => Some(p.join(".")),
                        _ => None,
                    });
                    out.push_str(&field.map(|f| names(&f)).unwrap_or_default());
                }
            }
        }
        out
    }
}

fn lookup(data: &Value, path: &[String]) -> Result<Value, String> {
    let mut v = data;
    for p in path {
        v = match v {
            // Go templates over maps (which is what JSON gives) print "<no value>".
            Value::Object(m) => match m.get(p) {
                Some(v) => v,
                None => return Ok(Value::Null),
            },
            Value::Null => return Ok(Value::Null),
            _ => return Err(format!("can't evaluate field {p} in type {}", type_name(v))),
        };
    }
    Ok(v.clone())
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "nil",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "slice",
        Value::Object(_) => "map",
    }
}

fn eval(c: &Command, data: &Value, piped: Option<Value>) -> Result<Value, String> {
    let mut args: Vec<Value> = c
        .args
        .iter()
        .map(|a| match a {
            Arg::Field(p) => lookup(data, p),
            Arg::Str(s) => Ok(Value::String(s.clone())),
            Arg::Num(n) => Ok(serde_json::json!(n)),
        })
        .collect::<Result<_, _>>()?;
    if let Some(p) = piped {
        args.push(p);
    }
    let one = |args: &[Value]| {
        args.first()
            .cloned()
            .ok_or_else(|| "wrong number of args".to_string())
    };
    match c.func.as_deref() {
        None => one(&args),
        Some("json") => Ok(Value::String(
            serde_json::to_string(&one(&args)?).map_err(|e| e.to_string())?,
        )),
        Some("upper") => Ok(Value::String(go_print(&one(&args)?).to_uppercase())),
        Some("lower") => Ok(Value::String(go_print(&one(&args)?).to_lowercase())),
        Some("title") => {
            let s = go_print(&one(&args)?);
            let mut c = s.chars();
            Ok(Value::String(
                c.next()
                    .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                    .unwrap_or_default(),
            ))
        }
        Some("len") => Ok(serde_json::json!(match one(&args)? {
            Value::Array(a) => a.len(),
            Value::Object(m) => m.len(),
            Value::String(s) => s.len(),
            _ => 0,
        })),
        Some("join") => {
            let [list, sep] = <[Value; 2]>::try_from(args)
                .map_err(|_| "join takes a list and a separator".to_string())?;
            let items: Vec<String> = list
                .as_array()
                .map(|a| a.iter().map(go_print).collect())
                .unwrap_or_default();
            Ok(Value::String(items.join(&go_print(&sep))))
        }
        Some("index") => {
            let mut it = args.into_iter();
            let mut v = it.next().ok_or("index of nothing")?;
            for k in it {
                v = match (&v, &k) {
                    (Value::Object(m), _) => m.get(&go_print(&k)).cloned().unwrap_or(Value::Null),
                    (Value::Array(a), Value::Number(n)) => a
                        .get(n.as_f64().unwrap_or(-1.0) as usize)
                        .cloned()
                        .ok_or("index out of range")?,
                    _ => return Err(format!("can't index item of type {}", type_name(&v))),
                };
            }
            Ok(v)
        }
        Some("println") => Ok(Value::String(
            args.iter().map(go_print).collect::<Vec<_>>().join(" ") + "\n",
        )),
        Some("print") => Ok(Value::String(
            args.iter().map(go_print).collect::<Vec<_>>().join(""),
        )),
        Some(f) => Err(format!("function \"{f}\" not defined")),
    }
}

/// How Go's `fmt.Print` shows a value: `[a b]`, `map[k:v]`, `<no value>`.
pub fn go_print(v: &Value) -> String {
    match v {
        Value::Null => "<no value>".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
            _ => n.to_string(),
        },
        Value::Array(a) => format!("[{}]", a.iter().map(go_print).collect::<Vec<_>>().join(" ")),
        Value::Object(m) => {
            let mut keys: Vec<_> = m.keys().collect();
            keys.sort();
            format!(
                "map[{}]",
                keys.iter()
                    .map(|k| format!("{k}:{}", go_print(&m[*k])))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_common_forms() {
        let d = json!({"ID": "abc", "State": {"Status": "running"}, "Names": ["a", "b"], "Labels": {"k": "v"}, "N": 3});
        let r = |t: &str| Template::parse(t).unwrap().render(&d).unwrap();
        assert_eq!(r("{{.ID}}"), "abc");
        assert_eq!(r("{{.State.Status}}!"), "running!");
        assert_eq!(r("{{json .State}}"), r#"{"Status":"running"}"#);
        assert_eq!(r("{{index .Labels \"k\"}}"), "v");
        assert_eq!(r("{{join .Names \",\"}}"), "a,b");
        assert_eq!(r("{{.Names}} {{.N}}"), "[a b] 3");
        assert_eq!(r("{{.State | json}}"), r#"{"Status":"running"}"#);
        assert_eq!(r("{{upper .ID}}"), "ABC");
        let t = Template::parse("table {{.ID}}\\t{{.State.Status}}").unwrap();
        assert!(t.table);
        assert_eq!(t.header(&|f| f.to_uppercase()), "ID\tSTATE.STATUS");
    }

    #[test]
    fn errors() {
        assert!(Template::parse("{{.ID").is_err());
        assert!(Template::parse("{{nosuch .ID}}").is_err());
        assert_eq!(
            Template::parse("{{.Missing}}")
                .unwrap()
                .render(&json!({}))
                .unwrap(),
            "<no value>"
        );
        assert!(Template::parse("{{.A.B}}")
            .unwrap()
            .render(&json!({"A": 1}))
            .is_err());
    }
}
