//! Subcommand implementations. Each returns an [`ExitCode`]: 0 success, 1 runtime failure, 2 usage,
//! configuration or manifest error.

pub mod check;
pub mod replay;

use crate::cli::EnrichArgs;
use hubble_cidr::PrefixTable;
use std::sync::Arc;

/// Process exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// 0.
    Success = 0,
    /// 1: a runtime failure.
    Failure = 1,
    /// 2: usage, configuration or manifest error.
    Usage = 2,
}

/// Loads the CIDR-group tagger named by the options (none when no source is given).
pub fn enrichment(args: &EnrichArgs) -> Result<Option<Arc<PrefixTable>>, ExitCode> {
    if args.cidr_groups.is_empty() {
        return Ok(None);
    }
    match crate::cidr_groups::load(&args.cidr_groups) {
        Ok((t, _)) => Ok(Some(t)),
        Err(e) => {
            eprintln!("hubble-ingest: cidr-groups: {e}");
            Err(ExitCode::Usage)
        }
    }
}

/// `cidr-lookup`: one JSON object per IP, `{"ip":..,"groups":[..],"labels":{..}}`.
pub fn cidr_lookup(args: &crate::cli::CidrLookupArgs) -> ExitCode {
    if args.enrich.cidr_groups.is_empty() {
        eprintln!("hubble-ingest: cidr-lookup needs at least one --cidr-groups source");
        return ExitCode::Usage;
    }
    match crate::cidr_groups::lookup(&args.enrich.cidr_groups, &args.ips) {
        Ok(lines) => {
            let mut failed = false;
            for l in lines {
                match l {
                    Ok(json) => println!("{json}"),
                    Err(e) => {
                        eprintln!("hubble-ingest: {e}");
                        failed = true;
                    }
                }
            }
            if failed {
                ExitCode::Usage
            } else {
                ExitCode::Success
            }
        }
        Err(e) => {
            eprintln!("hubble-ingest: cidr-groups: {e}");
            ExitCode::Usage
        }
    }
}
