//! Tar streams whose owners are translated for remapped containers
//! (`docker cp` in, commit, export): malformed archives are errors, not panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = berth_store::archive::remap_tar(data, std::io::sink(), &|u, g| {
        (u.wrapping_add(100_000), g.wrapping_add(100_000))
    });
});
