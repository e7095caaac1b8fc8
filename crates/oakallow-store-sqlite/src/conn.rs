//! Connections: one writer thread that owns the only writing connection (SQLite allows one
//! writer at a time, so every write is queued to it), and a small pool of read connections used
//! from blocking tasks. Every connection runs in WAL mode with `synchronous=FULL`.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};

use oakallow_store::{StoreError, StoreResult};
use rusqlite::{Connection, ErrorCode, OpenFlags};

/// A unit of work for the writer thread.
type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// Opens a connection with oakallow's settings.
pub(crate) fn open(path: &Path, read_only: bool) -> StoreResult<Connection> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags).map_err(map_error)?;
    conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(map_error)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA secure_delete = ON;",
    )
    .map_err(map_error)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// Handle to the writer thread. Jobs run one at a time, in order.
#[derive(Clone)]
pub(crate) struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the writer thread on `conn`. It stops when every handle is dropped, after
    /// finishing the jobs already queued.
    pub(crate) fn start(mut conn: Connection) -> StoreResult<Self> {
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("oakallow-sqlite-writer".into())
            .spawn(move || {
                for job in queue {
                    // A panicking job must not take the writer down: its transaction rolls back
                    // on unwind and its caller sees the dropped reply as an error.
                    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| job(&mut conn)));
                    if outcome.is_err() {
                        tracing::error!("a SQLite write job panicked; its transaction was rolled back");
                    }
                }
            })
            .map_err(|e| StoreError::Unavailable(format!("cannot start the writer thread: {e}")))?;
        Ok(Self { jobs })
    }

    /// Runs `work` on the writer connection and returns its result.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let _ = reply.send(work(conn));
        });
        self.jobs.send(job).map_err(|_| StoreError::Unavailable("the SQLite writer has stopped".into()))?;
        answer.await.map_err(|_| StoreError::Unavailable("the SQLite write did not complete".into()))?
    }
}

/// Idle read connections, opened on demand.
pub(crate) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

/// Most idle read connections kept open.
const MAX_IDLE_READERS: usize = 8;

impl Readers {
    pub(crate) fn new(path: PathBuf) -> Arc<Self> {
        Arc::new(Self { path, idle: Mutex::new(Vec::new()) })
    }

    /// Runs `work` on a read connection in a blocking task.
    pub(crate) async fn run<T: Send + 'static>(
        self: &Arc<Self>,
        work: impl FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let readers = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let mut conn = readers.take()?;
            let result = work(&mut conn);
            readers.give_back(conn);
            result
        })
        .await
        .map_err(|_| StoreError::Unavailable("a SQLite read did not complete".into()))?
    }

    fn take(&self) -> StoreResult<Connection> {
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        match idle {
            Some(conn) => Ok(conn),
            None => open(&self.path, true),
        }
    }

    fn give_back(&self, conn: Connection) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < MAX_IDLE_READERS
        {
            idle.push(conn);
        }
    }
}

/// Maps SQLite errors to store errors. Messages name constraints, never values.
pub(crate) fn map_error(error: rusqlite::Error) -> StoreError {
    match &error {
        rusqlite::Error::SqliteFailure(failure, message) => match failure.code {
            ErrorCode::ConstraintViolation => StoreError::Conflict(constraint_message(failure.extended_code, message.as_deref())),
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => StoreError::Unavailable("the database is busy".into()),
            ErrorCode::CannotOpen | ErrorCode::ReadOnly | ErrorCode::DiskFull | ErrorCode::SystemIoFailure => {
                StoreError::Unavailable(error.to_string())
            }
            _ => StoreError::Backend(error.to_string()),
        },
        rusqlite::Error::FromSqlConversionFailure(..) | rusqlite::Error::InvalidColumnType(..) => StoreError::Corrupt(error.to_string()),
        _ => StoreError::Backend(error.to_string()),
    }
}

fn constraint_message(extended: i32, message: Option<&str>) -> String {
    match extended {
        rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY => "the object is still referenced".into(),
        rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
            format!("duplicate: {}", message.unwrap_or("unique constraint"))
        }
        _ => message.unwrap_or("constraint violated").to_owned(),
    }
}
