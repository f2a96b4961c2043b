//! The functions a `--format` template may call: Go's built-ins (`len`,
//! `index`, `printf`, comparisons …) and the docker CLI's (`json`, `split`,
//! `join`, `title`, `lower`, `upper`, `pad`, `truncate`), with Go's errors.

use serde_json::Value;

use super::exec::{go_type, truthy};
use super::print::{go_print, json, number};

fn want(name: &str, args: &[Value], n: usize) -> Result<(), String> {
    if args.len() == n {
        Ok(())
    } else {
        Err(format!(
            "wrong number of args for {name}: want {n} got {}",
            args.len()
        ))
    }
}

fn string(v: &Value) -> Result<&str, String> {
    v.as_str()
        .ok_or_else(|| format!("wrong type for value; expected string; got {}", go_type(v)))
}

fn int(v: &Value) -> Result<i64, String> {
    match v.as_f64() {
        Some(f) if f.fract() == 0.0 => Ok(f as i64),
        _ => Err(format!(
            "wrong type for value; expected int; got {}",
            go_type(v)
        )),
    }
}

fn strings(v: &Value) -> Result<Vec<&str>, String> {
    let err = || {
        format!(
            "wrong type for value; expected []string; got {}",
            go_type(v)
        )
    };
    v.as_array()
        .ok_or_else(err)?
        .iter()
        .map(|x| x.as_str().ok_or_else(err))
        .collect()
}

/// `strings.Title` as docker's `title` (cases.Title, no lowering): each
/// word's first letter upper-cased.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut at_start = true;
    for c in s.chars() {
        if at_start && c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        at_start = !c.is_alphanumeric() && c != '\'';
    }
    out
}

fn compare(name: &str, a: &Value, b: &Value) -> Result<std::cmp::Ordering, String> {
    let incompatible = || format!("error calling {name}: incompatible types for comparison");
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x.as_f64().partial_cmp(&y.as_f64()).ok_or_else(incompatible)
        }
        (Value::String(x), Value::String(y)) => Ok(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) if matches!(name, "eq" | "ne") => Ok(x.cmp(y)),
        (Value::Null, Value::Null) if matches!(name, "eq" | "ne") => Ok(std::cmp::Ordering::Equal),
        _ => Err(incompatible()),
    }
}

/// Calls a function on evaluated arguments (a piped value last). `header`:
/// docker's header rendering, where its own functions return the argument.
pub fn call(
    name: &str,
    args: Vec<Value>,
    header: bool,
    escape_html: bool,
) -> Result<Value, String> {
    let docker_fn = matches!(
        name,
        "json" | "split" | "join" | "title" | "lower" | "upper" | "pad" | "truncate"
    );
    if header && docker_fn {
        return Ok(args
            .into_iter()
            .next()
            .unwrap_or(Value::String(String::new())));
    }
    let s = |v: String| Ok(Value::String(v));
    match name {
        "json" => {
            want(name, &args, 1)?;
            let whole = escape_html && args[0].is_object();
            s(json(&args[0], whole))
        }
        "split" => {
            want(name, &args, 2)?;
            let (text, sep) = (string(&args[0])?, string(&args[1])?);
            let parts: Vec<Value> = if sep.is_empty() {
                text.chars().map(|c| Value::String(c.to_string())).collect()
            } else {
                text.split(sep).map(|p| Value::String(p.into())).collect()
            };
            Ok(Value::Array(parts))
        }
        "join" => {
            want(name, &args, 2)?;
            s(strings(&args[0])?.join(string(&args[1])?))
        }
        "title" => {
            want(name, &args, 1)?;
            s(title(string(&args[0])?))
        }
        "lower" => {
            want(name, &args, 1)?;
            s(string(&args[0])?.to_lowercase())
        }
        "upper" => {
            want(name, &args, 1)?;
            s(string(&args[0])?.to_uppercase())
        }
        "pad" => {
            want(name, &args, 3)?;
            let text = string(&args[0])?;
            if text.is_empty() {
                return s(String::new());
            }
            let (pre, post) = (
                int(&args[1])?.max(0) as usize,
                int(&args[2])?.max(0) as usize,
            );
            s(format!("{}{text}{}", " ".repeat(pre), " ".repeat(post)))
        }
        "truncate" => {
            want(name, &args, 2)?;
            let text = string(&args[0])?;
            let n = int(&args[1])?.max(0) as usize;
            // Go slices bytes; a cut inside a character keeps what is whole.
            let mut end = n.min(text.len());
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            s(text[..end].to_string())
        }
        "len" => {
            want(name, &args, 1)?;
            match &args[0] {
                Value::String(x) => Ok(Value::from(x.len())),
                Value::Array(a) => Ok(Value::from(a.len())),
                Value::Object(m) => Ok(Value::from(m.len())),
                o => Err(format!("error calling len: len of type {}", go_type(o))),
            }
        }
        "index" => {
            let mut it = args.into_iter();
            let mut v = it.next().ok_or_else(|| {
                "wrong number of args for index: want at least 1 got 0".to_string()
            })?;
            for k in it {
                v = match (&v, &k) {
                    (Value::Object(m), Value::String(key)) => {
                        m.get(key).cloned().unwrap_or(Value::Null)
                    }
                    (Value::Array(a), Value::Number(_)) => {
                        let i = int(&k)?;
                        usize::try_from(i)
                            .ok()
                            .and_then(|i| a.get(i))
                            .cloned()
                            .ok_or_else(|| {
                                format!("error calling index: index out of range: {i}")
                            })?
                    }
                    (Value::Null, _) => {
                        return Err("error calling index: index of untyped nil".into())
                    }
                    _ => {
                        return Err(format!(
                            "error calling index: cannot index slice/array with type {}",
                            go_type(&k)
                        ))
                    }
                };
            }
            Ok(v)
        }
        "slice" => {
            let mut it = args.into_iter();
            let v = it
                .next()
                .ok_or("wrong number of args for slice: want at least 1 got 0")?;
            let idx: Vec<i64> = it.map(|x| int(&x)).collect::<Result<_, _>>()?;
            let len = match &v {
                Value::String(x) => x.len(),
                Value::Array(a) => a.len(),
                o => {
                    return Err(format!(
                        "error calling slice: can't slice item of type {}",
                        go_type(o)
                    ))
                }
            } as i64;
            let from = idx.first().copied().unwrap_or(0);
            let to = idx.get(1).copied().unwrap_or(len);
            if from < 0 || to < from || to > len {
                return Err(format!("error calling slice: index out of range: {to}"));
            }
            let (from, to) = (from as usize, to as usize);
            Ok(match v {
                Value::String(x) => Value::String(x.get(from..to).unwrap_or("").to_string()),
                Value::Array(a) => Value::Array(a[from..to].to_vec()),
                _ => Value::Null,
            })
        }
        "not" => {
            want(name, &args, 1)?;
            Ok(Value::Bool(!truthy(&args[0])))
        }
        "eq" => {
            let (first, rest) = args
                .split_first()
                .ok_or("wrong number of args for eq: want at least 1 got 0")?;
            if rest.is_empty() {
                return Err("error calling eq: missing argument for comparison".into());
            }
            for r in rest {
                if compare(name, first, r)? == std::cmp::Ordering::Equal {
                    return Ok(Value::Bool(true));
                }
            }
            Ok(Value::Bool(false))
        }
        "ne" | "lt" | "le" | "gt" | "ge" => {
            want(name, &args, 2)?;
            let o = compare(name, &args[0], &args[1])?;
            use std::cmp::Ordering::*;
            Ok(Value::Bool(match name {
                "ne" => o != Equal,
                "lt" => o == Less,
                "le" => o != Greater,
                "gt" => o == Greater,
                _ => o != Less,
            }))
        }
        "print" => {
            // Spaces between operands when neither is a string.
            let mut out = String::new();
            for (i, a) in args.iter().enumerate() {
                if i > 0 && !a.is_string() && !args[i - 1].is_string() {
                    out.push(' ');
                }
                out.push_str(&go_print(a));
            }
            s(out)
        }
        "println" => s(args.iter().map(go_print).collect::<Vec<_>>().join(" ") + "\n"),
        "printf" => {
            let (f, rest) = args
                .split_first()
                .ok_or("wrong number of args for printf: want at least 1 got 0")?;
            s(sprintf(string(f)?, rest))
        }
        "urlquery" => {
            let text: String = args.iter().map(go_print).collect();
            s(text
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                        (b as char).to_string()
                    }
                    b' ' => "+".into(),
                    o => format!("%{o:02X}"),
                })
                .collect())
        }
        other => Err(format!("function {other:?} not defined")),
    }
}

/// Go's `fmt.Sprintf` for the verbs templates use: `%v %s %d %q %t %f %x %X
/// %%`, with flags `-`, `+`, `0`, ` `, a width and a precision.
pub fn sprintf(f: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut args = args.iter();
    let mut chars = f.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let (mut minus, mut plus, mut zero, mut space) = (false, false, false, false);
        while let Some(&fl) = chars.peek() {
            match fl {
                '-' => minus = true,
                '+' => plus = true,
                '0' => zero = true,
                ' ' => space = true,
                '#' => {}
                _ => break,
            }
            chars.next();
        }
        let mut width = String::new();
        while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            width.push(d);
            chars.next();
        }
        let mut prec: Option<usize> = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut p = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                p.push(d);
                chars.next();
            }
            prec = Some(p.parse().unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.next() else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        let bad = || format!("%!{verb}({}={})", go_type(arg), go_print(arg));
        let mut text = match (verb, arg) {
            ('v', a) => go_print(a),
            ('s', Value::String(x)) => match prec {
                Some(p) => x.chars().take(p).collect(),
                None => x.clone(),
            },
            ('s', a) => go_print(a),
            ('q', Value::String(x)) => serde_json::to_string(x).unwrap_or_default(),
            ('t', Value::Bool(b)) => b.to_string(),
            ('d', Value::Number(n)) if n.as_f64().is_some_and(|f| f.fract() == 0.0) => {
                let i = n.as_f64().unwrap_or(0.0) as i64;
                let sign = if i >= 0 && plus {
                    "+"
                } else if i >= 0 && space {
                    " "
                } else {
                    ""
                };
                format!("{sign}{i}")
            }
            ('f' | 'F', Value::Number(n)) => {
                let x = n.as_f64().unwrap_or(0.0);
                let sign = if x >= 0.0 && plus { "+" } else { "" };
                format!("{sign}{x:.*}", prec.unwrap_or(6))
            }
            ('x', Value::Number(n)) if n.as_i64().is_some() => {
                format!("{:x}", n.as_i64().unwrap_or(0))
            }
            ('X', Value::Number(n)) if n.as_i64().is_some() => {
                format!("{:X}", n.as_i64().unwrap_or(0))
            }
            ('x', Value::String(x)) => x.bytes().map(|b| format!("{b:02x}")).collect(),
            ('X', Value::String(x)) => x.bytes().map(|b| format!("{b:02X}")).collect(),
            ('g', Value::Number(n)) => number(n),
            _ => bad(),
        };
        if let Ok(w) = width.parse::<usize>() {
            let len = text.chars().count();
            if len < w {
                let pad = w - len;
                if minus {
                    text.push_str(&" ".repeat(pad));
                } else if zero && arg.is_number() {
                    let (sign, digits) = match text.strip_prefix(['-', '+']) {
                        Some(d) => (&text[..1], d.to_string()),
                        None => ("", text.clone()),
                    };
                    text = format!("{sign}{}{digits}", "0".repeat(pad));
                } else {
                    text = " ".repeat(pad) + &text;
                }
            }
        }
        out.push_str(&text);
    }
    let extra: Vec<String> = args
        .map(|a| format!("{}={}", go_type(a), go_print(a)))
        .collect();
    if !extra.is_empty() {
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    out
}
