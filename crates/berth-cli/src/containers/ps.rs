//! `ps`: the container list, as the docker CLI prints it.

use super::*;

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

pub(super) async fn ps(client: &Client, a: PsArgs) -> Result {
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
