//! Timestamps in JSON exactly as chrono's own `Serialize` writes them (RFC 3339, `Z`, fraction
//! of 0, 3, 6 or 9 digits, whichever is exact), without going through `core::fmt`: chrono's
//! formatter was more than half of the instructions spent rendering a book (two timestamps each).
//! Anything unusual (years outside 0..=9999, leap seconds) is left to chrono.

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::{Serialize, Serializer};

/// For `#[serde(serialize_with = "crate::timestamp::serialize")]`.
pub fn serialize<S: Serializer>(t: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    let mut buf = [0u8; 30];
    match render(t, &mut buf) {
        Some(len) => match std::str::from_utf8(&buf[..len]) {
            Ok(s) => serializer.serialize_str(s),
            Err(_) => t.serialize(serializer),
        },
        None => t.serialize(serializer),
    }
}

fn put2(buf: &mut [u8], at: usize, v: u32) {
    buf[at] = b'0' + (v / 10) as u8;
    buf[at + 1] = b'0' + (v % 10) as u8;
}

/// `YYYY-MM-DDTHH:MM:SS[.fff[fff[fff]]]Z` into `buf`; its length, or `None` to defer to chrono.
fn render(t: &DateTime<Utc>, buf: &mut [u8; 30]) -> Option<usize> {
    let year = t.year();
    let nanos = t.nanosecond();
    if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
        return None;
    }
    let year = year as u32;
    put2(buf, 0, year / 100);
    put2(buf, 2, year % 100);
    buf[4] = b'-';
    put2(buf, 5, t.month());
    buf[7] = b'-';
    put2(buf, 8, t.day());
    buf[10] = b'T';
    put2(buf, 11, t.hour());
    buf[13] = b':';
    put2(buf, 14, t.minute());
    buf[16] = b':';
    put2(buf, 17, t.second());
    let mut len = 19;
    let (digits, mut fraction) = if nanos == 0 {
        (0, 0)
    } else if nanos % 1_000_000 == 0 {
        (3, nanos / 1_000_000)
    } else if nanos % 1_000 == 0 {
        (6, nanos / 1_000)
    } else {
        (9, nanos)
    };
    if digits > 0 {
        buf[len] = b'.';
        for i in (0..digits).rev() {
            buf[len + 1 + i] = b'0' + (fraction % 10) as u8;
            fraction /= 10;
        }
        len += 1 + digits;
    }
    buf[len] = b'Z';
    Some(len + 1)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn ours(t: &DateTime<Utc>) -> String {
        let mut out = Vec::new();
        serialize(t, &mut serde_json::Serializer::new(&mut out)).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn same_text_as_chrono() {
        let mut cases = vec![
            Utc.with_ymd_and_hms(2026, 11, 25, 17, 18, 0).unwrap(),
            Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(-1, 6, 15, 12, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(5, 2, 3, 4, 5, 6).unwrap(),
        ];
        // Every fraction width, and values that look like a shorter one but are not.
        let base = Utc.with_ymd_and_hms(2024, 2, 29, 9, 8, 7).unwrap();
        for nanos in [
            1,
            9,
            10,
            999,
            1_000,
            1_001,
            120_000,
            123_456,
            999_999,
            1_000_000,
            1_000_001,
            5_000_000,
            123_456_000,
            123_456_789,
            500_000_000,
            999_999_999,
        ] {
            cases.push(base + chrono::Duration::nanoseconds(nanos));
        }
        // A spread of instants at microsecond precision, as PostgreSQL stores them.
        let mut x: i64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let micros = x.rem_euclid(253_402_300_799_000_000);
            cases.push(DateTime::from_timestamp_micros(micros).unwrap());
        }
        for t in cases {
            assert_eq!(ours(&t), serde_json::to_string(&t).unwrap(), "{t:?}");
        }
    }
}
