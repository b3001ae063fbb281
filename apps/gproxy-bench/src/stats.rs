//! Pure helpers with no IO: latency percentiles and the parsing of
//! `/proc/<pid>/stat` and `/proc/<pid>/status`.

use serde::Serialize;

/// Latency percentiles of one set of samples, in microseconds.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Percentiles {
    /// Number of samples.
    pub count: usize,
    /// Median.
    pub p50_us: f64,
    /// 90th percentile.
    pub p90_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// Largest sample.
    pub max_us: f64,
}

impl Percentiles {
    /// Percentiles of `samples_ns` (nanoseconds; sorted in place). All zero
    /// when there are no samples.
    pub fn of(samples_ns: &mut [u64]) -> Self {
        samples_ns.sort_unstable();
        let us = |q: f64| percentile(samples_ns, q) as f64 / 1000.0;
        Percentiles {
            count: samples_ns.len(),
            p50_us: us(0.50),
            p90_us: us(0.90),
            p99_us: us(0.99),
            max_us: us(1.0),
        }
    }

    /// `self - other`, percentile by percentile (the added latency of one
    /// path over another; not the percentile of paired differences).
    pub fn minus(&self, other: &Percentiles) -> Percentiles {
        Percentiles {
            count: self.count.min(other.count),
            p50_us: self.p50_us - other.p50_us,
            p90_us: self.p90_us - other.p90_us,
            p99_us: self.p99_us - other.p99_us,
            max_us: self.max_us - other.max_us,
        }
    }
}

/// The nearest-rank percentile `q` (0 < q <= 1) of ascending `sorted`; 0 for
/// an empty slice.
pub fn percentile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let n = sorted.len();
    // Nearest rank: the smallest value with at least q * n samples at or below it.
    let rank = (q.clamp(0.0, 1.0) * n as f64).ceil() as usize;
    sorted[rank.clamp(1, n) - 1]
}

/// CPU time of a process in clock ticks, user and system apart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ticks {
    /// `utime`.
    pub user: u64,
    /// `stime`.
    pub system: u64,
}

impl Ticks {
    /// User plus system.
    pub fn total(self) -> u64 {
        self.user + self.system
    }

    /// The ticks used since `earlier`.
    pub fn since(self, earlier: Ticks) -> Ticks {
        Ticks {
            user: self.user.saturating_sub(earlier.user),
            system: self.system.saturating_sub(earlier.system),
        }
    }
}

/// `utime` and `stime` (clock ticks, all threads, including exited ones)
/// from the text of `/proc/<pid>/stat`.
pub fn stat_cpu_ticks(stat: &str) -> Option<Ticks> {
    // `comm` (field 2) is in parentheses and may hold spaces or `)`: the
    // fields we want follow the last `)`. After it come field 3 (state), ...,
    // field 14 (utime), field 15 (stime).
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace().skip(11);
    let user = fields.next()?.parse().ok()?;
    let system = fields.next()?.parse().ok()?;
    Some(Ticks { user, system })
}

/// A `kB` value (e.g. `VmRSS`, `VmHWM`) or a count (`Threads`) from the text
/// of `/proc/<pid>/status`.
pub fn status_value(status: &str, key: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let (k, v) = line.split_once(':')?;
        if k != key {
            return None;
        }
        v.split_ascii_whitespace().next()?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.5), 50);
        assert_eq!(percentile(&v, 0.9), 90);
        assert_eq!(percentile(&v, 0.99), 99);
        assert_eq!(percentile(&v, 1.0), 100);
        assert_eq!(percentile(&[7], 0.99), 7);
        assert_eq!(percentile(&[], 0.5), 0);
        assert_eq!(percentile(&[1, 2, 3, 4], 0.5), 2);
        assert_eq!(percentile(&[1, 2, 3, 4], 0.51), 3);
    }

    #[test]
    fn percentiles_sort_and_subtract() {
        let mut a: Vec<u64> = (1..=1000).rev().map(|x| x * 1000).collect();
        let p = Percentiles::of(&mut a);
        assert_eq!(p.count, 1000);
        assert_eq!((p.p50_us, p.p99_us, p.max_us), (500.0, 990.0, 1000.0));
        let d = p.minus(&Percentiles {
            count: 10,
            p50_us: 100.0,
            p90_us: 100.0,
            p99_us: 90.0,
            max_us: 0.0,
        });
        assert_eq!((d.count, d.p50_us, d.p99_us), (10, 400.0, 900.0));
        assert_eq!(Percentiles::of(&mut []).p99_us, 0.0);
    }

    #[test]
    fn stat_ticks_survive_odd_process_names() {
        let stat = "4242 (gproxy) S 1 4242 4242 0 -1 4194560 1234 0 0 0 150 37 0 0 20 0 6 0 \
                    5000 123456 789 18446744073709551615";
        let t = stat_cpu_ticks(stat).unwrap();
        assert_eq!((t.user, t.system, t.total()), (150, 37, 187));
        let later = Ticks {
            user: 160,
            system: 40,
        };
        assert_eq!(later.since(t).total(), 13);
        let odd = "7 (a b) c)) R 1 7 7 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0 1 1 1";
        assert_eq!(stat_cpu_ticks(odd).map(Ticks::total), Some(11));
        assert_eq!(stat_cpu_ticks("garbage"), None);
        assert_eq!(stat_cpu_ticks("1 (x) S 1 2"), None);
    }

    #[test]
    fn status_values_are_found() {
        let status = "Name:\tgproxy\nVmHWM:\t   20480 kB\nVmRSS:\t   12345 kB\nThreads:\t5\n";
        assert_eq!(status_value(status, "VmRSS"), Some(12345));
        assert_eq!(status_value(status, "VmHWM"), Some(20480));
        assert_eq!(status_value(status, "Threads"), Some(5));
        assert_eq!(status_value(status, "VmSwap"), None);
    }
}
