//! `version`, `info`, `system df`, and `inspect` of any object.

use berth_client::Client;
use clap::{Args, Subcommand};
use serde_json::Value;

use crate::output::{print_rows, tabulate};
use crate::template::Template;
use crate::{CliError, Result};
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
        #[arg(long = "filter")]
        filter: Vec<String>,
    },
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Format output using a Go template or "json"
    #[arg(short, long)]
    pub format: Option<String>,
    /// Only inspect objects of this type (container, image)
    #[arg(long = "type")]
    pub kind: Option<String>,
    /// Display total file sizes for containers
    #[arg(short, long)]
    pub size: bool,
    #[arg(required = true)]
    pub names: Vec<String>,
}

/// `volume inspect` and `network inspect`: `GET {base}/{name}` for each name, printed together.
pub async fn inspect_each(
    client: &berth_client::Client,
    base: &str,
    names: &[String],
    format: Option<&str>,
) -> Result {
    let mut out = Vec::new();
    for n in names {
        out.push(
            client
                .get_json::<Value>(&format!("{base}/{}", berth_client::enc(n)))
                .await?,
        );
    }
    print_all(&out, format)
}

/// Prints inspected objects: each with a template, or all as one JSON array.
pub fn print_all(out: &[Value], format: Option<&str>) -> Result {
    match format.filter(|f| !f.is_empty() && *f != "json") {
        Some(_) => out.iter().try_for_each(|v| print_one(v, format)),
        None => {
            println!(
                "{}",
                serde_json::to_string_pretty(out).map_err(|e| CliError::Usage(e.to_string()))?
            );
            Ok(())
        }
    }
}

/// Prints a single object with a template, or as JSON.
pub fn print_one(v: &Value, format: Option<&str>) -> Result {
    match format.filter(|f| !f.is_empty() && *f != "json") {
        Some(f) => {
            let t = Template::parse(f)
                .map_err(|e| CliError::Usage(format!("template parsing error: {e}")))?;
            println!(
                "{}",
                t.render(v)
                    .map_err(|e| CliError::Usage(format!("template: {e}")))?
            );
        }
        None => println!(
            "{}",
            serde_json::to_string(v).map_err(|e| CliError::Usage(e.to_string()))?
        ),
    }
    Ok(())
}

pub async fn version(client: &Client, a: VersionArgs) -> Result {
    let server: Value = client.get_json("/version").await?;
    let v = serde_json::json!({
        "Client": {"Version": env!("CARGO_PKG_VERSION"), "ApiVersion": berth_client::API_VERSION, "Os": "linux", "Arch": std::env::consts::ARCH},
        "Server": server,
    });
    if a.format.is_some() {
        return print_one(&v, a.format.as_deref());
    }
    println!(
        "Client:\n Version:\t{}\n API version:\t{}\n",
        env!("CARGO_PKG_VERSION"),
        berth_client::API_VERSION
    );
    let s = &v["Server"];
    let lines = vec![
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
    print!("{}", tabulate(&lines));
    Ok(())
}

pub async fn info(client: &Client, a: InfoArgs) -> Result {
    let i: Value = client.get_json("/info").await?;
    if a.format.is_some() {
        return print_one(&i, a.format.as_deref());
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
                    "table {{.Name}}\t{{.Links}}\t{{.Size}}",
                    &|f| crate::output::header_for(f, &[("Name", "VOLUME NAME")]),
                )?;
                return Ok(());
            }
            let empty = vec![];
            let images = df["Images"].as_array().unwrap_or(&empty);
            let containers = df["Containers"].as_array().unwrap_or(&empty);
            let active_images = images
                .iter()
                .filter(|i| i["Containers"].as_i64().unwrap_or(0) > 0)
                .count();
            let img_size: f64 = df["LayersSize"].as_f64().unwrap_or(0.0);
            let reclaimable: f64 = images
                .iter()
                .filter(|i| i["Containers"].as_i64().unwrap_or(0) == 0)
                .map(|i| {
                    (i["Size"].as_f64().unwrap_or(0.0)
                        - i["SharedSize"].as_f64().unwrap_or(0.0).max(0.0))
                    .max(0.0)
                })
                .sum();
            let running = containers
                .iter()
                .filter(|c| c["State"] == "running")
                .count();
            let c_size: f64 = containers
                .iter()
                .map(|c| c["SizeRw"].as_f64().unwrap_or(0.0))
                .sum();
            let c_reclaim: f64 = containers
                .iter()
                .filter(|c| c["State"] != "running")
                .map(|c| c["SizeRw"].as_f64().unwrap_or(0.0))
                .sum();
            let pct = |r: f64, t: f64| {
                if t > 0.0 && r > 0.0 {
                    format!("{} ({}%)", human_size(r, 4), (r * 100.0 / t).round())
                } else {
                    format!("{} (0%)", human_size(r, 4))
                }
            };
            let rows = vec![
                serde_json::json!({"Type": "Images", "TotalCount": images.len(), "Active": active_images, "Size": human_size(img_size, 4), "Reclaimable": pct(reclaimable, img_size)}),
                serde_json::json!({"Type": "Containers", "TotalCount": containers.len(), "Active": running, "Size": human_size(c_size, 4), "Reclaimable": pct(c_reclaim, c_size)}),
                {
                    let vols = df["Volumes"].as_array().cloned().unwrap_or_default();
                    let size: f64 = vols
                        .iter()
                        .map(|v| v["UsageData"]["Size"].as_f64().unwrap_or(0.0))
                        .sum();
                    let active = vols
                        .iter()
                        .filter(|v| v["UsageData"]["RefCount"].as_i64().unwrap_or(0) > 0)
                        .count();
                    let unused: f64 = vols
                        .iter()
                        .filter(|v| v["UsageData"]["RefCount"].as_i64().unwrap_or(0) == 0)
                        .map(|v| v["UsageData"]["Size"].as_f64().unwrap_or(0.0))
                        .sum();
                    serde_json::json!({"Type": "Local Volumes", "TotalCount": vols.len(), "Active": active, "Size": human_size(size, 4), "Reclaimable": pct(unused, size)})
                },
                serde_json::json!({"Type": "Build Cache", "TotalCount": 0, "Active": 0, "Size": "0B", "Reclaimable": "0B"}),
            ];
            print_rows(
                &rows,
                format.as_deref(),
                "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
                &|f| crate::output::header_for(f, &[("TotalCount", "TOTAL")]),
            )
        }
    }
}

pub async fn inspect(client: &Client, a: InspectArgs) -> Result {
    let mut out = Vec::new();
    let mut failed = None;
    for n in &a.names {
        let enc = berth_client::enc(n);
        let try_container = a.kind.as_deref().is_none_or(|k| k == "container");
        let try_image = a.kind.as_deref().is_none_or(|k| k == "image");
        let mut found = None;
        if try_container {
            let size = if a.size { "?size=1" } else { "" };
            if let Ok(v) = client
                .get_json::<Value>(&format!("/containers/{enc}/json{size}"))
                .await
            {
                found = Some(v);
            }
        }
        if found.is_none() && try_image {
            if let Ok(v) = client.get_json::<Value>(&format!("/images/{n}/json")).await {
                found = Some(v);
            }
        }
        match found {
            Some(v) => out.push(v),
            None => {
                eprintln!("Error: No such object: {n}");
                failed = Some(CliError::Exit(1));
            }
        }
    }
    print_all(&out, a.format.as_deref())?;
    failed.map_or(Ok(()), Err)
}
