//! Image commands: images/ls, rmi/rm, tag, load, save, import, history,
//! inspect, prune.

use std::io::IsTerminal;

use berth_api::units::human_size;
use berth_api::ImageRef;
use berth_client::{enc, reader_body, Client};
use clap::{Args, Subcommand};
use http_body_util::BodyExt;
use hyper::Method;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

use crate::containers::{confirm, filters_json};
use crate::output::{ago, header_for, print_rows, short_id};
use crate::{CliError, Result};

#[derive(Subcommand, Debug)]
pub enum TopImageCmd {
    /// List images
    Images(LsArgs),
    /// Remove one or more images
    Rmi(RmArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag { source: String, target: String },
    /// Load an image from a tar archive or STDIN
    Load(LoadArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(SaveArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(ImportArgs),
    /// Show the history of an image
    History(HistoryArgs),
    /// Download an image from a registry
    Pull(crate::distribution::PullArgs),
    /// Upload an image to a registry
    Push(crate::distribution::PushArgs),
}

#[derive(Subcommand, Debug)]
pub enum ImageCmd {
    /// List images
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Remove one or more images
    #[command(alias = "remove")]
    Rm(RmArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag { source: String, target: String },
    /// Load an image from a tar archive or STDIN
    Load(LoadArgs),
    /// Save one or more images to a tar archive
    Save(SaveArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(ImportArgs),
    /// Show the history of an image
    History(HistoryArgs),
    /// Display detailed information on one or more images
    Inspect(crate::system::InspectArgs),
    /// Remove unused images
    Prune(PruneArgs),
    /// Download an image from a registry
    Pull(crate::distribution::PullArgs),
    /// Upload an image to a registry
    Push(crate::distribution::PushArgs),
}

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Show all images
    #[arg(short = 'a', long)]
    all: bool,
    /// Only show image IDs
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    no_trunc: bool,
    /// Show digests
    #[arg(long)]
    digests: bool,
    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter")]
    filter: Vec<String>,
    /// Format output using a Go template or "json"
    #[arg(long)]
    format: Option<String>,
    /// Repository (and tag) to list
    reference: Option<String>,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Force removal of the image
    #[arg(short = 'f', long)]
    force: bool,
    /// Do not delete untagged parents
    #[arg(long = "no-prune")]
    no_prune: bool,
    #[arg(required = true)]
    images: Vec<String>,
}

#[derive(Args, Debug)]
pub struct LoadArgs {
    /// Read from tar archive file, instead of STDIN
    #[arg(short = 'i', long)]
    input: Option<String>,
    /// Suppress the load output
    #[arg(short = 'q', long)]
    quiet: bool,
}

#[derive(Args, Debug)]
pub struct SaveArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short = 'o', long)]
    output: Option<String>,
    #[arg(required = true)]
    images: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// Apply Dockerfile instruction to the created image
    #[arg(short = 'c', long = "change")]
    changes: Vec<String>,
    /// Set commit message for imported image
    #[arg(short = 'm', long)]
    message: Option<String>,
    /// File to import, or - for STDIN
    file: String,
    /// REPOSITORY[:TAG] for the new image
    reference: Option<String>,
}

#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// Print sizes and dates in human readable format
    #[arg(short = 'H', long, default_value_t = true, action = clap::ArgAction::Set)]
    human: bool,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    no_trunc: bool,
    /// Only show image IDs
    #[arg(short = 'q', long)]
    quiet: bool,
    #[arg(long)]
    format: Option<String>,
    image: String,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short = 'a', long)]
    all: bool,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    force: bool,
    #[arg(long = "filter")]
    filter: Vec<String>,
}

pub async fn run_top(client: &Client, cmd: TopImageCmd) -> Result {
    match cmd {
        TopImageCmd::Images(a) => ls(client, a).await,
        TopImageCmd::Rmi(a) => rm(client, a).await,
        TopImageCmd::Tag { source, target } => tag(client, &source, &target).await,
        TopImageCmd::Load(a) => load(client, a).await,
        TopImageCmd::Save(a) => save(client, a).await,
        TopImageCmd::Import(a) => import(client, a).await,
        TopImageCmd::History(a) => history(client, a).await,
        TopImageCmd::Pull(a) => crate::distribution::pull(client, &a).await,
        TopImageCmd::Push(a) => crate::distribution::push(client, &a).await,
    }
}

pub async fn run(client: &Client, cmd: ImageCmd) -> Result {
    match cmd {
        ImageCmd::Ls(a) => ls(client, a).await,
        ImageCmd::Rm(a) => rm(client, a).await,
        ImageCmd::Tag { source, target } => tag(client, &source, &target).await,
        ImageCmd::Load(a) => load(client, a).await,
        ImageCmd::Save(a) => save(client, a).await,
        ImageCmd::Import(a) => import(client, a).await,
        ImageCmd::History(a) => history(client, a).await,
        ImageCmd::Pull(a) => crate::distribution::pull(client, &a).await,
        ImageCmd::Push(a) => crate::distribution::push(client, &a).await,
        ImageCmd::Inspect(mut a) => {
            a.kind = Some("image".into());
            crate::system::inspect(client, a).await
        }
        ImageCmd::Prune(a) => prune(client, a).await,
    }
}

async fn ls(client: &Client, a: LsArgs) -> Result {
    let mut filters = a.filter.clone();
    if let Some(r) = &a.reference {
        filters.push(format!("reference={r}"));
    }
    let list: Vec<Value> = client
        .get_json(&format!(
            "/images/json?all={}&filters={}",
            a.all,
            filters_json(&filters)?
        ))
        .await?;
    if a.quiet {
        let mut seen = std::collections::HashSet::new();
        for i in &list {
            let id = short_id(i["Id"].as_str().unwrap_or(""), a.no_trunc);
            if seen.insert(id.clone()) {
                println!("{id}");
            }
        }
        return Ok(());
    }
    let mut rows = Vec::new();
    for i in &list {
        let tags: Vec<String> = i["RepoTags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_str().map(String::from))
            .collect();
        let pairs: Vec<(String, String)> = if tags.is_empty() {
            vec![("<none>".into(), "<none>".into())]
        } else {
            tags.iter()
                .map(|t| match ImageRef::parse(t) {
                    Ok(r) => (
                        r.familiar_repository(),
                        r.tag.unwrap_or_else(|| "<none>".into()),
                    ),
                    Err(_) => (t.clone(), "<none>".into()),
                })
                .collect()
        };
        let created = i["Created"].as_i64().unwrap_or(0);
        for (repo, tag) in pairs {
            rows.push(json!({
                "Repository": repo,
                "Tag": tag,
                "ID": short_id(i["Id"].as_str().unwrap_or(""), a.no_trunc),
                "Digest": "<none>",
                "CreatedSince": ago(created),
                "CreatedAt": chrono::DateTime::from_timestamp(created, 0).map(|t| t.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string()).unwrap_or_default(),
                "Size": human_size(i["Size"].as_f64().unwrap_or(0.0), 3),
                "Containers": i["Containers"],
            }));
        }
    }
    let default = if a.digests {
        "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    } else {
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    };
    print_rows(&rows, a.format.as_deref(), default, &|f| {
        header_for(
            f,
            &[
                ("ID", "IMAGE ID"),
                ("CreatedSince", "CREATED"),
                ("CreatedAt", "CREATED AT"),
            ],
        )
    })
}

async fn rm(client: &Client, a: RmArgs) -> Result {
    let mut outcome = crate::output::Outcome::default();
    for img in &a.images {
        match client
            .delete_json::<Vec<Value>>(&format!(
                "/images/{img}?force={}&noprune={}",
                a.force, a.no_prune
            ))
            .await
        {
            Ok(items) => {
                for i in items {
                    if let Some(u) = i["Untagged"].as_str() {
                        println!("Untagged: {u}");
                    }
                    if let Some(d) = i["Deleted"].as_str() {
                        println!("Deleted: {d}");
                    }
                }
            }
            Err(e) => outcome.error(e),
        }
    }
    outcome.finish()
}

async fn tag(client: &Client, source: &str, target: &str) -> Result {
    let r = ImageRef::parse(target).map_err(|e| CliError::Usage(e.message))?;
    let repo = r.familiar_repository();
    let t = r.tag.unwrap_or_else(|| "latest".into());
    client
        .post(&format!(
            "/images/{source}/tag?repo={}&tag={}",
            enc(&repo),
            enc(&t)
        ))
        .await?;
    Ok(())
}

/// Prints a JSON-lines progress stream; an `error` line fails the command.
async fn print_progress(
    resp: hyper::Response<hyper::body::Incoming>,
    quiet: bool,
) -> Result<Vec<Value>> {
    let raw = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| CliError::Usage(e.to_string()))?
        .to_bytes();
    let mut out = Vec::new();
    for line in raw.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let v: Value = serde_json::from_slice(line)
            .map_err(|e| CliError::Usage(format!("invalid response: {e}")))?;
        if let Some(e) = v["error"].as_str() {
            return Err(berth_client::ClientError::Api {
                status: 500,
                message: e.to_string(),
            }
            .into());
        }
        if !quiet {
            if let Some(s) = v["stream"].as_str() {
                print!("{s}");
            }
        }
        out.push(v);
    }
    Ok(out)
}

async fn input_body(path: Option<&str>) -> Result<berth_client::RequestBody> {
    match path.filter(|p| *p != "-") {
        Some(p) => {
            let f = tokio::fs::File::open(p)
                .await
                .map_err(|e| CliError::Usage(format!("open {p}: {e}")))?;
            Ok(reader_body(f))
        }
        None => {
            if std::io::stdin().is_terminal() {
                return Err(CliError::Usage(
                    "requested load from stdin, but stdin is empty".into(),
                ));
            }
            Ok(reader_body(tokio::io::stdin()))
        }
    }
}

async fn load(client: &Client, a: LoadArgs) -> Result {
    let body = input_body(a.input.as_deref()).await?;
    let resp = client
        .call(
            Method::POST,
            &format!("/images/load?quiet={}", a.quiet),
            body,
            Some("application/x-tar"),
        )
        .await?;
    print_progress(resp, a.quiet).await?;
    Ok(())
}

async fn save(client: &Client, a: SaveArgs) -> Result {
    let q: Vec<String> = a
        .images
        .iter()
        .map(|i| format!("names={}", enc(i)))
        .collect();
    download(
        client,
        &format!("/images/get?{}", q.join("&")),
        a.output.as_deref(),
    )
    .await
}

/// Streams a tar answer to a file (written aside and renamed, so a failure
/// leaves no partial file) or to stdout, which must not be a terminal.
pub async fn download(client: &Client, path: &str, output: Option<&str>) -> Result {
    if output.is_none() && std::io::stdout().is_terminal() {
        return Err(CliError::Usage(
            "cowardly refusing to save to a terminal. Use the -o flag or redirect".into(),
        ));
    }
    let resp = client
        .call(Method::GET, path, berth_client::empty_body(), None)
        .await?;
    let mut out: Box<dyn tokio::io::AsyncWrite + Unpin> = match output {
        Some(p) => Box::new(
            tokio::fs::File::create(format!("{p}.tmp"))
                .await
                .map_err(|e| CliError::Usage(format!("create {p}: {e}")))?,
        ),
        None => Box::new(tokio::io::stdout()),
    };
    let mut body = resp.into_body();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| CliError::Usage(format!("download interrupted: {e}")))?;
        if let Ok(d) = frame.into_data() {
            out.write_all(&d).await?;
        }
    }
    out.flush().await?;
    if let Some(p) = output {
        tokio::fs::rename(format!("{p}.tmp"), p).await?;
    }
    Ok(())
}

async fn import(client: &Client, a: ImportArgs) -> Result {
    let mut q = vec!["fromSrc=-".to_string()];
    if let Some(r) = &a.reference {
        let parsed = ImageRef::parse(r).map_err(|e| CliError::Usage(e.message))?;
        q.push(format!("repo={}", enc(&parsed.familiar_repository())));
        q.push(format!(
            "tag={}",
            enc(parsed.tag.as_deref().unwrap_or("latest"))
        ));
    }
    for c in &a.changes {
        q.push(format!("changes={}", enc(c)));
    }
    if let Some(m) = &a.message {
        q.push(format!("message={}", enc(m)));
    }
    let body = input_body(Some(a.file.as_str())).await?;
    let resp = client
        .call(
            Method::POST,
            &format!("/images/create?{}", q.join("&")),
            body,
            Some("application/x-tar"),
        )
        .await?;
    for v in print_progress(resp, true).await? {
        if let Some(s) = v["status"].as_str() {
            println!("{s}");
        }
    }
    Ok(())
}

async fn history(client: &Client, a: HistoryArgs) -> Result {
    let items: Vec<Value> = client
        .get_json(&format!("/images/{}/history", a.image))
        .await?;
    if a.quiet {
        for i in &items {
            println!("{}", short_id(i["Id"].as_str().unwrap_or(""), a.no_trunc));
        }
        return Ok(());
    }
    let rows: Vec<Value> = items
        .iter()
        .map(|i| {
            let id = i["Id"].as_str().unwrap_or("");
            let created = i["Created"].as_i64().unwrap_or(0);
            let mut by = i["CreatedBy"].as_str().unwrap_or("").to_string();
            if !a.no_trunc && by.chars().count() > 45 {
                by = by.chars().take(44).collect::<String>() + "…";
            }
            let size = i["Size"].as_f64().unwrap_or(0.0);
            json!({
                "ID": if id == "<missing>" { id.to_string() } else { short_id(id, a.no_trunc) },
                "CreatedSince": if a.human { ago(created) } else { created.to_string() },
                "CreatedBy": by,
                "Size": if a.human { human_size(size, 3) } else { size.to_string() },
                "Comment": i["Comment"],
            })
        })
        .collect();
    print_rows(
        &rows,
        a.format.as_deref(),
        "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}",
        &|f| {
            header_for(
                f,
                &[
                    ("ID", "IMAGE"),
                    ("CreatedSince", "CREATED"),
                    ("CreatedBy", "CREATED BY"),
                ],
            )
        },
    )
}

async fn prune(client: &Client, a: PruneArgs) -> Result {
    let warning = if a.all {
        "WARNING! This will remove all images without at least one container associated to them."
    } else {
        "WARNING! This will remove all dangling images."
    };
    if !confirm(a.force, warning) {
        return Ok(());
    }
    let mut filters = a.filter.clone();
    if a.all {
        filters.push("dangling=false".into());
    }
    let r: Value = client
        .post_json(
            &format!("/images/prune?filters={}", filters_json(&filters)?),
            &json!({}),
        )
        .await?;
    let deleted = r["ImagesDeleted"].as_array().cloned().unwrap_or_default();
    if !deleted.is_empty() {
        println!("Deleted Images:");
        for d in deleted {
            if let Some(u) = d["Untagged"].as_str() {
                println!("untagged: {u}");
            }
            if let Some(x) = d["Deleted"].as_str() {
                println!("deleted: {x}");
            }
        }
        println!();
    }
    println!(
        "Total reclaimed space: {}",
        human_size(r["SpaceReclaimed"].as_f64().unwrap_or(0.0), 3)
    );
    Ok(())
}
