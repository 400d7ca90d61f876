//! The `hubble-ingest` binary: parse the command line, set up logging, run a subcommand, exit with its code.

use clap::{CommandFactory, FromArgMatches};
use hubble_ingest::cli::{observe_flags_in_order, Cli, Command, LogFormat};
use hubble_ingest::commands;
use tracing_subscriber::EnvFilter;

fn main() {
    let matches = Cli::command().get_matches();
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
                hubble_adx::schema::render_schema(&a.table, &a.mapping)
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
