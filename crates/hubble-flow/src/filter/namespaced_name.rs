//! `source_pod`, `destination_pod`, `source_service`, `destination_service` matchers.
//!
//! Guarantees (cilium `k8s.ParseNamespaceName` + `filterByNamespacedName`): `ns/prefix` selects names starting
//! with `prefix` in namespace `ns`; a bare `prefix` means namespace `default`; `ns/` is any name in `ns`;
//! `/prefix` is any namespace. Only the part between the first and second `/` is the prefix. An entry with
//! neither namespace nor prefix is a build error. A flow whose namespace and name are both empty never matches.

use super::build::MatchFn;
use super::Event;

/// The name a filter looks at.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    /// `source.namespace` / `source.pod_name`.
    SourcePod,
    /// `destination.namespace` / `destination.pod_name`.
    DestinationPod,
    /// `source_service.namespace` / `.name`.
    SourceService,
    /// `destination_service.namespace` / `.name`.
    DestinationService,
}

/// Splits `ns/name` like cilium's `ParseNamespaceName`.
pub fn parse_namespace_name(s: &str) -> (&str, &str) {
    let mut parts = s.split('/');
    let ns = parts.next().unwrap_or("");
    match parts.next() {
        Some(name) => (ns, name),
        None if ns.is_empty() => ("", ""),
        None => ("default", ns),
    }
}

fn names<'r>(ev: Event<'r, '_>, t: Target) -> (&'r str, &'r str) {
    let Some(f) = ev.flow() else { return ("", "") };
    match t {
        Target::SourcePod | Target::DestinationPod => {
            let ep = if matches!(t, Target::SourcePod) {
                &f.source
            } else {
                &f.destination
            };
            ep.as_ref().map_or(("", ""), |e| {
                (
                    e.namespace.as_deref().unwrap_or(""),
                    e.pod_name.as_deref().unwrap_or(""),
                )
            })
        }
        Target::SourceService | Target::DestinationService => {
            let s = if matches!(t, Target::SourceService) {
                &f.source_service
            } else {
                &f.destination_service
            };
            s.as_ref().map_or(("", ""), |s| {
                (
                    s.namespace.as_deref().unwrap_or(""),
                    s.name.as_deref().unwrap_or(""),
                )
            })
        }
    }
}

/// Builds the matcher.
pub fn matcher(entries: &[String], t: Target) -> Result<MatchFn, String> {
    let mut filters = Vec::with_capacity(entries.len());
    for e in entries {
        let (ns, prefix) = parse_namespace_name(e);
        if ns.is_empty() && prefix.is_empty() {
            return Err(format!(
                "invalid filter, must be [namespace/][<name>], got {e:?}"
            ));
        }
        filters.push((ns.to_string(), prefix.to_string()));
    }
    Ok(Box::new(move |ev| {
        let (ns, name) = names(ev, t);
        if ns.is_empty() && name.is_empty() {
            return false;
        }
        filters
            .iter()
            .any(|(fns, prefix)| name.starts_with(prefix.as_str()) && (fns.is_empty() || fns == ns))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_name_syntax() {
        assert_eq!(parse_namespace_name("kube-system/"), ("kube-system", ""));
        assert_eq!(parse_namespace_name("xwing"), ("default", "xwing"));
        assert_eq!(parse_namespace_name("/xwing"), ("", "xwing"));
        assert_eq!(parse_namespace_name("a/b/c"), ("a", "b"));
        assert_eq!(parse_namespace_name(""), ("", ""));
        assert_eq!(parse_namespace_name("/"), ("", ""));
    }
}
