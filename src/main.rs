//! The `hubble-ingest` binary: parse the command line into settings, set up logging, run one command, and exit
//! with the code its result carries (0 delivered, 1 not delivered or failed, 2 usage or configuration error).

use hubble_ingest::cli::{Command, LogFormat};
use hubble_ingest::config::{self, CommandLineSource};
use hubble_ingest::error::{Error, ExitCode};
use hubble_ingest::{commands, daemon};
use tracing_subscriber::EnvFilter;

fn main() {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let line = match config::parse_command_line(argv.clone()) {
        Ok(l) => l,
        Err(Ok(clap_error)) => clap_error.exit(),
        Err(Err(e)) => exit_with(&e),
    };
    init_logging(line.cli.log_format, &line.cli.log_level);
    let observe = &line.observe;
    let result: Result<(), Error> = match &line.cli.command {
        Command::Replay(a) => {
            config::replay_settings(a, observe).and_then(|s| commands::replay::replay(&s))
        }
        Command::Filter(a) => {
            config::filter_command_settings(a, observe).and_then(|s| commands::replay::filter(&s))
        }
        Command::Check(a) => commands::check::check(a, observe, line.config_file.as_deref()),
        Command::CidrLookup(a) => commands::cidr_lookup(&a.enrich.cidr_groups, &a.ips),
        Command::Run(a) => config::run_settings(a, observe, line.config_file.clone())
            .and_then(|s| daemon::run(s, Box::new(CommandLineSource::new(argv)))),
        Command::Schema(a) => {
            print!(
                "{}",
                hubble_ingest::record::schema::render_schema(&a.table, &a.mapping)
            );
            Ok(())
        }
    };
    match result {
        Ok(()) => std::process::exit(ExitCode::Success as i32),
        Err(e) => exit_with(&e),
    }
}

fn exit_with(e: &Error) -> ! {
    eprintln!("hubble-ingest: {e}");
    std::process::exit(e.exit_code() as i32)
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
