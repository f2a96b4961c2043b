//! `berth login` and `berth logout`: credentials checked by the daemon
//! (`POST /auth`), then kept in the config file or a credential helper.

use std::io::{BufRead as _, IsTerminal as _, Read as _, Write as _};

use berth_client::Client;
use clap::Args;

use crate::credentials::{normalize, Store};
use crate::{CliError, Result};

#[derive(Args, Debug)]
pub struct LoginArgs {
    /// Username
    #[arg(short, long)]
    username: Option<String>,
    /// Password
    #[arg(short, long)]
    password: Option<String>,
    /// Take the password from stdin
    #[arg(long = "password-stdin")]
    password_stdin: bool,
    /// SERVER (default: Docker Hub)
    server: Option<String>,
}

#[derive(Args, Debug)]
pub struct LogoutArgs {
    /// SERVER (default: Docker Hub)
    server: Option<String>,
}

fn prompt(what: &str) -> Result<String> {
    eprint!("{what}: ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

pub async fn login(client: &Client, a: &LoginArgs) -> Result {
    let server = normalize(a.server.as_deref());
    let mut store = Store::load()?;
    if a.password.is_some() && a.password_stdin {
        return Err(CliError::Usage(
            "--password and --password-stdin are mutually exclusive".into(),
        ));
    }
    if a.password_stdin && a.username.is_none() {
        return Err(CliError::Usage(
            "Must provide --username with --password-stdin".into(),
        ));
    }
    let interactive = a.username.is_none() && a.password.is_none() && !a.password_stdin;
    // Kept credentials are tried first, as docker does.
    if interactive {
        if let Some((user, pass)) = store.get(&server)? {
            eprintln!("Authenticating with existing credentials...");
            if check(client, &server, &user, &pass).await.is_ok() {
                println!("Login Succeeded");
                return Ok(());
            }
        }
    }
    let terminal = std::io::stdin().is_terminal();
    let user = match &a.username {
        Some(u) => u.clone(),
        None if terminal => prompt("Username")?,
        None => {
            return Err(CliError::Usage(
                "Cannot perform an interactive login from a non TTY device".into(),
            ))
        }
    };
    let pass = if a.password_stdin {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        s.trim_end_matches(['\r', '\n']).to_string()
    } else if let Some(p) = &a.password {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
        p.clone()
    } else if terminal {
        rpassword::prompt_password("Password: ")?
    } else {
        return Err(CliError::Usage(
            "Cannot perform an interactive login from a non TTY device".into(),
        ));
    };
    if user.is_empty() || pass.is_empty() {
        return Err(CliError::Usage(
            "Error: Username and password required".into(),
        ));
    }
    check(client, &server, &user, &pass).await?;
    store.store(&server, &user, &pass)?;
    println!("Login Succeeded");
    Ok(())
}

async fn check(client: &Client, server: &str, user: &str, pass: &str) -> Result {
    let body = serde_json::json!({"username": user, "password": pass, "serveraddress": server});
    client.post_empty("/auth", &body).await?;
    Ok(())
}

pub fn logout(a: &LogoutArgs) -> Result {
    let server = normalize(a.server.as_deref());
    let mut store = Store::load()?;
    // docker 28 says so whether or not it kept any.
    println!("Removing login credentials for {server}");
    store.erase(&server)?;
    Ok(())
}
