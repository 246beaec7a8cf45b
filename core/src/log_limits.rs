//! The bounds of a verification log search, shared by the API and the dashboard that shows them.

/// Without `from`, a search covers this many days before `to` (or now): a bounded default keeps
/// every read an index range over a few daily partitions.
pub const DEFAULT_RANGE_DAYS: i64 = 7;
/// The widest `from`..`to` a search may ask for (the default retention is 30 days).
pub const MAX_RANGE_DAYS: i64 = 31;
/// The most rows one export carries (newest first); narrow the range for older ones.
pub const MAX_EXPORT_ROWS: i64 = 100_000;
