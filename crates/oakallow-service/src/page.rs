//! Pagination: `?limit=` (default 50, at most 500) and an opaque `cursor`; every list answers
//! `{data, next_cursor}`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;

use crate::error::{ServiceError, ServiceResult};

/// Default page size.
pub const DEFAULT_LIMIT: u32 = 50;
/// Largest page size.
pub const MAX_LIMIT: u32 = 500;

/// A page request as it arrives.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    /// Requested size.
    pub limit: Option<u32>,
    /// Cursor from a previous page.
    pub cursor: Option<String>,
}

impl PageRequest {
    /// The size to use, or 400 if out of range.
    pub fn limit(&self) -> ServiceResult<u32> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(limit) if (1..=MAX_LIMIT).contains(&limit) => Ok(limit),
            Some(_) => Err(ServiceError::invalid(format!("limit must be between 1 and {MAX_LIMIT}"))),
        }
    }

    /// The decoded cursor, or 400 if it is not one of ours.
    pub fn position(&self) -> ServiceResult<Option<String>> {
        let Some(cursor) = &self.cursor else { return Ok(None) };
        let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| ServiceError::invalid("cursor is not valid"))?;
        String::from_utf8(bytes).map(Some).map_err(|_| ServiceError::invalid("cursor is not valid"))
    }

    /// The decoded cursor parsed as `T`, or 400.
    pub fn position_as<T: std::str::FromStr>(&self) -> ServiceResult<Option<T>> {
        self.position()?.map(|p| p.parse().map_err(|_| ServiceError::invalid("cursor is not valid"))).transpose()
    }
}

/// Encodes a position as an opaque cursor.
pub fn cursor(position: &str) -> String {
    URL_SAFE_NO_PAD.encode(position)
}

/// One page of a list.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    /// The items.
    pub data: Vec<T>,
    /// Cursor of the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// A page from up to `limit + 1` fetched items: the extra one only proves there is more.
    pub fn from_probe(mut items: Vec<T>, limit: u32, position_of: impl Fn(&T) -> String) -> Self {
        let more = items.len() > limit as usize;
        items.truncate(limit as usize);
        let next_cursor = if more { items.last().map(|last| cursor(&position_of(last))) } else { None };
        Self { data: items, next_cursor }
    }
}
