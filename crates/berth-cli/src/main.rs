//! `berth`: docker's commands and flags, over the Engine API.

mod build;
mod completion;
mod containers;
mod context;
mod cp;
mod credentials;
mod df;
mod distribution;
mod images;
mod inspect;
mod login;
mod messages;
mod networks;
mod output;
mod registry;
mod run;
mod system;
mod tty;
mod usage;
mod volumes;

use berth_client::{Client, ClientError};
use clap::error::ErrorKind;
use clap::{CommandFactory, Parser, Subcommand};

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad flags or arguments: exit 125 like docker's flag errors.
    #[error("{0}")]
    Usage(String),
    /// A failure the CLI itself reports (exit 1): a bad reference, a
    /// template that does not run, an error inside a progress stream.
    #[error("{0}")]
    Failed(String),
    #[error("{0}")]
    Client(#[from] ClientError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// Said as it is, exit 1, also for `run` (docker's plain errors there, such
    /// as a terminal check before anything is created).
    #[error("{0}")]
    Plain(String),
    /// Say this and leave with this code (docker's StatusError: a build
    /// step's exit code).
    #[error("{0}")]
    Status(String, i32),
    /// Leave with this code, saying nothing more (run's container exit code).
    #[error("exit {0}")]
    Exit(i32),
}

pub type Result<T = (), E = CliError> = std::result::Result<T, E>;

#[derive(Parser, Debug)]
#[command(
    name = "berth",
    version,
    about = "A container engine that speaks docker",
    disable_help_subcommand = true
)]
struct Cli {
    /// Daemon socket to connect to (unix://PATH or tcp://HOST:PORT)
    #[arg(short = 'H', long = "host", env = "BERTH_HOST")]
    host: Option<String>,
    /// Name of the context to use (see `docker context`; overrides DOCKER_HOST)
    #[arg(short = 'c', long = "context")]
    context: Option<String>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
#[allow(clippy::large_enum_variant)] // parsed once per process
enum Cmd {
    #[command(flatten)]
    Container(containers::ContainerCmd),
    /// Manage containers
    #[command(name = "container")]
    ContainerGroup {
        #[command(subcommand)]
        cmd: containers::ContainerGroupCmd,
    },
    #[command(flatten)]
    Image(images::TopImageCmd),
    /// Manage images
    #[command(name = "image")]
    ImageGroup {
        #[command(subcommand)]
        cmd: images::ImageCmd,
    },
    /// Copy files/folders between a container and the local filesystem
    Cp(cp::CpArgs),
    /// Build an image from a Dockerfile
    Build(build::BuildArgs),
    /// Manage builds
    Builder {
        #[command(subcommand)]
        cmd: build::BuilderCmd,
    },
    /// Manage volumes
    Volume {
        #[command(subcommand)]
        cmd: volumes::VolumeCmd,
    },
    /// Manage networks
    Network {
        #[command(subcommand)]
        cmd: networks::NetworkCmd,
    },
    /// Show the Berth version information
    Version(system::VersionArgs),
    /// Display system-wide information
    Info(system::InfoArgs),
    /// Manage Berth
    System {
        #[command(subcommand)]
        cmd: system::SystemCmd,
    },
    /// Return low-level information on Berth objects
    Inspect(inspect::InspectArgs),
    /// Log in to a registry
    Login(login::LoginArgs),
    /// Log out from a registry
    Logout(login::LogoutArgs),
    /// Berth's registry server
    Registry {
        #[command(subcommand)]
        cmd: registry::RegistryCmd,
    },
    /// Generate the autocompletion script for the specified shell
    Completion(completion::CompletionArgs),
    /// Write the man pages (the quick start installs them)
    #[command(name = "man-pages", hide = true)]
    ManPages(completion::ManPagesArgs),
}

async fn dispatch(client: &Client, cmd: Cmd) -> Result {
    match cmd {
        Cmd::Container(c) => containers::run(client, c).await,
        Cmd::ContainerGroup { cmd } => containers::run_group(client, cmd).await,
        Cmd::Image(c) => images::run_top(client, c).await,
        Cmd::ImageGroup { cmd } => images::run(client, cmd).await,
        Cmd::Volume { cmd } => volumes::run(client, cmd).await,
        Cmd::Network { cmd } => networks::run(client, cmd).await,
        Cmd::Cp(a) => cp::cp(client, a).await,
        Cmd::Build(a) => build::build(client, a).await,
        Cmd::Builder { cmd } => build::builder(client, cmd).await,
        Cmd::Version(a) => system::version(client, a).await,
        Cmd::Info(a) => system::info(client, a).await,
        Cmd::System { cmd } => system::run(client, cmd).await,
        Cmd::Inspect(a) => inspect::inspect(client, a).await,
        Cmd::Login(a) => login::login(client, &a).await,
        Cmd::Logout(a) => login::logout(&a),
        Cmd::Registry { cmd } => registry::run(cmd).await,
        Cmd::Completion(a) => completion::completion(&a),
        Cmd::ManPages(a) => completion::man_pages(&a),
    }
}

fn main() {
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(c) => c,
        Err(e) => match e.kind() {
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => e.exit(),
            // `docker volume` alone prints the group's help and succeeds.
            ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                print!("{}", e.render());
                std::process::exit(0);
            }
            _ => {
                let (text, code) = messages::parse_error(&e, &Cli::command(), &args);
                eprintln!("{text}");
                std::process::exit(code);
            }
        },
    };
    let path = messages::command_path(&Cli::command(), &args);
    let run = matches!(
        path.iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice(),
        ["run"] | ["container", "run"]
    );
    let host = match context::host(cli.host, cli.context) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(messages::exit_code(&e, run));
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{}: {e}", messages::prog());
            std::process::exit(125);
        }
    };
    let result = rt.block_on(async {
        let client = Client::new(&host)?;
        dispatch(&client, cli.cmd).await
    });
    // A read of our stdin may still be blocked in a helper thread: do not wait for it.
    rt.shutdown_background();
    if let Err(e) = result {
        if let Some(text) = messages::report(&e, run) {
            eprintln!("{text}");
        }
        std::process::exit(messages::exit_code(&e, run));
    }
}
