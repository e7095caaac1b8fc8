//! Approval rules that do not need storage: how long an approval waits.

/// Shortest approval timeout, in seconds.
pub const MIN_TIMEOUT_SECONDS: u32 = 60;
/// Longest approval timeout (7 days), in seconds.
pub const MAX_TIMEOUT_SECONDS: u32 = 7 * 24 * 3600;
/// Timeout when nobody set one, in seconds.
pub const DEFAULT_TIMEOUT_SECONDS: u32 = 3600;

/// The request's timeout, else the tool's, else the org's, else one hour; always clamped to
/// 60 s … 7 days.
pub fn effective_timeout(request: Option<u32>, tool: Option<u32>, org: Option<u32>) -> u32 {
    request.or(tool).or(org).unwrap_or(DEFAULT_TIMEOUT_SECONDS).clamp(MIN_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_most_specific_timeout_and_clamps_it() {
        assert_eq!(effective_timeout(None, None, None), 3600);
        assert_eq!(effective_timeout(None, None, Some(120)), 120);
        assert_eq!(effective_timeout(None, Some(300), Some(120)), 300);
        assert_eq!(effective_timeout(Some(900), Some(300), Some(120)), 900);
        assert_eq!(effective_timeout(Some(1), None, None), 60);
        assert_eq!(effective_timeout(Some(u32::MAX), None, None), 604_800);
    }
}
