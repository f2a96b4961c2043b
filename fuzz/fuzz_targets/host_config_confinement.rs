//! A container's HostConfig as clients send it: the confinement options
//! (`--security-opt`, namespaces, ulimits, sysctls, devices, blkio) and the
//! resource limits, checked as at create. Never a panic, whatever the input.
#![no_main]
use berth_api::types::HostConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(hc) = serde_json::from_slice::<HostConfig>(data) else { return };
    let _ = berth_engine::containers::confinement::validate(&hc, "");
    let r = berth_runtime::spec::Resources {
        memory: hc.memory,
        memory_swap: hc.memory_swap,
        memory_reservation: hc.memory_reservation,
        cpu_shares: hc.cpu_shares,
        cpu_quota: hc.cpu_quota,
        cpu_period: hc.cpu_period,
        cpuset_cpus: hc.cpuset_cpus.clone(),
        cpuset_mems: hc.cpuset_mems.clone(),
        pids_limit: hc.pids_limit,
        memory_swappiness: hc.memory_swappiness,
    };
    if r.validate().is_ok() {
        let _ = r.check_available();
    }
    let args: Vec<String> = hc.cap_add.clone().unwrap_or_default();
    let _ = berth_runtime::spec::check_command(&args, &hc.cap_drop.clone().unwrap_or_default());
});
