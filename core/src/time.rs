//! Calendar helpers without a clock: formatting unix seconds for explanations and validating
//! RFC 3339 timestamps for `datetime` attributes. Pure arithmetic, so the core stays wasm-safe.

/// Formats unix seconds as an RFC 3339 UTC timestamp (`2024-01-02T03:04:05Z`) for explanations.
pub fn format_unix(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, (rem % 3600) / 60, rem % 60)
}

/// Formats a JSON NumericDate (possibly fractional) like [`format_unix`], rounding down.
pub(crate) fn format_numeric_date(secs: f64) -> String {
    // `as` saturates on out-of-range floats, which is fine for a human-readable message.
    format_unix(secs.floor() as i64)
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Whether `s` is an RFC 3339 `date-time` (§5.6): `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`, with
/// real calendar ranges (leap years, second 60 allowed for leap seconds, `t`/`z` accepted).
pub fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<u32> {
        let digits = b.get(from..from + len)?;
        digits.iter().try_fold(0u32, |acc, &c| c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0')))
    };
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    let (Some(year), Some(month), Some(day)) = (num(0, 4), num(5, 2), num(8, 2)) else {
        return false;
    };
    let (Some(hour), Some(minute), Some(second)) = (num(11, 2), num(14, 2), num(17, 2)) else {
        return false;
    };
    let separators = at(4, b'-') && at(7, b'-') && (at(10, b'T') || at(10, b't'));
    if !separators || !at(13, b':') || !at(16, b':') {
        return false;
    }
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return false;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return false;
    }
    let mut i = 19;
    if at(i, b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    match b.get(i) {
        Some(b'Z' | b'z') => i + 1 == b.len(),
        Some(b'+' | b'-') => {
            let (Some(oh), Some(om)) = (num(i + 1, 2), num(i + 4, 2)) else {
                return false;
            };
            at(i + 3, b':') && oh <= 23 && om <= 59 && i + 6 == b.len()
        }
        _ => false,
    }
}

/// Days in `month` of `year` (Gregorian).
fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => 29,
        2 => 28,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unix seconds format as UTC RFC 3339, including the epoch, a leap day and before 1970.
    #[test]
    fn formats_unix_seconds() {
        assert_eq!(format_unix(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_unix(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(format_unix(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_unix(-1), "1969-12-31T23:59:59Z");
        assert_eq!(format_numeric_date(1_700_000_000.9), "2023-11-14T22:13:20Z");
    }

    /// Valid RFC 3339 date-times are accepted.
    #[test]
    fn accepts_rfc3339() {
        for ok in [
            "2024-02-29T12:00:00Z",
            "2024-01-01t00:00:00z",
            "2023-12-31T23:59:60Z",
            "2024-05-06T07:08:09.123456+02:00",
            "2024-05-06T07:08:09-11:30",
        ] {
            assert!(is_rfc3339(ok), "{ok}");
        }
    }

    /// Malformed or out-of-range timestamps are refused.
    #[test]
    fn rejects_non_rfc3339() {
        for bad in [
            "",
            "2024-02-30T12:00:00Z",
            "2023-02-29T12:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-01-01 00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:00:00",
            "2024-01-01T00:00:00.Z",
            "2024-01-01T00:00:00+0200",
            "2024-01-01T00:00:00Z ",
            "2024-01-01",
            "1700000000",
        ] {
            assert!(!is_rfc3339(bad), "{bad}");
        }
    }
}
