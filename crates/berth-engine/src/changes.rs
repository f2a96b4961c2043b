//! The `changes` of `docker import` / `commit`: Dockerfile instructions
//! (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR, STOPSIGNAL,
//! ONBUILD) applied to an image config.

use berth_api::types::ImageRuntimeConfig;
use berth_api::ApiError;

/// JSON form `["a","b"]` or shell form, which runs under `/bin/sh -c`.
fn command(arg: &str) -> Result<Vec<String>, ApiError> {
    let t = arg.trim();
    if t.starts_with('[') {
        if let Ok(v) = serde_json::from_str::<Vec<String>>(t) {
            return Ok(v);
        }
    }
    if t.is_empty() {
        return Err(ApiError::bad_request("empty command in change"));
    }
    Ok(vec!["/bin/sh".into(), "-c".into(), t.into()])
}

/// `k=v k2="v 2"` or the legacy `k v` form.
fn pairs(arg: &str) -> Result<Vec<(String, String)>, ApiError> {
    let words = shell_split(arg)?;
    if words.len() >= 2 && !words[0].contains('=') {
        return Ok(vec![(words[0].clone(), words[1..].join(" "))]);
    }
    words
        .into_iter()
        .map(|w| {
            w.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| ApiError::bad_request(format!("invalid key=value: {w}")))
        })
        .collect()
}

fn shell_split(s: &str) -> Result<Vec<String>, ApiError> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, '"' | '\'') => {
                quote = Some(c);
                any = true;
            }
            (Some(q), c) if c == q => quote = None,
            (_, '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            (None, c) if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (_, c) => cur.push(c),
        }
    }
    if quote.is_some() {
        return Err(ApiError::bad_request(format!(
            "unterminated quote in change: {s}"
        )));
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    Ok(out)
}

pub fn apply_changes(cfg: &mut ImageRuntimeConfig, changes: &[String]) -> Result<(), ApiError> {
    for change in changes {
        let change = change.trim();
        if change.is_empty() {
            continue;
        }
        let (instr, arg) = change
            .split_once(char::is_whitespace)
            .unwrap_or((change, ""));
        let arg = arg.trim();
        match instr.to_ascii_uppercase().as_str() {
            "CMD" => cfg.cmd = Some(command(arg)?),
            "ENTRYPOINT" => cfg.entrypoint = Some(command(arg)?),
            "ENV" => {
                let env = cfg.env.get_or_insert_with(Vec::new);
                for (k, v) in pairs(arg)? {
                    env.retain(|e| e.split_once('=').map(|x| x.0) != Some(k.as_str()));
                    env.push(format!("{k}={v}"));
                }
            }
            "LABEL" => {
                let labels = cfg.labels.get_or_insert_with(Default::default);
                for (k, v) in pairs(arg)? {
                    labels.insert(k, v);
                }
            }
            "EXPOSE" => {
                let ports = cfg.exposed_ports.get_or_insert_with(Default::default);
                for p in arg.split_whitespace() {
                    let p = if p.contains('/') {
                        p.to_string()
                    } else {
                        format!("{p}/tcp")
                    };
                    ports.insert(p, serde_json::json!({}));
                }
            }
            "USER" => cfg.user = arg.into(),
            "WORKDIR" => cfg.working_dir = arg.into(),
            "STOPSIGNAL" => cfg.stop_signal = Some(arg.into()),
            "VOLUME" => {
                let vols = cfg.volumes.get_or_insert_with(Default::default);
                let list = serde_json::from_str::<Vec<String>>(arg)
                    .unwrap_or_else(|_| arg.split_whitespace().map(String::from).collect());
                for v in list {
                    vols.insert(v, serde_json::json!({}));
                }
            }
            "ONBUILD" => cfg.on_build.get_or_insert_with(Vec::new).push(arg.into()),
            other => {
                return Err(ApiError::bad_request(format!(
                    "{other} is not a valid change command"
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_instructions() {
        let mut c = ImageRuntimeConfig::default();
        apply_changes(
            &mut c,
            &[
                "CMD [\"/bin/sh\", \"-c\", \"echo hi\"]".into(),
                "ENV A=1 B=\"two words\"".into(),
                "ENV C 3".into(),
                "EXPOSE 80 53/udp".into(),
                "WORKDIR /app".into(),
                "ENTRYPOINT top -b".into(),
            ],
        )
        .unwrap();
        assert_eq!(c.cmd.unwrap()[2], "echo hi");
        assert_eq!(c.env.unwrap(), ["A=1", "B=two words", "C=3"]);
        assert!(c.exposed_ports.unwrap().contains_key("53/udp"));
        assert_eq!(c.entrypoint.unwrap(), ["/bin/sh", "-c", "top -b"]);
        assert!(
            apply_changes(&mut ImageRuntimeConfig::default(), &["RUN rm -rf /".into()]).is_err()
        );
        assert!(apply_changes(&mut ImageRuntimeConfig::default(), &["ENV A=\"x".into()]).is_err());
    }
}
