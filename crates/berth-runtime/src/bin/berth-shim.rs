//! `berth-shim STATE_DIR`: the per-container supervisor (see `berth_runtime::shim`).

fn main() {
    let Some(dir) = std::env::args_os().nth(1) else {
        eprintln!("usage: berth-shim STATE_DIR");
        std::process::exit(2);
    };
    std::process::exit(berth_runtime::shim::run(std::path::Path::new(&dir)));
}
