//! hubble-ingest library (pipeline being assembled).
