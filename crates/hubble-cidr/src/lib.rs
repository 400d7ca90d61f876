//! CIDR-group tables for hubble-ingest.
#![warn(missing_docs)]

pub mod group;
pub mod load;
pub mod prefix;
pub mod table;

pub use group::{Group, GroupSet, GroupSource, Origin};
pub use load::{
    load_groups, load_path, load_sources, Diagnostic, DiagnosticKind, LoadError, LoadedGroups,
    LoadedTable, Source,
};
pub use prefix::{Prefix, PrefixError};
pub use table::{GroupId, GroupInfo, Match, PrefixTable, TableStats};
