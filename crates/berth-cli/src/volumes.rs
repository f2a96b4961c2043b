//! `volume create|ls|inspect|rm|prune`.

use berth_client::{enc, Client};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use crate::containers::{confirm, filters_json};
use crate::output::{header_for, print_rows, Listing};
use crate::Result;

#[derive(Subcommand, Debug)]
pub enum VolumeCmd {
    /// Create a volume
    Create(CreateArgs),
    /// List volumes
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more volumes
    Inspect {
        #[arg(short, long)]
        format: Option<String>,
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Remove one or more volumes
    #[command(alias = "remove")]
    Rm {
        /// Force the removal of one or more volumes
        #[arg(short, long)]
        force: bool,
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Remove unused local volumes
    Prune {
        /// Remove all unused volumes, not just anonymous ones
        #[arg(short, long)]
        all: bool,
        /// Do not prompt for confirmation
        #[arg(short, long)]
        force: bool,
        #[arg(long = "filter", value_parser = crate::output::filter_arg)]
        filter: Vec<String>,
    },
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Specify volume driver name
    #[arg(short, long, default_value = "local")]
    driver: String,
    /// Set driver specific options
    #[arg(short = 'o', long = "opt")]
    opts: Vec<String>,
    /// Set metadata for a volume
    #[arg(long = "label")]
    labels: Vec<String>,
    /// Specify volume name (docker keeps this older form, hidden)
    #[arg(long = "name", hide = true)]
    name_flag: Option<String>,
    name: Option<String>,
}

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Only display volume names
    #[arg(short, long)]
    quiet: bool,
    /// Provide filter values (e.g. "dangling=true")
    #[arg(short, long = "filter", value_parser = crate::output::filter_arg)]
    filter: Vec<String>,
    #[arg(long)]
    format: Option<String>,
}

pub async fn run(client: &Client, cmd: VolumeCmd) -> Result {
    match cmd {
        VolumeCmd::Create(a) => {
            let name = match (a.name, a.name_flag) {
                (Some(_), Some(_)) => {
                    return Err(crate::CliError::Failed(
                        "conflicting options: cannot specify a volume-name through both --name and as a positional arg".into(),
                    ))
                }
                (n, f) => n.or(f),
            };
            let body = json!({"Name": name.unwrap_or_default(), "Driver": a.driver, "DriverOpts": crate::output::key_values(&a.opts)?, "Labels": crate::output::key_values(&a.labels)?});
            let v: Value = client.post_json("/volumes/create", &body).await?;
            println!("{}", v["Name"].as_str().unwrap_or_default());
            Ok(())
        }
        VolumeCmd::Ls(a) => {
            let v: Value = client
                .get_json(&format!("/volumes?filters={}", filters_json(&a.filter)?))
                .await?;
            let mut vols = v["Volumes"].as_array().cloned().unwrap_or_default();
            vols.sort_by(|x, y| {
                crate::output::natural_cmp(
                    x["Name"].as_str().unwrap_or(""),
                    y["Name"].as_str().unwrap_or(""),
                )
            });
            let rows: Vec<Value> = vols.iter().map(volume_row).collect();
            let labels: Vec<Value> = vols.iter().map(|v| v["Labels"].clone()).collect();
            // A format wins over -q, as in docker.
            let default = if a.quiet {
                "{{.Name}}"
            } else {
                "table {{.Driver}}\t{{.Name}}"
            };
            let format = a.format.as_deref();
            print_rows(
                &rows,
                Some(&labels),
                format,
                &Listing {
                    go_type: "*formatter.volumeContext",
                    default_table: default,
                    header: &|f| header_for(f, &[("Name", "VOLUME NAME")]),
                    probed: false,
                },
            )
        }
        VolumeCmd::Inspect { format, names } => {
            crate::inspect::inspect_each(client, "/volumes", &names, format.as_deref()).await
        }
        VolumeCmd::Rm { force, names } => {
            let mut outcome = crate::output::Outcome::default();
            for n in &names {
                match client
                    .delete(&format!("/volumes/{}?force={force}", enc(n)))
                    .await
                {
                    Ok(()) => println!("{n}"),
                    Err(e) => outcome.error(e),
                }
            }
            outcome.finish()
        }
        VolumeCmd::Prune { all, force, filter } => {
            if !confirm(force, "WARNING! This will remove anonymous local volumes not used by at least one container.") {
                return Ok(());
            }
            let mut filter = filter;
            if all {
                filter.push("all=true".into());
            }
            let r: Value = client
                .post_json(
                    &format!("/volumes/prune?filters={}", filters_json(&filter)?),
                    &json!({}),
                )
                .await?;
            crate::output::print_prune("Deleted Volumes", &r, "VolumesDeleted");
            Ok(())
        }
    }
}

/// A volume as docker's volume list shows it (keys sorted as its JSON).
fn volume_row(v: &Value) -> Value {
    let usage = &v["UsageData"];
    let (links, size) = if usage.is_object() {
        (
            usage["RefCount"].to_string(),
            berth_api::units::human_size(usage["Size"].as_f64().unwrap_or(0.0), 4),
        )
    } else {
        ("N/A".to_string(), "N/A".to_string())
    };
    json!({
        "Availability": "N/A",
        "Driver": v["Driver"],
        "Group": "N/A",
        "Labels": crate::output::join_labels(&v["Labels"]),
        "Links": links,
        "Mountpoint": v["Mountpoint"],
        "Name": v["Name"],
        "Scope": v["Scope"],
        "Size": size,
        "Status": "N/A",
    })
}
