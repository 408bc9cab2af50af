//! A criterion measurement of thread CPU time, shared by `benches/pipeline.rs`
//! and `bench/alternatives/benches/primitives.rs` (included with `#[path]`).

use std::time::Duration;

use criterion::Criterion;
use criterion::measurement::{Measurement, ValueFormatter, WallTime};

/// Thread CPU time as a criterion measurement. Unlike wall time it leaves
/// out the time this thread waits while other processes run, so figures from
/// a shared machine stay close to those of an idle one. Linux only.
pub struct ThreadCpuTime;

/// Wall time, kept for its formatter.
static WALL_TIME: WallTime = WallTime;

fn thread_cpu_now() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec that the call only writes to.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(status, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

impl Measurement for ThreadCpuTime {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        thread_cpu_now()
    }
    fn end(&self, started: Duration) -> Duration {
        thread_cpu_now().saturating_sub(started)
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        WALL_TIME.formatter()
    }
}

/// Runs `bench` with thread CPU time, or with wall time when the variable
/// `BENCH_CLOCK` is `wall`.
pub fn run_criterion(
    bench: fn(&mut Criterion<ThreadCpuTime>),
    bench_wall: fn(&mut Criterion<WallTime>),
) {
    if std::env::var("BENCH_CLOCK").as_deref() == Ok("wall") {
        let mut criterion = Criterion::default().configure_from_args();
        bench_wall(&mut criterion);
        criterion.final_summary();
    } else {
        let mut criterion = Criterion::default()
            .with_measurement(ThreadCpuTime)
            .configure_from_args();
        bench(&mut criterion);
        criterion.final_summary();
    }
}
