#!/usr/bin/env bash
# Records the conformance fixtures (crates/berthd/tests/conformance/fixtures.json)
# from a private Docker 20.10 (Debian's docker.io): its own data root, exec root,
# socket, cgroup parent and address pool, no iptables, forwarding or default bridge.
# The scenarios' user networks are bridges this dockerd makes and removes.
# Run it after adding or changing scenarios; the test suite replays the fixtures
# against berthd. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
berth_install_deps
command -v dockerd >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null; }
WORK="$(mktemp -d /tmp/berth-conformance.XXXXXX)"
DOCKERD_PID=""
cleanup() {
    if [ -n "$DOCKERD_PID" ]; then
        export DOCKER_HOST="unix://$WORK/docker.sock"
        for id in $(docker ps -aq 2>/dev/null); do docker rm -f "$id" >/dev/null 2>&1 || true; done
        docker network prune -f >/dev/null 2>&1 || true
        docker volume prune -f >/dev/null 2>&1 || true
        kill "$DOCKERD_PID" 2>/dev/null || true
        wait "$DOCKERD_PID" 2>/dev/null || true
    fi
    { grep -o " $WORK[^ ]*" /proc/self/mounts || true; } | sort -r | while read -r m; do umount -l "$m" || true; done
    for c in /sys/fs/cgroup/*/berth-conformance-docker /sys/fs/cgroup/berth-conformance-docker; do
        [ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null || true
    done
    # Bridges its networks made that dockerd did not remove: named
    # br-<network id> with dockerd's 02:42 MAC, and not there before it started.
    for b in $(ip -o link show type bridge | grep 'link/ether 02:42:' | awk -F': ' '{print $2}' | grep '^br-' || true); do
        grep -qx "$b" "$WORK/bridges-before" 2>/dev/null || ip link del "$b" 2>/dev/null || true
    done
    # Veth pairs its dockerd made and left with both ends here (one it was
    # stopped before moving into a container); a pair whose other end is in
    # a container's namespace shows as vethX@ifN and is never touched.
    for v in $(ip -o link show type veth | awk -F': ' '{print $2}' | grep -E '^veth[0-9a-f]+@veth' | cut -d@ -f1 || true); do
        grep -qx "$v" "$WORK/veths-before" 2>/dev/null || ip link del "$v" 2>/dev/null || true
    done
    rm -rf "$WORK"
    return 0
}
trap cleanup EXIT

ip -o link show type bridge | awk -F': ' '{print $2}' >"$WORK/bridges-before"
ip -o link show type veth | awk -F': ' '{print $2}' | cut -d@ -f1 >"$WORK/veths-before"
dockerd --data-root "$WORK/data" --exec-root "$WORK/exec" -H "unix://$WORK/docker.sock" \
    --pidfile "$WORK/docker.pid" --iptables=false --ip-forward=false --ip-masq=false --bridge=none \
    --cgroup-parent berth-conformance-docker --default-address-pool base=10.214.0.0/16,size=24 \
    >"$WORK/dockerd.log" 2>&1 &
DOCKERD_PID=$!
export DOCKER_HOST="unix://$WORK/docker.sock"
for _ in $(seq 1 600); do docker version >/dev/null 2>&1 && break; sleep 0.05; done
berth_busybox_tar "$WORK/busybox.tar"
docker import -c 'CMD ["sh"]' "$WORK/busybox.tar" busybox >/dev/null
echo "recording against $(docker version -f '{{.Server.Version}}')" >&2
BERTH_CONFORMANCE_RECORD="$WORK/docker.sock" cargo test -p berthd --test conformance -- --nocapture
