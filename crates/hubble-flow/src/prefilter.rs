//! Placeholder: the prefilter is being written.
