//! Beijing time, the one clock every reader of these outputs thinks in,
//! whatever the server's zone. China has had no daylight saving time since
//! 1991, so a fixed UTC+8 offset is exact and needs no time-zone database.

use jiff::tz::{self, TimeZone};
use jiff::{Timestamp, ZonedDateTime};

fn beijing(ts: Timestamp) -> ZonedDateTime {
    ts.to_zoned_datetime(TimeZone::fixed(tz::offset(8)))
}

/// `2025-01-15 09:30`, for lists and tables.
pub fn beijing_minutes(ts: Timestamp) -> String {
    beijing(ts).strftime("%Y-%m-%d %H:%M").to_string()
}

/// `2025-01-15 09:30:00`.
pub fn beijing_seconds(ts: Timestamp) -> String {
    beijing(ts).strftime("%Y-%m-%d %H:%M:%S").to_string()
}

/// The calendar day in Beijing.
pub fn beijing_date(ts: Timestamp) -> jiff::civil::Date {
    beijing(ts).date()
}

/// Beijing time labelled with its offset so nobody has to guess, as alerts
/// print it: `2025-01-15 09:30:00 北京时间 (UTC+08:00)`.
pub fn reader_time(ts: Timestamp) -> String {
    format!("{} 北京时间 (UTC+08:00)", beijing_seconds(ts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beijing_is_utc_plus_eight() {
        let ts: Timestamp = "2024-12-31T16:05:09Z".parse().unwrap();
        assert_eq!(reader_time(ts), "2025-01-01 00:05:09 北京时间 (UTC+08:00)");
        assert_eq!(beijing_minutes(ts), "2025-01-01 00:05");
        assert_eq!(beijing_date(ts), jiff::civil::date(2025, 1, 1));
    }
}
