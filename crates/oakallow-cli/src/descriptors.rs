//! File descriptors: every open connection holds one, and a process that runs out of them can
//! no longer accept connections, open database files or send webhooks. `serve` raises the soft
//! limit to the hard limit at start and keeps the connection cap below it, with room to spare
//! for everything else.

/// Descriptors kept for everything but client connections: the database (files or pool), the
/// webhook sender's connections, the listener, logs and the runtime itself.
const RESERVED: u64 = 128;

/// Fewest connections the server accepts at once, however low the limit.
const MIN_CONNECTIONS: usize = 16;

/// Raises the soft limit on open files to the hard limit and answers the resulting soft limit
/// (`None` where it cannot be read).
#[cfg(unix)]
fn raise_open_files_limit() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let raised = rustix::process::Rlimit { current: limit.maximum, maximum: limit.maximum };
        if let Err(error) = setrlimit(Resource::Nofile, raised) {
            tracing::warn!(%error, "cannot raise the open files limit");
        }
    }
    getrlimit(Resource::Nofile).current
}

#[cfg(not(unix))]
fn raise_open_files_limit() -> Option<u64> {
    None
}

/// The connection cap to use: `configured`, lowered (with a warning) to what the open files
/// limit leaves after `database_connections` and the other reserved descriptors.
pub(crate) fn connection_cap(configured: usize, database_connections: u32) -> usize {
    let Some(open_files) = raise_open_files_limit() else { return configured };
    let room = open_files.saturating_sub(RESERVED + u64::from(database_connections));
    let fits = usize::try_from(room).unwrap_or(usize::MAX).max(MIN_CONNECTIONS);
    if fits < configured {
        tracing::warn!(
            open_files,
            configured,
            max_connections = fits,
            "the open files limit is too low for server.max_connections; accepting fewer connections"
        );
    }
    configured.min(fits)
}
