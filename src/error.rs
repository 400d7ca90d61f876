//! Errors that carry their exit code: 0 everything delivered, 1 a runtime failure or data not delivered, 2 a
//! usage or configuration error. Commands return `Result<(), Error>`; `main` prints the error once and exits with
//! [`Error::exit_code`]. See ARCHITECTURE.md ("errors").

/// Process exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// 0: everything was delivered.
    Success = 0,
    /// 1: a runtime failure, or data that was not delivered.
    Failure = 1,
    /// 2: usage, configuration or manifest error.
    Usage = 2,
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration, flag or manifest error (already names the file, line or option).
    #[error("{0}")]
    Config(String),
    /// Something failed while running (I/O, a sink, a thread).
    #[error("{0}")]
    Runtime(String),
    /// The run finished but some records were not delivered (dead-lettered, or an input could not be read);
    /// the summary says which.
    #[error("{0}")]
    NotDelivered(String),
}

impl Error {
    /// The exit code this error means.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Config(_) => ExitCode::Usage,
            Error::Runtime(_) | Error::NotDelivered(_) => ExitCode::Failure,
        }
    }

    /// A runtime error with context.
    pub fn runtime(context: &str, e: impl std::fmt::Display) -> Self {
        Error::Runtime(format!("{context}: {e}"))
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Runtime(e.to_string())
    }
}
