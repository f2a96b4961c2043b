//! `logs`, and the time arguments it shares with `events`.

use super::*;

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Follow log output
    #[arg(short = 'f', long)]
    follow: bool,
    /// Number of lines to show from the end of the logs
    #[arg(short = 'n', long = "tail")]
    tail: Option<String>,
    /// Show logs since timestamp or relative (e.g. 42m)
    #[arg(long)]
    since: Option<String>,
    /// Show logs before a timestamp or relative (e.g. 42m)
    #[arg(long)]
    until: Option<String>,
    /// Show timestamps
    #[arg(short = 't', long)]
    timestamps: bool,
    /// Show extra details provided to logs
    #[arg(long)]
    details: bool,
    container: String,
}

/// `--since`/`--until` as the API wants them, read as docker's
/// `timetypes.GetTimestamp` reads them: a Go duration back from now (`42m`),
/// an RFC 3339 time or a prefix of one (`2013-01-02`, `2013-01-02T13:23`;
/// local time unless it has a zone), or Unix seconds as they are.
pub(super) fn time_arg(what: &str, s: &str) -> Result<String> {
    use chrono::{DateTime, Local, NaiveDate, NaiveDateTime, TimeZone};
    let invalid = |why: String| CliError::Failed(format!("invalid value for {what:?}: {why}"));
    if s != "0" {
        if let Some(secs) = berth_api::units::go_duration(s) {
            return Ok((chrono::Utc::now().timestamp() - secs as i64).to_string());
        }
    }
    let stamp = |t: DateTime<chrono::FixedOffset>| {
        format!("{}.{:09}", t.timestamp(), t.timestamp_subsec_nanos())
    };
    let zoned = s.contains(['z', 'Z', '+']) || s.matches('-').count() == 3;
    let parsed: Option<DateTime<chrono::FixedOffset>> = if zoned {
        // Zone-bearing forms: RFC 3339, or a date or hour with a zone.
        let z = s.replacen(['z', 'Z'], "+00:00", 1);
        DateTime::parse_from_rfc3339(s)
            .ok()
            .or_else(|| DateTime::parse_from_str(&z, "%Y-%m-%dT%H:%M%:z").ok())
            .or_else(|| {
                DateTime::parse_from_str(
                    &format!("{}:00", z.replacen('+', ":00+", 1)),
                    "%Y-%m-%dT%H:%M:%S%:z",
                )
                .ok()
            })
    } else {
        let local = |n: NaiveDateTime| {
            Local
                .from_local_datetime(&n)
                .single()
                .map(|t| t.fixed_offset())
        };
        let naive = if s.contains('T') {
            ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H"]
                .iter()
                .find_map(|f| {
                    NaiveDateTime::parse_from_str(s, f).ok().or_else(|| {
                        // chrono wants minutes; Go takes an hour alone.
                        (*f == "%Y-%m-%dT%H")
                            .then(|| {
                                NaiveDateTime::parse_from_str(&format!("{s}:00"), "%Y-%m-%dT%H:%M")
                                    .ok()
                            })
                            .flatten()
                    })
                })
        } else {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        };
        naive.and_then(local)
    };
    match parsed {
        Some(t) => Ok(stamp(t)),
        None if s.contains('-') => Err(invalid(format!(
            "parsing time {s:?}: cannot parse {s:?} as a time"
        ))),
        None => {
            // Unix seconds, with up to nine decimals, go as they are.
            let (sec, frac) = s.split_once('.').unwrap_or((s, "0"));
            if sec.parse::<i64>().is_ok()
                && frac.len() <= 9
                && frac.bytes().all(|b| b.is_ascii_digit())
            {
                Ok(s.to_string())
            } else {
                Err(invalid(format!(
                    "failed to parse value as time or duration: {s:?}"
                )))
            }
        }
    }
}

pub(super) async fn logs(client: &Client, a: LogsArgs) -> Result {
    let name = enc(&a.container);
    let info: Value = client.get_json(&format!("/containers/{name}/json")).await?;
    let tty = info["Config"]["Tty"].as_bool().unwrap_or(false);
    let mut q = format!(
        "?stdout=1&stderr=1&follow={}&timestamps={}&details={}",
        a.follow, a.timestamps, a.details
    );
    if let Some(t) = &a.tail {
        q.push_str(&format!("&tail={}", enc(t)));
    }
    if let Some(s) = &a.since {
        q.push_str(&format!("&since={}", time_arg("since", s)?));
    }
    if let Some(u) = &a.until {
        q.push_str(&format!("&until={}", time_arg("until", u)?));
    }
    let resp = client
        .call(
            Method::GET,
            &format!("/containers/{name}/logs{q}"),
            berth_client::empty_body(),
            None,
        )
        .await?;
    run::pump_body(resp, tty).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_as_docker_reads_them() {
        assert_eq!(
            time_arg("since", "2000-01-01T00:00:00Z").unwrap(),
            "946684800.000000000"
        );
        assert_eq!(time_arg("since", "946684800").unwrap(), "946684800");
        assert_eq!(time_arg("since", "946684800.5").unwrap(), "946684800.5");
        assert_eq!(time_arg("since", "0").unwrap(), "0");
        let ten_min = time_arg("since", "10m").unwrap().parse::<i64>().unwrap();
        assert!((chrono::Utc::now().timestamp() - 600 - ten_min).abs() <= 1);
        assert!(time_arg("since", "2000-01-01").is_ok());
        assert!(time_arg("since", "2000-01-01T10").is_ok());
        assert!(time_arg("since", "2000-01-01T10:30").is_ok());
        assert_eq!(
            time_arg("since", "bogus").unwrap_err().to_string(),
            "invalid value for \"since\": failed to parse value as time or duration: \"bogus\""
        );
        assert!(time_arg("until", "2000-13-01").is_err());
    }
}
