//! Dockerfiles as a build's context carries them (`POST /build`): parsed
//! into stages and steps, or refused with a line-numbered error.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(e) = berth_build::dockerfile::parse(text) {
        let _ = e.to_string();
    }
});
