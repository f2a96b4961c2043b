//! `exec` and `attach`: sessions with a running container's processes.

use super::*;

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

pub(super) async fn exec(client: &Client, a: ExecArgs) -> Result {
    if a.interactive && a.tty && !a.detach && !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        return Err(CliError::Failed("the input device is not a TTY".into()));
    }
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

pub(super) async fn attach(client: &Client, a: AttachArgs) -> Result {
    let n = enc(&a.container);
    let info: Value = client.get_json(&format!("/containers/{n}/json")).await?;
    if info["State"]["Running"] != true {
        return Err(CliError::Failed(
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
