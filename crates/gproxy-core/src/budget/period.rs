//! Calendar periods in a time zone.

use chrono::{DateTime, Datelike, Days, LocalResult, NaiveDate, TimeZone, Utc};

use crate::config::Period;

/// When the `period` containing `now` began and when the next begins
/// (`None` for `total`, which never resets), aligned on local midnight in
/// `tz`: a day, a week from Monday, a month from the 1st.
pub fn bounds(
    period: Period,
    now: DateTime<Utc>,
    tz: chrono_tz::Tz,
) -> (DateTime<Utc>, Option<DateTime<Utc>>) {
    let today = now.with_timezone(&tz).date_naive();
    let (start, next) = match period {
        Period::Total => return (DateTime::UNIX_EPOCH, None),
        Period::Daily => (today, today.checked_add_days(Days::new(1))),
        Period::Weekly => {
            let monday = today
                .checked_sub_days(Days::new(u64::from(today.weekday().num_days_from_monday())))
                .unwrap_or(today);
            (monday, monday.checked_add_days(Days::new(7)))
        }
        Period::Monthly => {
            let first = today.with_day(1).unwrap_or(today);
            let next = if first.month() == 12 {
                NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
            } else {
                NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
            };
            (first, next)
        }
    };
    (midnight(start, tz), next.map(|d| midnight(d, tz)))
}

/// The first instant of local day `day` in `tz`: its midnight, or where
/// a daylight-saving gap puts midnight, the first valid time after it.
fn midnight(day: NaiveDate, tz: chrono_tz::Tz) -> DateTime<Utc> {
    let at = |minutes: i64| {
        day.and_hms_opt(0, 0, 0)
            .map(|m| m + chrono::Duration::minutes(minutes))
    };
    for minutes in (0..=180).step_by(15) {
        let Some(local) = at(minutes) else { break };
        match tz.from_local_datetime(&local) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => {
                return t.with_timezone(&Utc);
            }
            LocalResult::None => {}
        }
    }
    // No zone skips three hours; midnight as UTC is the harmless fallback.
    day.and_hms_opt(0, 0, 0)
        .map_or(DateTime::UNIX_EPOCH, |m| m.and_utc())
}
