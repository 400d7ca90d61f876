//! `check`: validate filters and CIDR-group sources without reading any input.

use crate::cli::CheckArgs;
use crate::commands::ExitCode;

/// `check`.
pub fn check(args: &CheckArgs, observe_flags: &[(String, String)]) -> ExitCode {
    let mut ok = true;
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
        match crate::enrich::check_sources(&args.enrich.cidr_groups) {
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
