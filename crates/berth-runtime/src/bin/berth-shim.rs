//! `berth-shim STATE_DIR` supervises a container; `berth-shim exec DIR` runs
//! one exec'd process (see `berth_runtime::shim`); `berth-shim hold` holds a
//! new user namespace open until its stdin closes (`berth_runtime::userns`).

fn main() {
    berth_runtime::shim::log_runtime_errors();
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let code = match args.as_slice() {
        [mode, dir] if mode == "exec" => berth_runtime::shim::exec::run(std::path::Path::new(dir)),
        [mode] if mode == "hold" => berth_runtime::userns::hold(),
        [dir] => berth_runtime::shim::run(std::path::Path::new(dir)),
        _ => {
            eprintln!("usage: berth-shim STATE_DIR | berth-shim exec DIR");
            2
        }
    };
    std::process::exit(code);
}
