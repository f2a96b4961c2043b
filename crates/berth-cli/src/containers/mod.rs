//! Container commands: the dispatch, and start, stop, restart, kill, rm,
//! wait, rename, pause, unpause, top, port, prune here; ps, logs, stats,
//! events, update, exec and attach each in a file of its own (run/create
//! live in `run.rs`).

mod events;
mod exec;
mod logs;
mod ps;
mod stats;
mod update;

use berth_api::units::{bytes_size, human_size};
use berth_client::{enc, Client};
use clap::{Args, Subcommand};
use hyper::Method;
use serde_json::{json, Value};

use crate::output::{ago, header_for, print_rows, short_id, tabulate, Listing};
use crate::run::{self, CreateArgs};
use crate::{CliError, Result};

pub use events::EventsArgs;
use events::*;
use exec::*;
pub use exec::{AttachArgs, ExecArgs};
pub use logs::LogsArgs;
use logs::*;
use ps::*;
pub use ps::{row as container_row, PsArgs};
pub use stats::StatsArgs;
use stats::*;
pub use update::UpdateArgs;
use update::*;

#[derive(Subcommand, Debug)]
#[allow(clippy::large_enum_variant)] // parsed once per process
pub enum ContainerCmd {
    /// Create and run a new container from an image
    Run(RunArgs),
    /// Create a new container
    Create(CreateArgs),
    /// Execute a command in a running container
    Exec(ExecArgs),
    /// Attach local standard input, output, and error streams to a running container
    Attach(AttachArgs),
    /// Start one or more stopped containers
    Start(StartArgs),
    /// Stop one or more running containers
    Stop(StopArgs),
    /// Restart one or more containers
    Restart(StopArgs),
    /// Kill one or more running containers
    Kill(KillArgs),
    /// Remove one or more containers
    Rm(RmArgs),
    /// List containers
    Ps(PsArgs),
    /// Fetch the logs of a container
    Logs(LogsArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(Names),
    /// Rename a container
    Rename { container: String, new_name: String },
    /// Pause all processes within one or more containers
    Pause(Names),
    /// Unpause all processes within one or more containers
    Unpause(Names),
    /// Display the running processes of a container
    Top {
        container: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// Display a live stream of container(s) resource usage statistics
    Stats(StatsArgs),
    /// Update configuration of one or more containers
    Update(UpdateArgs),
    /// Get real time events from the server
    Events(EventsArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff { container: String },
    /// List port mappings or a specific mapping for the container
    Port {
        container: String,
        /// PRIVATE_PORT[/PROTO]
        private_port: Option<String>,
    },
    /// Export a container's filesystem as a tar archive
    Export {
        /// Write to a file, instead of STDOUT
        #[arg(short, long)]
        output: Option<String>,
        container: String,
    },
    /// Create a new image from a container's changes
    Commit(CommitArgs),
}

#[derive(Args, Debug)]
pub struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")
    #[arg(short, long)]
    author: Option<String>,
    /// Apply Dockerfile instruction to the created image
    #[arg(short, long = "change")]
    change: Vec<String>,
    /// Commit message
    #[arg(short, long)]
    message: Option<String>,
    /// Pause container during commit
    #[arg(short, long, default_value_t = true, action = clap::ArgAction::Set)]
    pause: bool,
    container: String,
    /// REPOSITORY[:TAG]
    reference: Option<String>,
}

#[derive(Subcommand, Debug)]
#[allow(clippy::large_enum_variant)] // parsed once per process
pub enum ContainerGroupCmd {
    #[command(flatten)]
    Common(ContainerCmd),
    /// List containers
    #[command(alias = "list")]
    Ls(PsArgs),
    /// Display detailed information on one or more containers
    Inspect(crate::inspect::InspectArgs),
    /// Remove all stopped containers
    Prune(PruneArgs),
}

#[derive(Args, Debug)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// Run container in background and print container ID
    #[arg(short = 'd', long)]
    detach: bool,
    /// Proxy received signals to the process
    #[arg(long = "sig-proxy", default_value_t = true, action = clap::ArgAction::Set)]
    sig_proxy: bool,
    #[command(flatten)]
    create: CreateArgs,
}

#[derive(Args, Debug)]
pub struct Names {
    #[arg(required = true)]
    names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct StartArgs {
    /// Attach STDOUT/STDERR
    #[arg(short = 'a', long)]
    attach: bool,
    /// Attach container's STDIN
    #[arg(short = 'i', long)]
    interactive: bool,
    #[arg(required = true)]
    names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct StopArgs {
    /// Signal to send to the container
    #[arg(short = 's', long)]
    signal: Option<String>,
    /// Seconds to wait before killing the container
    #[arg(
        short = 't',
        long = "timeout",
        alias = "time",
        allow_hyphen_values = true
    )]
    timeout: Option<i64>,
    #[arg(required = true)]
    names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct KillArgs {
    /// Signal to send to the container
    #[arg(short = 's', long)]
    signal: Option<String>,
    #[arg(required = true)]
    names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short = 'f', long)]
    force: bool,
    /// Remove anonymous volumes associated with the container
    #[arg(short = 'v', long)]
    volumes: bool,
    #[arg(required = true)]
    names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    force: bool,
    /// Provide filter values (e.g. "until=<timestamp>")
    #[arg(long = "filter", value_parser = crate::output::filter_arg)]
    filter: Vec<String>,
}

/// `-f key=value` flags as the API's JSON filters.
pub fn filters_json(flags: &[String]) -> Result<String> {
    let mut m: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for f in flags {
        let (k, v) = f.split_once('=').ok_or_else(|| {
            CliError::Usage(format!("bad format of filter (expected name=value): {f}"))
        })?;
        m.entry(k.to_string()).or_default().push(v.to_string());
    }
    Ok(enc(&serde_json::to_string(&m).unwrap_or_default()))
}

/// Confirms a destructive command on the terminal unless forced.
pub fn confirm(force: bool, warning: &str) -> bool {
    if force {
        return true;
    }
    eprint!("{warning}\nAre you sure you want to continue? [y/N] ");
    let mut answer = String::new();
    let _ = std::io::stdin().read_line(&mut answer);
    matches!(answer.trim(), "y" | "Y" | "yes")
}

pub async fn run(client: &Client, cmd: ContainerCmd) -> Result {
    match cmd {
        ContainerCmd::Run(a) => run::run(client, a.create, a.detach, a.sig_proxy).await,
        ContainerCmd::Exec(a) => exec(client, a).await,
        ContainerCmd::Attach(a) => attach(client, a).await,
        ContainerCmd::Create(a) => {
            println!("{}", run::create(client, &a).await?);
            Ok(())
        }
        ContainerCmd::Start(a) => start(client, a).await,
        ContainerCmd::Stop(a) => stop_like(client, "stop", a).await,
        ContainerCmd::Restart(a) => stop_like(client, "restart", a).await,
        ContainerCmd::Kill(a) => {
            let q = a
                .signal
                .map(|s| format!("?signal={}", enc(&s)))
                .unwrap_or_default();
            each(client, &a.names, Method::POST, |n| {
                format!("/containers/{n}/kill{q}")
            })
            .await
        }
        ContainerCmd::Rm(a) => {
            let q = format!("?force={}&v={}", a.force, a.volumes);
            each(client, &a.names, Method::DELETE, |n| {
                format!("/containers/{n}{q}")
            })
            .await
        }
        ContainerCmd::Ps(a) => ps(client, a).await,
        ContainerCmd::Logs(a) => logs(client, a).await,
        ContainerCmd::Wait(a) => {
            let mut outcome = crate::output::Outcome::default();
            for n in &a.names {
                match client
                    .post_json::<Value>(&format!("/containers/{}/wait", enc(n)), &json!({}))
                    .await
                {
                    Ok(v) => println!("{}", v["StatusCode"]),
                    Err(e) => outcome.error(e),
                }
            }
            outcome.finish()
        }
        ContainerCmd::Rename {
            container,
            new_name,
        } => {
            let done = client
                .post(&format!(
                    "/containers/{}/rename?name={}",
                    enc(&container),
                    enc(&new_name)
                ))
                .await;
            if let Err(e) = done {
                eprintln!("{e}");
                return Err(CliError::Failed(format!(
                    "Error: failed to rename container named {container}"
                )));
            }
            Ok(())
        }
        ContainerCmd::Pause(a) => {
            each(client, &a.names, Method::POST, |n| {
                format!("/containers/{n}/pause")
            })
            .await
        }
        ContainerCmd::Unpause(a) => {
            each(client, &a.names, Method::POST, |n| {
                format!("/containers/{n}/unpause")
            })
            .await
        }
        ContainerCmd::Top { container, ps_args } => {
            let q = if ps_args.is_empty() {
                String::new()
            } else {
                format!("?ps_args={}", enc(&ps_args.join(" ")))
            };
            let t: Value = client
                .get_json(&format!("/containers/{}/top{q}", enc(&container)))
                .await?;
            let mut lines = vec![t["Titles"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|x| x.as_str().unwrap_or("").to_string())
                        .collect::<Vec<_>>()
                        .join("\t")
                })
                .unwrap_or_default()];
            for p in t["Processes"].as_array().into_iter().flatten() {
                lines.push(
                    p.as_array()
                        .map(|a| {
                            a.iter()
                                .map(|x| x.as_str().unwrap_or("").to_string())
                                .collect::<Vec<_>>()
                                .join("\t")
                        })
                        .unwrap_or_default(),
                );
            }
            print!("{}", tabulate(&lines.join("\n")));
            Ok(())
        }
        ContainerCmd::Stats(a) => stats(client, a).await,
        ContainerCmd::Update(a) => update(client, a).await,
        ContainerCmd::Events(a) => events(client, a).await,
        ContainerCmd::Diff { container } => {
            let list: Vec<Value> = client
                .get_json(&format!("/containers/{}/changes", enc(&container)))
                .await?;
            for c in list {
                let k = match c["Kind"].as_i64() {
                    Some(1) => "A",
                    Some(2) => "D",
                    _ => "C",
                };
                println!("{k} {}", c["Path"].as_str().unwrap_or_default());
            }
            Ok(())
        }
        ContainerCmd::Port {
            container,
            private_port,
        } => port(client, &container, private_port.as_deref()).await,
        ContainerCmd::Export { output, container } => {
            crate::images::download(
                client,
                &format!("/containers/{}/export", enc(&container)),
                output.as_deref(),
                "failed to export container",
            )
            .await
        }
        ContainerCmd::Commit(a) => {
            let mut q = vec![
                format!("container={}", enc(&a.container)),
                format!("pause={}", a.pause),
            ];
            if let Some(r) = &a.reference {
                let parsed =
                    berth_api::ImageRef::parse(r).map_err(|e| CliError::Usage(e.message))?;
                q.push(format!("repo={}", enc(&parsed.familiar_repository())));
                q.push(format!(
                    "tag={}",
                    enc(parsed.tag.as_deref().unwrap_or("latest"))
                ));
            }
            if let Some(m) = &a.message {
                q.push(format!("comment={}", enc(m)));
            }
            if let Some(au) = &a.author {
                q.push(format!("author={}", enc(au)));
            }
            for c in &a.change {
                q.push(format!("changes={}", enc(c)));
            }
            let r: Value = client
                .post_json(&format!("/commit?{}", q.join("&")), &Value::Null)
                .await?;
            println!("{}", r["Id"].as_str().unwrap_or_default());
            Ok(())
        }
    }
}

pub async fn run_group(client: &Client, cmd: ContainerGroupCmd) -> Result {
    match cmd {
        ContainerGroupCmd::Common(c) => run(client, c).await,
        ContainerGroupCmd::Ls(a) => ps(client, a).await,
        ContainerGroupCmd::Inspect(mut a) => {
            a.kind = Some("container".into());
            crate::inspect::inspect(client, a).await
        }
        ContainerGroupCmd::Prune(a) => {
            if !confirm(a.force, "WARNING! This will remove all stopped containers.") {
                return Ok(());
            }
            let r: Value = client
                .post_json(
                    &format!("/containers/prune?filters={}", filters_json(&a.filter)?),
                    &json!({}),
                )
                .await?;
            crate::output::print_prune("Deleted Containers", &r, "ContainersDeleted");
            Ok(())
        }
    }
}

/// Runs an operation on each name, printing the name on success and the
/// error on failure, as docker does; fails if any failed.
async fn each(
    client: &Client,
    names: &[String],
    method: Method,
    path: impl Fn(&str) -> String,
) -> Result {
    let mut outcome = crate::output::Outcome::default();
    for n in names {
        match client
            .call(
                method.clone(),
                &path(&enc(n)),
                berth_client::empty_body(),
                None,
            )
            .await
        {
            Ok(_) => println!("{n}"),
            Err(e) => outcome.error(e),
        }
    }
    outcome.finish()
}

async fn stop_like(client: &Client, what: &str, a: StopArgs) -> Result {
    let mut q = Vec::new();
    if let Some(s) = &a.signal {
        q.push(format!("signal={}", enc(s)));
    }
    if let Some(t) = a.timeout {
        q.push(format!("t={t}"));
    }
    let q = if q.is_empty() {
        String::new()
    } else {
        format!("?{}", q.join("&"))
    };
    each(client, &a.names, Method::POST, |n| {
        format!("/containers/{n}/{what}{q}")
    })
    .await
}

async fn start(client: &Client, a: StartArgs) -> Result {
    if !a.attach && !a.interactive {
        let mut failed = Vec::new();
        for n in &a.names {
            match client.post(&format!("/containers/{}/start", enc(n))).await {
                Ok(_) => println!("{n}"),
                Err(e) => {
                    eprintln!("{e}");
                    failed.push(n.as_str());
                }
            }
        }
        if failed.is_empty() {
            return Ok(());
        }
        return Err(CliError::Failed(format!(
            "Error: failed to start containers: {}",
            failed.join(", ")
        )));
    }
    if a.names.len() > 1 {
        return Err(CliError::Usage(
            "you cannot start and attach multiple containers at once".into(),
        ));
    }
    let n = enc(&a.names[0]);
    let info: Value = client.get_json(&format!("/containers/{n}/json")).await?;
    let tty = info["Config"]["Tty"].as_bool().unwrap_or(false);
    let stdin = a.interactive && info["Config"]["OpenStdin"].as_bool().unwrap_or(false);
    let q = if stdin { "&stdin=1" } else { "" };
    let attach = client
        .hijack(&format!(
            "/containers/{n}/attach?stream=1&stdout=1&stderr=1{q}"
        ))
        .await?;
    let wait = client
        .call(
            Method::POST,
            &format!("/containers/{n}/wait?condition=next-exit"),
            berth_client::empty_body(),
            None,
        )
        .await?;
    client.post(&format!("/containers/{n}/start")).await?;
    let session = run::Session {
        tty,
        stdin,
        resize: Some(format!("/containers/{n}/resize")),
        proxy_signals: (!tty).then(|| n.clone()),
        detach_keys: run::detach_keys(None)?,
    };
    if session.interact(client, attach).await? {
        return Ok(());
    }
    let status: Value = berth_client::read_json(wait).await?;
    match status["StatusCode"].as_i64().unwrap_or(0) {
        0 => Ok(()),
        c => Err(CliError::Exit(c as i32)),
    }
}

/// `docker port`: every published mapping as `80/tcp -> 0.0.0.0:8080`, or
/// only the host addresses of one container port.
async fn port(client: &Client, container: &str, private: Option<&str>) -> Result {
    let c: Value = client
        .get_json(&format!("/containers/{}/json", enc(container)))
        .await?;
    let ports = c["NetworkSettings"]["Ports"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let wanted = private.map(|p| {
        if p.contains('/') {
            p.to_string()
        } else {
            format!("{p}/tcp")
        }
    });
    let mut lines = Vec::new();
    for (key, bindings) in &ports {
        if wanted.as_ref().is_some_and(|w| w != key) {
            continue;
        }
        for b in bindings.as_array().into_iter().flatten() {
            let host = format!(
                "{}:{}",
                b["HostIp"]
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .unwrap_or("0.0.0.0"),
                b["HostPort"].as_str().unwrap_or_default()
            );
            lines.push(match wanted {
                Some(_) => host,
                None => format!("{key} -> {host}"),
            });
        }
    }
    if let (Some(p), true) = (private, lines.is_empty()) {
        return Err(CliError::Failed(format!(
            "Error: No public port '{p}' published for {container}"
        )));
    }
    lines.sort();
    for l in lines {
        println!("{l}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters() {
        let q = filters_json(&[
            "status=running".into(),
            "label=a=b".into(),
            "status=exited".into(),
        ])
        .unwrap();
        let json = percent_encoding::percent_decode_str(&q)
            .decode_utf8()
            .unwrap();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&json).unwrap(),
            serde_json::json!({"label": ["a=b"], "status": ["running", "exited"]}),
            "repeated keys gather, a value keeps its own '='"
        );
        let bad = filters_json(&["bad".into()]).unwrap_err().to_string();
        assert!(
            bad.contains("bad format of filter (expected name=value): bad"),
            "{bad}"
        );
    }
}
