//! `version`, `info`, `system df`, and `inspect` of any object.

use berth_client::Client;
use clap::{Args, Subcommand};
use serde_json::Value;

use crate::output::tabulate;
use crate::Result;
use berth_api::units::human_size;

#[derive(Args, Debug)]
pub struct VersionArgs {
    /// Format output using a Go template or "json"
    #[arg(short, long)]
    format: Option<String>,
}

#[derive(Args, Debug)]
pub struct InfoArgs {
    #[arg(short, long)]
    format: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum SystemCmd {
    /// Show disk usage
    Df {
        #[arg(short, long)]
        format: Option<String>,
        #[arg(short, long)]
        verbose: bool,
    },
    /// Display system-wide information
    Info(InfoArgs),
    /// Remove unused data
    Prune {
        /// Remove all unused images not just dangling ones
        #[arg(short, long)]
        all: bool,
        /// Do not prompt for confirmation
        #[arg(short, long)]
        force: bool,
        /// Prune anonymous volumes
        #[arg(long)]
        volumes: bool,
        #[arg(long = "filter", value_parser = crate::output::filter_arg)]
        filter: Vec<String>,
    },
}

pub async fn version(client: &Client, a: VersionArgs) -> Result {
    let server: Value = client.get_json("/version").await?;
    let v = serde_json::json!({
        "Client": {"Version": env!("CARGO_PKG_VERSION"), "ApiVersion": berth_client::API_VERSION, "Os": "linux", "Arch": std::env::consts::ARCH},
        "Server": server,
    });
    if a.format.is_some() {
        return crate::inspect::print_formatted(&v, a.format.as_deref());
    }
    println!(
        "Client:\n Version:\t{}\n API version:\t{}\n",
        env!("CARGO_PKG_VERSION"),
        berth_client::API_VERSION
    );
    let s = &v["Server"];
    let lines = [
        format!(" Version:\t{}", s["Version"].as_str().unwrap_or("")),
        format!(
            " API version:\t{} (minimum version {})",
            s["ApiVersion"].as_str().unwrap_or(""),
            s["MinAPIVersion"].as_str().unwrap_or("")
        ),
        format!(
            " OS/Arch:\t{}/{}",
            s["Os"].as_str().unwrap_or(""),
            s["Arch"].as_str().unwrap_or("")
        ),
        format!(" Kernel:\t{}", s["KernelVersion"].as_str().unwrap_or("")),
    ];
    println!(
        "Server: {}",
        s["Platform"]["Name"].as_str().unwrap_or("Berth Engine")
    );
    print!("{}", tabulate(&lines.join("\n")));
    Ok(())
}

pub async fn info(client: &Client, a: InfoArgs) -> Result {
    let i: Value = client.get_json("/info").await?;
    if a.format.is_some() {
        return crate::inspect::print_formatted(&i, a.format.as_deref());
    }
    let s = |k: &str| {
        i[k].as_str()
            .map(String::from)
            .unwrap_or_else(|| i[k].to_string())
    };
    println!("Server:");
    println!(" Containers: {}", s("Containers"));
    println!(
        "  Running: {}\n  Paused: {}\n  Stopped: {}",
        s("ContainersRunning"),
        s("ContainersPaused"),
        s("ContainersStopped")
    );
    println!(" Images: {}", s("Images"));
    println!(" Server Version: {}", s("ServerVersion"));
    println!(" Storage Driver: {}", s("Driver"));
    println!(" Logging Driver: {}", s("LoggingDriver"));
    println!(
        " Cgroup Driver: {}\n Cgroup Version: {}",
        s("CgroupDriver"),
        s("CgroupVersion")
    );
    let runtimes: Vec<String> = i["Runtimes"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    println!(
        " Runtimes: {}\n Default Runtime: {}",
        runtimes.join(" "),
        s("DefaultRuntime")
    );
    println!(
        " Kernel Version: {}\n Operating System: {}\n OSType: {}\n Architecture: {}",
        s("KernelVersion"),
        s("OperatingSystem"),
        s("OSType"),
        s("Architecture")
    );
    println!(
        " CPUs: {}\n Total Memory: {}",
        s("NCPU"),
        human_size(i["MemTotal"].as_f64().unwrap_or(0.0), 4)
    );
    println!(
        " Name: {}\n Berth Root Dir: {}",
        s("Name"),
        s("DockerRootDir")
    );
    Ok(())
}

pub async fn run(client: &Client, cmd: SystemCmd) -> Result {
    match cmd {
        SystemCmd::Info(a) => info(client, a).await,
        SystemCmd::Prune {
            all,
            force,
            volumes,
            filter,
        } => {
            let mut warning =
                String::from("WARNING! This will remove:\n  - all stopped containers\n");
            if volumes {
                warning.push_str("  - all anonymous volumes not used by at least one container\n");
            }
            warning.push_str(if all {
                "  - all images without at least one container associated to them"
            } else {
                "  - all dangling images"
            });
            if !crate::containers::confirm(force, &warning) {
                return Ok(());
            }
            let f = crate::containers::filters_json(&filter)?;
            let c: Value = client
                .post_json(
                    &format!("/containers/prune?filters={f}"),
                    &serde_json::json!({}),
                )
                .await?;
            let mut reclaimed = c["SpaceReclaimed"].as_f64().unwrap_or(0.0);
            for id in c["ContainersDeleted"].as_array().into_iter().flatten() {
                println!("Deleted Container: {}", id.as_str().unwrap_or_default());
            }
            if volumes {
                let v: Value = client
                    .post_json("/volumes/prune", &serde_json::json!({}))
                    .await?;
                reclaimed += v["SpaceReclaimed"].as_f64().unwrap_or(0.0);
                for n in v["VolumesDeleted"].as_array().into_iter().flatten() {
                    println!("Deleted Volume: {}", n.as_str().unwrap_or_default());
                }
            }
            let mut img_filter = filter.clone();
            if all {
                img_filter.push("dangling=false".into());
            }
            let i: Value = client
                .post_json(
                    &format!(
                        "/images/prune?filters={}",
                        crate::containers::filters_json(&img_filter)?
                    ),
                    &serde_json::json!({}),
                )
                .await?;
            reclaimed += i["SpaceReclaimed"].as_f64().unwrap_or(0.0);
            for d in i["ImagesDeleted"].as_array().into_iter().flatten() {
                if let Some(x) = d["Deleted"].as_str() {
                    println!("Deleted Image: {x}");
                }
            }
            println!("Total reclaimed space: {}", human_size(reclaimed, 3));
            Ok(())
        }
        SystemCmd::Df { format, verbose } => {
            crate::df::df(client, format.as_deref(), verbose).await
        }
    }
}
