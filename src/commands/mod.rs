//! The commands: `replay` and `filter` ([`replay`]), `check` ([`check`]), `cidr-lookup` (here); `run` is
//! [`crate::daemon`]. Each takes validated settings and returns `Result<(), Error>`, whose error carries the exit
//! code. See ARCHITECTURE.md ("commands").

pub mod check;
pub mod replay;

use crate::error::Error;
use hubble_cidr::PrefixTable;
use std::path::PathBuf;
use std::sync::Arc;

/// Loads the CIDR-group table named by `sources` (none when no source is given).
pub fn load_cidr_table(sources: &[PathBuf]) -> Result<Option<Arc<PrefixTable>>, Error> {
    if sources.is_empty() {
        return Ok(None);
    }
    crate::cidr_groups::load(sources)
        .map(|(t, _)| Some(t))
        .map_err(|e| Error::Config(format!("cidr-groups: {e}")))
}

/// `cidr-lookup`: one JSON object per IP, `{"ip":..,"groups":[..],"labels":{..}}`.
pub fn cidr_lookup(sources: &[PathBuf], ips: &[String]) -> Result<(), Error> {
    if sources.is_empty() {
        return Err(Error::Config(
            "cidr-lookup needs at least one --cidr-groups source".into(),
        ));
    }
    let lines = crate::cidr_groups::lookup(sources, ips)
        .map_err(|e| Error::Config(format!("cidr-groups: {e}")))?;
    let mut bad = Vec::new();
    for l in lines {
        match l {
            Ok(json) => println!("{json}"),
            Err(e) => bad.push(e),
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(Error::Config(bad.join("; ")))
    }
}
