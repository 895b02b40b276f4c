//! Closed-loop load: `concurrency` workers, each sending its next request as
//! soon as the previous answer is read, until a deadline or a request budget
//! is spent.
//!
//! Latencies are kept whole (one `Duration` per successful request) and
//! sorted once per cell; at a few seconds per cell that is at most a few
//! hundred thousand samples, so a histogram would save nothing worth its
//! approximation.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::identity::{Op, Target};

/// When a cell stops sending.
#[derive(Debug, Clone, Copy)]
pub enum Budget {
    /// Send until this much time has passed.
    Time(Duration),
    /// Send this many requests in total (over all workers).
    Requests(u64),
}

/// Measurements of one (operation, concurrency) cell.
#[derive(Debug, Clone)]
pub struct Cell {
    /// The operation.
    pub op: Op,
    /// Number of concurrent workers (and connections).
    pub concurrency: usize,
    /// Successful requests.
    pub ok: u64,
    /// Failed requests (transport errors and unexpected statuses).
    pub errors: u64,
    /// Wall time from the first request to the last answer.
    pub elapsed: Duration,
    /// Median latency of successful requests.
    pub p50: Duration,
    /// 99th percentile latency of successful requests.
    pub p99: Duration,
    /// The first error seen, to say why `errors` is not zero.
    pub first_error: Option<String>,
}

impl Cell {
    /// Successful requests per second.
    pub fn rate(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.ok as f64 / secs
        } else {
            0.0
        }
    }
}

#[derive(Default)]
struct WorkerResult {
    latencies: Vec<Duration>,
    errors: u64,
    first_error: Option<String>,
}

/// Runs one cell and returns its measurements.
pub async fn run_cell(target: Arc<Target>, op: Op, concurrency: usize, budget: Budget) -> Cell {
    run_cell_across(&[target], op, concurrency, budget).await
}

/// [`run_cell`] spread over several targets (the controllers of one
/// cloud): worker `w` sends to `targets[w % targets.len()]`.
pub async fn run_cell_across(
    targets: &[Arc<Target>],
    op: Op,
    concurrency: usize,
    budget: Budget,
) -> Cell {
    let remaining = Arc::new(AtomicU64::new(match budget {
        Budget::Requests(n) => n,
        Budget::Time(_) => u64::MAX,
    }));
    let started = Instant::now();
    let deadline = match budget {
        Budget::Time(d) => Some(started + d),
        Budget::Requests(_) => None,
    };
    let workers: Vec<_> = (0..concurrency.max(1))
        .map(|w| {
            let target = Arc::clone(&targets[w % targets.len()]);
            let remaining = Arc::clone(&remaining);
            tokio::spawn(async move { worker(&target, op, deadline, &remaining).await })
        })
        .collect();

    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    for handle in workers {
        match handle.await {
            Ok(result) => {
                latencies.extend(result.latencies);
                errors += result.errors;
                first_error = first_error.or(result.first_error);
            }
            Err(join_error) => {
                errors += 1;
                first_error = first_error.or(Some(format!("worker failed: {join_error}")));
            }
        }
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    Cell {
        op,
        concurrency,
        ok: latencies.len() as u64,
        errors,
        elapsed,
        p50: percentile(&latencies, 50.0),
        p99: percentile(&latencies, 99.0),
        first_error,
    }
}

async fn worker(
    target: &Target,
    op: Op,
    deadline: Option<Instant>,
    remaining: &AtomicU64,
) -> WorkerResult {
    let mut result = WorkerResult::default();
    loop {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        // Take one request from the shared budget (no-op for a time budget).
        if remaining
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_err()
        {
            break;
        }
        let sent = Instant::now();
        match target.call(op).await {
            Ok(()) => result.latencies.push(sent.elapsed()),
            Err(err) => {
                result.errors += 1;
                result.first_error.get_or_insert_with(|| err.to_string());
            }
        }
    }
    result
}

/// Nearest-rank percentile of sorted samples (zero when there are none).
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|&v| Duration::from_millis(v)).collect()
    }

    #[test]
    fn percentile_uses_nearest_rank() {
        let samples = ms(&(1..=100).collect::<Vec<_>>());
        assert_eq!(percentile(&samples, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&samples, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&ms(&[7]), 99.0), Duration::from_millis(7));
    }

    #[test]
    fn percentile_of_nothing_is_zero() {
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
    }
}
