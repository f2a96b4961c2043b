//! The differential CLI suite: each command form runs with the real docker CLI
//! (28.x) and with `berth`, against one berthd holding the same objects, and
//! stdout, stderr and the exit code must agree after normalising only what
//! differs between two runs of one program (ids, times, durations), column
//! padding that follows from those, and the program's own name.
//!
//! Forms that change state run on objects made afresh for each CLI
//! (`before`), and are undone after (`after`). Known, intended differences
//! are listed in `INTENDED` with their reason.

mod common;

use std::fmt::Write as _;
use std::process::Output;

use common::*;
use regex::Regex;

/// One command form: set-up run (with berth) before each CLI's turn, the
/// command line (shell words; `{port}` and `{web}` are filled in), and what
/// undoes the form's effect after each turn.
struct Form {
    before: &'static [&'static str],
    line: &'static str,
    after: &'static [&'static str],
}

const fn same(line: &'static str) -> Form {
    Form {
        before: &[],
        line,
        after: &[],
    }
}

const fn fresh(
    before: &'static [&'static str],
    line: &'static str,
    after: &'static [&'static str],
) -> Form {
    Form {
        before,
        line,
        after,
    }
}

/// Read-only forms over the shared objects.
const READ: &[&str] = &[
    // ps
    "ps",
    "ps -a",
    "ps -q",
    "ps -aq",
    "ps --no-trunc",
    "ps -a --no-trunc",
    "ps -s",
    "ps -a -s",
    "ps -l",
    "ps -n 2",
    "ps -a -n 1 -q",
    "ps --format json",
    "ps -a --format json",
    "ps --format '{{json .}}'",
    "ps --format '{{.Names}}'",
    "ps --format '{{.Ports}}'",
    "ps --format '{{.Mounts}}'",
    "ps --format '{{.Networks}}'",
    "ps --format '{{.Labels}}'",
    "ps --format '{{.LocalVolumes}}'",
    "ps --format '{{.Label \"tier\"}}'",
    "ps --format '{{.Image}} {{.Command}} {{.State}}'",
    "ps -a --format 'table {{.Names}}\\t{{.State}}'",
    "ps -a --format 'table {{.Names}}\\t{{.Image}}\\t{{.Networks}}'",
    "ps --format 'table {{.ID}}\\t{{.Ports}}'",
    "ps -a --format '{{upper .Names}}'",
    "ps -a --format '{{lower .State}}'",
    "ps -a --format '{{title .State}}'",
    "ps -a --format '{{join (split .Names \",\") \"|\"}}'",
    "ps -a --format '[{{pad .Names 2 1}}]'",
    "ps -a --format '{{truncate .Names 3}}'",
    "ps -a --format 'table {{truncate .Names 3}}\\t{{upper .State}}'",
    "ps -a --format '{{println .Names}}'",
    "ps -a --format '{{index (split .Labels \",\") 0}}'",
    "ps -a --format '{{if eq .State \"running\"}}up{{else}}down{{end}} {{.Names}}'",
    "ps -a --format '{{len .Names}}'",
    "ps -a --format '{{printf \"%-8s|\" .State}}'",
    "ps -a --format '{{.Nosuch}}'",
    "ps -a --format '{{.Names'",
    "ps -a --format '{{nosuch .Names}}'",
    "ps -a --filter status=exited",
    "ps -a --filter status=created",
    "ps -a --filter status=running --filter status=exited",
    "ps -a --filter name=web",
    "ps -a --filter name=^/do",
    "ps -a --filter label=tier=front",
    "ps -a --filter label=tier",
    "ps -a --filter label=nosuch",
    "ps -a --filter exited=3",
    "ps -a --filter exited=0",
    "ps -a --filter ancestor=busybox",
    "ps -a --filter ancestor=busybox:v1",
    "ps -a --filter network=net-a",
    "ps -a --filter volume=vol1",
    "ps -a --filter volume=/data",
    "ps -a --filter publish=80",
    "ps -a --filter expose=80/tcp",
    "ps -a --filter before=web",
    "ps -a --filter since=done",
    "ps -a --filter health=none",
    "ps -a --filter is-task=false",
    "ps -a --filter id={web}",
    "ps -a --filter status=bogus",
    "ps -a --filter nosuch=1",
    "ps -a --filter noequals",
    "ps --bogus-flag",
    "ps -q --format '{{.Names}}'",
    "images -q --format '{{.Tag}}'",
    "volume ls -q --format '{{.Driver}}'",
    "network ls -q --format '{{.Driver}}'",
    "ps --format table",
    "ps --format ''",
    "images --format 'table'",
    "ps -z",
    "container ls",
    "container ls -a --format '{{.Names}}'",
    "container list -q",
    // images
    "images",
    "images -a",
    "images -q",
    "images -aq",
    "images --no-trunc",
    "images --digests",
    "images busybox",
    "images busybox:v1",
    "images 'busy*'",
    "images nosuch",
    "images --format json",
    "images --format '{{json .}}'",
    "images --format '{{.Repository}}:{{.Tag}}'",
    "images --format 'table {{.Repository}}\\t{{.Tag}}\\t{{.Size}}'",
    "images --format '{{.Containers}} {{.Size}} {{.SharedSize}} {{.UniqueSize}} {{.VirtualSize}}'",
    "images --filter dangling=true",
    "images --filter dangling=false",
    "images --filter reference=busybox",
    "images --filter 'reference=*/*/*'",
    "images --filter label=org.app",
    "images --filter label=org.app=1",
    "images --filter before=app:1",
    "images --filter since=busybox",
    "images --filter nosuch=1",
    "images --filter dangling=maybe",
    "images --format '{{.Nosuch}}'",
    "network ls --format '{{.Nosuch}}'",
    "volume ls --format '{{.Nosuch}}'",
    "history --format '{{.Nosuch}}' busybox",
    "system df --format '{{.Nosuch}}'",
    "image ls",
    "image ls -q busybox",
    "image list --format '{{.Tag}}'",
    // image inspect and history
    "image inspect busybox",
    "image inspect --format '{{.Os}}/{{.Architecture}}' busybox",
    "image inspect -f '{{json .Config.Labels}}' app:1",
    "image inspect -f '{{.Config.Cmd}} {{.Config.Env}}' app:1",
    "image inspect nosuch",
    "image inspect busybox nosuch",
    "history busybox",
    "history app:1",
    "history -q app:1",
    "history --no-trunc app:1",
    "history -H=false app:1",
    "history --format '{{.CreatedBy}}' app:1",
    "history --format json app:1",
    "history nosuch",
    "image history app:1",
    // inspect
    "inspect web",
    "inspect done fresh",
    "inspect --format '{{.Name}} {{.State.Status}}' web",
    "inspect -f '{{.State.ExitCode}}' done",
    "inspect -f '{{json .Config.Labels}}' web",
    "inspect -f '{{range .Mounts}}{{.Name}}:{{.Destination}} {{end}}' web",
    "inspect -f '{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}' web",
    "inspect -f '{{range $net, $cfg := .NetworkSettings.Networks}}{{$net}}{{end}}' web",
    "inspect -f '{{with .State}}{{.Running}}{{end}}' web",
    "inspect -f '{{.HostConfig.PortBindings}}' web",
    "inspect -f '{{index .Config.Labels \"tier\"}}' web",
    "inspect -f '{{.Name}}\\t{{.Id}}' web",
    "inspect -f '{{.Config.Entrypoint}} {{.Config.Cmd}}' web",
    "inspect -f '{{printf \"%s:%v\" .Name .State.Pid}}' done",
    "inspect -f '{{if .State.Running}}yes{{else}}no{{end}}' web done",
    "inspect -f '{{len .Mounts}} {{json .Mounts}}' web",
    "inspect -f '{{.State.Health.Status}}' web",
    "inspect -f '{{.State.Health}}' web",
    "inspect -f '{{json .State.Health}}' web",
    "inspect -f '{{(index .Mounts 0).Name}}' web",
    "inspect -f '{{index .Mounts 5}}' web",
    "inspect -f '{{.Nosuch}}' web",
    "inspect -f '{{.Config.Nosuch.Deeper}}' web",
    "inspect --type container web",
    "inspect --type image busybox",
    "inspect --type volume vol1",
    "inspect --type network net-a",
    "inspect --type image web",
    "inspect --type bogus web",
    "inspect -s web",
    "inspect nosuch",
    "inspect web nosuch",
    "inspect -f '{{.Name}}' nosuch web",
    "container inspect web",
    "container inspect -f '{{.Config.Image}}' web done",
    "container inspect busybox",
    // container reads
    "port web",
    "port web 80",
    "port web 80/tcp",
    "port web 81",
    "port done",
    "port nosuch",
    "top web",
    "top nosuch",
    "logs done",
    "logs --tail 1 done",
    "logs nosuch",
    "diff web",
    "diff nosuch",
    "container port web",
    "logs -t done",
    "logs -n 1 done",
    "logs --tail 0 done",
    "logs --since 2000-01-01 done",
    "logs --until 2000-01-01 done",
    "logs --since {t0} --until {t1} done",
    "logs --details done",
    "logs -f done",
    "logs --since bogus done",
    "stats --no-stream --format '{{.Name}} {{.ID}}' web",
    "stats --no-stream --format '{{.Container}}' web",
    "stats --no-stream nosuch",
    "events --since {t0} --until {t1} --format '{{.Type}} {{.Action}}' --filter container=done",
    "events --since {t0} --until {t1} --filter type=volume --format '{{.Actor.ID}} {{.Action}}'",
    "events --since {t0} --until {t1} --filter type=network --filter event=create --format '{{.Actor.Attributes.name}}'",
    "events --since {t0} --until {t1} --filter nosuch=1",
    "top web -o pid",
    "image inspect --format '{{json .RootFS}}' busybox",
    "image inspect --format '{{range .RepoTags}}{{.}} {{end}}' busybox",
    "network inspect --format '{{json .IPAM}}' net-b",
    "network inspect --format '{{range $id, $c := .Containers}}{{$c.Name}}{{end}}' net-a",
    "volume inspect --format '{{json .Labels}}' vol2",
    "system df -v",
    "rmi {busybox_id}",
    "tag busybox Busy:UP",
    "tag busybox busybox:v1",
    "history --format '{{.CreatedBy}}' --no-trunc app:1",
    "history -q --no-trunc app:1",
    "volume create -d nosuchdriver vx",
    "exec -u 1 web id",
    "exec -w /nosuchdir web pwd",
    "exec -e A=1 web sh -c 'echo $A'",
    "exec web sh -c 'exit 7'",
    "container logs done",
    // volumes
    "volume ls",
    "volume ls -q",
    "volume ls --format json",
    "volume ls --format '{{.Name}} {{.Driver}} {{.Labels}}'",
    "volume ls --format 'table {{.Name}}\\t{{.Scope}}'",
    "volume ls --filter name=vol1",
    "volume ls --filter label=tier",
    "volume ls --filter label=tier=db",
    "volume ls --filter dangling=true",
    "volume ls --filter dangling=false",
    "volume ls --filter driver=local",
    "volume ls --filter nosuch=1",
    "volume inspect vol1",
    "volume inspect -f '{{.Name}} {{.Driver}} {{.Labels}}' vol2",
    "volume inspect nosuch",
    "volume inspect vol1 nosuch",
    // networks
    "network ls",
    "network ls -q",
    "network ls --no-trunc",
    "network ls --format json",
    "network ls --format '{{.Name}} {{.Driver}} {{.Scope}}'",
    "network ls --format 'table {{.Name}}\\t{{.Internal}}\\t{{.IPv6}}'",
    "network ls --filter name=net",
    "network ls --filter driver=bridge",
    "network ls --filter label=x",
    "network ls --filter type=custom",
    "network ls --filter type=builtin",
    "network ls --filter scope=local",
    "network ls --filter dangling=true",
    "network ls --filter nosuch=1",
    "network inspect net-a",
    "network inspect -f '{{.Name}} {{.Internal}} {{.Labels}}' net-b",
    "network inspect -f '{{range .Containers}}{{.Name}}{{end}}' net-a",
    "network inspect nosuch",
    "network inspect net-a nosuch",
    // system
    "system df",
    "system df --format '{{.Type}} {{.TotalCount}} {{.Active}}'",
    "system df --format json",
    "version --format '{{.Server.Version}} {{.Server.APIVersion}} {{.Server.Os}}'",
    "version --format '{{json .Server.Components}}'",
    "info --format '{{.Containers}} {{.ContainersRunning}} {{.ContainersStopped}} {{.Images}}'",
    "info --format '{{.Driver}} {{.CgroupDriver}} {{.OSType}} {{.NCPU}}'",
    "info --format '{{json .Plugins.Volume}}'",
    // errors of every kind
    "nosuchcommand",
    "rm",
    "start",
    "logs",
    "rename web",
    "pull :bad",
    "pull 'UPPER/case'",
    "pull busybox@sha256:abc",
    "tag busybox ::bad",
    "tag nosuch:1 x:2",
    "rmi nosuch",
    "stop nosuch",
    "start nosuch",
    "kill nosuch",
    "kill -s NOSUCH web",
    "rm nosuch",
    "rm web",
    "pause nosuch",
    "unpause web",
    "wait nosuch",
    "rename nosuch other",
    "rename web done",
    "run --rm nosuchimage",
    "run --rm busybox:nosuchtag",
    "run --rm ':bad' true",
    "run --rm busybox nosuchcommand",
    "run --rm --bogus-flag busybox",
    "run -d --rm --restart always busybox true",
    "run --name web busybox true",
    "run --rm -p 99999:80 busybox true",
    "run --rm -v '' busybox true",
    "run --rm --network nosuch busybox true",
    "create nosuchimage",
    "exec nosuch true",
    "exec done true",
    "exec web nosuchcommand",
    "volume rm nosuch",
    "volume rm vol1",
    "volume create 'bad/name'",
    "network rm nosuch",
    "network rm bridge",
    "network create net-a",
    "network create -d nosuchdriver n1",
    "network connect nosuch web",
    "network disconnect net-b web",
    "cp nosuch:/x {dir}/nothing",
    "cp web:/nosuch -",
    "export nosuch",
    "commit nosuch",
    "save nosuch",
    "update --memory 1x web",
    "ps -n abc",
    "ps a",
    "logs a b",
    "volume nosuch",
    "network ls --filter",
    "-H unix:///nonexistent/berth-diff.sock ps",
    "-H unix:///nonexistent/berth-diff.sock run --rm busybox true",
];

/// Forms that change state: each CLI gets its own fresh objects.
const CHANGE: &[Form] = &[
    same("run --rm busybox echo hello"),
    same("run --rm busybox sh -c 'echo out; echo err >&2; exit 3'"),
    same("run --rm -e A=1 --env B=2 busybox sh -c 'echo $A$B'"),
    same("run --rm -w /tmp busybox pwd"),
    same("run --rm --user 1:2 busybox id"),
    same("run --rm --entrypoint echo busybox hi"),
    same("run --rm --hostname h1 busybox hostname"),
    same("run --rm -l x=y busybox true"),
    same("run --rm --read-only busybox touch /x"),
    same("run --rm -v vol1:/data busybox ls /data"),
    same("run --rm --network none busybox ip -o link"),
    fresh(&[], "run -d --name det busybox sleep 100", &["rm -f det"]),
    fresh(
        &[],
        "create --name made -l k=v busybox echo",
        &["rm -f made"],
    ),
    fresh(&["create --name gone busybox"], "rm gone", &[]),
    fresh(&["create --name gone busybox"], "rm -v gone", &[]),
    fresh(&["run -d --name live busybox sleep 100"], "rm -f live", &[]),
    fresh(
        &["run -d --name stopme busybox sleep 100"],
        "stop -t 0 stopme",
        &["rm -f stopme"],
    ),
    fresh(
        &["run -d --name killme busybox sleep 100"],
        "kill killme",
        &["rm -f killme"],
    ),
    fresh(
        &["run -d --name killme busybox sleep 100"],
        "kill -s KILL killme",
        &["rm -f killme"],
    ),
    fresh(
        &["create --name startme busybox sleep 100"],
        "start startme",
        &["rm -f startme"],
    ),
    fresh(
        &["create --name startme busybox echo started"],
        "start -a startme",
        &["rm -f startme"],
    ),
    fresh(
        &["run -d --name rs busybox sleep 100"],
        "restart -t 0 rs",
        &["rm -f rs"],
    ),
    fresh(
        &["run -d --name pz busybox sleep 100"],
        "pause pz",
        &["rm -f pz"],
    ),
    fresh(
        &["run -d --name pz busybox sleep 100", "pause pz"],
        "unpause pz",
        &["rm -f pz"],
    ),
    fresh(
        &[
            "create --name waitme busybox sh -c 'exit 4'",
            "start waitme",
        ],
        "wait waitme",
        &["rm -f waitme"],
    ),
    fresh(
        &["create --name old busybox"],
        "rename old new",
        &["rm -f new", "rm -f old"],
    ),
    fresh(
        &["run -d --name ex busybox sleep 100"],
        "exec ex echo inside",
        &["rm -f ex"],
    ),
    fresh(
        &["run -d --name ex busybox sleep 100"],
        "exec -e V=1 -w /tmp ex sh -c 'echo $V; pwd'",
        &["rm -f ex"],
    ),
    fresh(
        &["run -d --name ex busybox sleep 100"],
        "exec ex sh -c 'exit 5'",
        &["rm -f ex"],
    ),
    fresh(
        &["run -d --name ex busybox sleep 100"],
        "exec -d ex sleep 1",
        &["rm -f ex"],
    ),
    fresh(&[], "tag busybox busybox:diff", &["rmi busybox:diff"]),
    fresh(&["tag busybox busybox:diff"], "rmi busybox:diff", &[]),
    fresh(&["tag busybox busybox:diff"], "image rm busybox:diff", &[]),
    fresh(&[], "volume create vdiff", &["volume rm vdiff"]),
    fresh(
        &[],
        "volume create --label k=v --name vdiff2",
        &["volume rm vdiff2"],
    ),
    fresh(&["volume create vdiff"], "volume rm vdiff", &[]),
    fresh(&[], "network create ndiff", &["network rm ndiff"]),
    fresh(&["network create ndiff"], "network rm ndiff", &[]),
    fresh(
        &["network create ndiff", "create --name nc busybox"],
        "network connect ndiff nc",
        &["rm -f nc", "network rm ndiff"],
    ),
    fresh(
        &[
            "network create ndiff",
            "create --name nc --network ndiff busybox",
        ],
        "network disconnect ndiff nc",
        &["rm -f nc", "network rm ndiff"],
    ),
    fresh(
        &["create --name upd busybox"],
        "update --memory 64m --cpu-shares 512 upd",
        &["rm -f upd"],
    ),
    fresh(
        &["run --name cm busybox touch /made"],
        "commit -m msg cm committed:1",
        &["rm -f cm", "rmi committed:1"],
    ),
    fresh(
        &["create --name pr -l prune=1 busybox"],
        "container prune -f --filter label=prune=1",
        &[],
    ),
    fresh(
        &["volume create -l prune=1 vpr"],
        "volume prune -f --filter label=prune=1",
        &["volume rm vpr"],
    ),
    fresh(
        &["network create -l prune=1 npr"],
        "network prune -f --filter label=prune=1",
        &["network rm npr"],
    ),
    fresh(
        &["import -c 'LABEL prune=1' {busybox_tar}"],
        "image prune -f --filter label=prune=1",
        &[],
    ),
    // A device node of the test's own: a CLI that wrote over it would
    // replace this one, never the host's /dev/null.
    fresh(
        &["run -d --name cpd busybox sleep 100"],
        "cp cpd:/etc/hostname {device}",
        &["rm -f cpd"],
    ),
    fresh(
        &["run -d --name cpd busybox sleep 100"],
        "cp cpd:/etc/hostname {dir}/nosuchdir/x",
        &["rm -f cpd"],
    ),
    fresh(&[], "save -o {device} busybox", &[]),
    fresh(&[], "build -q -t built:q {ctx}", &["rmi built:q"]),
    fresh(&[], "build -t built:1 {ctx}", &["rmi built:1"]),
    fresh(
        &[],
        "build -t built:2 --label x=y --build-arg A=1 {ctx}",
        &["rmi built:2"],
    ),
    fresh(&[], "build -f {ctx}/nosuch {ctx}", &[]),
    fresh(&[], "build -t ::bad {ctx}", &[]),
    fresh(&[], "build {dir}/nosuchdir", &[]),
    fresh(&[], "build --no-cache -q {ctx}", &[]),
    fresh(&[], "build --target nosuch {ctx}", &[]),
    // A registry of the test's own, on loopback.
    // The registry holds the layers before each turn, so both say so.
    fresh(
        &[
            "tag app:1 {registry}/team/app:1",
            "push {registry}/team/app:1",
        ],
        "push {registry}/team/app:1",
        &[],
    ),
    fresh(&[], "push {registry}/team/nosuch:1", &[]),
    fresh(
        &["push {registry}/team/app:1", "rmi {registry}/team/app:1"],
        "pull {registry}/team/app:1",
        &["rmi {registry}/team/app:1"],
    ),
    fresh(
        &["push {registry}/team/app:1", "rmi {registry}/team/app:1"],
        "pull -q {registry}/team/app:1",
        &["rmi {registry}/team/app:1"],
    ),
    fresh(
        &[],
        "pull {registry}/team/app",
        &["rmi {registry}/team/app"],
    ),
    fresh(&[], "pull {registry}/team/nosuch:1", &[]),
    fresh(&[], "pull -a {registry}/team/app:1", &[]),
    fresh(&[], "push 127.0.0.1:1/x:1", &[]),
    fresh(&[], "logout {registry}", &[]),
    fresh(&[], "save -o {dir}/saved.tar busybox:v1", &[]),
    fresh(&[], "load -i {dir}/nosuch.tar", &[]),
    fresh(&[], "import {dir}/nosuch.tar", &[]),
    fresh(&[], "run -it --rm busybox true", &[]),
    fresh(&[], "exec -it web true", &[]),
    fresh(&[], "attach done", &[]),
    fresh(&[], "attach nosuch", &[]),
    fresh(&[], "run --rm -t busybox echo tty", &[]),
    fresh(&[], "run --rm -a stdout busybox echo attached", &[]),
    fresh(
        &[],
        "run --rm -a stdout busybox sh -c 'echo out; echo err >&2'",
        &[],
    ),
    fresh(&[], "run --rm -a bogus busybox true", &[]),
    fresh(&[], "run -d -a stdout busybox true", &[]),
    fresh(&[], "run --rm --name named-run busybox hostname -s", &[]),
    fresh(
        &[],
        "create --name c1 --network net-a --network-alias al busybox",
        &["rm -f c1"],
    ),
    fresh(
        &["create --name c2 busybox"],
        "network connect --alias a2 net-a c2",
        &["rm -f c2"],
    ),
    fresh(
        &[],
        "volume create -o type=tmpfs -o device=tmpfs vopt",
        &["volume rm vopt"],
    ),
    fresh(&[], "volume rm -f nosuch", &[]),
    fresh(&[], "build {bad_ctx}", &[]),
    fresh(&[], "build -q {bad_ctx}", &[]),
    fresh(&[], "export -o {device} done", &[]),
];

/// Forms whose output is meant to differ, why, and whether the exit codes
/// still agree (they are compared when they should).
const INTENDED: &[(&str, &str, bool)] = &[
    (
        "version",
        "names Berth and its version for the client; the server part is the same",
        true,
    ),
    (
        "info",
        "the docker CLI prints its client section with its plugins",
        true,
    ),
    (
        "inspect -f '{{.State}}' web",
        "docker prints its typed struct, with fields the JSON leaves out (a nil Health)",
        true,
    ),
    (
        "build --progress plain -q {ctx}",
        "docker's legacy builder, which the tests drive, has no --progress (BuildKit's has; berth takes it)",
        false,
    ),
];

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run_of(o: &Output) -> Run {
    Run {
        code: code(o),
        stdout: stdout(o),
        stderr: stderr(o),
    }
}

struct Normaliser(Vec<(Regex, &'static str)>);

impl Normaliser {
    fn new() -> Normaliser {
        let rules = [
            (r"\b[0-9a-f]{64}\b", "<ID>"),
            (r"\b[0-9a-f]{12}\b", "<SHORTID>"),
            (
                r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)",
                "<TIME>",
            ),
            (
                r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? [+-]\d{4} [A-Z]+",
                "<TIME>",
            ),
            (
                r"(Less than a second|About a minute|About an hour|an? (second|minute|hour|day|week|month|year)|\d+ (seconds?|minutes?|hours?|days?|weeks?|months?|years?))",
                "<DURATION>",
            ),
            // docker's nag about its legacy builder, which the tests choose
            // (DOCKER_BUILDKIT=0); berth has one builder and says nothing.
            (
                r"DEPRECATED: The legacy builder is deprecated and will be removed in a future release.\s+BuildKit is currently disabled; enable it by removing the DOCKER_BUILDKIT=0\s+environment-variable.\n\n",
                "",
            ),
            // The program's name where messages say it.
            (r"\bberth\b", "docker"),
            (r"\bBerth\b", "Docker"),
            // Table padding follows the width of what was normalised above.
            (r" {2,}", "  "),
            (r"(?m) +$", ""),
        ];
        Normaliser(
            rules
                .into_iter()
                .map(|(r, to)| (Regex::new(r).unwrap(), to))
                .collect(),
        )
    }

    fn apply(&self, s: &str) -> String {
        // docker's build prints the context's size as its upload ends, which
        // races the daemon's first lines: the line goes first, as berth's does.
        let sending = Regex::new(r"Sending build context to \w+ daemon  [^\r\n]*\r*\n").unwrap();
        let mut s = match sending.find(s) {
            Some(m) => format!("{}{}{}", m.as_str(), &s[..m.start()], &s[m.end()..]),
            None => s.to_string(),
        };
        for (r, to) in &self.0 {
            s = r.replace_all(&s, *to).into_owned();
        }
        s
    }
}

struct Suite {
    d: Daemon,
    norm: Normaliser,
    fills: Vec<(&'static str, String)>,
    report: String,
    forms: usize,
    failed: usize,
}

impl Suite {
    fn words(&self, line: &str) -> Vec<String> {
        let mut line = line.to_string();
        for (k, v) in &self.fills {
            line = line.replace(k, v);
        }
        shell_words::split(&line).unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    fn setup(&self, line: &str) {
        let w = self.words(line);
        let args: Vec<&str> = w.iter().map(String::as_str).collect();
        // An `after` may find nothing to undo (the form failed): that is the form's report.
        let _ = self.d.berth(&args);
    }

    fn both(&mut self, form: &Form) {
        let w = self.words(form.line);
        let args: Vec<&str> = w.iter().map(String::as_str).collect();
        let turn = |docker: bool| {
            for b in form.before {
                self.setup(b);
            }
            let o = if docker {
                self.d.docker(&args)
            } else if args.first() == Some(&"-H") {
                // The form names its own daemon: berth without the test's -H.
                std::process::Command::new(bin("berth"))
                    .args(&args)
                    .env("BERTH_CONFIG", self.d.berth_config())
                    .output()
                    .unwrap()
            } else {
                self.d.berth(&args)
            };
            for a in form.after {
                self.setup(a);
            }
            run_of(&o)
        };
        let docker = turn(true);
        let berth = turn(false);
        self.compare(form.line, &docker, &berth);
    }

    fn compare(&mut self, line: &str, docker: &Run, berth: &Run) {
        self.forms += 1;
        let n = &self.norm;
        let (dout, bout) = (n.apply(&docker.stdout), n.apply(&berth.stdout));
        let (derr, berr) = (n.apply(&docker.stderr), n.apply(&berth.stderr));
        if docker.code == berth.code && dout == bout && derr == berr {
            return;
        }
        self.failed += 1;
        let _ = writeln!(self.report, "\n=== {line}");
        if docker.code != berth.code {
            let _ = writeln!(
                self.report,
                "exit: docker {} berth {}",
                docker.code, berth.code
            );
        }
        for (what, d, b) in [("stdout", &dout, &bout), ("stderr", &derr, &berr)] {
            if d != b {
                let _ = writeln!(self.report, "--- {what} docker:\n{d}--- {what} berth:\n{b}");
                if std::env::var_os("BERTH_DIFF_DEBUG").is_some() {
                    let _ = writeln!(self.report, "--- {what} as strings:\n{d:?}\n{b:?}");
                }
            }
        }
    }
}

/// Now, in Unix seconds: the window `events --since/--until` forms read.
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn docker_and_berth_print_the_same() {
    let t0 = unix_now() - 1;
    let d = Daemon::start();
    let busybox_id = d.import_busybox("busybox");
    let ctx = d.dir.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    // Built twice under one tag: the first build is left dangling (<none>).
    for step in ["1", "2"] {
        std::fs::write(
            ctx.join("Dockerfile"),
            format!("FROM busybox\nLABEL org.app={step}\nENV STEP={step}\nRUN echo {step} > /step\nCMD [\"cat\", \"/step\"]\n"),
        )
        .unwrap();
        assert_ok(&d.berth(&["build", "-q", "-t", "app:1", ctx.to_str().unwrap()]));
    }
    let other = d.berth(&[
        "import",
        "-c",
        "LABEL org.app=other",
        busybox_tar().to_str().unwrap(),
        "localhost:5999/team/busybox:2",
    ]);
    assert_ok(&other);
    let registry = Registry::start(&[]);
    let bad_ctx = d.dir.path().join("bad-ctx");
    std::fs::create_dir_all(&bad_ctx).unwrap();
    std::fs::write(
        bad_ctx.join("Dockerfile"),
        "FROM busybox\nRUN echo failing; exit 3\n",
    )
    .unwrap();
    let port = free_port().to_string();
    let publish = format!("127.0.0.1:{port}:80");
    for setup in [
        vec!["tag", "busybox", "busybox:v1"],
        vec!["volume", "create", "vol1"],
        vec!["volume", "create", "--label", "tier=db", "vol2"],
        vec!["network", "create", "net-a"],
        vec!["network", "create", "--internal", "--label", "x=y", "net-b"],
        vec![
            "create",
            "--name",
            "fresh",
            "-l",
            "tier=back",
            "busybox:v1",
            "echo",
        ],
        vec![
            "run",
            "-d",
            "--name",
            "web",
            "-l",
            "tier=front",
            "-p",
            &publish,
            "-v",
            "vol1:/data",
            "--network",
            "net-a",
            "busybox",
            "sleep",
            "1000",
        ],
    ] {
        assert_ok(&d.berth(&setup));
    }
    let done = d.berth(&[
        "run",
        "--name",
        "done",
        "busybox",
        "sh",
        "-c",
        "echo bye; exit 3",
    ]);
    assert_eq!((code(&done), stdout(&done).as_str()), (3, "bye\n"));
    let web = stdout(&d.berth(&["inspect", "-f", "{{.Id}}", "web"]));
    let dir = d.dir.path().to_path_buf();
    let device = dir.join("null-device");
    let made = std::process::Command::new("mknod")
        .args([device.to_str().unwrap(), "c", "1", "3"])
        .status()
        .unwrap();
    assert!(made.success());
    let mut suite = Suite {
        d,
        norm: Normaliser::new(),
        fills: vec![
            ("{port}", port),
            ("{web}", web.trim()[..12].to_string()),
            ("{busybox_tar}", busybox_tar().display().to_string()),
            ("{t0}", t0.to_string()),
            ("{busybox_id}", busybox_id[7..19].to_string()),
            ("{t1}", (unix_now() + 1).to_string()),
            ("{dir}", dir.display().to_string()),
            ("{ctx}", ctx.display().to_string()),
            ("{bad_ctx}", bad_ctx.display().to_string()),
            ("{registry}", registry.addr.clone()),
            ("{device}", device.display().to_string()),
        ],
        report: String::new(),
        forms: 0,
        failed: 0,
    };
    for line in READ {
        suite.both(&same(line));
    }
    for form in CHANGE {
        suite.both(form);
    }
    for (line, _why, same_code) in INTENDED {
        let w = suite.words(line);
        let args: Vec<&str> = w.iter().map(String::as_str).collect();
        let (dk, bt) = (suite.d.docker(&args), suite.d.berth(&args));
        if *same_code {
            assert_eq!(code(&dk), code(&bt), "{line}");
        }
        assert_eq!(code(&bt), 0, "{line}: {}", stderr(&bt));
    }
    assert!(suite.forms >= 150, "the suite covers {} forms", suite.forms);
    assert!(
        suite.failed == 0,
        "{} of {} forms differ:{}",
        suite.failed,
        suite.forms,
        suite.report
    );
}
