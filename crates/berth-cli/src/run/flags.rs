//! `run`/`create` flags, as docker's, and the create request they make.

use super::*;

#[derive(Args, Debug, Clone)]
#[command(disable_help_flag = true)]
pub struct CreateArgs {
    /// Print usage
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Pull image before running ("always", "missing", "never")
    #[arg(long, default_value = "missing")]
    pub pull: String,
    /// Set environment variables
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file")]
    pub env_file: Vec<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Set meta data on a container
    #[arg(short = 'l', long = "label")]
    pub labels: Vec<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Memory limit
    #[arg(short = 'm', long, value_parser = crate::output::size_arg)]
    pub memory: Option<String>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap
    #[arg(long = "memory-swap", allow_hyphen_values = true, value_parser = crate::output::size_arg)]
    pub memory_swap: Option<String>,
    /// Number of CPUs
    #[arg(long)]
    pub cpus: Option<f64>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long = "cpu-shares")]
    pub cpu_shares: Option<i64>,
    /// Limit CPU CFS quota
    #[arg(long = "cpu-quota")]
    pub cpu_quota: Option<i64>,
    /// Limit CPU CFS period
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<i64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Connect a container to a network (bridge, host, none, container:<name|id>, or a network's name)
    #[arg(long = "network", alias = "net")]
    pub network: Option<String>,
    /// IPv4 address (e.g., 172.30.100.104)
    #[arg(long = "ip")]
    pub ip: Option<String>,
    /// Add network-scoped alias for the container
    #[arg(long = "network-alias", alias = "net-alias")]
    pub network_alias: Vec<String>,
    /// Container MAC address (e.g., 92:d0:c6:0a:29:33)
    #[arg(long = "mac-address")]
    pub mac_address: Option<String>,
    /// Set custom DNS search domains
    #[arg(long = "dns-search")]
    pub dns_search: Vec<String>,
    /// Set DNS options
    #[arg(long = "dns-option", alias = "dns-opt")]
    pub dns_option: Vec<String>,
    /// Publish all exposed ports to random ports
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// Expose a port or a range of ports
    #[arg(long = "expose")]
    pub expose: Vec<String>,
    /// Container host name
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,
    /// Restart policy to apply when a container exits
    #[arg(long)]
    pub restart: Option<String>,
    /// Runtime to use for this container
    #[arg(long)]
    pub runtime: Option<String>,
    /// Logging driver for the container
    #[arg(long = "log-driver")]
    pub log_driver: Option<String>,
    /// Log driver options
    #[arg(long = "log-opt")]
    pub log_opts: Vec<String>,
    /// Give extended privileges to this container
    #[arg(long)]
    pub privileged: bool,
    /// Add Linux capabilities
    #[arg(long = "cap-add")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long = "cap-drop")]
    pub cap_drop: Vec<String>,
    /// Mount the container's root filesystem as read only
    #[arg(long = "read-only")]
    pub read_only: bool,
    /// Signal to stop the container
    #[arg(long = "stop-signal")]
    pub stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container
    #[arg(long = "stop-timeout")]
    pub stop_timeout: Option<i64>,
    /// Set custom DNS servers
    #[arg(long)]
    pub dns: Vec<String>,
    /// Add a custom host-to-IP mapping (host:ip)
    #[arg(long = "add-host")]
    pub add_host: Vec<String>,
    /// Size of /dev/shm
    #[arg(long = "shm-size")]
    pub shm_size: Option<String>,
    /// Automatically remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Attach to STDIN, STDOUT or STDERR
    #[arg(short = 'a', long = "attach", value_parser = stream_arg)]
    pub attach: Vec<String>,
    /// Publish a container's port(s) to the host
    #[arg(short = 'p', long = "publish")]
    pub publish: Vec<String>,
    /// Bind mount a volume
    #[arg(short = 'v', long = "volume")]
    pub volumes: Vec<String>,
    /// Attach a filesystem mount to the container
    #[arg(long = "mount")]
    pub mounts: Vec<String>,
    /// Mount a tmpfs directory
    #[arg(long = "tmpfs")]
    pub tmpfs: Vec<String>,
    /// Mount volumes from the specified container(s)
    #[arg(long = "volumes-from")]
    pub volumes_from: Vec<String>,
    /// Command to run to check health
    #[arg(long = "health-cmd")]
    pub health_cmd: Option<String>,
    /// Time between running the check (ms|s|m|h)
    #[arg(long = "health-interval")]
    pub health_interval: Option<String>,
    /// Maximum time to allow one check to run (ms|s|m|h)
    #[arg(long = "health-timeout")]
    pub health_timeout: Option<String>,
    /// Consecutive failures needed to report unhealthy
    #[arg(long = "health-retries")]
    pub health_retries: Option<i64>,
    /// Start period for the container to initialize before counting retries
    #[arg(long = "health-start-period")]
    pub health_start_period: Option<String>,
    /// Disable any container-specified HEALTHCHECK
    #[arg(long = "no-healthcheck")]
    pub no_healthcheck: bool,
    /// Run an init inside the container that forwards signals and reaps processes
    #[arg(long)]
    pub init: bool,
    /// Security options (seccomp=PROFILE|unconfined, no-new-privileges, …)
    #[arg(long = "security-opt")]
    pub security_opt: Vec<String>,
    /// Cgroup namespace: private or host
    #[arg(long)]
    pub cgroupns: Option<String>,
    /// Ulimit options (name=soft[:hard])
    #[arg(long = "ulimit")]
    pub ulimits: Vec<String>,
    /// Tune the host's OOM preferences (-1000 to 1000)
    #[arg(long = "oom-score-adj", allow_hyphen_values = true)]
    pub oom_score_adj: Option<i64>,
    /// Sysctl options (key=value)
    #[arg(long = "sysctl")]
    pub sysctls: Vec<String>,
    /// Add a host device to the container (host[:container][:rwm])
    #[arg(long = "device")]
    pub devices: Vec<String>,
    /// Add a rule to the cgroup allowed devices list
    #[arg(long = "device-cgroup-rule")]
    pub device_cgroup_rules: Vec<String>,
    /// Add additional groups to join
    #[arg(long = "group-add")]
    pub group_add: Vec<String>,
    /// Limit read rate from a device (path:rate, e.g. /dev/sda:1mb)
    #[arg(long = "device-read-bps")]
    pub device_read_bps: Vec<String>,
    /// Limit write rate to a device
    #[arg(long = "device-write-bps")]
    pub device_write_bps: Vec<String>,
    /// Limit read rate (IO per second) from a device
    #[arg(long = "device-read-iops")]
    pub device_read_iops: Vec<String>,
    /// Limit write rate (IO per second) to a device
    #[arg(long = "device-write-iops")]
    pub device_write_iops: Vec<String>,
    /// Block IO weight (10 to 1000, 0 to disable)
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<i64>,
    /// Block IO weight of a device (path:weight)
    #[arg(long = "blkio-weight-device")]
    pub blkio_weight_device: Vec<String>,
    /// Tune container memory swappiness (0 to 100)
    #[arg(long = "memory-swappiness", allow_hyphen_values = true)]
    pub memory_swappiness: Option<i64>,
    /// IPC mode to use
    #[arg(long)]
    pub ipc: Option<String>,
    /// PID namespace to use
    #[arg(long)]
    pub pid: Option<String>,
    /// UTS namespace to use
    #[arg(long)]
    pub uts: Option<String>,
    /// User namespace to use
    #[arg(long)]
    pub userns: Option<String>,
    /// The image to run
    pub image: String,
    /// The command and its arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

pub(super) fn usage(msg: impl Into<String>) -> CliError {
    CliError::Usage(msg.into())
}

pub(super) fn parse_env_file(path: &str) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| usage(format!("open {path}: {e}")))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            if l.contains('=') {
                Some(l.to_string())
            } else {
                std::env::var(l).ok().map(|v| format!("{l}={v}"))
            }
        })
        .collect())
}

/// `-e KEY` takes the value from the caller's environment, as docker does.
pub(super) fn env_entry(e: &str) -> Option<String> {
    if e.contains('=') {
        Some(e.to_string())
    } else {
        std::env::var(e).ok().map(|v| format!("{e}={v}"))
    }
}

pub fn restart_policy(s: &str) -> Result<RestartPolicy> {
    let (name, count) = match s.split_once(':') {
        Some((n, c)) => (
            n,
            c.parse::<i64>().map_err(|_| {
                usage(
                    "invalid restart policy format: maximum retry count must be an integer"
                        .to_string(),
                )
            })?,
        ),
        None => (s, 0),
    };
    Ok(RestartPolicy {
        name: name.to_string(),
        maximum_retry_count: count,
    })
}

pub fn create_body(a: &CreateArgs) -> Result<ContainerCreateBody> {
    if a.rm
        && a.restart
            .as_deref()
            .is_some_and(|r| r != "no" && !r.is_empty())
    {
        return Err(usage(
            "conflicting options: cannot specify both --restart and --rm",
        ));
    }
    let (port_bindings, mut exposed) = parse_publish(&a.publish)?;
    for e in &a.expose {
        let key = if e.contains('/') {
            e.clone()
        } else {
            format!("{e}/tcp")
        };
        exposed.insert(key, serde_json::json!({}));
    }
    let mut env = Vec::new();
    for f in &a.env_file {
        env.extend(parse_env_file(f)?);
    }
    env.extend(a.env.iter().filter_map(|e| env_entry(e)));
    let mut labels = BTreeMap::new();
    for l in &a.labels {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        labels.insert(k.to_string(), v.to_string());
    }
    let mem = |s: &Option<String>, what: &str| -> Result<i64> {
        match s.as_deref() {
            None => Ok(0),
            Some("-1") => Ok(-1),
            Some(v) => ram_in_bytes(v).ok_or_else(|| {
                usage(format!(
                    "invalid argument \"{v}\" for \"{what}\" flag: invalid size: '{v}'"
                ))
            }),
        }
    };
    let mut log_config = BTreeMap::new();
    for o in &a.log_opts {
        let (k, v) = o
            .split_once('=')
            .ok_or_else(|| usage(format!("invalid log opt {o:?}: expected key=value")))?;
        log_config.insert(k.to_string(), v.to_string());
    }
    let mut binds = Vec::new();
    let mut anonymous = std::collections::BTreeMap::new();
    for v in &a.volumes {
        if v.is_empty() {
            return Err(usage("invalid empty volume spec"));
        }
        if v.starts_with('/') && !v.contains(':') {
            anonymous.insert(v.clone(), serde_json::json!({}));
        } else {
            binds.push(v.clone());
        }
    }
    let mut extra = serde_json::Map::new();
    if !a.mounts.is_empty() {
        extra.insert(
            "Mounts".into(),
            serde_json::Value::Array(
                a.mounts
                    .iter()
                    .map(|m| parse_mount_flag(m))
                    .collect::<Result<_>>()?,
            ),
        );
    }
    if !a.tmpfs.is_empty() {
        let t: serde_json::Map<String, serde_json::Value> = a
            .tmpfs
            .iter()
            .map(|t| match t.split_once(':') {
                Some((d, o)) => (d.to_string(), serde_json::json!(o)),
                None => (t.clone(), serde_json::json!("")),
            })
            .collect();
        extra.insert("Tmpfs".into(), serde_json::Value::Object(t));
    }
    if !a.volumes_from.is_empty() {
        extra.insert("VolumesFrom".into(), serde_json::json!(a.volumes_from));
    }
    let host_config = HostConfig {
        memory: mem(&a.memory, "--memory")?,
        memory_swap: mem(&a.memory_swap, "--memory-swap")?,
        nano_cpus: a.cpus.map(|c| (c * 1e9).round() as i64).unwrap_or(0),
        cpu_shares: a.cpu_shares.unwrap_or(0),
        cpu_quota: a.cpu_quota.unwrap_or(0),
        cpu_period: a.cpu_period.unwrap_or(0),
        cpuset_cpus: a.cpuset_cpus.clone().unwrap_or_default(),
        pids_limit: a.pids_limit,
        network_mode: a.network.clone().unwrap_or_else(|| "default".into()),
        restart_policy: a
            .restart
            .as_deref()
            .map(restart_policy)
            .transpose()?
            .unwrap_or_default(),
        runtime: a.runtime.clone().unwrap_or_default(),
        log_config: LogConfig {
            kind: a.log_driver.clone().unwrap_or_default(),
            config: Some(log_config),
        },
        privileged: a.privileged,
        cap_add: Some(a.cap_add.clone()),
        cap_drop: Some(a.cap_drop.clone()),
        readonly_rootfs: a.read_only,
        dns: Some(a.dns.clone()).filter(|d| !d.is_empty()),
        dns_search: Some(a.dns_search.clone()).filter(|d| !d.is_empty()),
        dns_options: Some(a.dns_option.clone()).filter(|d| !d.is_empty()),
        port_bindings: Some(port_bindings),
        publish_all_ports: a.publish_all,
        extra_hosts: Some(a.add_host.clone()),
        shm_size: mem(&a.shm_size, "--shm-size")?,
        auto_remove: a.rm,
        init: a.init.then_some(true),
        binds: Some(binds),
        security_opt: Some(security_opts(&a.security_opt)?).filter(|o| !o.is_empty()),
        cgroupns_mode: a.cgroupns.clone().unwrap_or_default(),
        ulimits: Some(
            a.ulimits
                .iter()
                .map(|u| parse_ulimit(u))
                .collect::<Result<_>>()?,
        )
        .filter(|u: &Vec<_>| !u.is_empty()),
        oom_score_adj: a.oom_score_adj.unwrap_or(0),
        sysctls: Some(parse_sysctls(&a.sysctls)?).filter(|s| !s.is_empty()),
        devices: Some(
            a.devices
                .iter()
                .map(|d| parse_device(d))
                .collect::<Result<_>>()?,
        )
        .filter(|d: &Vec<_>| !d.is_empty()),
        device_cgroup_rules: Some(a.device_cgroup_rules.clone()).filter(|r| !r.is_empty()),
        group_add: Some(a.group_add.clone()).filter(|g| !g.is_empty()),
        blkio_weight: a.blkio_weight.unwrap_or(0),
        blkio_weight_device: throttles(&a.blkio_weight_device, "--blkio-weight-device", false)?
            .map(|v| {
                v.into_iter()
                    .map(|t| berth_api::types::WeightDevice {
                        path: t.path,
                        weight: t.rate,
                    })
                    .collect()
            }),
        blkio_device_read_bps: throttles(&a.device_read_bps, "--device-read-bps", true)?,
        blkio_device_write_bps: throttles(&a.device_write_bps, "--device-write-bps", true)?,
        blkio_device_read_iops: throttles(&a.device_read_iops, "--device-read-iops", false)?,
        blkio_device_write_iops: throttles(&a.device_write_iops, "--device-write-iops", false)?,
        memory_swappiness: a.memory_swappiness,
        ipc_mode: a.ipc.clone().unwrap_or_default(),
        pid_mode: a.pid.clone().unwrap_or_default(),
        uts_mode: a.uts.clone().unwrap_or_default(),
        userns_mode: a.userns.clone().unwrap_or_default(),
        extra,
        ..Default::default()
    };
    let mut body = ContainerCreateBody::default();
    body.config.volumes = (!anonymous.is_empty()).then_some(anonymous);
    body.config.image = a.image.clone();
    body.config.cmd = (!a.command.is_empty()).then(|| a.command.clone());
    body.config.entrypoint = a.entrypoint.as_ref().map(|e| {
        if e.is_empty() {
            vec![]
        } else {
            vec![e.clone()]
        }
    });
    body.config.env = Some(env);
    body.config.working_dir = a.workdir.clone().unwrap_or_default();
    body.config.user = a.user.clone().unwrap_or_default();
    body.config.labels = Some(labels);
    body.config.hostname = a.hostname.clone().unwrap_or_default();
    body.config.stop_signal = a.stop_signal.clone();
    body.config.stop_timeout = a.stop_timeout;
    // `-a` names the streams; without it stdout and stderr (and stdin with -i).
    let attached = |s: &str| a.attach.is_empty() || a.attach.iter().any(|x| x == s);
    body.config.open_stdin = a.interactive;
    body.config.stdin_once = a.interactive;
    body.config.attach_stdin = a.interactive || a.attach.iter().any(|x| x == "stdin");
    body.config.tty = a.tty;
    body.config.healthcheck = health_config(a)?;
    body.config.attach_stdout = attached("stdout");
    body.config.attach_stderr = attached("stderr");
    body.config.exposed_ports = (!exposed.is_empty()).then_some(exposed);
    if let Some(net) = a.network.as_deref().filter(|n| {
        !matches!(*n, "default" | "bridge" | "host" | "none") && !n.starts_with("container:")
    }) {
        let mut ep = serde_json::json!({"Aliases": a.network_alias});
        if let Some(ip) = &a.ip {
            ep["IPAMConfig"] = serde_json::json!({ "IPv4Address": ip });
        }
        if let Some(mac) = &a.mac_address {
            ep["MacAddress"] = serde_json::json!(mac);
        }
        body.networking_config = Some(serde_json::json!({"EndpointsConfig": { net: ep }}));
    } else if let Some(mac) = &a.mac_address {
        let net = a.network.clone().unwrap_or_else(|| "default".into());
        body.networking_config =
            Some(serde_json::json!({"EndpointsConfig": { net: {"MacAddress": mac} }}));
    } else if a.ip.is_some() || !a.network_alias.is_empty() {
        return Err(usage(
            "--ip and --network-alias need a user-defined network (--network NAME)",
        ));
    }
    body.host_config = Some(host_config);
    Ok(body)
}

/// `--security-opt`, as the docker CLI sends it: a seccomp profile named by
/// its path is sent as the file's content.
pub(super) fn security_opts(opts: &[String]) -> Result<Vec<String>> {
    opts.iter()
        .map(|o| match o.split_once('=').or_else(|| o.split_once(':')) {
            Some(("seccomp", v)) if !matches!(v, "unconfined" | "builtin") => {
                let text = std::fs::read_to_string(v)
                    .map_err(|e| usage(format!("opening seccomp profile ({v}) failed: {e}")))?;
                Ok(format!("seccomp={text}"))
            }
            Some(_) => Ok(o.clone()),
            None if matches!(o.as_str(), "no-new-privileges" | "disable") => Ok(o.clone()),
            None => Err(usage(format!("Invalid --security-opt: {o:?}"))),
        })
        .collect()
}

/// `--ulimit name=soft[:hard]`.
pub(super) fn parse_ulimit(u: &str) -> Result<berth_api::types::Ulimit> {
    let bad = || {
        usage(format!(
            "invalid argument {u:?} for \"--ulimit\" flag: invalid ulimit argument: {u}"
        ))
    };
    let (name, limits) = u.split_once('=').ok_or_else(bad)?;
    let (soft, hard) = limits.split_once(':').unwrap_or((limits, limits));
    Ok(berth_api::types::Ulimit {
        name: name.to_string(),
        soft: soft.parse().map_err(|_| bad())?,
        hard: hard.parse().map_err(|_| bad())?,
    })
}

/// `--sysctl key=value`, refusing what the docker CLI refuses (keys outside
/// the kernel's namespaces).
pub(super) fn parse_sysctls(list: &[String]) -> Result<BTreeMap<String, String>> {
    const IPC: &[&str] = &[
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    let mut out = BTreeMap::new();
    for kv in list {
        let (k, v) = kv.split_once('=').ok_or_else(|| {
            usage(format!(
                "invalid argument {kv:?} for \"--sysctl\" flag: sysctl '{kv}' is not allowed"
            ))
        })?;
        let allowed = IPC.contains(&k)
            || k.starts_with("fs.mqueue.")
            || k.starts_with("net.")
            || matches!(k, "kernel.domainname" | "kernel.hostname");
        if !allowed {
            return Err(usage(format!(
                "invalid argument {kv:?} for \"--sysctl\" flag: sysctl '{kv}' is not allowed"
            )));
        }
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

/// `--device host[:container][:perms]`.
pub(super) fn parse_device(d: &str) -> Result<berth_api::types::DeviceMapping> {
    let parts: Vec<&str> = d.split(':').collect();
    let is_mode = |m: &str| !m.is_empty() && m.chars().all(|c| "rwm".contains(c));
    let (host, ctr, perms) = match parts.as_slice() {
        [h] => (*h, *h, "rwm"),
        [h, m] if is_mode(m) => (*h, *h, *m),
        [h, c] => (*h, *c, "rwm"),
        [h, c, m] if is_mode(m) => (*h, *c, *m),
        _ => return Err(usage(format!("invalid device specification: {d}"))),
    };
    Ok(berth_api::types::DeviceMapping {
        path_on_host: host.to_string(),
        path_in_container: ctr.to_string(),
        cgroup_permissions: perms.to_string(),
    })
}

/// `path:rate` lists (`--device-read-bps /dev/sda:1mb`); `sizes` takes units.
pub(super) fn throttles(
    list: &[String],
    flag: &str,
    sizes: bool,
) -> Result<Option<Vec<berth_api::types::ThrottleDevice>>> {
    if list.is_empty() {
        return Ok(None);
    }
    list.iter()
        .map(|t| {
            let bad = || {
                usage(format!(
                    "invalid argument {t:?} for \"{flag}\" flag: bad format {t}"
                ))
            };
            let (path, rate) = t.rsplit_once(':').ok_or_else(bad)?;
            if !path.starts_with("/dev/") {
                return Err(bad());
            }
            let rate = if sizes {
                ram_in_bytes(rate).ok_or_else(bad)?
            } else {
                rate.parse().map_err(|_| bad())?
            };
            Ok(berth_api::types::ThrottleDevice {
                path: path.to_string(),
                rate,
            })
        })
        .collect::<Result<_>>()
        .map(Some)
}

type PortMap = BTreeMap<String, Option<Vec<berth_api::network::PortBinding>>>;

/// `-p [ip:][hostPort:]containerPort[/proto]` as docker's CLI reads it.
pub(super) fn parse_publish(
    specs: &[String],
) -> Result<(PortMap, BTreeMap<String, serde_json::Value>)> {
    let mut bindings: PortMap = BTreeMap::new();
    let mut exposed = BTreeMap::new();
    for spec in specs {
        let (rest, proto) = spec.rsplit_once('/').unwrap_or((spec, "tcp"));
        let parts: Vec<&str> = rest.split(':').collect();
        let (ip, host, container) = match parts.as_slice() {
            [c] => ("", "", *c),
            [h, c] => ("", *h, *c),
            [ip, h, c] => (*ip, *h, *c),
            _ => return Err(usage(format!("invalid publish spec {spec:?}"))),
        };
        let containers = port_range(container)
            .ok_or_else(|| usage(format!("invalid containerPort: {container}")))?;
        let hosts = match host {
            "" => None,
            h => Some(port_range(h).ok_or_else(|| usage(format!("invalid hostPort: {h}")))?),
        };
        // A range publishes each of its ports, as docker's CLI expands it.
        let (first, last) = containers;
        for (i, port) in (first..=last).enumerate() {
            let host_port = match hosts {
                None => String::new(),
                Some((h1, h2)) if h2 - h1 == last - first => (h1 + i as u16).to_string(),
                // One host range for a single container port: the daemon picks in it.
                Some((h1, h2)) if first == last => format!("{h1}-{h2}"),
                Some(_) => {
                    return Err(usage(format!(
                    "invalid ranges specified for container and host Ports: {container} and {host}"
                )))
                }
            };
            let key = format!("{port}/{proto}");
            exposed.insert(key.clone(), serde_json::json!({}));
            bindings
                .entry(key)
                .or_insert_with(|| Some(vec![]))
                .get_or_insert_with(Vec::new)
                .push(berth_api::network::PortBinding {
                    host_ip: ip.to_string(),
                    host_port,
                });
        }
    }
    Ok((bindings, exposed))
}

/// A `-a` stream, refused at parsing as docker's flag refuses it.
fn stream_arg(s: &str) -> std::result::Result<String, String> {
    let l = s.to_ascii_lowercase();
    if ["stdin", "stdout", "stderr"].contains(&l.as_str()) {
        Ok(l)
    } else {
        Err("valid streams are STDIN, STDOUT and STDERR".into())
    }
}

/// `80` or `8000-8010`: ports of 1–65535, a range low to high.
fn port_range(s: &str) -> Option<(u16, u16)> {
    let port = |p: &str| p.parse::<u16>().ok().filter(|n| *n > 0);
    let (a, b) = match s.split_once('-') {
        Some((a, b)) => (port(a)?, port(b)?),
        None => (port(s)?, port(s)?),
    };
    (a <= b).then_some((a, b))
}

/// `--mount type=bind,source=/a,target=/b,readonly` as a `Mounts` entry.
pub(super) fn parse_mount_flag(spec: &str) -> Result<serde_json::Value> {
    let mut m = serde_json::json!({"Type": "volume"});
    for field in spec.split(',') {
        let (k, v) = field
            .split_once('=')
            .map(|(k, v)| (k, Some(v)))
            .unwrap_or((field, None));
        let flag = |v: Option<&str>| -> Result<bool> {
            match v {
                None | Some("true" | "1") => Ok(true),
                Some("false" | "0") => Ok(false),
                Some(x) => Err(usage(format!("invalid value for {k}: {x}"))),
            }
        };
        let val = || {
            v.map(String::from)
                .ok_or_else(|| usage(format!("invalid field '{field}' must be a key=value pair")))
        };
        match k {
            "type" => m["Type"] = serde_json::json!(val()?),
            "source" | "src" => m["Source"] = serde_json::json!(val()?),
            "target" | "destination" | "dst" => m["Target"] = serde_json::json!(val()?),
            "readonly" | "ro" => m["ReadOnly"] = serde_json::json!(flag(v)?),
            "bind-propagation" => m["BindOptions"]["Propagation"] = serde_json::json!(val()?),
            "bind-create-mountpoint" => {
                m["BindOptions"]["CreateMountpoint"] = serde_json::json!(flag(v)?)
            }
            "volume-nocopy" => m["VolumeOptions"]["NoCopy"] = serde_json::json!(flag(v)?),
            "tmpfs-size" => {
                let n = ram_in_bytes(&val()?)
                    .ok_or_else(|| usage(format!("invalid tmpfs-size: {field}")))?;
                m["TmpfsOptions"]["SizeBytes"] = serde_json::json!(n);
            }
            "tmpfs-mode" => {
                let n = u32::from_str_radix(&val()?, 8)
                    .map_err(|_| usage(format!("invalid tmpfs-mode: {field}")))?;
                m["TmpfsOptions"]["Mode"] = serde_json::json!(n);
            }
            _ => return Err(usage(format!("unexpected key '{k}' in '{spec}'"))),
        }
    }
    if m["Target"].is_null() {
        return Err(usage(format!("target is required in '{spec}'")));
    }
    Ok(m)
}

/// `--health-*` flags as a `Healthcheck` (None keeps the image's).
pub(super) fn health_config(a: &CreateArgs) -> Result<Option<berth_api::types::HealthConfig>> {
    if a.no_healthcheck {
        return Ok(Some(berth_api::types::HealthConfig {
            test: Some(vec!["NONE".into()]),
            ..Default::default()
        }));
    }
    let dur = |v: &Option<String>, what: &str| -> Result<i64> {
        match v {
            None => Ok(0),
            Some(s) => berth_api::units::go_duration(s)
                .map(|secs| (secs * 1e9) as i64)
                .ok_or_else(|| usage(format!("invalid argument {s:?} for \"--{what}\" flag"))),
        }
    };
    let any = a.health_cmd.is_some()
        || a.health_interval.is_some()
        || a.health_timeout.is_some()
        || a.health_retries.is_some()
        || a.health_start_period.is_some();
    if !any {
        return Ok(None);
    }
    Ok(Some(berth_api::types::HealthConfig {
        test: a
            .health_cmd
            .as_ref()
            .map(|c| vec!["CMD-SHELL".to_string(), c.clone()]),
        interval: dur(&a.health_interval, "health-interval")?,
        timeout: dur(&a.health_timeout, "health-timeout")?,
        retries: a.health_retries.unwrap_or(0),
        start_period: dur(&a.health_start_period, "health-start-period")?,
        start_interval: 0,
    }))
}
