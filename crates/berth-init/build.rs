// The binary is bind-mounted into containers whose root file system may have
// no C library at all (busybox images): it is freestanding (no libc, no
// start files) and linked statically, with no dynamic relocations.
fn main() {
    for arg in ["-nostartfiles", "-nostdlib", "-static", "-no-pie"] {
        println!("cargo:rustc-link-arg-bins={arg}");
    }
}
