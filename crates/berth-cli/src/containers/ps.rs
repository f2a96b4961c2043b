//! `ps`: the container list, as the docker CLI prints it.

use super::*;
use crate::output::{ellipsis, go_unix_time, join_labels, strings};

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
    #[arg(short = 'f', long = "filter", value_parser = crate::output::filter_arg)]
    filter: Vec<String>,
    /// Format output using a Go template or "json"
    #[arg(long)]
    format: Option<String>,
}

pub(super) async fn ps(client: &Client, a: PsArgs) -> Result {
    // A template that reads .Size (or all fields, with json) asks for sizes, as docker's does.
    let wants_size = a
        .format
        .as_deref()
        .is_some_and(|f| f != "json" && (f.contains(".Size") || f.contains("json .")));
    let mut q = format!(
        "?all={}&size={}&filters={}",
        a.all,
        a.size || wants_size,
        filters_json(&a.filter)?
    );
    let limit = if a.latest { Some(1) } else { a.last };
    if let Some(n) = limit {
        q.push_str(&format!("&limit={n}"));
    }
    let list: Vec<Value> = client.get_json(&format!("/containers/json{q}")).await?;
    let trunc = !a.no_trunc;
    let rows: Vec<Value> = list.iter().map(|c| row(c, trunc)).collect();
    let labels: Vec<Value> = list.iter().map(|c| c["Labels"].clone()).collect();
    let default = if a.quiet {
        "{{.ID}}"
    } else if a.size {
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}\t{{.Size}}"
    } else {
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
    };
    // -q wins over a format in ps, as docker's, which says so.
    if a.quiet && a.format.as_deref().is_some_and(|f| !f.is_empty()) {
        eprintln!("WARNING: Ignoring custom format, because both --format and --quiet are set.");
    }
    let format = if a.quiet { None } else { a.format.as_deref() };
    let header = |f: &str| {
        header_for(
            f,
            &[
                ("ID", "CONTAINER ID"),
                ("RunningFor", "CREATED"),
                ("CreatedAt", "CREATED AT"),
                ("LocalVolumes", "LOCAL VOLUMES"),
            ],
        )
    };
    print_rows(
        &rows,
        Some(&labels),
        format,
        &Listing {
            go_type: "*formatter.ContainerContext",
            default_table: default,
            header: &header,
            probed: true,
        },
    )
}

/// One container as docker's ContainerContext shows it, every field taken
/// from the API's answer; keys in the order docker's MarshalJSON gives (sorted).
pub fn row(c: &Value, trunc: bool) -> Value {
    let mut cmd = c["Command"].as_str().unwrap_or("").to_string();
    if trunc {
        cmd = ellipsis(&cmd, 20);
    }
    let created = c["Created"].as_i64().unwrap_or(0);
    let mut names: Vec<String> = strings(&c["Names"])
        .into_iter()
        .map(|n| n.trim_start_matches('/').to_string())
        .collect();
    // Link names (`other/alias`) are left out unless --no-trunc.
    if trunc {
        if let Some(own) = names.iter().find(|n| !n.contains('/')).cloned() {
            names = vec![own];
        }
    }
    let rw = c["SizeRw"].as_f64().unwrap_or(0.0);
    let root = c["SizeRootFs"].as_f64().unwrap_or(0.0);
    let size = if root > 0.0 {
        format!("{} (virtual {})", human_size(rw, 3), human_size(root, 3))
    } else {
        human_size(rw, 3)
    };
    let mounts = c["Mounts"].as_array().cloned().unwrap_or_default();
    let mount_names: Vec<String> = mounts
        .iter()
        .map(|m| {
            let name = m["Name"]
                .as_str()
                .filter(|n| !n.is_empty())
                .or(m["Source"].as_str())
                .unwrap_or("");
            if trunc {
                ellipsis(name, 15)
            } else {
                name.to_string()
            }
        })
        .collect();
    let local = mounts.iter().filter(|m| m["Driver"] == "local").count();
    let mut networks: Vec<String> = c["NetworkSettings"]["Networks"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    networks.sort();
    json!({
        "Command": go_quote(&cmd),
        "CreatedAt": go_unix_time(created),
        "ID": short_id(c["Id"].as_str().unwrap_or(""), !trunc),
        "Image": c["Image"],
        "Labels": join_labels(&c["Labels"]),
        "LocalVolumes": local.to_string(),
        "Mounts": mount_names.join(","),
        "Names": names.join(","),
        "Networks": networks.join(","),
        "Platform": Value::Null,
        "Ports": displayable_ports(&c["Ports"]),
        "RunningFor": ago(created),
        "Size": size,
        "State": c["State"],
        "Status": c["Status"],
    })
}

/// Go's `strconv.Quote`, as docker quotes the command: JSON's escapes, and
/// the ellipsis kept (it is printable).
fn go_quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

fn join_host_port(ip: &str, port: &str) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

/// The PORTS column as docker's `DisplayablePorts` writes it: sorted,
/// consecutive ports grouped into ranges, mappings to other ports last.
pub fn displayable_ports(ports: &Value) -> String {
    let mut ports: Vec<(u64, String, u64, String)> = ports
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            (
                p["PrivatePort"].as_u64().unwrap_or(0),
                p["IP"].as_str().unwrap_or("").to_string(),
                p["PublicPort"].as_u64().unwrap_or(0),
                p["Type"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    ports.sort();
    let form = |key: &str, first: u64, last: u64| {
        let (ip, typ) = match key.rsplit_once('/') {
            Some((ip, t)) => (ip, t),
            None => ("", key),
        };
        let mut group = first.to_string();
        if first != last {
            group = format!("{group}-{last}");
        }
        if !ip.is_empty() {
            group = format!("{}->{group}", join_host_port(ip, &group));
        }
        format!("{group}/{typ}")
    };
    let mut groups: Vec<(String, u64, u64)> = Vec::new();
    let mut result = Vec::new();
    let mut mappings = Vec::new();
    for (private, ip, public, typ) in ports {
        let key = if ip.is_empty() {
            typ.clone()
        } else if public != private {
            mappings.push(format!(
                "{}->{private}/{typ}",
                join_host_port(&ip, &public.to_string())
            ));
            continue;
        } else {
            format!("{ip}/{typ}")
        };
        match groups.iter_mut().find(|g| g.0 == key) {
            None => groups.push((key, private, private)),
            Some(g) if private == g.2 + 1 => g.2 = private,
            Some(g) => {
                result.push(form(&g.0, g.1, g.2));
                g.1 = private;
                g.2 = private;
            }
        }
    }
    result.extend(groups.iter().map(|g| form(&g.0, g.1, g.2)));
    result.extend(mappings);
    result.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_as_docker_groups_them() {
        let p = |v: Value| displayable_ports(&v);
        assert_eq!(
            p(json!([{"IP": "127.0.0.1", "PrivatePort": 80, "PublicPort": 18082, "Type": "tcp"}])),
            "127.0.0.1:18082->80/tcp"
        );
        assert_eq!(
            p(
                json!([{"PrivatePort": 81, "Type": "tcp"}, {"PrivatePort": 80, "Type": "tcp"}, {"PrivatePort": 53, "Type": "udp"}])
            ),
            "53/udp, 80-81/tcp"
        );
        assert_eq!(
            p(
                json!([{"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 80, "Type": "tcp"},
                     {"IP": "::", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"}])
            ),
            "0.0.0.0:80->80/tcp, [::]:8080->80/tcp"
        );
        assert_eq!(
            ellipsis("sh -c echo bye; exit 3", 20),
            "sh -c echo bye; exi\u{2026}"
        );
    }
}
