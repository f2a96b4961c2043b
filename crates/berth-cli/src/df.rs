//! `system df`: what images, containers, volumes and the build cache take,
//! computed from the API's answer as docker's disk usage formatter does;
//! `-v` lists each of them.

use berth_api::units::human_size;
use berth_client::Client;
use serde_json::{json, Value};

use crate::output::{ago, header_for, print_rows, short_id, Listing};
use crate::Result;

pub async fn df(client: &Client, format: Option<&str>, verbose: bool) -> Result {
    let df: Value = client.get_json("/system/df").await?;
    if verbose {
        return df_verbose(&df);
    }
    print_rows(
        &df_rows(&df),
        None,
        format,
        &Listing {
            go_type: "*formatter.diskUsageImagesContext",
            default_table:
                "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
            header: &|f| header_for(f, &[("TotalCount", "TOTAL")]),
            probed: false,
        },
    )
}

fn list(df: &Value, k: &str) -> Vec<Value> {
    df[k].as_array().cloned().unwrap_or_default()
}

fn n(v: &Value, k: &str) -> i64 {
    v[k].as_i64().unwrap_or(0)
}

fn table(title: &str, rows: &[Value], format: &str, titles: &[(&str, &str)]) -> Result {
    println!("{title}\n");
    print_rows(
        rows,
        None,
        None,
        &Listing {
            go_type: "*formatter.diskUsageContext",
            default_table: format,
            header: &|f| header_for(f, titles),
            probed: false,
        },
    )
}

/// `system df -v`: each image (by its first tag), container, volume and cache record.
fn df_verbose(df: &Value) -> Result {
    let images: Vec<Value> = list(df, "Images")
        .iter()
        .map(|i| {
            let first = i["RepoTags"][0]
                .as_str()
                .filter(|t| !t.ends_with("<none>:<none>"));
            let (repo, tag) = first
                .and_then(|t| berth_api::ImageRef::parse(t).ok())
                .map(|r| {
                    (
                        r.familiar_repository(),
                        r.tag.unwrap_or_else(|| "<none>".into()),
                    )
                })
                .unwrap_or_else(|| ("<none>".into(), "<none>".into()));
            let size = n(i, "Size");
            let shared = n(i, "SharedSize");
            let (shared_text, unique) = if shared < 0 {
                ("N/A".to_string(), "N/A".to_string())
            } else {
                (
                    human_size(shared as f64, 4),
                    human_size((size - shared) as f64, 4),
                )
            };
            json!({
                "Containers": n(i, "Containers").to_string(),
                "CreatedSince": ago(n(i, "Created")),
                "ID": short_id(i["Id"].as_str().unwrap_or(""), false),
                "Repository": repo,
                "SharedSize": shared_text,
                "Size": human_size(size as f64, 3),
                "Tag": tag,
                "UniqueSize": unique,
            })
        })
        .collect();
    table(
        "Images space usage:",
        &images,
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}",
        &[("ID", "IMAGE ID"), ("CreatedSince", "CREATED")],
    )?;
    let containers: Vec<Value> = list(df, "Containers")
        .iter()
        .map(|c| {
            let mut r = crate::containers::container_row(c, true);
            r["Size"] = json!(human_size(n(c, "SizeRw") as f64, 3));
            r
        })
        .collect();
    println!();
    table(
        "Containers space usage:",
        &containers,
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}",
        &[("ID", "CONTAINER ID"), ("RunningFor", "CREATED"), ("LocalVolumes", "LOCAL VOLUMES")],
    )?;
    let volumes: Vec<Value> = list(df, "Volumes")
        .iter()
        .map(|v| {
            json!({
                "Links": v["UsageData"]["RefCount"].as_i64().unwrap_or(0).to_string(),
                "Name": v["Name"],
                "Size": human_size(v["UsageData"]["Size"].as_f64().unwrap_or(0.0).max(0.0), 4),
            })
        })
        .collect();
    println!();
    table(
        "Local Volumes space usage:",
        &volumes,
        "table {{.Name}}\t{{.Links}}\t{{.Size}}",
        &[("Name", "VOLUME NAME")],
    )?;
    let cache = list(df, "BuildCache");
    let total = df["BuilderSize"]
        .as_i64()
        .unwrap_or_else(|| cache.iter().map(|b| n(b, "Size")).sum());
    let since = |t: &Value| {
        t.as_str()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
            .map(|t| ago(t.timestamp()))
            .unwrap_or_default()
    };
    let records: Vec<Value> = cache
        .iter()
        .map(|b| {
            let mut id: String = b["ID"].as_str().unwrap_or("").chars().take(12).collect();
            if b["InUse"].as_bool().unwrap_or(false) {
                id.push('*');
            }
            json!({
                "CacheType": b["Type"],
                "CreatedSince": since(&b["CreatedAt"]),
                "ID": id,
                "LastUsedSince": since(&b["LastUsedAt"]),
                "Shared": b["Shared"].as_bool().unwrap_or(false).to_string(),
                "Size": human_size(n(b, "Size") as f64, 3),
                "UsageCount": n(b, "UsageCount").to_string(),
            })
        })
        .collect();
    println!();
    table(
        &format!("Build cache usage: {}", human_size(total as f64, 4)),
        &records,
        "table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}",
        &[
            ("ID", "CACHE ID"),
            ("CacheType", "CACHE TYPE"),
            ("CreatedSince", "CREATED"),
            ("LastUsedSince", "LAST USED"),
            ("UsageCount", "USAGE"),
        ],
    )
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
