//! Memory sizes as flags and the API's build query take them (`-m 64m`,
//! `--shm-size 1.5GiB`): parsed as go-units' RAMInBytes, or refused with
//! its words; never a panic, never a negative size.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match berth_api::units::parse_ram(text) {
        Ok(n) => assert!(n >= 0, "{text:?} -> {n}"),
        Err(e) => assert!(
            e.starts_with("invalid size") || e.starts_with("invalid suffix") || e.starts_with("strconv.ParseFloat"),
            "{e}"
        ),
    }
});
