//! /etc/subuid and /etc/subgid as `userns-remap` reads them.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let ranges = berth_runtime::userns::ranges(&text, "dockremap", Some(1000));
    let mut next = 0u64;
    for r in ranges {
        // Laid end to end from 0, never overlapping.
        assert_eq!(r.container as u64, next);
        next += r.size as u64;
    }
});
