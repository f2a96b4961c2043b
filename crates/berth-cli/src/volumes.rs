//! `volume create|ls|inspect|rm|prune`.

use berth_client::{enc, Client};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use crate::containers::{confirm, filters_json};
use crate::output::{header_for, print_rows};
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
        #[arg(long = "filter")]
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
    name: Option<String>,
}

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Only display volume names
    #[arg(short, long)]
    quiet: bool,
    /// Provide filter values (e.g. "dangling=true")
    #[arg(short, long = "filter")]
    filter: Vec<String>,
    #[arg(long)]
    format: Option<String>,
}

pub async fn run(client: &Client, cmd: VolumeCmd) -> Result {
    match cmd {
        VolumeCmd::Create(a) => {
            let body = json!({"Name": a.name.unwrap_or_default(), "Driver": a.driver, "DriverOpts": crate::output::key_values(&a.opts)?, "Labels": crate::output::key_values(&a.labels)?});
            let v: Value = client.post_json("/volumes/create", &body).await?;
            println!("{}", v["Name"].as_str().unwrap_or_default());
            Ok(())
        }
        VolumeCmd::Ls(a) => {
            let v: Value = client
                .get_json(&format!("/volumes?filters={}", filters_json(&a.filter)?))
                .await?;
            let vols = v["Volumes"].as_array().cloned().unwrap_or_default();
            if a.quiet {
                for x in &vols {
                    println!("{}", x["Name"].as_str().unwrap_or_default());
                }
                return Ok(());
            }
            print_rows(
                &vols,
                a.format.as_deref(),
                "table {{.Driver}}\t{{.Name}}",
                &|f| header_for(f, &[("Name", "VOLUME NAME")]),
            )
        }
        VolumeCmd::Inspect { format, names } => {
            crate::system::inspect_each(client, "/volumes", &names, format.as_deref()).await
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
