#!/usr/bin/env bash
# Installs what Berth needs on a Debian 12 machine, skipping what is there.
# Sourced by quickstart.sh and test.sh.
set -euo pipefail

berth_install_deps() {
    local need=()
    local pkg
    for pkg in busybox-static runc libseccomp-dev libelf-dev zlib1g-dev pkg-config procps gcc tmux nftables iproute2 curl python3 python3-docker skopeo openssl man-db bash-completion docker-compose; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
    done
    if [ "${#need[@]}" -gt 0 ]; then
        echo "installing: ${need[*]}" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    fi
    if ! command -v cargo >/dev/null 2>&1; then
        echo "cargo (Rust 1.85 or newer) is required: install it with rustup" >&2
        exit 1
    fi
}

# Debian's docker-registry (the reference Distribution server), for the interop
# tests and the benchmark: its files are unpacked into target/deps, not
# installed, so that no service, user or port is added to the host. Prints
# the binary's path.
berth_distribution() {
    local dir
    dir="$(pwd)/target/deps/docker-registry"
    if [ ! -x "$dir/usr/bin/docker-registry" ]; then
        mkdir -p "$dir"
        (cd "$dir" && apt-get download -qq docker-registry >/dev/null 2>&1 \
            || { apt-get update -qq && apt-get download -qq docker-registry; }) >&2
        dpkg-deb -x "$dir"/docker-registry_*.deb "$dir"
    fi
    echo "$dir/usr/bin/docker-registry"
}

# A busybox root file system as a tar, from Debian's static busybox.
berth_busybox_tar() {
    local out="$1" root
    root="$(mktemp -d)"
    mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root"
    cp /bin/busybox "$root/bin/busybox"
    local app
    for app in $(/bin/busybox --list); do
        [ "$app" = busybox ] || ln -sf busybox "$root/bin/$app"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
    tar -C "$root" -cf "$out" .
    rm -rf "$root"
}
