//! CIDR-group sources for the commands: loading a table (warnings for skipped entries), validating sources for
//! `check`, and answering `cidr-lookup`. The table itself and the manifest formats live in `hubble-cidr`.

use hubble_cidr::{load_sources, PrefixTable, Source, TableStats};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

fn sources(paths: &[PathBuf]) -> Vec<Source> {
    paths
        .iter()
        .map(|p| Source::parse(&p.to_string_lossy()))
        .collect()
}

/// Loads the sources into a table; skipped entries are logged as warnings (as Cilium does).
pub fn load(paths: &[PathBuf]) -> Result<(Arc<PrefixTable>, TableStats), String> {
    if paths.iter().any(|p| p.as_os_str() == "k8s") {
        return Err(
            "the k8s source is not available in this build; use files or directories".into(),
        );
    }
    let loaded = load_sources(&sources(paths)).map_err(|e| e.to_string())?;
    for d in &loaded.diagnostics {
        tracing::warn!("cidr-groups: {d}");
    }
    let stats = loaded.table.stats();
    tracing::info!(
        groups = stats.groups,
        prefixes = stats.prefixes_v4 + stats.prefixes_v6,
        files = loaded.files.len(),
        "CIDR-group table loaded"
    );
    Ok((loaded.table, stats))
}

/// Validates the sources: `Ok(summary)`, or every problem (skipped entries count as errors here).
pub fn check_sources(paths: &[PathBuf]) -> Result<String, Vec<String>> {
    match load_sources(&sources(paths)) {
        Err(e) => Err(vec![e.to_string()]),
        Ok(l) if !l.diagnostics.is_empty() => {
            Err(l.diagnostics.iter().map(ToString::to_string).collect())
        }
        Ok(l) => {
            let s = l.table.stats();
            Ok(format!(
                "{} groups, {} prefixes from {} files",
                s.groups,
                s.prefixes_v4 + s.prefixes_v6,
                l.files.len()
            ))
        }
    }
}

/// One JSON object per IP: `{"ip":..,"groups":[..],"labels":{..}}`; an invalid IP is an error naming it.
pub fn lookup(paths: &[PathBuf], ips: &[String]) -> Result<Vec<Result<String, String>>, String> {
    let (table, _) = load(paths)?;
    Ok(ips
        .iter()
        .map(|raw| {
            let ip: IpAddr = raw
                .trim()
                .parse()
                .map_err(|_| format!("cidr-lookup: {raw:?} is not an IP address"))?;
            let m = table.lookup(ip);
            let mut out = Vec::with_capacity(128);
            out.extend_from_slice(b"{\"ip\":");
            crate::output::encode::write_json_str(&mut out, raw.trim());
            out.extend_from_slice(b",\"groups\":");
            m.write_groups_json(&mut out);
            out.extend_from_slice(b",\"labels\":");
            m.write_labels_json(&mut out);
            out.push(b'}');
            String::from_utf8(out).map_err(|e| e.to_string())
        })
        .collect())
}
