//! `network create|ls|inspect|rm|prune|connect|disconnect`.

use berth_client::{enc, Client};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use crate::containers::{confirm, filters_json};
use crate::output::{header_for, print_rows, Listing};
use crate::{CliError, Result};

#[derive(Subcommand, Debug)]
pub enum NetworkCmd {
    /// Create a network
    Create(CreateArgs),
    /// List networks
    #[command(alias = "list")]
    Ls {
        /// Only display network IDs
        #[arg(short, long)]
        quiet: bool,
        /// Provide filter values (e.g. "driver=bridge")
        #[arg(short, long = "filter", value_parser = crate::output::filter_arg)]
        filter: Vec<String>,
        /// Do not truncate the output
        #[arg(long = "no-trunc")]
        no_trunc: bool,
        #[arg(long)]
        format: Option<String>,
    },
    /// Display detailed information on one or more networks
    Inspect {
        #[arg(short, long)]
        format: Option<String>,
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Remove one or more networks
    #[command(alias = "remove")]
    Rm {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Remove all unused networks
    Prune {
        /// Do not prompt for confirmation
        #[arg(short, long)]
        force: bool,
        #[arg(long = "filter", value_parser = crate::output::filter_arg)]
        filter: Vec<String>,
    },
    /// Connect a container to a network
    Connect {
        /// IPv4 address (e.g., 172.30.100.104)
        #[arg(long)]
        ip: Option<String>,
        /// Add network-scoped alias for the container
        #[arg(long = "alias")]
        aliases: Vec<String>,
        network: String,
        container: String,
    },
    /// Disconnect a container from a network
    Disconnect {
        /// Force the container to disconnect from a network
        #[arg(short, long)]
        force: bool,
        network: String,
        container: String,
    },
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Driver to manage the Network
    #[arg(short, long, default_value = "bridge")]
    driver: String,
    /// Subnet in CIDR format that represents a network segment
    #[arg(long)]
    subnet: Option<String>,
    /// IPv4 Gateway for the master subnet
    #[arg(long)]
    gateway: Option<String>,
    /// Allocate container ip from a sub-range
    #[arg(long = "ip-range")]
    ip_range: Option<String>,
    /// Restrict external access to the network
    #[arg(long)]
    internal: bool,
    /// Enable manual container attachment
    #[arg(long)]
    attachable: bool,
    /// Set driver specific options
    #[arg(short = 'o', long = "opt")]
    opts: Vec<String>,
    /// Set metadata on a network
    #[arg(long = "label")]
    labels: Vec<String>,
    name: String,
}

pub async fn run(client: &Client, cmd: NetworkCmd) -> Result {
    match cmd {
        NetworkCmd::Create(a) => {
            let mut pool = serde_json::Map::new();
            for (k, v) in [
                ("Subnet", &a.subnet),
                ("Gateway", &a.gateway),
                ("IPRange", &a.ip_range),
            ] {
                if let Some(v) = v {
                    pool.insert(k.into(), json!(v));
                }
            }
            let config = if pool.is_empty() {
                vec![]
            } else {
                vec![Value::Object(pool)]
            };
            let body = json!({"Name": a.name, "Driver": a.driver, "Internal": a.internal, "Attachable": a.attachable,
                "IPAM": {"Driver": "default", "Config": config}, "Options": crate::output::key_values(&a.opts)?, "Labels": crate::output::key_values(&a.labels)?});
            let v: Value = client.post_json("/networks/create", &body).await?;
            println!("{}", v["Id"].as_str().unwrap_or_default());
            Ok(())
        }
        NetworkCmd::Ls {
            quiet,
            filter,
            no_trunc,
            format,
        } => {
            let v: Value = client
                .get_json(&format!("/networks?filters={}", filters_json(&filter)?))
                .await?;
            let mut nets = v.as_array().cloned().unwrap_or_default();
            nets.sort_by(|x, y| {
                crate::output::natural_cmp(
                    x["Name"].as_str().unwrap_or(""),
                    y["Name"].as_str().unwrap_or(""),
                )
            });
            let rows: Vec<Value> = nets.iter().map(|n| network_row(n, !no_trunc)).collect();
            let labels: Vec<Value> = nets.iter().map(|n| n["Labels"].clone()).collect();
            // A format wins over -q, as in docker.
            let default = if quiet {
                "{{.ID}}"
            } else {
                "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"
            };
            let format = format.as_deref();
            print_rows(
                &rows,
                Some(&labels),
                format,
                &Listing {
                    go_type: "*network.networkContext",
                    default_table: default,
                    header: &|f| {
                        header_for(
                            f,
                            &[
                                ("ID", "NETWORK ID"),
                                ("IPv4", "IPV4"),
                                ("IPv6", "IPV6"),
                                ("CreatedAt", "CREATED AT"),
                            ],
                        )
                    },
                    probed: false,
                },
            )
        }
        NetworkCmd::Inspect { format, names } => {
            crate::inspect::inspect_each(client, "/networks", &names, format.as_deref()).await
        }
        NetworkCmd::Rm { names } => {
            let mut failed = false;
            for n in &names {
                match client.delete(&format!("/networks/{}", enc(n))).await {
                    Ok(()) => println!("{n}"),
                    Err(e) => {
                        eprintln!("{e}");
                        failed = true;
                    }
                }
            }
            // docker's network rm ends a failure this way (its error is an exit status).
            if failed {
                return Err(CliError::Failed("exit status 1".into()));
            }
            Ok(())
        }
        NetworkCmd::Prune { force, filter } => {
            if !confirm(
                force,
                "WARNING! This will remove all custom networks not used by at least one container.",
            ) {
                return Ok(());
            }
            let r: Value = client
                .post_json(
                    &format!("/networks/prune?filters={}", filters_json(&filter)?),
                    &json!({}),
                )
                .await?;
            let deleted: Vec<&str> = r["NetworksDeleted"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|d| d.as_str())
                .collect();
            if !deleted.is_empty() {
                println!("Deleted Networks:");
                for d in deleted {
                    println!("{d}");
                }
            }
            Ok(())
        }
        NetworkCmd::Connect {
            ip,
            aliases,
            network,
            container,
        } => {
            let mut ep = json!({ "Aliases": aliases });
            if let Some(ip) = ip {
                ep["IPAMConfig"] = json!({ "IPv4Address": ip });
            }
            client
                .post_empty(
                    &format!("/networks/{}/connect", enc(&network)),
                    &json!({"Container": container, "EndpointConfig": ep}),
                )
                .await?;
            Ok(())
        }
        NetworkCmd::Disconnect {
            force,
            network,
            container,
        } => {
            client
                .post_empty(
                    &format!("/networks/{}/disconnect", enc(&network)),
                    &json!({"Container": container, "Force": force}),
                )
                .await?;
            Ok(())
        }
    }
}

/// A network as docker's network list shows it (keys sorted as its JSON).
fn network_row(n: &Value, trunc: bool) -> Value {
    let id = n["Id"].as_str().unwrap_or_default();
    let flag = |k: &str, default: bool| n[k].as_bool().unwrap_or(default).to_string();
    json!({
        "CreatedAt": crate::output::go_time(n["Created"].as_str().unwrap_or("")),
        "Driver": n["Driver"],
        "ID": crate::output::short_id(id, !trunc),
        "IPv4": flag("EnableIPv4", true),
        "IPv6": flag("EnableIPv6", false),
        "Internal": flag("Internal", false),
        "Labels": crate::output::join_labels(&n["Labels"]),
        "Name": n["Name"],
        "Scope": n["Scope"],
    })
}
