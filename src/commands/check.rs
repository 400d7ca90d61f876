//! `check`: validate filters and CIDR-group sources without reading any input.

use crate::cli::CheckArgs;
use crate::commands::ExitCode;

/// `check`.
pub fn check(args: &CheckArgs, observe_flags: &[(String, String)]) -> ExitCode {
    let mut ok = true;
    if let Some(path) = crate::config::config_path(&std::env::args_os().collect::<Vec<_>>()) {
        let path = std::path::PathBuf::from(path);
        match check_run_config(&path) {
            Ok(summary) => println!("ok: config {}: {summary}", path.display()),
            Err(e) => {
                println!("error: config {}", e.trim_end());
                ok = false;
            }
        }
    }
    match crate::filters::build(&args.filter, observe_flags) {
        Ok(f) => {
            for w in f.warnings() {
                println!("warning: filter: {w}");
            }
            println!("ok: filters");
        }
        Err(e) => {
            println!("error: filter: {e}");
            ok = false;
        }
    }
    if !args.enrich.cidr_groups.is_empty() {
        match crate::cidr_groups::check_sources(&args.enrich.cidr_groups) {
            Ok(summary) => println!("ok: cidr-groups: {summary}"),
            Err(errors) => {
                for e in errors {
                    println!("error: cidr-groups: {e}");
                }
                ok = false;
            }
        }
    }
    if ok {
        ExitCode::Success
    } else {
        ExitCode::Usage
    }
}

/// Validates a daemon configuration file as `run` would read it: option values, sinks and ADX settings.
fn check_run_config(path: &std::path::Path) -> Result<String, String> {
    use clap::{CommandFactory, FromArgMatches};
    let cmd = crate::cli::Cli::command().arg(crate::config::config_arg());
    let matches = crate::config::validate_as_run(&cmd, path)?;
    let cli = crate::cli::Cli::from_arg_matches(&matches).map_err(|e| e.to_string())?;
    let crate::cli::Command::Run(run) = cli.command else {
        return Err("not a run configuration".into());
    };
    if run.sinks.contains(&crate::sink::SinkSpec::Adx) {
        // Build the client configuration (no request is made) to validate URLs, auth variables and names.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async { crate::adx::client(&run.adx, hubble_adx::CancellationToken::new()) })
            .map_err(|e| format!("adx: {e}"))?;
    }
    Ok(format!(
        "{} input(s), sinks {:?}, state dir {}",
        run.inputs.len(),
        run.sinks,
        run.state_dir.display()
    ))
}
