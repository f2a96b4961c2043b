//! Runs a parsed template over JSON data as Go's text/template runs over the
//! docker CLI's values: truthiness, variables and their scopes, `range` over
//! lists, maps (sorted keys) and integers, and Go's error messages with the
//! position and the text of the node that failed.

use serde_json::Value;

use super::funcs;
use super::parse::{Command, Expr, Node, Pipeline, Term};
use super::print::{go_print, nil_of, NIL_POINTERS};

/// How a field that is not there is treated, as for the value docker
/// formats: a Go map (inspect's raw JSON, `missingkey=error`), or a struct
/// of a list's formatter (`can't evaluate field X in type T`).
#[derive(Debug, Clone, Copy)]
pub enum Fields {
    Map,
    Struct(&'static str),
}

pub struct Context<'a> {
    pub fields: Fields,
    /// Methods that take arguments (`{{.Label "k"}}`): name -> map to index.
    pub methods: Option<&'a Value>,
    /// Rendering the header of a table: docker's functions return their
    /// argument unchanged and missing fields print nothing.
    pub header: bool,
}

enum Flow {
    Normal,
    Break,
    Continue,
}

pub struct Exec<'a> {
    pub ctx: &'a Context<'a>,
    pub src: &'a str,
    vars: Vec<(String, Value)>,
    pub out: String,
}

/// The field a pipeline ends on, when it is a bare field (`{{.Config.Cmd}}`).
fn last_field(p: &Pipeline) -> Option<&str> {
    let c = p.cmds.last()?;
    if c.args.len() != 1 {
        return None;
    }
    match &c.args[0].expr {
        Expr::Field { names, .. } | Expr::Var { names, .. } => names.last().map(String::as_str),
        _ => None,
    }
}

pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

/// Go's name for the type a JSON value decodes to.
pub fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "interface {}",
        Value::Bool(_) => "bool",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

impl<'a> Exec<'a> {
    pub fn new(ctx: &'a Context<'a>, src: &'a str, root: &'a Value) -> Exec<'a> {
        Exec {
            ctx,
            src,
            vars: vec![("$".into(), root.clone())],
            out: String::new(),
        }
    }

    fn fail<T>(&self, pos: usize, text: &str, msg: impl std::fmt::Display) -> Result<T, String> {
        let before = &self.src[..pos.min(self.src.len())];
        let line = 1 + before.matches('\n').count();
        let col = before.rfind('\n').map_or(pos, |nl| pos - nl - 1);
        Err(format!(
            "template: :{line}:{col}: executing \"\" at <{text}>: {msg}"
        ))
    }

    pub fn run(&mut self, nodes: &[Node], dot: &Value) -> Result<(), String> {
        self.list(nodes, dot).map(|_| ())
    }

    fn list(&mut self, nodes: &[Node], dot: &Value) -> Result<Flow, String> {
        for n in nodes {
            match self.node(n, dot)? {
                Flow::Normal => {}
                other => return Ok(other),
            }
        }
        Ok(Flow::Normal)
    }

    fn scoped(&mut self, nodes: &[Node], dot: &Value) -> Result<Flow, String> {
        let mark = self.vars.len();
        let r = self.list(nodes, dot);
        self.vars.truncate(mark);
        r
    }

    fn node(&mut self, n: &Node, dot: &Value) -> Result<Flow, String> {
        match n {
            Node::Text(t) => self.out.push_str(t),
            Node::Action(p) => {
                let v = self.pipeline(p, dot)?;
                // A declaration prints nothing.
                if p.vars.is_empty() {
                    match (&v, self.ctx.fields, last_field(p)) {
                        (Value::Null, Fields::Map, Some(f)) => self.out.push_str(nil_of(f)),
                        (Value::Null, Fields::Struct(_), _) => self.out.push_str("<nil>"),
                        _ => self.out.push_str(&go_print(&v)),
                    }
                }
            }
            Node::If(p, then, els) => {
                let mark = self.vars.len();
                let v = self.pipeline(p, dot)?;
                let r = if truthy(&v) {
                    self.list(then, dot)
                } else {
                    self.list(els, dot)
                };
                self.vars.truncate(mark);
                return r;
            }
            Node::With(p, then, els) => {
                let mark = self.vars.len();
                let v = self.pipeline(p, dot)?;
                let r = if truthy(&v) {
                    self.list(then, &v)
                } else {
                    self.list(els, dot)
                };
                self.vars.truncate(mark);
                return r;
            }
            Node::Range(p, body, els) => return self.range(p, body, els, dot),
            Node::Break => return Ok(Flow::Break),
            Node::Continue => return Ok(Flow::Continue),
        }
        Ok(Flow::Normal)
    }

    fn range(
        &mut self,
        p: &Pipeline,
        body: &[Node],
        els: &[Node],
        dot: &Value,
    ) -> Result<Flow, String> {
        let mark = self.vars.len();
        // The range's variables take each key and element, not the pipeline's value.
        let decl = Pipeline {
            vars: vec![],
            declare: false,
            cmds: p.cmds.clone(),
        };
        let v = self.pipeline(&decl, dot)?;
        let items: Vec<(Value, Value)> = match &v {
            Value::Array(a) => a
                .iter()
                .enumerate()
                .map(|(i, x)| (Value::from(i), x.clone()))
                .collect(),
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                keys.into_iter()
                    .map(|k| (Value::String(k.clone()), m[k].clone()))
                    .collect()
            }
            Value::Number(n) if n.as_i64().is_some() => (0..n.as_i64().unwrap_or(0).max(0))
                .map(|i| (Value::from(i), Value::from(i)))
                .collect(),
            Value::Null => vec![],
            other => {
                let c = &p.cmds[0];
                return self.fail(
                    c.pos,
                    &c.text,
                    format!("range can't iterate over {}", go_print(other)),
                );
            }
        };
        if items.is_empty() {
            self.vars.truncate(mark);
            return self.scoped(els, dot);
        }
        for (k, x) in items {
            let inner = self.vars.len();
            match p.vars.as_slice() {
                [v] => self.set(v, x.clone(), p.declare),
                [i, v] => {
                    self.set(i, k, p.declare);
                    self.set(v, x.clone(), p.declare);
                }
                _ => {}
            }
            let flow = self.list(body, &x)?;
            self.vars.truncate(inner);
            if matches!(flow, Flow::Break) {
                break;
            }
        }
        self.vars.truncate(mark);
        Ok(Flow::Normal)
    }

    fn set(&mut self, name: &str, v: Value, declare: bool) {
        if !declare {
            if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                slot.1 = v;
                return;
            }
        }
        self.vars.push((name.to_string(), v));
    }

    fn pipeline(&mut self, p: &Pipeline, dot: &Value) -> Result<Value, String> {
        let mut prev: Option<Value> = None;
        for c in &p.cmds {
            prev = Some(self.command(c, dot, prev)?);
        }
        let v = prev.unwrap_or(Value::Null);
        if let Some(name) = p.vars.first() {
            self.set(name, v.clone(), p.declare);
        }
        Ok(v)
    }

    fn command(&mut self, c: &Command, dot: &Value, piped: Option<Value>) -> Result<Value, String> {
        let first = &c.args[0];
        match &first.expr {
            Expr::Ident(name) => {
                if name == "and" || name == "or" {
                    return self.and_or(name, c, dot, piped);
                }
                let mut args = Vec::new();
                for a in &c.args[1..] {
                    args.push(self.term(a, dot)?);
                }
                args.extend(piped);
                let escape = matches!(self.ctx.fields, Fields::Struct(_));
                funcs::call(name, args, self.ctx.header, escape)
                    .or_else(|e| self.fail(c.pos, &c.text, e))
            }
            // A header names the column; docker's header of `.Label "k"` is empty here.
            Expr::Field { recv: None, .. } if self.ctx.header && c.args.len() > 1 => {
                Ok(Value::String(String::new()))
            }
            Expr::Field { recv: None, names } if c.args.len() > 1 || piped.is_some() => {
                // A method with arguments: `.Label "key"`.
                let method = self
                    .ctx
                    .methods
                    .and_then(|m| m.get(&names[0]))
                    .filter(|_| names.len() == 1);
                match method {
                    Some(m) => {
                        let mut args = Vec::new();
                        for a in &c.args[1..] {
                            args.push(self.term(a, dot)?);
                        }
                        args.extend(piped);
                        let key = args.first().map(go_print).unwrap_or_default();
                        Ok(m.get(&key).cloned().unwrap_or(Value::String(String::new())))
                    }
                    None => self.fail(
                        first.pos,
                        &first.text,
                        format!("can't give argument to non-function {}", first.text),
                    ),
                }
            }
            _ if c.args.len() > 1 || piped.is_some() => self.fail(
                first.pos,
                &first.text,
                format!("can't give argument to non-function {}", first.text),
            ),
            _ => self.term(first, dot),
        }
    }

    fn and_or(
        &mut self,
        name: &str,
        c: &Command,
        dot: &Value,
        piped: Option<Value>,
    ) -> Result<Value, String> {
        if c.args.len() < 2 && piped.is_none() {
            return self.fail(
                c.pos,
                &c.text,
                format!("wrong number of args for {name}: want at least 1 got 0"),
            );
        }
        let and = name == "and";
        let mut last = Value::Null;
        for a in &c.args[1..] {
            last = self.term(a, dot)?;
            if truthy(&last) != and {
                return Ok(last);
            }
        }
        Ok(piped.unwrap_or(last))
    }

    fn term(&mut self, t: &Term, dot: &Value) -> Result<Value, String> {
        self.expr(&t.expr, t, dot)
    }

    /// Evaluates `e`, which is `t` or the receiver inside it (errors name `t`).
    fn expr(&mut self, e: &Expr, t: &Term, dot: &Value) -> Result<Value, String> {
        match e {
            Expr::Dot => Ok(dot.clone()),
            Expr::Lit(v) => Ok(v.clone()),
            Expr::Nil => self.fail(t.pos, &t.text, "nil is not a command"),
            Expr::Ident(name) => funcs::call(name, vec![], self.ctx.header, false)
                .or_else(|e| self.fail(t.pos, &t.text, e)),
            Expr::Pipe(p) => {
                let mark = self.vars.len();
                let v = self.pipeline(p, dot);
                self.vars.truncate(mark);
                v
            }
            Expr::Var { name, names } => {
                let Some(v) = self.vars.iter().rev().find(|(n, _)| n == name) else {
                    return self.fail(t.pos, &t.text, format!("undefined variable: {name}"));
                };
                let v = v.1.clone();
                self.fields(v, names, t, false)
            }
            Expr::Field { recv, names } => {
                let (base, on_dot) = match recv {
                    Some(r) => (self.expr(r, t, dot)?, false),
                    None => (dot.clone(), true),
                };
                self.fields(base, names, t, on_dot)
            }
        }
    }

    /// Walks `.A.B…` from `v`; `on_dot` when the walk starts at the formatted value itself.
    fn fields(
        &self,
        mut v: Value,
        names: &[String],
        t: &Term,
        on_dot: bool,
    ) -> Result<Value, String> {
        // Go reports a chain at its second field.
        let pos = if names.len() > 1 {
            t.text[1..].find('.').map_or(t.pos, |i| t.pos + 1 + i)
        } else {
            t.pos
        };
        for (i, name) in names.iter().enumerate() {
            v = match v {
                Value::Object(mut m) => {
                    let key = if m.contains_key(name) {
                        Some(name.clone())
                    } else {
                        // Go field names where the JSON name differs only in case
                        // (APIVersion/ApiVersion); a lower-case name is no Go field.
                        name.starts_with(|c: char| c.is_ascii_uppercase())
                            .then(|| m.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned())
                            .flatten()
                    };
                    match key.and_then(|k| m.remove(&k)) {
                        Some(x) => x,
                        None if self.ctx.header => return Ok(Value::String(String::new())),
                        // A nil pointer docker's JSON leaves out, read last: nil.
                        None if matches!(self.ctx.fields, Fields::Map)
                            && i + 1 == names.len()
                            && NIL_POINTERS.contains(&name.as_str()) =>
                        {
                            return Ok(Value::Null)
                        }
                        None => match self.ctx.fields {
                            Fields::Struct(ty) if on_dot && i == 0 => {
                                return self.fail(
                                    pos,
                                    &t.text,
                                    format!("can't evaluate field {name} in type {ty}"),
                                )
                            }
                            _ => {
                                return self.fail(
                                    pos,
                                    &t.text,
                                    format!("map has no entry for key {name:?}"),
                                )
                            }
                        },
                    }
                }
                Value::Null => {
                    return self.fail(
                        pos,
                        &t.text,
                        format!("nil pointer evaluating interface {{}}.{name}"),
                    )
                }
                other => {
                    return self.fail(
                        pos,
                        &t.text,
                        format!("can't evaluate field {name} in type {}", go_type(&other)),
                    )
                }
            };
        }
        Ok(v)
    }
}
