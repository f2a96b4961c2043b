//! Container commands: ps, start, stop, restart, kill, rm, logs, wait,
//! rename, pause, unpause, top, stats, prune (run/create live in `run.rs`).

use berth_api::units::{bytes_size, human_size};
use berth_client::{enc, Client};
use clap::{Args, Subcommand};
use hyper::Method;
use serde_json::{json, Value};

use crate::output::{ago, header_for, print_rows, short_id, tabulate};
use crate::run::{self, CreateArgs};
use crate::{CliError, Result};

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

#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// Memory limit
    #[arg(short = 'm', long)]
    memory: Option<String>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    memory_swap: Option<String>,
    /// Memory soft limit
    #[arg(long = "memory-reservation")]
    memory_reservation: Option<String>,
    /// Number of CPUs
    #[arg(long)]
    cpus: Option<f64>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long = "cpu-shares")]
    cpu_shares: Option<i64>,
    /// Limit CPU CFS quota
    #[arg(long = "cpu-quota")]
    cpu_quota: Option<i64>,
    /// Limit CPU CFS period
    #[arg(long = "cpu-period")]
    cpu_period: Option<i64>,
    /// CPUs in which to allow execution
    #[arg(long = "cpuset-cpus")]
    cpuset_cpus: Option<String>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pids_limit: Option<i64>,
    /// Restart policy to apply when a container exits
    #[arg(long)]
    restart: Option<String>,
    #[arg(required = true)]
    names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Show all events created since timestamp
    #[arg(long)]
    since: Option<String>,
    /// Stream events until this timestamp
    #[arg(long)]
    until: Option<String>,
    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter")]
    filter: Vec<String>,
    /// Format output using a Go template or "json"
    #[arg(long)]
    format: Option<String>,
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
    Inspect(crate::system::InspectArgs),
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
pub struct ExecArgs {
    /// Detached mode: run command in the background
    #[arg(short = 'd', long)]
    detach: bool,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long)]
    interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    tty: bool,
    /// Set environment variables
    #[arg(short = 'e', long = "env")]
    env: Vec<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long = "workdir")]
    workdir: Option<String>,
    /// Username or UID (format: "<name|uid>[:<group|gid>]")
    #[arg(short = 'u', long)]
    user: Option<String>,
    /// Give extended privileges to the command
    #[arg(long)]
    privileged: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys")]
    detach_keys: Option<String>,
    container: String,
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct AttachArgs {
    /// Do not attach STDIN
    #[arg(long = "no-stdin")]
    no_stdin: bool,
    /// Proxy all received signals to the process
    #[arg(long = "sig-proxy", default_value_t = true, action = clap::ArgAction::Set)]
    sig_proxy: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys")]
    detach_keys: Option<String>,
    container: String,
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
pub struct PsArgs {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long)]
    all: bool,
    /// Only display container IDs
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Show n last created containers
    #[arg(short = 'n', long = "last")]
    last: Option<i64>,
    /// Show the latest created container
    #[arg(short = 'l', long)]
    latest: bool,
    /// Display total file sizes
    #[arg(short = 's', long)]
    size: bool,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    no_trunc: bool,
    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter")]
    filter: Vec<String>,
    /// Format output using a Go template or "json"
    #[arg(long)]
    format: Option<String>,
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Follow log output
    #[arg(short = 'f', long)]
    follow: bool,
    /// Number of lines to show from the end of the logs
    #[arg(short = 'n', long = "tail")]
    tail: Option<String>,
    /// Show logs since timestamp or relative (e.g. 42m)
    #[arg(long)]
    since: Option<String>,
    /// Show logs before a timestamp or relative (e.g. 42m)
    #[arg(long)]
    until: Option<String>,
    /// Show timestamps
    #[arg(short = 't', long)]
    timestamps: bool,
    container: String,
}

#[derive(Args, Debug)]
pub struct StatsArgs {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long)]
    all: bool,
    /// Disable streaming stats and only pull the first result
    #[arg(long = "no-stream")]
    no_stream: bool,
    /// Do not truncate output
    #[arg(long = "no-trunc")]
    no_trunc: bool,
    /// Format output using a Go template or "json"
    #[arg(long)]
    format: Option<String>,
    names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    force: bool,
    /// Provide filter values (e.g. "until=<timestamp>")
    #[arg(long = "filter")]
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
            client
                .post(&format!(
                    "/containers/{}/rename?name={}",
                    enc(&container),
                    enc(&new_name)
                ))
                .await?;
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
            print!("{}", tabulate(&lines));
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
            crate::system::inspect(client, a).await
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
        return each(client, &a.names, Method::POST, |n| {
            format!("/containers/{n}/start")
        })
        .await;
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

async fn exec(client: &Client, a: ExecArgs) -> Result {
    let n = enc(&a.container);
    let mut body = json!({
        "AttachStdin": a.interactive && !a.detach,
        "AttachStdout": !a.detach,
        "AttachStderr": !a.detach,
        "Tty": a.tty,
        "Env": a.env,
        "Cmd": a.command,
        "User": a.user.clone().unwrap_or_default(),
        "WorkingDir": a.workdir.clone().unwrap_or_default(),
        "Privileged": a.privileged,
        "DetachKeys": a.detach_keys.clone().unwrap_or_default(),
    });
    if let (true, Some((rows, cols))) = (a.tty, crate::tty::size()) {
        body["ConsoleSize"] = json!([rows, cols]);
    }
    let created: Value = client
        .post_json(&format!("/containers/{n}/exec"), &body)
        .await?;
    let id = created["Id"].as_str().unwrap_or_default().to_string();
    if a.detach {
        let body = serde_json::to_vec(&json!({"Detach": true, "Tty": a.tty})).unwrap_or_default();
        client
            .call(
                Method::POST,
                &format!("/exec/{id}/start"),
                berth_client::bytes_body(body),
                Some("application/json"),
            )
            .await?;
        return Ok(());
    }
    let start = serde_json::to_vec(&json!({"Detach": false, "Tty": a.tty})).unwrap_or_default();
    let upgraded = client
        .hijack_with(&format!("/exec/{id}/start"), start)
        .await?;
    let session = run::Session {
        tty: a.tty,
        stdin: a.interactive,
        resize: Some(format!("/exec/{id}/resize")),
        proxy_signals: None,
        detach_keys: run::detach_keys(a.detach_keys.as_deref())?,
    };
    if session.interact(client, upgraded).await? {
        return Ok(());
    }
    let info: Value = client.get_json(&format!("/exec/{id}/json")).await?;
    match info["ExitCode"].as_i64().unwrap_or(0) {
        0 => Ok(()),
        c => Err(CliError::Exit(c as i32)),
    }
}

async fn attach(client: &Client, a: AttachArgs) -> Result {
    let n = enc(&a.container);
    let info: Value = client.get_json(&format!("/containers/{n}/json")).await?;
    if info["State"]["Running"] != true {
        return Err(CliError::Usage(
            "You cannot attach to a stopped container, start it first".into(),
        ));
    }
    let tty = info["Config"]["Tty"].as_bool().unwrap_or(false);
    let stdin = !a.no_stdin && info["Config"]["OpenStdin"].as_bool().unwrap_or(false);
    let mut q = format!("stream=1&stdout=1&stderr=1&stdin={}", stdin as u8);
    if let Some(k) = &a.detach_keys {
        q.push_str(&format!("&detachKeys={}", enc(k)));
    }
    let upgraded = client
        .hijack(&format!("/containers/{n}/attach?{q}"))
        .await?;
    let session = run::Session {
        tty,
        stdin,
        resize: Some(format!("/containers/{n}/resize")),
        proxy_signals: (a.sig_proxy && !tty).then(|| n.clone()),
        detach_keys: run::detach_keys(a.detach_keys.as_deref())?,
    };
    if session.interact(client, upgraded).await? {
        return Ok(());
    }
    // Still running: we detached. Otherwise report how it ended.
    let info: Value = client.get_json(&format!("/containers/{n}/json")).await?;
    if info["State"]["Running"] == true {
        return Ok(());
    }
    match info["State"]["ExitCode"].as_i64().unwrap_or(0) {
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
    if let (Some(w), true) = (&wanted, lines.is_empty()) {
        return Err(CliError::Usage(format!(
            "No public port '{w}' published for {container}"
        )));
    }
    lines.sort();
    for l in lines {
        println!("{l}");
    }
    Ok(())
}

async fn ps(client: &Client, a: PsArgs) -> Result {
    let mut q = format!(
        "?all={}&size={}&filters={}",
        a.all,
        a.size,
        filters_json(&a.filter)?
    );
    let limit = if a.latest { Some(1) } else { a.last };
    if let Some(n) = limit {
        q.push_str(&format!("&limit={n}"));
    }
    let list: Vec<Value> = client.get_json(&format!("/containers/json{q}")).await?;
    if a.quiet {
        for c in &list {
            println!("{}", short_id(c["Id"].as_str().unwrap_or(""), a.no_trunc));
        }
        return Ok(());
    }
    let rows: Vec<Value> = list
        .iter()
        .map(|c| {
            let mut cmd = c["Command"].as_str().unwrap_or("").to_string();
            if !a.no_trunc && cmd.chars().count() > 20 {
                cmd = cmd.chars().take(19).collect::<String>() + "…";
            }
            let created = c["Created"].as_i64().unwrap_or(0);
            let names: Vec<String> = c["Names"].as_array().into_iter().flatten().filter_map(|n| n.as_str()).map(|n| n.trim_start_matches('/').to_string()).collect();
            let labels: Vec<String> = c["Labels"].as_object().into_iter().flatten().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect();
            let size = match (c["SizeRw"].as_f64(), c["SizeRootFs"].as_f64()) {
                (Some(rw), Some(root)) => format!("{} (virtual {})", human_size(rw, 3), human_size(root, 3)),
                _ => String::new(),
            };
            json!({
                "ID": short_id(c["Id"].as_str().unwrap_or(""), a.no_trunc),
                "Image": c["Image"],
                "Command": format!("\"{cmd}\""),
                "CreatedAt": chrono::DateTime::from_timestamp(created, 0).map(|t| t.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string()).unwrap_or_default(),
                "RunningFor": ago(created),
                "Ports": "",
                "State": c["State"],
                "Status": c["Status"],
                "Size": size,
                "Names": names.join(","),
                "Labels": labels.join(","),
                "Mounts": "",
                "Networks": c["HostConfig"]["NetworkMode"],
            })
        })
        .collect();
    let default = if a.size {
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}\t{{.Size}}"
    } else {
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
    };
    print_rows(&rows, a.format.as_deref(), default, &|f| {
        header_for(
            f,
            &[
                ("ID", "CONTAINER ID"),
                ("RunningFor", "CREATED"),
                ("CreatedAt", "CREATED AT"),
            ],
        )
    })
}

/// `--since 10m` or a timestamp, as the unix seconds the API wants.
fn time_arg(s: &str) -> Result<String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(format!(
            "{}.{:09}",
            t.timestamp(),
            t.timestamp_subsec_nanos()
        ));
    }
    if s.parse::<f64>().is_ok() {
        return Ok(s.to_string());
    }
    let secs = berth_api::units::go_duration(s)
        .ok_or_else(|| CliError::Usage(format!("invalid value for \"since\": {s}")))?;
    let t = chrono::Utc::now().timestamp_micros() as f64 / 1e6 - secs;
    Ok(format!("{t:.6}"))
}

async fn logs(client: &Client, a: LogsArgs) -> Result {
    let name = enc(&a.container);
    let info: Value = client.get_json(&format!("/containers/{name}/json")).await?;
    let tty = info["Config"]["Tty"].as_bool().unwrap_or(false);
    let mut q = format!(
        "?stdout=1&stderr=1&follow={}&timestamps={}",
        a.follow, a.timestamps
    );
    if let Some(t) = &a.tail {
        q.push_str(&format!("&tail={}", enc(t)));
    }
    if let Some(s) = &a.since {
        q.push_str(&format!("&since={}", time_arg(s)?));
    }
    if let Some(u) = &a.until {
        q.push_str(&format!("&until={}", time_arg(u)?));
    }
    let resp = client
        .call(
            Method::GET,
            &format!("/containers/{name}/logs{q}"),
            berth_client::empty_body(),
            None,
        )
        .await?;
    run::pump_body(resp, tty).await
}

fn stats_row(s: &Value, no_trunc: bool) -> Value {
    let cpu = &s["cpu_stats"];
    let pre = &s["precpu_stats"];
    let cpu_delta = cpu["cpu_usage"]["total_usage"].as_f64().unwrap_or(0.0)
        - pre["cpu_usage"]["total_usage"].as_f64().unwrap_or(0.0);
    let sys_delta = cpu["system_cpu_usage"].as_f64().unwrap_or(0.0)
        - pre["system_cpu_usage"].as_f64().unwrap_or(0.0);
    let online = cpu["online_cpus"].as_f64().unwrap_or(1.0);
    let cpu_pct = if cpu_delta > 0.0 && sys_delta > 0.0 {
        cpu_delta / sys_delta * online * 100.0
    } else {
        0.0
    };
    let mem = &s["memory_stats"];
    let cache = mem["stats"]["total_inactive_file"]
        .as_f64()
        .or(mem["stats"]["inactive_file"].as_f64())
        .unwrap_or(0.0);
    let usage = (mem["usage"].as_f64().unwrap_or(0.0) - cache).max(0.0);
    let limit = mem["limit"].as_f64().unwrap_or(0.0);
    let mem_pct = if limit > 0.0 {
        usage / limit * 100.0
    } else {
        0.0
    };
    json!({
        "ID": short_id(s["id"].as_str().unwrap_or(""), no_trunc),
        "Container": short_id(s["id"].as_str().unwrap_or(""), no_trunc),
        "Name": s["name"].as_str().unwrap_or("").trim_start_matches('/'),
        "CPUPerc": format!("{cpu_pct:.2}%"),
        "MemUsage": format!("{} / {}", bytes_size(usage), bytes_size(limit)),
        "MemPerc": format!("{mem_pct:.2}%"),
        "NetIO": "0B / 0B",
        "BlockIO": "0B / 0B",
        "PIDs": s["pids_stats"]["current"].as_u64().unwrap_or(0),
    })
}

async fn stats(client: &Client, a: StatsArgs) -> Result {
    let names: Vec<String> = if a.names.is_empty() {
        let list: Vec<Value> = client
            .get_json(&format!("/containers/json?all={}", a.all))
            .await?;
        list.iter()
            .filter_map(|c| c["Id"].as_str().map(String::from))
            .collect()
    } else {
        a.names.clone()
    };
    let default = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";
    let header = |f: &str| {
        header_for(
            f,
            &[
                ("ID", "CONTAINER ID"),
                ("CPUPerc", "CPU %"),
                ("MemUsage", "MEM USAGE / LIMIT"),
                ("MemPerc", "MEM %"),
                ("NetIO", "NET I/O"),
                ("BlockIO", "BLOCK I/O"),
                ("PIDs", "PIDS"),
            ],
        )
    };
    loop {
        let mut rows = Vec::new();
        for n in &names {
            match client
                .get_json::<Value>(&format!("/containers/{}/stats?stream=false", enc(n)))
                .await
            {
                Ok(s) => rows.push(stats_row(&s, a.no_trunc)),
                Err(e) if !a.names.is_empty() => return Err(e.into()),
                Err(_) => {}
            }
        }
        if !a.no_stream {
            // Clear the screen and redraw, as docker's live view does.
            print!("\x1b[2J\x1b[H");
        }
        print_rows(&rows, a.format.as_deref(), default, &header)?;
        if a.no_stream {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

async fn update(client: &Client, a: UpdateArgs) -> Result {
    let mem = |v: &Option<String>| -> Result<i64> {
        match v.as_deref() {
            None => Ok(0),
            Some("-1") => Ok(-1),
            Some(s) => berth_api::units::ram_in_bytes(s)
                .ok_or_else(|| CliError::Usage(format!("invalid size: {s:?}"))),
        }
    };
    let mut body = serde_json::Map::new();
    for (k, v) in [
        ("Memory", mem(&a.memory)?),
        ("MemorySwap", mem(&a.memory_swap)?),
        ("MemoryReservation", mem(&a.memory_reservation)?),
    ] {
        if v != 0 {
            body.insert(k.into(), json!(v));
        }
    }
    if let Some(c) = a.cpus {
        body.insert("NanoCpus".into(), json!((c * 1e9).round() as i64));
    }
    for (k, v) in [
        ("CpuShares", a.cpu_shares),
        ("CpuQuota", a.cpu_quota),
        ("CpuPeriod", a.cpu_period),
        ("PidsLimit", a.pids_limit),
    ] {
        if let Some(v) = v {
            body.insert(k.into(), json!(v));
        }
    }
    if let Some(c) = &a.cpuset_cpus {
        body.insert("CpusetCpus".into(), json!(c));
    }
    if let Some(r) = &a.restart {
        body.insert(
            "RestartPolicy".into(),
            serde_json::to_value(run::restart_policy(r)?).unwrap_or_default(),
        );
    }
    let body = Value::Object(body);
    let mut outcome = crate::output::Outcome::default();
    for n in &a.names {
        match client
            .post_json::<Value>(&format!("/containers/{}/update", enc(n)), &body)
            .await
        {
            Ok(_) => println!("{n}"),
            Err(e) => outcome.error(e),
        }
    }
    outcome.finish()
}

async fn events(client: &Client, a: EventsArgs) -> Result {
    use http_body_util::BodyExt;
    let mut q = vec![format!("filters={}", filters_json(&a.filter)?)];
    if let Some(s) = &a.since {
        q.push(format!("since={}", time_arg(s)?));
    }
    if let Some(u) = &a.until {
        q.push(format!("until={}", time_arg(u)?));
    }
    let resp = client
        .call(
            Method::GET,
            &format!("/events?{}", q.join("&")),
            berth_client::empty_body(),
            None,
        )
        .await?;
    let template = match a.format.as_deref() {
        None | Some("") => None,
        Some("json") => {
            Some(crate::template::Template::parse("{{json .}}").map_err(CliError::Usage)?)
        }
        Some(f) => Some(
            crate::template::Template::parse(f)
                .map_err(|e| CliError::Usage(format!("template parsing error: {e}")))?,
        ),
    };
    let mut body = resp.into_body();
    let mut buf = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame
            .map_err(|e| CliError::Usage(e.to_string()))?
            .into_data()
        else {
            continue;
        };
        buf.extend_from_slice(&data);
        while let Some(i) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=i).collect();
            let Ok(ev) = serde_json::from_slice::<Value>(&line) else {
                continue;
            };
            match &template {
                Some(t) => println!(
                    "{}",
                    t.render(&ev)
                        .map_err(|e| CliError::Usage(format!("template: {e}")))?
                ),
                None => println!("{}", event_line(&ev)),
            }
        }
    }
    Ok(())
}

/// docker's default event line: `time type action id (k=v, ...)`.
fn event_line(ev: &Value) -> String {
    let nanos = ev["timeNano"].as_i64().unwrap_or(0);
    let time =
        chrono::DateTime::from_timestamp(nanos / 1_000_000_000, (nanos % 1_000_000_000) as u32)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
            .unwrap_or_default();
    let attrs: Vec<String> = ev["Actor"]["Attributes"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect();
    format!(
        "{time} {} {} {} ({})",
        ev["Type"].as_str().unwrap_or(""),
        ev["Action"].as_str().unwrap_or(""),
        ev["Actor"]["ID"].as_str().unwrap_or(""),
        attrs.join(", ")
    )
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
