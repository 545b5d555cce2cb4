//! The native library's log output inside a JVM: records of the `log` facade go to the
//! application's logging (`log_forward`, set up by `BopNative.logTo`), or to standard error when
//! `VERTX_CLUSTER_LOG` names a level (`error`, `warn`, `info`, `debug`, `trace`). A Rust program
//! embedding the crate installs its own logger instead.

use std::io::Write;
use std::sync::Once;
use std::time::{SystemTime, UNIX_EPOCH};

use log::{LevelFilter, Log, Metadata, Record};

/// The variable that turns native logging on.
pub const ENV_LOG: &str = "VERTX_CLUSTER_LOG";

struct Stderr;

impl Log for Stderr {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let micros = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros());
        let thread = std::thread::current();
        let _ = writeln!(
            std::io::stderr().lock(),
            "{}.{:06} {:<5} [{}] {}: {}",
            micros / 1_000_000,
            micros % 1_000_000,
            record.level(),
            thread.name().unwrap_or("native"),
            record.target(),
            record.args()
        );
    }

    fn flush(&self) {}
}

/// Whether `VERTX_CLUSTER_LOG` asks for standard error (it then wins over the application's logging).
pub fn wants_stderr() -> bool {
    std::env::var_os(ENV_LOG).is_some()
}

/// The level a `logTo` call passes: 0 off, 1 error, 2 warn, 3 info, 4 debug, 5 trace.
pub fn level_of(code: i32) -> LevelFilter {
    match code {
        i32::MIN..=0 => LevelFilter::Off,
        1 => LevelFilter::Error,
        2 => LevelFilter::Warn,
        3 => LevelFilter::Info,
        4 => LevelFilter::Debug,
        _ => LevelFilter::Trace,
    }
}

/// The level `value` names, if it names one.
fn level(value: &str) -> Option<LevelFilter> {
    match value.trim().to_ascii_lowercase().as_str() {
        "off" => Some(LevelFilter::Off),
        "error" => Some(LevelFilter::Error),
        "warn" => Some(LevelFilter::Warn),
        "info" => Some(LevelFilter::Info),
        "debug" => Some(LevelFilter::Debug),
        "trace" => Some(LevelFilter::Trace),
        _ => None,
    }
}

/// Installs the standard-error logger once, if `VERTX_CLUSTER_LOG` asks for it and no other
/// logger is installed.
pub fn init_from_env() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let Ok(value) = std::env::var(ENV_LOG) else {
            return;
        };
        let Some(filter) = level(&value) else {
            eprintln!(
                "{ENV_LOG}={value:?} is not a log level (error, warn, info, debug, trace, off)"
            );
            return;
        };
        if log::set_logger(&Stderr).is_ok() {
            log::set_max_level(filter);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_read_case_blind_and_anything_else_is_refused() {
        assert_eq!(level("DEBUG"), Some(LevelFilter::Debug));
        assert_eq!(level(" warn "), Some(LevelFilter::Warn));
        assert_eq!(level("off"), Some(LevelFilter::Off));
        assert_eq!(level("verbose"), None);
        assert_eq!(level(""), None);
    }
}
