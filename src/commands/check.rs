//! `check`: validate filters, CIDR-group sources and a daemon configuration file without reading any input.

use crate::cli::{CheckArgs, Command};
use crate::error::Error;
use std::path::Path;

/// `check`: prints `ok:`/`warning:`/`error:` lines; any error is a configuration error (exit 2).
pub fn check(
    args: &CheckArgs,
    observe: &[(String, String)],
    config_file: Option<&Path>,
) -> Result<(), Error> {
    let mut ok = true;
    if let Some(path) = config_file {
        match check_run_config(path) {
            Ok(summary) => println!("ok: config {}: {summary}", path.display()),
            Err(e) => {
                println!("error: config {}", e.trim_end());
                ok = false;
            }
        }
    }
    match crate::config::filter_settings(&args.filter, observe).build() {
        Ok(f) => {
            for w in f.warnings() {
                println!("warning: filter: {w}");
            }
            println!("ok: filters");
        }
        Err(e) => {
            println!("error: {e}");
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
        Ok(())
    } else {
        Err(Error::Config("check found errors".into()))
    }
}

/// Validates a daemon configuration file as `run` would read it: option values, filters, sinks and ADX settings.
fn check_run_config(path: &Path) -> Result<String, String> {
    use clap::{CommandFactory, FromArgMatches};
    let cmd = crate::cli::Cli::command().arg(crate::config::config_arg());
    let matches = crate::config::validate_as_run(&cmd, path)?;
    let cli = crate::cli::Cli::from_arg_matches(&matches).map_err(|e| e.to_string())?;
    let Command::Run(run) = cli.command else {
        return Err("not a run configuration".into());
    };
    let observe = matches
        .subcommand()
        .map(|(_, m)| crate::cli::observe_flags_in_order(m))
        .unwrap_or_default();
    let settings = crate::config::run_settings(&run, &observe, Some(path.to_path_buf()))
        .map_err(|e| e.to_string())?;
    Ok(format!(
        "{} input(s), sinks {:?}, state dir {}",
        settings.inputs.len(),
        settings.pipeline.sinks.specs,
        settings.state_dir.display()
    ))
}
