//! Config-only instructions (ENV, LABEL, CMD, …) applied to an image config:
//! by build steps, and by the `changes` of `docker commit` and `docker import`.

use berth_api::types::{HealthConfig, ImageConfigFile, ImageRuntimeConfig};

use crate::dockerfile::{self, CommandForm, HealthOp, Op};
use crate::error::{BuildError, Result};
use crate::ignore::clean;
use crate::words::{Lexer, Vars};

const DEFAULT_SHELL: [&str; 2] = ["/bin/sh", "-c"];

/// The config's ENV as variables for substitution.
pub fn env_vars(cfg: &ImageRuntimeConfig) -> Vars {
    cfg.env
        .iter()
        .flatten()
        .filter_map(|e| {
            e.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect()
}

/// A command's argv: exec form as is, shell form under the config's SHELL.
pub fn argv(cfg: &ImageRuntimeConfig, c: &CommandForm) -> Vec<String> {
    match c {
        CommandForm::Exec(v) => v.clone(),
        CommandForm::Shell(s) => {
            let mut a = cfg
                .shell
                .clone()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| DEFAULT_SHELL.iter().map(|s| s.to_string()).collect());
            a.push(s.clone());
            a
        }
    }
}

fn duration_ns(flag: &str, v: &Option<String>) -> Result<i64> {
    match v {
        None => Ok(0),
        Some(s) => berth_api::units::go_duration(s)
            .map(|secs| (secs * 1e9) as i64)
            .ok_or_else(|| {
                BuildError::step(format!("HEALTHCHECK: invalid duration for --{flag}: {s:?}"))
            }),
    }
}

fn healthcheck(h: &HealthOp) -> Result<HealthConfig> {
    let test = match &h.test {
        None => vec!["NONE".to_string()],
        Some(CommandForm::Shell(s)) => vec!["CMD-SHELL".to_string(), s.clone()],
        Some(CommandForm::Exec(v)) => std::iter::once("CMD".to_string())
            .chain(v.iter().cloned())
            .collect(),
    };
    let cfg = HealthConfig {
        test: Some(test),
        interval: duration_ns("interval", &h.interval)?,
        timeout: duration_ns("timeout", &h.timeout)?,
        start_period: duration_ns("start-period", &h.start_period)?,
        start_interval: duration_ns("start-interval", &h.start_interval)?,
        retries: match &h.retries {
            None => 0,
            Some(r) => r
                .parse()
                .map_err(|_| BuildError::step(format!("HEALTHCHECK: invalid --retries: {r:?}")))?,
        },
    };
    for (name, v) in [
        ("Interval", cfg.interval),
        ("Timeout", cfg.timeout),
        ("StartPeriod", cfg.start_period),
    ] {
        if v != 0 && v < 1_000_000 {
            return Err(BuildError::step(format!(
                "{name} in HEALTHCHECK cannot be less than 1ms"
            )));
        }
    }
    if cfg.retries < 0 {
        return Err(BuildError::step("--retries cannot be negative"));
    }
    Ok(cfg)
}

/// `80` → `80/tcp`, refusing what is not a port.
fn exposed_port(p: &str) -> Result<String> {
    let (port, proto) = p.split_once('/').unwrap_or((p, "tcp"));
    let proto = proto.to_ascii_lowercase();
    let valid_range = |r: &str| {
        let (a, b) = r.split_once('-').unwrap_or((r, r));
        matches!((a.parse::<u16>(), b.parse::<u16>()), (Ok(x), Ok(y)) if x <= y)
    };
    if !valid_range(port) || !["tcp", "udp", "sctp"].contains(&proto.as_str()) {
        return Err(BuildError::step(format!("Invalid containerPort: {p}")));
    }
    Ok(format!("{port}/{proto}"))
}

/// Applies one config-only instruction. `cmd_set` says whether CMD was set
/// since the base image: a new ENTRYPOINT drops an inherited CMD (Docker's rule).
pub fn apply(
    config: &mut ImageConfigFile,
    op: &Op,
    lexer: &Lexer,
    vars: &Vars,
    cmd_set: &mut bool,
) -> Result<()> {
    let word = |s: &str| lexer.word(s, vars).map_err(BuildError::step);
    let cfg = &mut config.config;
    match op {
        Op::Env(raw) => {
            let env = cfg.env.get_or_insert_with(Vec::new);
            for (k, v) in lexer
                .pairs(raw, vars, true)
                .map_err(|e| BuildError::step(format!("ENV {e}")))?
            {
                env.retain(|e| e.split_once('=').map(|x| x.0) != Some(k.as_str()));
                env.push(format!("{k}={v}"));
            }
        }
        Op::Label(raw) => {
            let labels = cfg.labels.get_or_insert_with(Default::default);
            for (k, v) in lexer
                .pairs(raw, vars, true)
                .map_err(|e| BuildError::step(format!("LABEL {e}")))?
            {
                labels.insert(k, v);
            }
        }
        Op::Expose(ports) => {
            let set = cfg.exposed_ports.get_or_insert_with(Default::default);
            for p in ports {
                for w in lexer.words(p, vars).map_err(BuildError::step)? {
                    set.insert(exposed_port(&w)?, serde_json::json!({}));
                }
            }
        }
        Op::Volume(vols) => {
            let set = cfg.volumes.get_or_insert_with(Default::default);
            for v in vols {
                let v = word(v)?;
                if v.trim().is_empty() {
                    return Err(BuildError::step(
                        "VOLUME specified can not be an empty string",
                    ));
                }
                set.insert(v, serde_json::json!({}));
            }
        }
        Op::User(u) => cfg.user = word(u)?,
        Op::Workdir(w) => {
            let w = word(w)?;
            let joined = if w.starts_with('/') {
                w
            } else {
                format!("{}/{w}", cfg.working_dir)
            };
            cfg.working_dir = format!("/{}", clean(&joined).trim_start_matches('/'));
            if cfg.working_dir == "/." {
                cfg.working_dir = "/".into();
            }
        }
        Op::Stopsignal(s) => cfg.stop_signal = Some(word(s)?),
        Op::Shell(v) => cfg.shell = Some(v.clone()),
        Op::Onbuild(t) => cfg.on_build.get_or_insert_with(Vec::new).push(t.clone()),
        Op::Healthcheck(h) => cfg.healthcheck = Some(healthcheck(h)?),
        Op::Cmd(c) => {
            cfg.cmd = Some(argv(cfg, c));
            *cmd_set = true;
        }
        Op::Entrypoint(c) => {
            cfg.entrypoint = Some(argv(cfg, c));
            if !*cmd_set {
                cfg.cmd = None;
            }
        }
        Op::Maintainer(m) => config.author = Some(word(m)?),
        Op::Arg(_) | Op::Run { .. } | Op::Copy(_) => {
            return Err(BuildError::step("not a config-only instruction"))
        }
    }
    Ok(())
}

/// The instructions `docker commit --change` and `docker import --change` take.
const CHANGE_INSTRUCTIONS: &[&str] = &[
    "CMD",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "LABEL",
    "ONBUILD",
    "USER",
    "VOLUME",
    "WORKDIR",
    "STOPSIGNAL",
    "HEALTHCHECK",
    "SHELL",
];

/// `--change` instructions applied to `cfg`, parsed as the Dockerfile parser does.
pub fn apply_changes(cfg: &mut ImageRuntimeConfig, changes: &[String]) -> Result<()> {
    let mut cmd_set = false;
    for change in changes {
        let change = change.trim();
        if change.is_empty() {
            continue;
        }
        let instr = change
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        if !CHANGE_INSTRUCTIONS.contains(&instr.as_str()) {
            return Err(BuildError::step(format!(
                "{instr} is not a valid change command"
            )));
        }
        let df = dockerfile::parse(&format!("FROM scratch\n{change}\n"))
            .map_err(|e| BuildError::step(format!("invalid change {change:?}: {e}")))?;
        let op = &df.stages[0].steps[0].op;
        let vars = env_vars(cfg);
        let mut config = ImageConfigFile {
            config: std::mem::take(cfg),
            ..Default::default()
        };
        let r = apply(
            &mut config,
            op,
            &Lexer { escape: '\\' },
            &vars,
            &mut cmd_set,
        );
        *cfg = config.config;
        r?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_as_commit_applies_them() {
        let mut c = ImageRuntimeConfig {
            cmd: Some(vec!["inherited".into()]),
            ..Default::default()
        };
        apply_changes(
            &mut c,
            &[
                "ENV A=1 B=\"two words\"".into(),
                "ENV C 3".into(),
                "EXPOSE 80 53/udp".into(),
                "WORKDIR /app".into(),
                "WORKDIR sub".into(),
                "ENTRYPOINT top -b".into(),
                "LABEL from=$A".into(),
            ],
        )
        .unwrap();
        assert_eq!(c.env.unwrap(), ["A=1", "B=two words", "C=3"]);
        assert!(c.exposed_ports.unwrap().contains_key("53/udp"));
        assert_eq!(c.working_dir, "/app/sub");
        assert_eq!(c.entrypoint.unwrap(), ["/bin/sh", "-c", "top -b"]);
        assert_eq!(c.cmd, None, "ENTRYPOINT drops the inherited CMD");
        assert_eq!(c.labels.unwrap()["from"], "1");
        let mut c = ImageRuntimeConfig::default();
        apply_changes(&mut c, &["CMD [\"/bin/sh\", \"-c\", \"echo hi\"]".into()]).unwrap();
        assert_eq!(c.cmd.unwrap()[2], "echo hi");
        for bad in ["RUN rm -rf /", "ENV A=\"x", "EXPOSE x", "FROM busybox"] {
            assert!(
                apply_changes(&mut ImageRuntimeConfig::default(), &[bad.into()]).is_err(),
                "{bad}"
            );
        }
    }
}
