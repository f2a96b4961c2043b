#!/usr/bin/env python3
"""Writes the generated conformance scenarios (crates/berthd/tests/conformance/
scenarios/gen-*.json): families of Engine API calls too regular to write by hand
— every container operation in every state, malformed and hostile input for
every endpoint that takes some, one create per invalid setting, and the framing
of exec, attach and logs streams. Hand-written scenarios live beside them.

Run it after changing a family, then scripts/conformance-record.sh to record
dockerd's answers. The files it writes are data; edit this script, not them.
"""
import json
import os
import urllib.parse

OUT = os.path.join(os.path.dirname(__file__), "..", "crates", "berthd", "tests", "conformance", "scenarios")


def step(method, path, body=None, raw=None, save=None, check=None, stream=False):
    s = {"method": method, "path": path}
    if body is not None:
        s["body"] = body
    if raw is not None:
        s["raw"] = raw
    if save:
        s["save"] = save
    if check:
        s["check"] = check
    if stream:
        s["stream"] = True
    return s


def q(filters):
    """A `filters` query value."""
    return urllib.parse.quote(json.dumps(filters, separators=(",", ":")))


def create(name, cmd=("sleep", "100"), **extra):
    body = {"Image": "busybox", "Cmd": list(cmd), "HostConfig": {"NetworkMode": "none"}}
    for k, v in extra.items():
        if k == "HostConfig":
            body["HostConfig"].update(v)
        else:
            body[k] = v
    return step("POST", f"/containers/create?name={{n}}{name}", body, save={"id": "Id"})


REMOVE = step("DELETE", "/containers/{id}?force=1")
STATE = ["State.Status", "State.Running", "State.Paused", "State.Restarting",
         "State.OOMKilled", "State.Dead", "State.ExitCode"]
INSPECT = step("GET", "/containers/{id}/json", check=STATE)

# How a container is brought into each state.
STATES = {
    "created": [],
    "running": [step("POST", "/containers/{id}/start")],
    "paused": [step("POST", "/containers/{id}/start"), step("POST", "/containers/{id}/pause")],
    "exited": [step("POST", "/containers/{id}/start"), step("POST", "/containers/{id}/kill"),
               step("POST", "/containers/{id}/wait", check=["StatusCode"])],
}

# Every operation on a container; each is run in every state, then the
# container's state is inspected.
OPS = {
    "start": [step("POST", "/containers/{id}/start")],
    "stop": [step("POST", "/containers/{id}/stop?t=1")],
    "stop-t0": [step("POST", "/containers/{id}/stop?t=0")],
    "kill": [step("POST", "/containers/{id}/kill")],
    "kill-sigterm": [step("POST", "/containers/{id}/kill?signal=SIGTERM")],
    "kill-hup-ignored-by-init": [step("POST", "/containers/{id}/kill?signal=HUP")],
    "kill-number": [step("POST", "/containers/{id}/kill?signal=9")],
    "kill-bogus-signal": [step("POST", "/containers/{id}/kill?signal=NOPE")],
    "restart": [step("POST", "/containers/{id}/restart?t=1")],
    "pause": [step("POST", "/containers/{id}/pause")],
    "unpause": [step("POST", "/containers/{id}/unpause")],
    "remove": [step("DELETE", "/containers/{id}")],
    "remove-with-volumes": [step("DELETE", "/containers/{id}?v=1")],
    "top": [step("GET", "/containers/{id}/top")],
    "stats": [step("GET", "/containers/{id}/stats?stream=false")],
    "changes": [step("GET", "/containers/{id}/changes")],
    "resize": [step("POST", "/containers/{id}/resize?h=20&w=80")],
    "rename": [step("POST", "/containers/{id}/rename?name={n}renamed"),
               step("GET", "/containers/{n}renamed/json", check=["Name"])],
    "update-cpu-shares": [step("POST", "/containers/{id}/update", {"CpuShares": 512}),
                          step("GET", "/containers/{id}/json", check=["HostConfig.CpuShares"])],
    "update-restart-policy": [step("POST", "/containers/{id}/update", {"RestartPolicy": {"Name": "unless-stopped"}}),
                              step("GET", "/containers/{id}/json", check=["HostConfig.RestartPolicy"])],
    "exec": [step("POST", "/containers/{id}/exec", {"Cmd": ["true"]}, save={"eid": "Id"}),
             step("POST", "/exec/{eid}/start", {"Detach": True})],
    "export": [step("GET", "/containers/{id}/export")],
    "archive-head": [step("HEAD", "/containers/{id}/archive?path=/bin")],
    "archive-missing-path": [step("GET", "/containers/{id}/archive?path=/no/such/path")],
    "commit": [step("POST", "/commit?container={id}&repo={n}img&pause=true"),
               step("GET", "/images/{n}img/json", check=["Config.Cmd"]),
               step("DELETE", "/images/{n}img?force=1")],
    "logs": [step("GET", "/containers/{id}/logs?stdout=1&stderr=1", stream=True)],
    "attach-without-stream": [step("POST", "/containers/{id}/attach?stream=0&stdout=1&logs=1", stream=True)],
    "wait-not-running": [step("POST", "/containers/{id}/wait?condition=not-running", check=["StatusCode"])],
    "inspect-size": [step("GET", "/containers/{id}/json?size=1")],
    "list-by-id": [step("GET", "/containers/json?all=1&filters=" + q({"name": ["{n}"]}),
                        check=["0.State", "0.Command"])],
}
# These would wait for an exit that a running or paused `sleep 100` never makes.
BLOCKS = {("wait-not-running", "running"), ("wait-not-running", "paused")}


def state_matrix():
    out = []
    for op, calls in OPS.items():
        for state, prelude in STATES.items():
            if (op, state) in BLOCKS:
                continue
            out.append({"name": f"{op}-when-{state}",
                        "steps": [create("m")] + prelude + calls + [INSPECT, REMOVE]})
    return out


def bad_input():
    running = [create("b"), step("POST", "/containers/{id}/start")]
    cases = [
        # name, prelude, the hostile call(s)
        ("create-truncated-json", [], [step("POST", "/containers/create", raw='{"Image":"busybox"')]),
        ("create-array-body", [], [step("POST", "/containers/create", raw="[]")]),
        ("create-string-body", [], [step("POST", "/containers/create", raw='"busybox"')]),
        ("create-null-body", [], [step("POST", "/containers/create?name={n}nb", raw="null"),
                                  step("DELETE", "/containers/{n}nb?force=1")]),
        ("create-empty-object", [], [step("POST", "/containers/create", {})]),
        ("create-empty-image", [], [step("POST", "/containers/create", {"Image": ""})]),
        ("create-cmd-as-string", [], [step("POST", "/containers/create?name={n}cs", {"Image": "busybox", "Cmd": "echo hi"}, save={"id": "Id"}),
                                      step("GET", "/containers/{id}/json", check=["Path", "Args"]), REMOVE]),
        ("create-env-as-string", [], [step("POST", "/containers/create", {"Image": "busybox", "Env": "A=1"})]),
        ("create-labels-number", [], [step("POST", "/containers/create", {"Image": "busybox", "Labels": {"a": 1}})]),
        ("create-memory-string", [], [step("POST", "/containers/create", {"Image": "busybox", "HostConfig": {"Memory": "1g"}})]),
        ("create-hostconfig-array", [], [step("POST", "/containers/create", {"Image": "busybox", "HostConfig": []})]),
        ("create-bad-exposed-port", [], [step("POST", "/containers/create", {"Image": "busybox", "ExposedPorts": {"abc/tcp": {}}})]),
        ("create-bad-stop-signal", [], [step("POST", "/containers/create", {"Image": "busybox", "StopSignal": "SIGNOPE"})]),
        ("create-name-with-slash", [], [step("POST", "/containers/create?name=a/b", {"Image": "busybox"})]),
        ("create-name-too-odd", [], [step("POST", "/containers/create?name=%E2%98%83", {"Image": "busybox"})]),
        ("create-image-with-digest-garbage", [], [step("POST", "/containers/create", {"Image": "busybox@sha256:zz"})]),
        ("create-image-uppercase", [], [step("POST", "/containers/create", {"Image": "BusyBox"})]),
        ("update-truncated", running, [step("POST", "/containers/{id}/update", raw='{"Memory":')]),
        ("update-wrong-type", running, [step("POST", "/containers/{id}/update", {"Memory": "x"})]),
        ("update-bad-restart", running, [step("POST", "/containers/{id}/update", {"RestartPolicy": {"Name": "bogus"}})]),
        ("update-tiny-memory", running, [step("POST", "/containers/{id}/update", {"Memory": 1024})]),
        ("update-missing-container", [], [step("POST", "/containers/{n}nosuch/update", {"CpuShares": 2})]),
        ("exec-cmd-as-string", running, [step("POST", "/containers/{id}/exec", {"Cmd": "true"})]),
        ("exec-env-as-string", running, [step("POST", "/containers/{id}/exec", {"Cmd": ["true"], "Env": "A"})]),
        ("exec-user-number", running, [step("POST", "/containers/{id}/exec", {"Cmd": ["true"], "User": 5})]),
        ("exec-array-body", running, [step("POST", "/containers/{id}/exec", raw="[1,2]")]),
        ("exec-start-truncated", running, [step("POST", "/containers/{id}/exec", {"Cmd": ["true"]}, save={"eid": "Id"}),
                                           step("POST", "/exec/{eid}/start", raw='{"Detach":')]),
        ("exec-start-wrong-type", running, [step("POST", "/containers/{id}/exec", {"Cmd": ["true"]}, save={"eid": "Id"}),
                                            step("POST", "/exec/{eid}/start", {"Detach": "yes"})]),
        ("exec-resize-bad-size", running, [step("POST", "/containers/{id}/exec", {"Cmd": ["true"]}, save={"eid": "Id"}),
                                           step("POST", "/exec/{eid}/resize?h=abc&w=10")]),
        ("network-create-truncated", [], [step("POST", "/networks/create", raw='{"Name":')]),
        ("network-create-no-name", [], [step("POST", "/networks/create", {})]),
        ("network-create-bogus-driver", [], [step("POST", "/networks/create", {"Name": "{n}d", "Driver": "nope"})]),
        ("network-create-gateway-outside", [], [step("POST", "/networks/create", {"Name": "{n}g", "IPAM": {"Config": [{"Subnet": "10.251.250.0/24", "Gateway": "10.9.9.9"}]}})]),
        ("network-create-range-outside", [], [step("POST", "/networks/create", {"Name": "{n}r", "IPAM": {"Config": [{"Subnet": "10.251.250.0/24", "IPRange": "10.251.251.0/25"}]}})]),
        ("network-create-options-string", [], [step("POST", "/networks/create", {"Name": "{n}o", "Options": "x"})]),
        ("network-create-labels-array", [], [step("POST", "/networks/create", {"Name": "{n}l", "Labels": []})]),
        ("network-create-bogus-ipam-driver", [], [step("POST", "/networks/create", {"Name": "{n}i", "IPAM": {"Driver": "nope"}})]),
        ("network-connect-truncated", [], [step("POST", "/networks/bridge/connect", raw='{"Container":')]),
        ("network-connect-empty-container", [], [step("POST", "/networks/bridge/connect", {"Container": ""})]),
        ("network-connect-missing-container", [], [step("POST", "/networks/bridge/connect", {"Container": "{n}nosuch"})]),
        ("network-connect-missing-network", running, [step("POST", "/networks/{n}nonet/connect", {"Container": "{id}"})]),
        ("network-disconnect-missing-container", [], [step("POST", "/networks/bridge/disconnect", {"Container": "{n}nosuch"})]),
        ("network-disconnect-truncated", [], [step("POST", "/networks/bridge/disconnect", raw="{")]),
        ("network-missing", [], [step("GET", "/networks/{n}nonet"), step("DELETE", "/networks/{n}nonet")]),
        ("volume-create-truncated", [], [step("POST", "/volumes/create", raw='{"Name":')]),
        ("volume-create-bad-name", [], [step("POST", "/volumes/create", {"Name": "a b"})]),
        ("volume-create-bogus-driver", [], [step("POST", "/volumes/create", {"Name": "{n}v", "Driver": "nope"})]),
        ("volume-create-labels-string", [], [step("POST", "/volumes/create", {"Name": "{n}v", "Labels": "x"})]),
        ("volume-create-bogus-option", [], [step("POST", "/volumes/create", {"Name": "{n}v", "DriverOpts": {"bogus": "1"}})]),
        ("volume-missing", [], [step("GET", "/volumes/{n}novol"), step("DELETE", "/volumes/{n}novol")]),
        ("image-create-nothing", [], [step("POST", "/images/create")]),
        ("image-create-bad-reference", [], [step("POST", "/images/create?fromImage=Bad%20Ref")]),
        ("image-create-bad-tag", [], [step("POST", "/images/create?fromImage=busybox&tag=bad%20tag")]),
        ("image-tag-missing", [], [step("POST", "/images/{n}nosuch/tag?repo=x")]),
        ("image-tag-bad-repo", [], [step("POST", "/images/busybox/tag?repo=Bad")]),
        ("image-tag-bad-tag", [], [step("POST", "/images/busybox/tag?repo=x&tag=bad:tag")]),
        ("image-history-missing", [], [step("GET", "/images/{n}nosuch/history")]),
        ("image-get-missing", [], [step("GET", "/images/get?names={n}nosuch")]),
        ("image-list-bad-filters", [], [step("GET", "/images/json?filters=%7Bbad")]),
        ("image-list-bogus-filter", [], [step("GET", "/images/json?filters=" + q({"bogus": ["x"]}))]),
        ("image-list-bad-dangling", [], [step("GET", "/images/json?filters=" + q({"dangling": ["maybe"]}))]),
        ("image-prune-bad-dangling", [], [step("POST", "/images/prune?filters=" + q({"dangling": ["x"]}))]),
        ("container-list-bogus-filter", [], [step("GET", "/containers/json?filters=" + q({"bogus": ["x"]}))]),
        ("container-list-bad-limit", [], [step("GET", "/containers/json?limit=abc")]),
        ("container-list-bad-health", [], [step("GET", "/containers/json?filters=" + q({"health": ["sick"]}))]),
        ("container-list-bad-exited", [], [step("GET", "/containers/json?all=1&filters=" + q({"exited": ["x"]}))]),
        ("network-list-bogus-filter", [], [step("GET", "/networks?filters=" + q({"bogus": ["x"]}))]),
        ("network-list-bad-type", [], [step("GET", "/networks?filters=" + q({"type": ["weird"]}))]),
        ("volume-list-bogus-filter", [], [step("GET", "/volumes?filters=" + q({"bogus": ["x"]}))]),
        ("volume-list-bad-dangling", [], [step("GET", "/volumes?filters=" + q({"dangling": ["maybe"]}))]),
        ("events-bad-since", [], [step("GET", "/events?since=abc&until=1")]),
        ("events-bogus-filter", [], [step("GET", "/events?since=1&until=2&filters=" + q({"bogus": ["x"]}))]),
        ("container-prune-bogus-filter", [], [step("POST", "/containers/prune?filters=" + q({"bogus": ["x"]}))]),
        ("volume-prune-bogus-filter", [], [step("POST", "/volumes/prune?filters=" + q({"bogus": ["x"]}))]),
        ("network-prune-bogus-filter", [], [step("POST", "/networks/prune?filters=" + q({"bogus": ["x"]}))]),
        ("stop-bad-timeout", running, [step("POST", "/containers/{id}/stop?t=abc")]),
        ("restart-bad-timeout", running, [step("POST", "/containers/{id}/restart?t=abc")]),
        ("kill-signal-out-of-range", running, [step("POST", "/containers/{id}/kill?signal=999")]),
        ("logs-bad-since", running, [step("GET", "/containers/{id}/logs?stdout=1&since=abc")]),
        ("logs-bad-tail", running, [step("GET", "/containers/{id}/logs?stdout=1&tail=abc", stream=True)]),
        # dockerd reads any other word as true: it would stream forever.
        ("stats-no-stream-word", running, [step("GET", "/containers/{id}/stats?stream=0")]),
        ("resize-bad-height", running, [step("POST", "/containers/{id}/resize?h=abc&w=10")]),
        ("resize-negative", running, [step("POST", "/containers/{id}/resize?h=-1&w=10")]),
        ("wait-bogus-condition", running, [step("POST", "/containers/{id}/wait?condition=bogus")]),
        ("archive-no-path", running, [step("GET", "/containers/{id}/archive")]),
        ("archive-relative-path", running, [step("HEAD", "/containers/{id}/archive?path=etc")]),
        ("archive-put-garbage", running, [step("PUT", "/containers/{id}/archive?path=/tmp", raw="not a tar")]),
        ("archive-put-missing-dir", running, [step("PUT", "/containers/{id}/archive?path=/no/such/dir", raw="")]),
        ("remove-bad-force", running, [step("DELETE", "/containers/{id}?force=maybe")]),
        ("inspect-bad-size", running, [step("GET", "/containers/{id}/json?size=maybe")]),
        ("rename-empty", running, [step("POST", "/containers/{id}/rename?name=")]),
        ("rename-bad-name", running, [step("POST", "/containers/{id}/rename?name=bad%20name")]),
        ("rename-to-itself", running, [step("POST", "/containers/{id}/rename?name={n}b")]),
        ("commit-bad-repo", running, [step("POST", "/commit?container={id}&repo=Bad")]),
        ("commit-bad-changes", running, [step("POST", "/commit?container={id}&repo={n}c&changes=BOGUS%20x")]),
        ("commit-missing-container", [], [step("POST", "/commit?container={n}nosuch&repo=x")]),
        ("commit-truncated-config", running, [step("POST", "/commit?container={id}&repo={n}c", raw='{"Cmd":')]),
        ("auth-truncated", [], [step("POST", "/auth", raw='{"username":')]),
    ]
    out = []
    for name, prelude, calls in cases:
        tail = [REMOVE] if prelude else []
        out.append({"name": name, "steps": prelude + calls + tail})
    return out


def create_validation():
    """One create per invalid (or borderline) setting, then its removal."""
    cases = {
        "memory-swap-below-memory": {"HostConfig": {"Memory": 67108864, "MemorySwap": 33554432}},
        "memory-reservation-above-memory": {"HostConfig": {"Memory": 67108864, "MemoryReservation": 134217728}},
        "memory-swappiness-out-of-range": {"HostConfig": {"MemorySwappiness": 101}},
        "cpu-period-too-small": {"HostConfig": {"CpuPeriod": 500}},
        "cpu-quota-too-small": {"HostConfig": {"CpuQuota": 500}},
        "nano-cpus-and-period": {"HostConfig": {"NanoCpus": 500000000, "CpuPeriod": 100000}},
        "nano-cpus-too-many": {"HostConfig": {"NanoCpus": 64000000000}},
        "cpuset-unavailable": {"HostConfig": {"CpusetCpus": "99"}},
        "cpuset-garbage": {"HostConfig": {"CpusetCpus": "a-b"}},
        "cpuset-mems-unavailable": {"HostConfig": {"CpusetMems": "9"}},
        "blkio-weight-too-small": {"HostConfig": {"BlkioWeight": 5}},
        "blkio-device-missing": {"HostConfig": {"BlkioWeightDevice": [{"Path": "/dev/nosuchdisk", "Weight": 100}]}},
        "blkio-read-bps-missing-device": {"HostConfig": {"BlkioDeviceReadBps": [{"Path": "/dev/nosuchdisk", "Rate": 1024}]}},
        "oom-score-adj-too-big": {"HostConfig": {"OomScoreAdj": 1001}},
        "shm-size-negative": {"HostConfig": {"ShmSize": -1}},
        "ulimit-soft-above-hard": {"HostConfig": {"Ulimits": [{"Name": "nofile", "Soft": 10, "Hard": 5}]}},
        "ulimit-bogus-name": {"HostConfig": {"Ulimits": [{"Name": "bogus", "Soft": 1, "Hard": 1}]}},
        "sysctl-net-with-host-network": {"HostConfig": {"NetworkMode": "host", "Sysctls": {"net.ipv4.ip_forward": "1"}}},
        "sysctl-not-namespaced": {"HostConfig": {"Sysctls": {"fs.file-max": "1"}}},
        "device-missing": {"HostConfig": {"Devices": [{"PathOnHost": "/dev/nosuchdev", "PathInContainer": "/dev/x", "CgroupPermissions": "rwm"}]}},
        "device-bad-permissions": {"HostConfig": {"Devices": [{"PathOnHost": "/dev/null", "PathInContainer": "/dev/x", "CgroupPermissions": "xyz"}]}},
        "device-cgroup-rule-garbage": {"HostConfig": {"DeviceCgroupRules": ["bogus"]}},
        "cap-drop-bogus": {"HostConfig": {"CapDrop": ["BOGUS"]}},
        "seccomp-profile-missing": {"HostConfig": {"SecurityOpt": ["seccomp=/nonexistent/profile.json"]}},
        "no-new-privileges-garbage": {"HostConfig": {"SecurityOpt": ["no-new-privileges=maybe"]}},
        "security-opt-without-value": {"HostConfig": {"SecurityOpt": ["label"]}},
        "isolation-hyperv": {"HostConfig": {"Isolation": "hyperv"}},
        "cgroupns-bogus": {"HostConfig": {"CgroupnsMode": "bogus"}},
        "ipc-mode-bogus": {"HostConfig": {"IpcMode": "bogus"}},
        "pid-mode-bogus": {"HostConfig": {"PidMode": "bogus"}},
        "uts-mode-bogus": {"HostConfig": {"UTSMode": "bogus"}},
        "userns-mode-bogus": {"HostConfig": {"UsernsMode": "bogus"}},
        "network-mode-missing": {"HostConfig": {"NetworkMode": "{n}nonet"}},
        "network-mode-container-missing": {"HostConfig": {"NetworkMode": "container:{n}nosuch"}},
        "port-binding-not-a-number": {"HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": "abc"}]}}},
        "port-binding-range-mismatch": {"HostConfig": {"PortBindings": {"80-81/tcp": [{"HostPort": "90-92"}]}}},
        "extra-host-without-ip": {"HostConfig": {"ExtraHosts": ["noip"]}},
        "extra-host-bad-ip": {"HostConfig": {"ExtraHosts": ["name:999.1.1.1"]}},
        "mount-type-bogus": {"HostConfig": {"Mounts": [{"Type": "bogus", "Target": "/x"}]}},
        "mount-bind-source-missing": {"HostConfig": {"Mounts": [{"Type": "bind", "Source": "/nonexistent/dir", "Target": "/x"}]}},
        "mount-volume-relative-target": {"HostConfig": {"Mounts": [{"Type": "volume", "Target": "relative"}]}},
        "mount-tmpfs-with-source": {"HostConfig": {"Mounts": [{"Type": "tmpfs", "Source": "/x", "Target": "/t"}]}},
        "mount-volume-with-bind-options": {"HostConfig": {"Mounts": [{"Type": "volume", "Source": "{n}v", "Target": "/x", "BindOptions": {"Propagation": "shared"}}]}},
        "mount-no-target": {"HostConfig": {"Mounts": [{"Type": "volume", "Source": "{n}v"}]}},
        "mount-duplicate-target": {"HostConfig": {"Mounts": [{"Type": "tmpfs", "Target": "/t"}, {"Type": "tmpfs", "Target": "/t"}]}},
        "bind-relative-source": {"HostConfig": {"Binds": ["relative:/x"]}},
        "bind-bogus-mode": {"HostConfig": {"Binds": ["/tmp:/x:bogus"]}},
        "bind-relative-target": {"HostConfig": {"Binds": ["/tmp:relative"]}},
        "bind-duplicate-target": {"HostConfig": {"Binds": ["/tmp:/x", "/var:/x"]}},
        "tmpfs-relative": {"HostConfig": {"Tmpfs": {"relative": ""}}},
        "restart-on-failure-negative": {"HostConfig": {"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": -1}}},
        "restart-always-with-auto-remove": {"HostConfig": {"RestartPolicy": {"Name": "always"}, "AutoRemove": True}},
        "log-max-file-zero": {"HostConfig": {"LogConfig": {"Type": "json-file", "Config": {"max-file": "0"}}}},
        "log-none-with-options": {"HostConfig": {"LogConfig": {"Type": "none", "Config": {"max-size": "1m"}}}},
        "link-missing-target": {"HostConfig": {"NetworkMode": "bridge", "Links": ["{n}nosuch:alias"]}},
        "healthcheck-interval-too-small": {"Healthcheck": {"Test": ["CMD", "true"], "Interval": 100}},
        "healthcheck-timeout-too-small": {"Healthcheck": {"Test": ["CMD", "true"], "Timeout": 100}},
        "healthcheck-negative-retries": {"Healthcheck": {"Test": ["CMD", "true"], "Retries": -1}},
        "working-dir-with-dots": {"WorkingDir": "/a/../b"},
        "env-empty-name": {"Env": ["=value"]},
        "hostname-with-host-network": {"Hostname": "other", "HostConfig": {"NetworkMode": "host"}},
        "mac-address-with-none-network": {"MacAddress": "02:42:ac:11:00:99"},
        "static-ip-on-default-bridge": {"HostConfig": {"NetworkMode": "bridge"}, "NetworkingConfig": {"EndpointsConfig": {"bridge": {"IPAMConfig": {"IPv4Address": "10.1.2.3"}}}}},
        "two-networks-at-create": {"HostConfig": {"NetworkMode": "bridge"}, "NetworkingConfig": {"EndpointsConfig": {"bridge": {}, "host": {}}}},
        "runtime-missing": {"HostConfig": {"Runtime": "nosuchruntime"}},
        "volume-driver-missing": {"HostConfig": {"VolumeDriver": "nope", "Binds": ["{n}vd:/x"]}},
        "privileged-with-cap-drop": {"HostConfig": {"Privileged": True, "CapDrop": ["ALL"]}},
    }
    out = []
    for name, extra in cases.items():
        body = {"Image": "busybox", "Cmd": ["true"], "HostConfig": {"NetworkMode": "none"}}
        for k, v in extra.items():
            if k == "HostConfig":
                body["HostConfig"] = {**body["HostConfig"], **v}
            else:
                body[k] = v
        out.append({"name": f"create-{name}", "steps": [
            step("POST", "/containers/create?name={n}c", body),
            step("DELETE", "/containers/{n}c?force=1"),
            step("DELETE", "/volumes/{n}v"),
        ]})
    return out


def streams():
    running = [create("s"), step("POST", "/containers/{id}/start")]

    def exec_(name, config, start=None, after=()):
        config = {"AttachStdout": True, "AttachStderr": True, **config}
        start = start if start is not None else {"Detach": False, "Tty": bool(config.get("Tty"))}
        return {"name": f"exec-{name}", "steps": running + [
            step("POST", "/containers/{id}/exec", config, save={"eid": "Id"}),
            step("POST", "/exec/{eid}/start", start, stream=True),
            # A detached exec is inspected once it has had time to end.
            dict(step("GET", "/exec/{eid}/json", check=["ExitCode", "Running", "ProcessConfig"]),
                 **({"wait_ms": 500} if start.get("Detach") else {})),
            *after, REMOVE]}

    both = ["sh", "-c", "echo out; echo err >&2"]
    out = [
        exec_("both-streams", {"Cmd": both}),
        exec_("tty", {"Cmd": both, "Tty": True}),
        exec_("tty-start-says-no-tty", {"Cmd": both, "Tty": True}, {"Detach": False, "Tty": False}),
        exec_("stdout-only", {"Cmd": both, "AttachStderr": False}),
        exec_("stderr-only", {"Cmd": both, "AttachStdout": False}),
        exec_("nothing-attached", {"Cmd": both, "AttachStdout": False, "AttachStderr": False}),
        exec_("env", {"Cmd": ["sh", "-c", "echo $GREETING"], "Env": ["GREETING=hello"]}),
        exec_("working-dir", {"Cmd": ["pwd"], "WorkingDir": "/tmp"}),
        exec_("user-numeric", {"Cmd": ["id"], "User": "1234:5678"}),
        exec_("exit-code", {"Cmd": ["sh", "-c", "echo bye; exit 7"]}),
        exec_("missing-binary", {"Cmd": ["/no/such/binary"]}),
        exec_("not-in-path", {"Cmd": ["nosuchcommand"]}),
        exec_("not-executable", {"Cmd": ["/etc/passwd"]}),
        exec_("long-output", {"Cmd": ["seq", "1", "3000"]}),
        exec_("binary-output", {"Cmd": ["printf", "a\\000b\\001c\\n"]}),
        exec_("privileged-caps", {"Cmd": ["sh", "-c", "grep CapEff /proc/self/status"], "Privileged": True}),
        exec_("default-caps", {"Cmd": ["sh", "-c", "grep CapEff /proc/self/status"]}),
        exec_("started-twice", {"Cmd": ["true"]},
              after=[step("POST", "/exec/{eid}/start", {"Detach": False}, stream=True)]),
        exec_("detached-start", {"Cmd": ["sh", "-c", "echo quiet"]}, {"Detach": True}),
    ]
    out.append({"name": "exec-in-paused-container", "steps": running + [
        step("POST", "/containers/{id}/pause"),
        step("POST", "/containers/{id}/exec", {"Cmd": ["true"], "AttachStdout": True}),
        REMOVE]})

    def finished(name, cmd, calls, **extra):
        return {"name": name, "steps": [
            create("f", cmd, **extra), step("POST", "/containers/{id}/start"),
            step("POST", "/containers/{id}/wait", check=["StatusCode"]), *calls, REMOVE]}

    # Pauses between the writes: stdout and stderr are two pipes, and their
    # order in the log is only defined when one is written well after the other.
    printer = ["sh", "-c", "echo one; sleep 0.1; echo two >&2; sleep 0.1; echo three; exit 5"]
    tty = {"Tty": True}
    out += [
        finished("attach-logs-after-exit", printer, [step("POST", "/containers/{id}/attach?logs=1&stream=1&stdout=1&stderr=1", stream=True)]),
        finished("attach-logs-stdout-only", printer, [step("POST", "/containers/{id}/attach?logs=1&stream=0&stdout=1", stream=True)]),
        finished("attach-logs-tty", printer, [step("POST", "/containers/{id}/attach?logs=1&stream=0&stdout=1&stderr=1", stream=True)], **tty),
        finished("attach-no-logs-after-exit", printer, [step("POST", "/containers/{id}/attach?stream=1&stdout=1&stderr=1", stream=True)]),
        finished("logs-both", printer, [step("GET", "/containers/{id}/logs?stdout=1&stderr=1", stream=True)]),
        finished("logs-stderr-only", printer, [step("GET", "/containers/{id}/logs?stderr=1", stream=True)]),
        finished("logs-tail-one", printer, [step("GET", "/containers/{id}/logs?stdout=1&stderr=1&tail=1", stream=True)]),
        finished("logs-tail-all", printer, [step("GET", "/containers/{id}/logs?stdout=1&stderr=1&tail=all", stream=True)]),
        finished("logs-since-future", printer, [step("GET", "/containers/{id}/logs?stdout=1&stderr=1&since=9999999999", stream=True)]),
        finished("logs-until-past", printer, [step("GET", "/containers/{id}/logs?stdout=1&stderr=1&until=1", stream=True)]),
        finished("logs-tty", printer, [step("GET", "/containers/{id}/logs?stdout=1&stderr=1", stream=True)], **tty),
        finished("logs-follow-after-exit", printer, [step("GET", "/containers/{id}/logs?stdout=1&stderr=1&follow=1", stream=True)]),
        finished("logs-none-driver", printer, [step("GET", "/containers/{id}/logs?stdout=1", stream=True),
                                               step("GET", "/containers/{id}/json", check=["LogPath", "HostConfig.LogConfig"])],
                 HostConfig={"LogConfig": {"Type": "none"}}),
        finished("logs-partial-line", ["printf", "no newline"], [step("GET", "/containers/{id}/logs?stdout=1", stream=True)]),
        finished("logs-long-line", ["sh", "-c", "head -c 20000 /dev/zero | tr '\\000' x"], [step("GET", "/containers/{id}/logs?stdout=1", stream=True)]),
        finished("wait-exit-code", ["sh", "-c", "exit 42"], [INSPECT]),
        finished("wait-exit-by-signal", ["sh", "-c", "kill -TERM $$; sleep 5"], [INSPECT]),
    ]
    return out


def objects():
    """Networks, volumes and images beyond the bad input: their options,
    filters and in-use rules."""
    net = step("POST", "/networks/create", {"Name": "{n}net", "Labels": {"conf": "{n}"}}, save={"net": "Id"})
    rm_net = step("DELETE", "/networks/{n}net")
    vol = step("POST", "/volumes/create", {"Name": "{n}vol", "Labels": {"conf": "{n}"}})
    rm_vol = step("DELETE", "/volumes/{n}vol")
    bridged = step("POST", "/containers/create?name={n}o", {"Image": "busybox", "Cmd": ["sleep", "100"]}, save={"id": "Id"})
    out = [
        {"name": "network-internal-attachable", "steps": [
            step("POST", "/networks/create", {"Name": "{n}net", "Internal": True, "Attachable": True}),
            step("GET", "/networks/{n}net", check=["Internal", "Attachable", "Driver", "Scope", "EnableIPv6"]), rm_net]},
        {"name": "network-options-and-labels", "steps": [
            step("POST", "/networks/create", {"Name": "{n}net", "Options": {"com.docker.network.bridge.enable_icc": "false"}, "Labels": {"a": "b"}}),
            step("GET", "/networks/{n}net", check=["Options", "Labels"]), rm_net]},
        {"name": "network-duplicate-name", "steps": [net, step("POST", "/networks/create", {"Name": "{n}net", "CheckDuplicate": True}), rm_net]},
        {"name": "network-inspect-verbose", "steps": [net, step("GET", "/networks/{n}net?verbose=true&scope=local"), rm_net]},
        {"name": "network-inspect-bad-scope", "steps": [net, step("GET", "/networks/{n}net?scope=global"), rm_net]},
        {"name": "network-list-by-label", "steps": [net, step("GET", "/networks?filters=" + q({"label": ["conf={n}"]}), check=["0.Name"]), rm_net]},
        {"name": "network-list-by-driver-and-type", "steps": [net, step("GET", "/networks?filters=" + q({"driver": ["bridge"], "type": ["custom"], "name": ["{n}net"]}), check=["0.Name"]), rm_net]},
        {"name": "network-list-builtin", "steps": [step("GET", "/networks?filters=" + q({"type": ["builtin"], "name": ["host"]}), check=["0.Name", "0.Driver"])]},
        {"name": "network-prune-by-label", "steps": [net, step("POST", "/networks/prune?filters=" + q({"label": ["conf={n}"]})), step("GET", "/networks/{n}net")]},
        {"name": "network-connect-twice", "steps": [net, bridged,
            step("POST", "/networks/{n}net/connect", {"Container": "{id}"}),
            step("POST", "/networks/{n}net/connect", {"Container": "{id}"}), REMOVE, rm_net]},
        {"name": "network-connect-static-ip-without-subnet", "steps": [net, bridged,
            step("POST", "/networks/{n}net/connect", {"Container": "{id}", "EndpointConfig": {"IPAMConfig": {"IPv4Address": "10.251.9.9"}}}), REMOVE, rm_net]},
        {"name": "network-connect-aliases", "steps": [net, bridged,
            step("POST", "/networks/{n}net/connect", {"Container": "{id}", "EndpointConfig": {"Aliases": ["web", "db"]}}),
            step("GET", "/containers/{id}/json", check=["NetworkSettings.Networks.{n}net.Aliases"]), REMOVE, rm_net]},
        {"name": "network-disconnect-not-connected", "steps": [net, bridged,
            step("POST", "/networks/{n}net/disconnect", {"Container": "{id}"}), REMOVE, rm_net]},
        {"name": "network-disconnect-force-missing", "steps": [net,
            step("POST", "/networks/{n}net/disconnect", {"Container": "{n}gone", "Force": True}), rm_net]},
        {"name": "network-remove-in-use", "steps": [net, bridged,
            step("POST", "/networks/{n}net/connect", {"Container": "{id}"}),
            step("POST", "/containers/{id}/start"),
            rm_net, REMOVE, rm_net]},
        {"name": "network-connect-host-mode-container", "steps": [net,
            step("POST", "/containers/create?name={n}h", {"Image": "busybox", "Cmd": ["sleep", "100"], "HostConfig": {"NetworkMode": "host"}}, save={"id": "Id"}),
            step("POST", "/networks/{n}net/connect", {"Container": "{id}"}), REMOVE, rm_net]},
        {"name": "network-disconnect-from-none", "steps": [create("nn"),
            step("POST", "/networks/none/disconnect", {"Container": "{id}"}), REMOVE]},
        {"name": "container-on-two-networks", "steps": [net, bridged,
            step("POST", "/networks/{n}net/connect", {"Container": "{id}"}),
            step("POST", "/containers/{id}/start"),
            step("GET", "/containers/{id}/json", check=["HostConfig.NetworkMode"]),
            step("POST", "/networks/bridge/disconnect", {"Container": "{id}"}),
            step("GET", "/containers/{id}/json", check=["HostConfig.NetworkMode"]),
            REMOVE, rm_net]},
        {"name": "volume-labels-and-options", "steps": [
            step("POST", "/volumes/create", {"Name": "{n}vol", "Labels": {"a": "b"}, "DriverOpts": {"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}}),
            step("GET", "/volumes/{n}vol", check=["Labels", "Options", "Driver", "Scope"]), rm_vol]},
        {"name": "volume-create-twice", "steps": [vol, vol, step("GET", "/volumes/{n}vol", check=["Labels"]), rm_vol]},
        {"name": "volume-create-twice-other-driver-options", "steps": [vol,
            step("POST", "/volumes/create", {"Name": "{n}vol", "DriverOpts": {"type": "tmpfs", "device": "tmpfs"}}), rm_vol]},
        {"name": "volume-anonymous", "steps": [step("POST", "/volumes/create", {}, save={"v": "Name"}),
            step("GET", "/volumes/{v}", check=["Driver"]), step("DELETE", "/volumes/{v}")]},
        {"name": "volume-list-filters", "steps": [vol,
            step("GET", "/volumes?filters=" + q({"label": ["conf={n}"]}), check=["Volumes.0.Name"]),
            step("GET", "/volumes?filters=" + q({"name": ["{n}vol"], "dangling": ["true"]}), check=["Volumes.0.Name"]),
            step("GET", "/volumes?filters=" + q({"name": ["{n}vol"], "driver": ["local"]}), check=["Volumes.0.Name"]), rm_vol]},
        {"name": "volume-in-use-by-created-container", "steps": [vol,
            step("POST", "/containers/create?name={n}vu", {"Image": "busybox", "HostConfig": {"Binds": ["{n}vol:/data"], "NetworkMode": "none"}}, save={"id": "Id"}),
            rm_vol, step("DELETE", "/volumes/{n}vol?force=1"), REMOVE, rm_vol]},
        {"name": "volume-prune-by-label", "steps": [vol,
            step("POST", "/volumes/prune?filters=" + q({"label": ["conf={n}"]})), step("GET", "/volumes/{n}vol")]},
        {"name": "volume-mount-populates", "steps": [vol,
            step("POST", "/containers/create?name={n}vp", {"Image": "busybox", "Cmd": ["ls", "/data"], "HostConfig": {"Mounts": [{"Type": "volume", "Source": "{n}vol", "Target": "/bin"}], "NetworkMode": "none"}}, save={"id": "Id"}),
            step("GET", "/containers/{id}/json", check=["Mounts.0.Type", "Mounts.0.Name", "Mounts.0.RW"]), REMOVE, rm_vol]},
        {"name": "volume-mount-read-only", "steps": [vol,
            step("POST", "/containers/create?name={n}vr", {"Image": "busybox", "HostConfig": {"Binds": ["{n}vol:/data:ro"], "NetworkMode": "none"}}, save={"id": "Id"}),
            step("GET", "/containers/{id}/json", check=["Mounts.0.RW", "Mounts.0.Mode", "HostConfig.Binds"]), REMOVE, rm_vol]},
        {"name": "image-history", "steps": [step("GET", "/images/busybox/history", check=["0.CreatedBy"])]},
        {"name": "image-inspect-fields", "steps": [step("GET", "/images/busybox/json", check=["RepoTags", "Config.Cmd", "Os", "RootFS.Type"])]},
        {"name": "image-tag-and-untag", "steps": [
            step("POST", "/images/busybox/tag?repo={n}repo&tag=v1"),
            step("GET", "/images/{n}repo:v1/json", check=["Config.Cmd"]),
            step("DELETE", "/images/{n}repo:v1", check=["0.Untagged"])]},
        {"name": "image-list-reference-filter", "steps": [
            step("POST", "/images/busybox/tag?repo={n}repo&tag=v2"),
            step("GET", "/images/json?filters=" + q({"reference": ["{n}repo:*"]}), check=["0.RepoTags"]),
            step("DELETE", "/images/{n}repo:v2")]},
        {"name": "image-list-dangling-false", "steps": [step("GET", "/images/json?filters=" + q({"dangling": ["false"], "reference": ["busybox"]}), check=["0.RepoTags"])]},
        {"name": "image-commit-with-changes", "steps": [create("ic"),
            step("POST", "/commit?container={id}&repo={n}ci&tag=t&changes=ENV%20A%3Db&changes=LABEL%20x%3Dy&comment=hello"),
            step("GET", "/images/{n}ci:t/json", check=["Config.Env", "Config.Labels", "Comment"]),
            step("DELETE", "/images/{n}ci:t"), REMOVE]},
        {"name": "image-commit-config-body", "steps": [create("ib"),
            step("POST", "/commit?container={id}&repo={n}cb", {"Cmd": ["echo", "committed"], "Labels": {"k": "v"}}),
            step("GET", "/images/{n}cb/json", check=["Config.Cmd", "Config.Labels"]),
            step("DELETE", "/images/{n}cb"), REMOVE]},
        {"name": "image-export-missing", "steps": [step("GET", "/images/{n}nosuch/get")]},
        {"name": "image-remove-used-by-running", "steps": [
            step("POST", "/images/busybox/tag?repo={n}used"),
            step("POST", "/containers/create?name={n}iu", {"Image": "{n}used", "Cmd": ["sleep", "100"], "HostConfig": {"NetworkMode": "none"}}, save={"id": "Id"}),
            step("POST", "/containers/{id}/start"),
            step("DELETE", "/images/{n}used"), step("GET", "/images/{n}used/json"), REMOVE]},
        {"name": "image-prune-dangling-none", "steps": [step("POST", "/images/prune?filters=" + q({"label": ["nosuchlabel{n}"]}))]},
    ]
    return out


FAMILIES = {
    "gen-states": state_matrix,
    "gen-bad-input": bad_input,
    "gen-create-validation": create_validation,
    "gen-streams": streams,
    "gen-objects": objects,
}

if __name__ == "__main__":
    total = 0
    for name, family in FAMILIES.items():
        scenarios = family()
        names = [s["name"] for s in scenarios]
        assert len(names) == len(set(names)), f"{name}: duplicate scenario names"
        with open(os.path.join(OUT, f"{name}.json"), "w") as f:
            json.dump(scenarios, f, indent=1)
            f.write("\n")
        total += len(scenarios)
        print(f"{name}: {len(scenarios)} scenarios")
    print(f"{total} generated")
