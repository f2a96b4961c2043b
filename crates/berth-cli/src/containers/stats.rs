//! `stats`: resource usage, once or live.

use super::*;

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

/// One container's stats as docker's stats formatter shows them; `given` is
/// the name or ID it was asked for by (docker's `.Container`).
pub(super) fn stats_row(s: &Value, given: &str, no_trunc: bool) -> Value {
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
    let (mut rx, mut tx) = (0.0, 0.0);
    for n in s["networks"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(_, n)| n)
    {
        rx += n["rx_bytes"].as_f64().unwrap_or(0.0);
        tx += n["tx_bytes"].as_f64().unwrap_or(0.0);
    }
    let (mut read, mut write) = (0.0, 0.0);
    for e in s["blkio_stats"]["io_service_bytes_recursive"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let v = e["value"].as_f64().unwrap_or(0.0);
        match e["op"].as_str().map(str::to_ascii_lowercase).as_deref() {
            Some("read") => read += v,
            Some("write") => write += v,
            _ => {}
        }
    }
    let pair = |a: f64, b: f64| format!("{} / {}", human_size(a, 3), human_size(b, 3));
    json!({
        "BlockIO": pair(read, write),
        "CPUPerc": format!("{cpu_pct:.2}%"),
        "Container": given,
        "ID": short_id(s["id"].as_str().unwrap_or(""), no_trunc),
        "MemPerc": format!("{mem_pct:.2}%"),
        "MemUsage": format!("{} / {}", bytes_size(usage), bytes_size(limit)),
        "Name": s["name"].as_str().unwrap_or("").trim_start_matches('/'),
        "NetIO": pair(rx, tx),
        "PIDs": s["pids_stats"]["current"].as_u64().unwrap_or(0).to_string(),
    })
}

pub(super) async fn stats(client: &Client, a: StatsArgs) -> Result {
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
                Ok(s) => rows.push(stats_row(&s, n, a.no_trunc)),
                Err(e) if !a.names.is_empty() => return Err(e.into()),
                Err(_) => {}
            }
        }
        if !a.no_stream {
            // Clear the screen and redraw, as docker's live view does.
            print!("\x1b[2J\x1b[H");
        }
        print_rows(
            &rows,
            None,
            a.format.as_deref(),
            &Listing {
                go_type: "*container.statsContext",
                default_table: default,
                header: &header,
                probed: false,
            },
        )?;
        if a.no_stream {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}
