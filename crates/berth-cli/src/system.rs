//! `version`, `info`, `system df`, and `inspect` of any object.

use berth_client::Client;
use clap::{Args, Subcommand};
use serde_json::Value;

use crate::output::{print_rows, tabulate, Listing};
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
            let df: Value = client.get_json("/system/df").await?;
            if verbose {
                let vols = df["Volumes"].as_array().cloned().unwrap_or_default();
                let rows: Vec<Value> = vols
                    .iter()
                    .map(|v| serde_json::json!({"Name": v["Name"], "Links": v["UsageData"]["RefCount"], "Size": human_size(v["UsageData"]["Size"].as_f64().unwrap_or(0.0), 3)}))
                    .collect();
                println!("Local Volumes space usage:\n");
                print_rows(
                    &rows,
                    None,
                    None,
                    &Listing {
                        go_type: "*formatter.diskUsageContext",
                        default_table: "table {{.Name}}\t{{.Links}}\t{{.Size}}",
                        header: &|f| crate::output::header_for(f, &[("Name", "VOLUME NAME")]),
                        probed: false,
                    },
                )?;
                return Ok(());
            }
            let rows = df_rows(&df);
            print_rows(
                &rows,
                None,
                format.as_deref(),
                &Listing {
                    go_type: "*formatter.diskUsageImagesContext",
                    default_table:
                        "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
                    header: &|f| crate::output::header_for(f, &[("TotalCount", "TOTAL")]),
                    probed: false,
                },
            )
        }
    }
}

/// `system df`'s rows as docker's disk usage formatter computes them from
/// the API's answer.
fn df_rows(df: &Value) -> Vec<Value> {
    let list = |k: &str| df[k].as_array().cloned().unwrap_or_default();
    let n = |v: &Value, k: &str| v[k].as_i64().unwrap_or(0);
    let size = |b: i64| human_size(b as f64, 4);
    let share = |reclaimable: i64, total: i64| {
        if total > 0 {
            format!("{} ({}%)", size(reclaimable), reclaimable * 100 / total)
        } else {
            size(reclaimable)
        }
    };
    let row = |t: &str, total: usize, active: usize, sz: String, rec: String| serde_json::json!({"Active": active.to_string(), "Reclaimable": rec, "Size": sz, "TotalCount": total.to_string(), "Type": t});
    let images = list("Images");
    let layers = n(df, "LayersSize");
    let used: i64 = images
        .iter()
        .filter(|i| n(i, "Containers") != 0 && n(i, "Size") != -1 && n(i, "SharedSize") != -1)
        .map(|i| n(i, "Size") - n(i, "SharedSize"))
        .sum();
    let containers = list("Containers");
    let active = |c: &Value| {
        let s = c["State"].as_str().unwrap_or("");
        ["running", "paused", "restarting"]
            .iter()
            .any(|a| s.contains(a))
    };
    let c_total: i64 = containers.iter().map(|c| n(c, "SizeRw")).sum();
    let c_free: i64 = containers
        .iter()
        .filter(|c| !active(c))
        .map(|c| n(c, "SizeRw"))
        .sum();
    let volumes = list("Volumes");
    let refs = |v: &Value| v["UsageData"]["RefCount"].as_i64().unwrap_or(0);
    let v_size = |v: &Value| v["UsageData"]["Size"].as_i64().unwrap_or(-1).max(0);
    let v_total: i64 = volumes.iter().map(v_size).sum();
    let v_free: i64 = volumes.iter().filter(|v| refs(v) == 0).map(v_size).sum();
    let cache = list("BuildCache");
    let flag = |b: &Value, k: &str| b[k].as_bool().unwrap_or(false);
    let b_total: i64 = cache
        .iter()
        .filter(|b| !flag(b, "Shared"))
        .map(|b| n(b, "Size"))
        .sum();
    let b_free: i64 = cache
        .iter()
        .filter(|b| !flag(b, "Shared") && !flag(b, "InUse"))
        .map(|b| n(b, "Size"))
        .sum();
    vec![
        row(
            "Images",
            images.len(),
            images.iter().filter(|i| n(i, "Containers") > 0).count(),
            size(layers),
            share(layers - used, layers),
        ),
        row(
            "Containers",
            containers.len(),
            containers.iter().filter(|c| active(c)).count(),
            size(c_total),
            share(c_free, c_total),
        ),
        row(
            "Local Volumes",
            volumes.len(),
            volumes.iter().filter(|v| refs(v) > 0).count(),
            size(v_total),
            share(v_free, v_total),
        ),
        row(
            "Build Cache",
            cache.len(),
            cache.iter().filter(|b| flag(b, "InUse")).count(),
            size(b_total),
            size(b_free),
        ),
    ]
}
