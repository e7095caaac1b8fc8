//! Everything a test database holds, as text: every column of every table (SQLite), every row of
//! every table of the test's schema cast to text (PostgreSQL), and the raw bytes of the SQLite
//! file and its write-ahead log.

use oakallow_testkit::TestApp;
use sqlx::{Connection, Row};

/// One stored text and where it is (`table.column` or `table`).
pub struct Stored {
    pub place: String,
    pub text: String,
}

/// Every stored value of the app's database.
pub async fn everything(app: &TestApp) -> Vec<Stored> {
    match (app.database.sqlite_file(), app.database.postgres_url()) {
        (Some(file), _) => sqlite(&file),
        (None, Some(url)) => postgres(url).await,
        (None, None) => unreachable!("a test database is SQLite or PostgreSQL"),
    }
}

fn sqlite_text(value: rusqlite::types::ValueRef<'_>) -> String {
    use rusqlite::types::ValueRef;
    match value {
        ValueRef::Null => String::new(),
        ValueRef::Integer(n) => n.to_string(),
        ValueRef::Real(f) => f.to_string(),
        ValueRef::Text(bytes) | ValueRef::Blob(bytes) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

fn sqlite(file: &std::path::Path) -> Vec<Stored> {
    let db = rusqlite::Connection::open_with_flags(file, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").unwrap();
    let names: Vec<String> = tables.query_map([], |row| row.get(0)).unwrap().map(Result::unwrap).collect();
    assert!(names.iter().any(|n| n == "approvals"), "the schema is there: {names:?}");
    let mut stored = Vec::new();
    for table in names {
        let mut select = db.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let columns: Vec<String> = select.column_names().into_iter().map(str::to_owned).collect();
        let mut rows = select.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for (i, column) in columns.iter().enumerate() {
                stored.push(Stored { place: format!("{table}.{column}"), text: sqlite_text(row.get_ref(i).unwrap()) });
            }
        }
    }
    stored
}

async fn postgres(url: &str) -> Vec<Stored> {
    let mut db = sqlx::PgConnection::connect(url).await.unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    assert!(tables.iter().any(|n| n == "approvals"), "the schema is there: {tables:?}");
    let mut stored = Vec::new();
    for table in tables {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT t::text FROM \"{table}\" t"))).fetch_all(&mut db).await.unwrap();
        stored.extend(rows.iter().map(|row| Stored { place: table.clone(), text: row.get::<String, _>(0) }));
    }
    stored
}

/// The raw bytes of the SQLite file and its write-ahead log (empty on PostgreSQL).
pub fn raw_files(app: &TestApp) -> Vec<(String, Vec<u8>)> {
    let Some(file) = app.database.sqlite_file() else { return Vec::new() };
    let wal = file.with_extension("db-wal");
    vec![
        ("database file".to_owned(), std::fs::read(&file).unwrap()),
        ("write-ahead log".to_owned(), std::fs::read(wal).unwrap_or_default()),
    ]
}
