//! `logs`, and the time arguments it shares with `events`.

use super::*;

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

/// `--since 10m` or a timestamp, as the unix seconds the API wants.
pub(super) fn time_arg(s: &str) -> Result<String> {
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

pub(super) async fn logs(client: &Client, a: LogsArgs) -> Result {
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
