//! `inspect` of any object, and of one kind (`container inspect`, `image
//! inspect`, `volume inspect`, `network inspect`): the API's JSON as docker
//! prints it (its key order kept, indented by four, `<>&` escaped), or a
//! template per object.

use berth_client::{enc, Client, ClientError};
use clap::Args;
use serde_json::Value;

use crate::{CliError, Result};
use berth_template::{Template, MAP};

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Format output using a Go template or "json"
    #[arg(short, long)]
    pub format: Option<String>,
    /// Return JSON for specified type
    #[arg(long = "type")]
    pub kind: Option<String>,
    /// Display total file sizes if the type is container
    #[arg(short, long)]
    pub size: bool,
    #[arg(required = true)]
    pub names: Vec<String>,
}

/// The kinds docker's `inspect --type` names, and those berthd serves (in the order tried).
const KINDS: &[&str] = &[
    "config",
    "container",
    "image",
    "network",
    "node",
    "plugin",
    "secret",
    "service",
    "task",
    "volume",
];
const SERVED: &[&str] = &["container", "image", "network", "volume"];

fn path(kind: &str, name: &str, size: bool) -> String {
    let n = enc(name);
    match kind {
        "container" if size => format!("/containers/{n}/json?size=1"),
        "container" => format!("/containers/{n}/json"),
        "image" => format!("/images/{n}/json"),
        "network" => format!("/networks/{n}"),
        _ => format!("/volumes/{n}"),
    }
}

pub async fn inspect(client: &Client, a: InspectArgs) -> Result {
    if let Some(k) = a.kind.as_deref() {
        if !KINDS.contains(&k) {
            let all: Vec<String> = KINDS.iter().map(|k| format!("{k:?}")).collect();
            return Err(CliError::Failed(format!(
                "unknown type: {k:?}: must be one of {}",
                all.join(", ")
            )));
        }
    }
    // Parsed first: a bad template fails before anything is fetched.
    let template = template(a.format.as_deref())?;
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for n in &a.names {
        match a.kind.as_deref() {
            Some(k) => match client.get_json::<Value>(&path(k, n, a.size)).await {
                Ok(v) => found.push(v),
                Err(e) => errors.push(e.to_string()),
            },
            None => {
                let mut hit = None;
                for k in SERVED {
                    match client.get_json::<Value>(&path(k, n, a.size)).await {
                        Ok(v) => {
                            hit = Some(v);
                            break;
                        }
                        Err(ClientError::Api { status: 404, .. }) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                match hit {
                    Some(v) => found.push(v),
                    None => errors.push(format!("Error: No such object: {n}")),
                }
            }
        }
    }
    print(&found, template.as_ref())?;
    if errors.is_empty() {
        Ok(())
    } else {
        Err(CliError::Failed(errors.join("\n")))
    }
}

/// `volume inspect`, `network inspect`: `GET {base}/{name}` for each name.
pub async fn inspect_each(
    client: &Client,
    base: &str,
    names: &[String],
    format: Option<&str>,
) -> Result {
    let template = template(format)?;
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for n in names {
        match client
            .get_json::<Value>(&format!("{base}/{}", enc(n)))
            .await
        {
            Ok(v) => found.push(v),
            Err(e) => errors.push(e.to_string()),
        }
    }
    print(&found, template.as_ref())?;
    if errors.is_empty() {
        Ok(())
    } else {
        Err(CliError::Failed(errors.join("\n")))
    }
}

fn template(format: Option<&str>) -> Result<Option<Template>> {
    match format.filter(|f| !f.is_empty() && *f != "json") {
        Some(f) => Template::parse(f)
            .map(Some)
            .map_err(|e| CliError::Failed(format!("template parsing error: {e}"))),
        None => Ok(None),
    }
}

/// JSON as Go's `json.MarshalIndent(v, "", "    ")` writes it.
pub fn indented(v: &impl serde::Serialize) -> String {
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    let _ = v.serialize(&mut ser);
    berth_template::escape_html(&String::from_utf8_lossy(&out))
}

fn print(found: &[Value], template: Option<&Template>) -> Result {
    let Some(t) = template else {
        println!("{}", indented(&found));
        return Ok(());
    };
    let mut out = String::new();
    for v in found {
        let mut v = v.clone();
        berth_template::sort_maps(&mut v, false);
        match t.render(&v, &MAP) {
            Ok(text) => {
                out.push_str(&text);
                out.push('\n');
            }
            Err(e) => {
                // docker has written what came before, and ends its line.
                println!("{out}");
                return Err(CliError::Failed(format!("template parsing error: {e}")));
            }
        }
    }
    print!("{out}");
    Ok(())
}

/// `version`, `info`: a template over one value, or its JSON.
pub fn print_formatted(v: &Value, format: Option<&str>) -> Result {
    match format.filter(|f| !f.is_empty() && *f != "json") {
        Some(f) => {
            let t = Template::parse(f)
                .map_err(|e| CliError::Failed(format!("template parsing error: {e}")))?;
            let mut v = v.clone();
            berth_template::sort_maps(&mut v, false);
            let text = t
                .render(&v, &MAP)
                .map_err(|e| CliError::Failed(format!("template parsing error: {e}")))?;
            println!("{text}");
        }
        None => println!("{}", serde_json::to_string(v).unwrap_or_default()),
    }
    Ok(())
}
