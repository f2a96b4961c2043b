//! Runs a parsed Dockerfile against a [`Backend`] (the engine): the stages the
//! target needs, in dependency order and independent ones in parallel; each
//! step looked up in the build cache by its parent image and a key that
//! covers the instruction, its variables and, for COPY/ADD, its sources' content.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Mutex, OnceLock};

use berth_api::types::{HistoryEntry, ImageConfigFile, ImageRuntimeConfig, RootFs};
use sha2::{Digest, Sha256};

use crate::context::{
    archive_kind, copy_tree, make_dirs, parse_chmod, parse_chown, scoped_path, sources_digest,
    unpack_archive, Attrs, Context, Found, SourceTree,
};
use crate::dockerfile::{self, CommandForm, CopyOp, Dockerfile, Op, Source, Stage, Step};
use crate::error::{BuildError, Result};
use crate::ignore::{clean, Ignore};
use crate::words::{Lexer, Vars};

/// An image as a build step sees it. `id` is empty for `scratch`.
#[derive(Debug, Clone)]
pub struct Image {
    pub id: String,
    pub config: ImageConfigFile,
}

impl Image {
    pub fn short_id(&self) -> &str {
        let hex = self.id.strip_prefix("sha256:").unwrap_or(&self.id);
        &hex[..hex.len().min(12)]
    }
}

/// What a RUN step executes.
#[derive(Debug, Clone)]
pub struct RunSpec {
    pub argv: Vec<String>,
    /// The image's ENV plus the build arguments in scope.
    pub env: Vec<String>,
    pub user: String,
    pub workdir: String,
    /// `RUN --network=…`; the build's own network mode otherwise.
    pub network: Option<String>,
}

/// Where progress text goes (Docker's `{"stream": …}` lines).
pub trait Output: Sync {
    fn text(&self, s: &str);
}

/// What the engine does for a build. Every method that makes an image also
/// records it in the build cache under (`parent`, `key`).
pub trait Backend: Sync {
    /// A FROM image (pulling is the registry's business).
    fn image(&self, name: &str, platform: Option<&str>) -> Result<Image>;
    /// The image an earlier build made from `parent` with the step `key`.
    fn cached(&self, parent: &Image, key: &str) -> Option<Image>;
    /// Runs `spec` in a container from `parent` (output to `out`) and commits its changes under `config`.
    fn run(
        &self,
        parent: &Image,
        spec: &RunSpec,
        config: ImageConfigFile,
        key: &str,
        out: &dyn Output,
    ) -> Result<Image>;
    /// Mounts `parent`'s files writable for `f` and commits what it changed under `config`.
    fn change_fs(
        &self,
        parent: &Image,
        config: ImageConfigFile,
        key: &str,
        f: &mut dyn FnMut(&Path) -> Result<()>,
    ) -> Result<Image>;
    /// A new image with `parent`'s layers and `config`.
    fn commit_config(&self, parent: &Image, config: ImageConfigFile, key: &str) -> Result<Image>;
    /// Lets `f` read `image`'s files (COPY --from).
    fn read_fs(&self, image: &Image, f: &mut dyn FnMut(&Path) -> Result<()>) -> Result<()>;
    /// `ADD <url>`: the URL's content into the file `dest` (its directory exists).
    fn download(&self, url: &str, dest: &Path) -> Result<()>;
    /// A `--cache-from` image, if it is here (it is never pulled for that).
    fn cache_source(&self, name: &str) -> Option<Image>;
    /// A step taken from a cache source: `parent`'s layers plus `source`'s
    /// layer number `layer` (none for a step without a layer), under `config`.
    fn restore(
        &self,
        parent: &Image,
        source: &Image,
        layer: Option<usize>,
        config: ImageConfigFile,
        key: &str,
    ) -> Result<Image>;
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub build_args: BTreeMap<String, String>,
    pub target: Option<String>,
    pub no_cache: bool,
    /// `--label`: set on the final image.
    pub labels: BTreeMap<String, String>,
    /// `--cache-from`: images whose history may stand in for steps, as the
    /// classic builder takes them (their history and layers, matched step
    /// by step on top of the same parent).
    pub cache_from: Vec<String>,
}

/// Build arguments every Dockerfile may use without declaring them (kept out of history).
const PROXY_ARGS: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

struct Build<'a> {
    df: Dockerfile,
    context: &'a Context,
    ignore: Option<Ignore>,
    opts: &'a Options,
    backend: &'a dyn Backend,
    out: &'a dyn Output,
    lexer: Lexer,
    /// Stage index → the stages it needs first.
    deps: Vec<Vec<usize>>,
    /// Step numbers: the first number of each needed stage, and the total.
    first_number: Vec<usize>,
    total: usize,
    results: Vec<OnceLock<Result<Image>>>,
    used_args: Mutex<BTreeSet<String>>,
    /// The `--cache-from` images that are here.
    sources: Vec<Image>,
}

/// A stage being built.
struct State {
    image: Image,
    /// ARGs declared in this stage, with their values (None: declared, unset).
    args: BTreeMap<String, Option<String>>,
    cmd_set: bool,
}

impl State {
    fn cfg(&self) -> &ImageRuntimeConfig {
        &self.image.config.config
    }

    fn env_map(&self) -> Vars {
        crate::config::env_vars(self.cfg())
    }

    /// What `$name` means in this step: ARGs, overridden by ENV.
    fn vars(&self) -> Vars {
        let mut v: Vars = self
            .args
            .iter()
            .filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v)))
            .collect();
        v.extend(self.env_map());
        v
    }

    fn argv(&self, c: &CommandForm) -> Vec<String> {
        crate::config::argv(self.cfg(), c)
    }
}

/// Whether `source` (a `--cache-from` image) made the step `created_by` on
/// top of `parent`: its history and layers begin with `parent`'s, and its
/// next history entry is that step. The entry, and the index of the layer
/// it made (none for a step without one).
fn source_step(
    parent: &Image,
    source: &Image,
    created_by: &str,
) -> Option<(HistoryEntry, Option<usize>)> {
    let (ph, sh) = (&parent.config.history, &source.config.history);
    let (pl, sl) = (
        &parent.config.rootfs.diff_ids,
        &source.config.rootfs.diff_ids,
    );
    if sh.len() <= ph.len()
        || sl.len() < pl.len()
        || sh[..ph.len()] != ph[..]
        || sl[..pl.len()] != pl[..]
    {
        return None;
    }
    let entry = &sh[ph.len()];
    if entry.created_by.as_deref() != Some(created_by) {
        return None;
    }
    let layer = match entry.empty_layer {
        true => None,
        false if sl.len() > pl.len() => Some(pl.len()),
        false => return None,
    };
    Some((entry.clone(), layer))
}

fn key_of(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update(b"\0");
    }
    hex::encode(h.finalize())
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

fn scratch() -> Image {
    Image {
        id: String::new(),
        config: ImageConfigFile {
            architecture: berth_api::version::host_arch().into(),
            os: "linux".into(),
            rootfs: RootFs {
                kind: "layers".into(),
                diff_ids: Vec::new(),
            },
            ..Default::default()
        },
    }
}

/// Where a file named `name` lands for a COPY to `dest`: inside it when it is
/// (or is written as) a directory, else at `dest` itself. Missing directories are made.
fn file_target(
    root: &Path,
    dest: &str,
    dir_form: bool,
    name: &str,
    dir_attrs: Attrs,
) -> Result<std::path::PathBuf> {
    let existing_dir = scoped_path(root, dest, true)
        .ok()
        .is_some_and(|p| p.is_dir());
    if dir_form || existing_dir {
        if name.is_empty() {
            return Err(BuildError::step(format!(
                "{dest} is a directory: give the file a name"
            )));
        }
        return Ok(make_dirs(root, dest, dir_attrs)?.join(name));
    }
    let parent = dest.rsplit_once('/').map(|x| x.0).unwrap_or("");
    make_dirs(root, parent, dir_attrs)?;
    scoped_path(root, dest, false)
}

fn set_owner_mode(p: &Path, uid: u32, gid: u32, mode: u32) -> Result<()> {
    let fail = |e: std::io::Error| BuildError::step(format!("{}: {e}", p.display()));
    std::os::unix::fs::lchown(p, Some(uid), Some(gid)).map_err(fail)?;
    std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(mode)).map_err(fail)
}

/// ADD's downloads for one step, removed when the step is done.
struct Downloads {
    dir: std::path::PathBuf,
    files: Vec<(String, std::path::PathBuf)>,
}

impl Downloads {
    fn new() -> Downloads {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let dir =
            std::env::temp_dir().join(format!("berth-add-{}-{}", std::process::id(), t.as_nanos()));
        Downloads {
            dir,
            files: Vec::new(),
        }
    }
}

impl Drop for Downloads {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs the Dockerfile `text` with the `context` on the backend; returns the target stage's image.
pub fn build(
    text: &str,
    context: &Context,
    opts: &Options,
    backend: &dyn Backend,
    out: &dyn Output,
) -> Result<Image> {
    let df = dockerfile::parse(text)?;
    let ignore = crate::context::ignore_of(&context.root)?;
    let n = df.stages.len();
    let lexer = Lexer { escape: df.escape };
    let mut b = Build {
        df,
        context,
        ignore,
        opts,
        backend,
        out,
        lexer,
        deps: vec![Vec::new(); n],
        first_number: vec![0; n],
        total: 0,
        results: (0..n).map(|_| OnceLock::new()).collect(),
        used_args: Mutex::new(BTreeSet::new()),
        sources: opts
            .cache_from
            .iter()
            .filter_map(|name| backend.cache_source(name))
            .collect(),
    };
    let target = b.target()?;
    b.plan(target)?;
    let image = b.stage_image(target)?;
    let image = b.apply_labels(image)?;
    let used = b.used_args.lock().unwrap_or_else(|e| e.into_inner());
    let unused: Vec<&String> = opts
        .build_args
        .keys()
        .filter(|k| !used.contains(*k) && !PROXY_ARGS.contains(&k.as_str()))
        .collect();
    if !unused.is_empty() {
        let names: Vec<&str> = unused.iter().map(|s| s.as_str()).collect();
        out.text(&format!(
            "[Warning] One or more build-args [{}] were not consumed\n",
            names.join(" ")
        ));
    }
    Ok(image)
}

impl Build<'_> {
    fn target(&self) -> Result<usize> {
        match &self.opts.target {
            None => Ok(self.df.stages.len() - 1),
            Some(t) => self.stage_by_name(t).ok_or_else(|| {
                BuildError::step(format!("failed to reach build target {t} in Dockerfile"))
            }),
        }
    }

    fn stage_by_name(&self, name: &str) -> Option<usize> {
        let lower = name.to_ascii_lowercase();
        self.df
            .stages
            .iter()
            .position(|s| s.name.as_deref() == Some(lower.as_str()))
    }

    /// FROM's ARGs: the global ones, with --build-arg values.
    fn global_vars(&self) -> Vars {
        let mut v = Vars::new();
        for a in &self.df.global_args {
            let value = match self.opts.build_args.get(&a.name) {
                Some(x) => Some(x.clone()),
                None => a
                    .default
                    .as_ref()
                    .map(|d| self.lexer.word(d, &v).unwrap_or_else(|_| d.clone())),
            };
            if let Some(x) = value {
                v.insert(a.name.clone(), x);
            }
        }
        v
    }

    /// A stage reference (FROM or COPY --from): a stage index, or None for an image.
    fn stage_ref(&self, current: usize, r: &str) -> Result<Option<usize>> {
        if let Ok(i) = r.parse::<usize>() {
            if i >= current {
                return Err(BuildError::step(format!(
                    "invalid from flag value {r}: refers to current or future build stage"
                )));
            }
            return Ok(Some(i));
        }
        Ok(self.stage_by_name(r))
    }

    fn base_of(&self, stage: &Stage) -> Result<String> {
        self.lexer
            .word(&stage.base, &self.global_vars())
            .map_err(|e| BuildError::step(e).at(stage.line))
            .and_then(|b| {
                if b.is_empty() {
                    Err(BuildError::step("base name (FROM) should not be blank").at(stage.line))
                } else {
                    Ok(b)
                }
            })
    }

    /// Dependencies of the target, a cycle check, and the step numbers.
    fn plan(&mut self, target: usize) -> Result<()> {
        let gv = self.global_vars();
        for (i, stage) in self.df.stages.iter().enumerate() {
            let mut deps = Vec::new();
            if let Some(j) = self.stage_ref(usize::MAX, &self.base_of(stage)?)? {
                deps.push(j);
            }
            for step in &stage.steps {
                if let Op::Copy(CopyOp { from: Some(f), .. }) = &step.op {
                    let f = self
                        .lexer
                        .word(f, &gv)
                        .map_err(|e| BuildError::step(e).at(step.line))?;
                    if let Some(j) = self.stage_ref(i, &f).map_err(|e| e.at(step.line))? {
                        deps.push(j);
                    }
                }
            }
            deps.sort();
            deps.dedup();
            self.deps[i] = deps;
        }
        // Depth-first from the target: a stage met again on the path is a cycle.
        let mut needed = BTreeSet::new();
        let mut path = Vec::new();
        fn visit(
            b: &Build<'_>,
            i: usize,
            path: &mut Vec<usize>,
            needed: &mut BTreeSet<usize>,
        ) -> Result<()> {
            if path.contains(&i) {
                let name = b.df.stages[i].name.clone().unwrap_or_else(|| i.to_string());
                return Err(BuildError::step(format!(
                    "circular dependency detected on stage: {name}"
                )));
            }
            if !needed.insert(i) {
                return Ok(());
            }
            path.push(i);
            for &d in &b.deps[i] {
                visit(b, d, path, needed)?;
            }
            path.pop();
            Ok(())
        }
        visit(self, target, &mut path, &mut needed)?;
        let mut next = 1;
        for &i in &needed {
            self.first_number[i] = next;
            next += 1 + self.df.stages[i].steps.len();
        }
        self.total = next - 1;
        Ok(())
    }

    fn stage_image(&self, i: usize) -> Result<Image> {
        self.results[i].get_or_init(|| self.run_stage(i)).clone()
    }

    fn step_line(&self, number: usize, text: &str) {
        self.out
            .text(&format!("Step {number}/{} : {text}\n", self.total));
    }

    fn run_stage(&self, i: usize) -> Result<Image> {
        // Stages this one needs, each on its own thread: independent stages build in parallel.
        let deps = &self.deps[i];
        if deps.len() > 1 {
            std::thread::scope(|s| {
                let handles: Vec<_> = deps
                    .iter()
                    .map(|&d| s.spawn(move || self.stage_image(d)))
                    .collect();
                handles.into_iter().try_for_each(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(BuildError::step("a build stage panicked")))
                        .map(drop)
                })
            })?;
        }
        let stage = &self.df.stages[i];
        let number = self.first_number[i];
        self.step_line(number, &stage.text);
        let base = self.base_of(stage)?;
        let mut image = if base.eq_ignore_ascii_case("scratch") {
            scratch()
        } else if let Some(j) = self.stage_ref(usize::MAX, &base)? {
            self.stage_image(j)?
        } else {
            self.backend
                .image(&base, stage.platform.as_deref())
                .map_err(|e| e.at(stage.line))?
        };
        if !image.id.is_empty() {
            self.out.text(&format!(" ---> {}\n", image.short_id()));
        }
        // As dockerd's builder does for a stage whose image sets no PATH
        // (scratch, an import): the default one, which the steps and the
        // image they make keep.
        let env = image.config.config.env.get_or_insert_with(Vec::new);
        if !env.iter().any(|e| e.starts_with("PATH=")) {
            env.push(format!("PATH={}", berth_api::types::DEFAULT_PATH));
        }
        let triggers = image.config.config.on_build.take().unwrap_or_default();
        let mut st = State {
            image,
            args: BTreeMap::new(),
            cmd_set: false,
        };
        if !triggers.is_empty() {
            self.out.text(&format!(
                "# Executing {} build trigger{}\n",
                triggers.len(),
                if triggers.len() == 1 { "" } else { "s" }
            ));
            for t in &triggers {
                let df = dockerfile::parse(&format!("FROM scratch\n{t}\n")).map_err(|e| {
                    BuildError::step(format!("invalid ONBUILD trigger {t:?}: {e}")).at(stage.line)
                })?;
                for step in &df.stages[0].steps {
                    self.exec(&mut st, i, step).map_err(|e| e.at(stage.line))?;
                }
            }
        }
        for (k, step) in stage.steps.iter().enumerate() {
            self.step_line(number + 1 + k, &step.text);
            self.exec(&mut st, i, step).map_err(|e| e.at(step.line))?;
        }
        Ok(st.image)
    }

    fn word(&self, s: &str, vars: &Vars) -> Result<String> {
        self.lexer.word(s, vars).map_err(BuildError::step)
    }

    /// Commits a config-only step (or takes it from the cache).
    fn config_step(&self, st: &mut State, text: &str, mut config: ImageConfigFile) -> Result<()> {
        let cfg_json = serde_json::to_string(&config.config).unwrap_or_default();
        let author = config.author.clone().unwrap_or_default();
        let key = key_of(&["config", text, &cfg_json, &author]);
        let created = now();
        config.created = Some(created.clone());
        config.history.push(HistoryEntry {
            created: Some(created),
            created_by: Some(format!("/bin/sh -c #(nop)  {text}")),
            empty_layer: true,
            ..Default::default()
        });
        st.image = self.cached_or(&st.image, &key, config, |config| {
            self.backend.commit_config(&st.image, config, &key)
        })?;
        self.out.text(&format!(" ---> {}\n", st.image.short_id()));
        Ok(())
    }

    /// The step's image from the build cache, or from a `--cache-from`
    /// image, or made by `make` from `config` (whose last history entry is
    /// the step's).
    fn cached_or(
        &self,
        parent: &Image,
        key: &str,
        mut config: ImageConfigFile,
        make: impl FnOnce(ImageConfigFile) -> Result<Image>,
    ) -> Result<Image> {
        if self.opts.no_cache {
            return make(config);
        }
        if let Some(hit) = self.backend.cached(parent, key) {
            self.out.text(" ---> Using cache\n");
            return Ok(hit);
        }
        let created_by = config
            .history
            .last()
            .and_then(|h| h.created_by.clone())
            .unwrap_or_default();
        for source in &self.sources {
            if let Some((entry, layer)) = source_step(parent, source, &created_by) {
                // The source's own history entry (its time too), as dockerd restores it.
                config.created = entry.created.clone();
                if let Some(last) = config.history.last_mut() {
                    *last = entry;
                }
                let image = self.backend.restore(parent, source, layer, config, key)?;
                self.out.text(" ---> Using cache\n");
                return Ok(image);
            }
        }
        make(config)
    }

    fn exec(&self, st: &mut State, stage: usize, step: &Step) -> Result<()> {
        let vars = st.vars();
        match &step.op {
            Op::Arg(decls) => {
                let mut shown = Vec::new();
                for d in decls {
                    self.used_args
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(d.name.clone());
                    let global = self.df.global_args.iter().find(|g| g.name == d.name);
                    let value = match (self.opts.build_args.get(&d.name), &d.default) {
                        (Some(v), _) => Some(v.clone()),
                        (None, Some(def)) => Some(self.word(def, &vars)?),
                        (None, None) => {
                            global.and_then(|_| self.global_vars().get(&d.name).cloned())
                        }
                    };
                    shown.push(match &value {
                        Some(v) => format!("{}={v}", d.name),
                        None => d.name.clone(),
                    });
                    st.args.insert(d.name.clone(), value);
                }
                let config = st.image.config.clone();
                self.config_step(st, &format!("ARG {}", shown.join(" ")), config)
            }
            Op::Run { command, network } => self.run(st, command, network.clone()),
            Op::Copy(c) => self.copy(st, stage, c, &vars),
            op => {
                let mut config = st.image.config.clone();
                crate::config::apply(&mut config, op, &self.lexer, &vars, &mut st.cmd_set)?;
                self.config_step(st, &step.text, config)
            }
        }
    }

    fn run(&self, st: &mut State, command: &CommandForm, network: Option<String>) -> Result<()> {
        let argv = st.argv(command);
        let env_names: BTreeSet<String> = st.env_map().into_keys().collect();
        // Build arguments are the command's environment, not the image's.
        let args: Vec<String> = st
            .args
            .iter()
            .filter(|(k, _)| !env_names.contains(*k))
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
            .collect();
        let proxies: Vec<String> = PROXY_ARGS
            .iter()
            .filter_map(|k| self.opts.build_args.get(*k).map(|v| format!("{k}={v}")))
            .collect();
        let joined = argv.join(" ");
        let created_by = if args.is_empty() {
            joined
        } else {
            format!("|{} {} {joined}", args.len(), args.join(" "))
        };
        let key = key_of(&["run", &created_by, network.as_deref().unwrap_or("")]);
        let cfg = st.cfg().clone();
        let spec = RunSpec {
            argv,
            env: cfg
                .env
                .clone()
                .unwrap_or_default()
                .into_iter()
                .chain(args)
                .chain(proxies)
                .collect(),
            user: cfg.user.clone(),
            workdir: cfg.working_dir.clone(),
            network,
        };
        let mut config = st.image.config.clone();
        let created = now();
        config.created = Some(created.clone());
        config.history.push(HistoryEntry {
            created: Some(created),
            created_by: Some(created_by),
            ..Default::default()
        });
        st.image = self.cached_or(&st.image, &key, config, |config| {
            self.backend.run(&st.image, &spec, config, &key, self.out)
        })?;
        self.out.text(&format!(" ---> {}\n", st.image.short_id()));
        Ok(())
    }

    fn copy(&self, st: &mut State, stage: usize, c: &CopyOp, vars: &Vars) -> Result<()> {
        let what = if c.add { "ADD" } else { "COPY" };
        let from = match &c.from {
            None => None,
            Some(f) => {
                let f = self.word(f, vars)?;
                Some(match self.stage_ref(stage, &f)? {
                    Some(j) => (self.stage_image(j)?, format!("stage {f}")),
                    None => (self.backend.image(&f, None)?, format!("image {f}")),
                })
            }
        };
        let mut paths = Vec::new();
        let mut docs = Vec::new();
        let mut downloads = Downloads::new();
        for s in &c.sources {
            match s {
                Source::Path(p) => {
                    let p = self.word(p, vars)?;
                    if c.add && (p.starts_with("http://") || p.starts_with("https://")) {
                        // Fetched every build, as Docker does; the cache key has the content's hash.
                        let tmp = downloads.dir.join(format!("{}", downloads.files.len()));
                        std::fs::create_dir_all(&downloads.dir)
                            .map_err(|e| BuildError::step(format!("ADD {p}: {e}")))?;
                        self.backend
                            .download(&p, &tmp)
                            .map_err(|e| BuildError::step(format!("ADD failed: GET {p}: {e}")))?;
                        downloads
                            .files
                            .push((crate::context::url_file_name(&p), tmp));
                        continue;
                    }
                    if c.add && p.starts_with("git@") {
                        return Err(BuildError::step(
                            "ADD from a git repository is not supported by this version of berthd",
                        ));
                    }
                    paths.push(p);
                }
                Source::HereDoc { body, expand } => docs.push(if *expand {
                    self.word(&format!("\"{}\"", body.replace('"', "\\\"")), vars)?
                } else {
                    body.clone()
                }),
            }
        }
        let dest_raw = self.word(&c.dest, vars)?;
        let workdir = if st.cfg().working_dir.is_empty() {
            "/".to_string()
        } else {
            st.cfg().working_dir.clone()
        };
        let dest_dir_form = dest_raw.ends_with('/') || dest_raw == "." || dest_raw.ends_with("/.");
        let dest = if dest_raw.starts_with('/') {
            dest_raw.clone()
        } else {
            format!("{workdir}/{dest_raw}")
        };
        let dest = format!("/{}", clean(&dest)).replace("//", "/");
        let chmod = c.chmod.as_deref().map(parse_chmod).transpose()?;
        let mut work = |tree: SourceTree<'_>| -> Result<()> {
            let mut found: Vec<Found> = Vec::new();
            for p in &paths {
                found.extend(tree.find(p)?);
            }
            let many = found.len() + docs.len() + downloads.files.len() > 1;
            if many && !dest_dir_form {
                return Err(BuildError::step(format!(
                    "When using {what} with more than one source file, the destination must be a directory and end with a /"
                )));
            }
            if !docs.is_empty() && dest_dir_form {
                return Err(BuildError::step(format!(
                    "{what} of a here-document needs a file name as destination"
                )));
            }
            let mut digest = sources_digest(&tree, &found)?;
            if !downloads.files.is_empty() {
                let dl_tree = SourceTree {
                    digests: None,
                    root: &downloads.dir,
                    ignore: None,
                    what: "download",
                };
                let dl: Vec<Found> = downloads
                    .files
                    .iter()
                    .map(|(n, p)| Found {
                        rel: n.clone(),
                        path: p.clone(),
                    })
                    .collect();
                digest = key_of(&[&digest, &sources_digest(&dl_tree, &dl)?]);
            }
            let kind = match (found.as_slice(), docs.is_empty()) {
                ([f], true) if f.path.is_dir() => "dir",
                ([_], true) => "file",
                _ => "multi",
            };
            let key = key_of(&[
                what,
                &digest,
                &docs.join("\0"),
                &dest,
                &dest_dir_form.to_string(),
                c.chown.as_deref().unwrap_or(""),
                c.chmod.as_deref().unwrap_or(""),
            ]);
            let mut config = st.image.config.clone();
            let created = now();
            config.created = Some(created.clone());
            config.history.push(HistoryEntry {
                created: Some(created),
                created_by: Some(format!(
                    "/bin/sh -c #(nop) {what} {kind}:{digest} in {dest} "
                )),
                ..Default::default()
            });
            let add = c.add;
            let image = self.cached_or(&st.image, &key, config, |config| {
                self.backend
                    .change_fs(&st.image, config, &key, &mut |root| {
                        let (uid, gid) = match &c.chown {
                            Some(spec) => parse_chown(root, &self.word(spec, vars)?)?,
                            None => (0, 0),
                        };
                        let attrs = Attrs {
                            uid,
                            gid,
                            mode: chmod,
                        };
                        let skip = |p: &Path| {
                            p.strip_prefix(tree.root).ok().is_some_and(|rel| {
                                tree.ignore.is_some_and(|i| {
                                    i.skips(&rel.to_string_lossy(), p.is_dir() && !p.is_symlink())
                                })
                            })
                        };
                        let dir_attrs = Attrs {
                            mode: None,
                            ..attrs
                        };
                        for body in &docs {
                            let target = file_target(root, &dest, false, "", dir_attrs)?;
                            std::fs::write(&target, body)
                                .map_err(|e| BuildError::step(format!("write {dest}: {e}")))?;
                            set_owner_mode(&target, uid, gid, attrs.mode.unwrap_or(0o644))?;
                        }
                        for (name, tmp) in &downloads.files {
                            let target = file_target(root, &dest, dest_dir_form, name, dir_attrs)?;
                            // Downloads are 0600 unless --chmod says otherwise (Docker's rule).
                            let mode = Some(attrs.mode.unwrap_or(0o600));
                            copy_tree(tmp, &target, Attrs { mode, ..attrs }, &|_| false)?;
                        }
                        for f in &found {
                            let meta = std::fs::metadata(&f.path)
                                .map_err(|e| BuildError::step(format!("stat {}: {e}", f.rel)))?;
                            if meta.is_dir() {
                                // A directory's contents are copied, not the directory itself.
                                let target = make_dirs(root, &dest, dir_attrs)?;
                                let entries = std::fs::read_dir(&f.path)
                                    .map_err(|e| BuildError::step(e.to_string()))?;
                                for e in entries.flatten() {
                                    if !skip(&e.path()) {
                                        copy_tree(
                                            &e.path(),
                                            &target.join(e.file_name()),
                                            attrs,
                                            &skip,
                                        )?;
                                    }
                                }
                                continue;
                            }
                            if let Some(gz) = add.then(|| archive_kind(&f.path)).flatten() {
                                unpack_archive(&f.path, gz, &make_dirs(root, &dest, dir_attrs)?)?;
                                continue;
                            }
                            let name = Path::new(&f.rel)
                                .file_name()
                                .map(|n| n.to_string_lossy().into_owned())
                                .unwrap_or_default();
                            let target = file_target(root, &dest, dest_dir_form, &name, dir_attrs)?;
                            let src = std::fs::canonicalize(&f.path)
                                .map_err(|e| BuildError::step(e.to_string()))?;
                            copy_tree(&src, &target, attrs, &skip)?;
                        }
                        Ok(())
                    })
            })?;
            st.image = image;
            Ok(())
        };
        match from {
            None => work(SourceTree {
                root: &self.context.root,
                ignore: self.ignore.as_ref(),
                digests: Some(&self.context.digests),
                what: "build context",
            })?,
            Some((img, name)) => {
                self.backend.read_fs(&img, &mut |root| {
                    work(SourceTree {
                        root,
                        ignore: None,
                        digests: None,
                        what: &name,
                    })
                })?;
            }
        }
        self.out.text(&format!(" ---> {}\n", st.image.short_id()));
        Ok(())
    }

    fn apply_labels(&self, image: Image) -> Result<Image> {
        if self.opts.labels.is_empty() {
            return Ok(image);
        }
        let mut config = image.config.clone();
        config
            .config
            .labels
            .get_or_insert_with(Default::default)
            .extend(self.opts.labels.clone());
        let text = format!(
            "LABEL {}",
            self.opts
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v:?}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        let mut st = State {
            image,
            args: BTreeMap::new(),
            cmd_set: true,
        };
        self.config_step(&mut st, &text, config)?;
        Ok(st.image)
    }
}
