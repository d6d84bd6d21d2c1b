//! UTC timestamps with microsecond precision, and the clock that produces them.
//!
//! Stored as fixed-width RFC 3339 text (`2026-11-23T09:15:35.123456Z`): legible in the
//! `sqlite3` shell, understood by SQLite's date functions, and sorted correctly by a plain
//! text comparison, so indexes on timestamp columns order rows in time.
//!
//! ```
//! use chatstore::Timestamp;
//! use std::time::Duration;
//!
//! let t: Timestamp = "2026-02-15T14:20:00.000000Z".parse().unwrap();
//! assert_eq!((t + Duration::from_secs(90)).to_string(), "2026-02-15T14:21:30.000000Z");
//! ```

use std::fmt;
use std::ops::{Add, Sub};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use time::{Month, OffsetDateTime};

use crate::Error;

/// A point in time, UTC, to the microsecond, within years 0001–9999.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// Microseconds between 0001-01-01T00:00:00Z and the Unix epoch.
const MIN_MICROS: i64 = -62_135_596_800_000_000;
/// Microseconds between the Unix epoch and 9999-12-31T23:59:59.999999Z.
const MAX_MICROS: i64 = 253_402_300_799_999_999;

impl Timestamp {
    /// The earliest representable timestamp (0001-01-01).
    pub const MIN: Timestamp = Timestamp(MIN_MICROS);
    /// The latest representable timestamp (9999-12-31).
    pub const MAX: Timestamp = Timestamp(MAX_MICROS);

    /// The current system time.
    pub fn now() -> Timestamp {
        Timestamp::from_offset_date_time(OffsetDateTime::now_utc())
    }

    /// A timestamp from microseconds since the Unix epoch, if it lies in years 0001–9999.
    pub fn from_unix_micros(micros: i64) -> Result<Timestamp, Error> {
        if (MIN_MICROS..=MAX_MICROS).contains(&micros) {
            Ok(Timestamp(micros))
        } else {
            Err(Error::validation(
                "timestamp",
                format!("{micros} µs since the Unix epoch is outside years 0001-9999"),
            ))
        }
    }

    /// Microseconds since the Unix epoch.
    pub const fn unix_micros(self) -> i64 {
        self.0
    }

    /// Converts from [`OffsetDateTime`], dropping sub-microsecond digits and clamping
    /// to years 0001–9999.
    pub fn from_offset_date_time(value: OffsetDateTime) -> Timestamp {
        let micros = value.unix_timestamp_nanos().div_euclid(1000);
        Timestamp(micros.clamp(i128::from(MIN_MICROS), i128::from(MAX_MICROS)) as i64)
    }

    /// Converts to [`OffsetDateTime`] (UTC).
    pub fn to_offset_date_time(self) -> OffsetDateTime {
        // In range by construction, so the conversion cannot fail.
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// The UTC calendar day, as `YYYY-MM-DD`.
    pub fn date_string(self) -> String {
        let mut text = self.to_string();
        text.truncate(10);
        text
    }

    /// The time elapsed from `earlier` to `self`, or zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Timestamp) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0).max(0) as u64)
    }

    /// Parses the stored form `YYYY-MM-DDTHH:MM:SS.ffffffZ` directly: this runs for every
    /// timestamp column of every row read, so it avoids the general RFC 3339 parser.
    fn parse_fixed(text: &[u8]) -> Option<Timestamp> {
        if text.len() != 27 {
            return None;
        }
        let separators = [
            (4, b'-'),
            (7, b'-'),
            (10, b'T'),
            (13, b':'),
            (16, b':'),
            (19, b'.'),
            (26, b'Z'),
        ];
        if separators.iter().any(|&(at, byte)| text[at] != byte) {
            return None;
        }
        let number = |from: usize, to: usize| -> Option<i64> {
            text[from..to].iter().try_fold(0i64, |acc, &b| {
                b.is_ascii_digit().then(|| acc * 10 + i64::from(b - b'0'))
            })
        };
        let (year, month, day) = (number(0, 4)?, number(5, 7)?, number(8, 10)?);
        let (hour, minute, second) = (number(11, 13)?, number(14, 16)?, number(17, 19)?);
        let month_ok = Month::try_from(month as u8).ok()?;
        let valid = year >= 1
            && (1..=i64::from(time::util::days_in_month(month_ok, year as i32))).contains(&day)
            && hour < 24
            && minute < 60
            && second < 60;
        if !valid {
            return None;
        }
        let seconds =
            days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
        Some(Timestamp(seconds * 1_000_000 + number(20, 26)?))
    }
}

/// Days from 1970-01-01 to the given proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

impl fmt::Display for Timestamp {
    /// The stored form, `YYYY-MM-DDTHH:MM:SS.ffffffZ`, written digit by digit: every
    /// write formats one, and `write!` with padded fields costs ten times as much.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = self.to_offset_date_time();
        let (year, month, day) = value.to_calendar_date();
        let (hour, minute, second, micro) = value.to_hms_micro();
        let mut text = *b"0000-00-00T00:00:00.000000Z";
        for (at, len, number) in [
            (0, 4, year.unsigned_abs()),
            (5, 2, u32::from(month as u8)),
            (8, 2, u32::from(day)),
            (11, 2, u32::from(hour)),
            (14, 2, u32::from(minute)),
            (17, 2, u32::from(second)),
            (20, 6, micro),
        ] {
            put_digits(&mut text[at..at + len], number);
        }
        // Only ASCII digits and separators were written.
        f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

/// Writes the last `out.len()` decimal digits of `number` into `out`, zero-padded.
fn put_digits(out: &mut [u8], mut number: u32) {
    for digit in out.iter_mut().rev() {
        *digit = b'0' + (number % 10) as u8;
        number /= 10;
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Timestamp {
    type Err = Error;

    /// Parses the stored form quickly, and any other RFC 3339 timestamp more slowly.
    fn from_str(text: &str) -> Result<Timestamp, Error> {
        if let Some(value) = Timestamp::parse_fixed(text.as_bytes()) {
            return Ok(value);
        }
        OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .map(Timestamp::from_offset_date_time)
            .map_err(|e| {
                Error::validation(
                    "timestamp",
                    format!(
                        "{:?} is not an RFC 3339 timestamp: {e}",
                        text.chars().take(40).collect::<String>()
                    ),
                )
            })
    }
}

impl Add<Duration> for Timestamp {
    type Output = Timestamp;

    /// Adds a duration, saturating at [`Timestamp::MAX`].
    fn add(self, rhs: Duration) -> Timestamp {
        let micros = i64::try_from(rhs.as_micros()).unwrap_or(i64::MAX);
        Timestamp(self.0.saturating_add(micros).min(MAX_MICROS))
    }
}

impl Sub<Duration> for Timestamp {
    type Output = Timestamp;

    /// Subtracts a duration, saturating at [`Timestamp::MIN`].
    fn sub(self, rhs: Duration) -> Timestamp {
        let micros = i64::try_from(rhs.as_micros()).unwrap_or(i64::MAX);
        Timestamp(self.0.saturating_sub(micros).max(MIN_MICROS))
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Where "now" comes from. Stores read it for every timestamp they write, so tests (and
/// hosts that replay events) can control time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that only moves when told to; clones share the same time.
///
/// ```
/// use chatstore::{Clock, ManualClock, Timestamp};
/// use std::time::Duration;
///
/// let clock = ManualClock::new("2026-01-01T00:00:00Z".parse().unwrap());
/// clock.advance(Duration::from_secs(3600));
/// assert_eq!(clock.now().to_string(), "2026-01-01T01:00:00.000000Z");
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: Timestamp) -> ManualClock {
        ManualClock(Arc::new(AtomicI64::new(start.unix_micros())))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let next = self.now() + by;
        self.set(next);
    }

    /// Sets the clock to `to` (which may be in the past).
    pub fn set(&self, to: Timestamp) {
        self.0.store(to.unix_micros(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_is_fixed_width_and_round_trips() {
        for micros in [0, 1, -1, 1_771_164_000_123_456, MIN_MICROS, MAX_MICROS] {
            let t = Timestamp::from_unix_micros(micros).unwrap();
            let text = t.to_string();
            assert_eq!(text.len(), 27, "{text}");
            assert_eq!(text.parse::<Timestamp>().unwrap(), t);
        }
        for (t, text) in [
            (Timestamp::MIN, "0001-01-01T00:00:00.000000Z"),
            (Timestamp::MAX, "9999-12-31T23:59:59.999999Z"),
            (Timestamp(0), "1970-01-01T00:00:00.000000Z"),
            (Timestamp(-1), "1969-12-31T23:59:59.999999Z"),
            (
                Timestamp(1_771_164_000_123_456),
                "2026-02-15T14:00:00.123456Z",
            ),
        ] {
            assert_eq!(t.to_string(), text);
        }
    }

    #[test]
    fn text_order_is_time_order() {
        let a = Timestamp::from_unix_micros(1_000_000).unwrap();
        let b = Timestamp::from_unix_micros(1_000_001).unwrap();
        let c = Timestamp::from_unix_micros(10_000_000).unwrap();
        assert!(a.to_string() < b.to_string() && b.to_string() < c.to_string());
    }

    #[test]
    fn other_rfc3339_forms_parse_and_garbage_does_not() {
        let t: Timestamp = "2026-02-15T14:20:00+01:00".parse().unwrap();
        assert_eq!(t.to_string(), "2026-02-15T13:20:00.000000Z");
        for bad in [
            "",
            "yesterday",
            "2026-13-01T00:00:00.000000Z",
            "2026-02-30T00:00:00Z",
        ] {
            assert!(bad.parse::<Timestamp>().is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn fast_parse_agrees_with_the_rfc3339_parser(micros in MIN_MICROS..=MAX_MICROS) {
            let t = Timestamp(micros);
            let text = t.to_string();
            let general = OffsetDateTime::parse(&text, &time::format_description::well_known::Rfc3339)
                .map(Timestamp::from_offset_date_time)
                .expect("RFC 3339");
            proptest::prop_assert_eq!(Timestamp::parse_fixed(text.as_bytes()), Some(general));
            proptest::prop_assert_eq!(general, t);
        }
    }

    #[test]
    fn leap_days_are_checked() {
        assert!("2024-02-29T00:00:00.000000Z".parse::<Timestamp>().is_ok());
        assert!("2023-02-29T00:00:00.000000Z".parse::<Timestamp>().is_err());
        assert!("2023-04-31T00:00:00.000000Z".parse::<Timestamp>().is_err());
        assert!("2023-04-30T24:00:00.000000Z".parse::<Timestamp>().is_err());
    }

    #[test]
    fn arithmetic_saturates_at_the_range_ends() {
        assert_eq!(Timestamp::MAX + Duration::from_secs(1), Timestamp::MAX);
        assert_eq!(Timestamp::MIN - Duration::MAX, Timestamp::MIN);
        assert!(Timestamp::from_unix_micros(MAX_MICROS + 1).is_err());
    }
}
