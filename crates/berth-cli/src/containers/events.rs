//! `events`: the daemon's event stream.

use super::*;

#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Show all events created since timestamp
    #[arg(long)]
    since: Option<String>,
    /// Stream events until this timestamp
    #[arg(long)]
    until: Option<String>,
    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter", value_parser = crate::output::filter_arg)]
    filter: Vec<String>,
    /// Format output using a Go template or "json"
    #[arg(long)]
    format: Option<String>,
}

pub(super) async fn events(client: &Client, a: EventsArgs) -> Result {
    use http_body_util::BodyExt;
    let mut q = vec![format!("filters={}", filters_json(&a.filter)?)];
    if let Some(s) = &a.since {
        q.push(format!("since={}", time_arg("since", s)?));
    }
    if let Some(u) = &a.until {
        q.push(format!("until={}", time_arg("until", u)?));
    }
    let resp = client
        .call(
            Method::GET,
            &format!("/events?{}", q.join("&")),
            berth_client::empty_body(),
            None,
        )
        .await?;
    let template = match a.format.as_deref() {
        None | Some("") => None,
        Some(f) => Some(
            berth_template::Template::parse(if f == "json" { "{{json .}}" } else { f })
                .map_err(|e| CliError::Failed(format!("template parsing error: {e}")))?,
        ),
    };
    let mut body = resp.into_body();
    let mut buf = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame
            .map_err(|e| CliError::Usage(e.to_string()))?
            .into_data()
        else {
            continue;
        };
        buf.extend_from_slice(&data);
        while let Some(i) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=i).collect();
            let Ok(ev) = serde_json::from_slice::<Value>(&line) else {
                continue;
            };
            match &template {
                Some(t) => println!(
                    "{}",
                    t.render(&ev, &berth_template::MAP)
                        .map_err(|e| CliError::Failed(format!("template parsing error: {e}")))?
                ),
                None => println!("{}", event_line(&ev)),
            }
        }
    }
    Ok(())
}

/// docker's default event line: `time type action id (k=v, ...)`.
pub(super) fn event_line(ev: &Value) -> String {
    let nanos = ev["timeNano"].as_i64().unwrap_or(0);
    let time =
        chrono::DateTime::from_timestamp(nanos / 1_000_000_000, (nanos % 1_000_000_000) as u32)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
            .unwrap_or_default();
    let attrs: Vec<String> = ev["Actor"]["Attributes"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect();
    format!(
        "{time} {} {} {} ({})",
        ev["Type"].as_str().unwrap_or(""),
        ev["Action"].as_str().unwrap_or(""),
        ev["Actor"]["ID"].as_str().unwrap_or(""),
        attrs.join(", ")
    )
}
