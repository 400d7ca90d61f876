//! The `hubble-ingest` binary: parse the command line, set up logging, run a subcommand, exit with its code.

use clap::{CommandFactory, FromArgMatches};
use hubble_ingest::cli::{observe_flags_in_order, Cli, Command, LogFormat};
use hubble_ingest::{commands, config};
use tracing_subscriber::EnvFilter;

fn main() {
    let cmd = Cli::command().arg(config::config_arg());
    let mut argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(path) = config::config_path(&argv) {
        match config::merge(&cmd, argv, std::path::Path::new(&path)) {
            Ok(merged) => argv = merged,
            Err(e) => {
                eprintln!("hubble-ingest: config: {e}");
                std::process::exit(commands::ExitCode::Usage as i32);
            }
        }
    }
    let matches = cmd.get_matches_from(argv);
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    init_logging(cli.log_format, &cli.log_level);
    let sub = matches.subcommand().map(|(_, m)| m);
    let flags = sub.map(observe_flags_in_order).unwrap_or_default();
    let code = match &cli.command {
        Command::Replay(a) => commands::replay::replay(a, &flags),
        Command::Filter(a) => commands::replay::filter(a, &flags),
        Command::Check(a) => commands::check::check(a, &flags),
        Command::CidrLookup(a) => commands::cidr_lookup(a),
        Command::Run(a) => hubble_ingest::daemon::run(a, &flags),
        Command::Schema(a) => {
            print!(
                "{}",
                hubble_ingest::record::schema::render_schema(&a.table, &a.mapping)
            );
            commands::ExitCode::Success
        }
    };
    std::process::exit(code as i32);
}

fn init_logging(format: LogFormat, level: &str) {
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
