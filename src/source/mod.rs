//! Where bytes come from.

pub mod input;
