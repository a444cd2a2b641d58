//! When a run must stop early: SIGINT/SIGTERM ([`Interrupt`]) or the MAX_RUN_MINUTES deadline.
//! Either way no new page is started, the commit in flight finishes, the state is saved and the
//! next run goes on. Owns only the flags; the pipeline decides what stopping means.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Set by SIGINT/SIGTERM (or by a test).
#[derive(Debug, Clone, Default)]
pub struct Interrupt(Arc<AtomicBool>);

impl Interrupt {
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    pub fn set(&self) {
        self.0.store(true, Ordering::SeqCst)
    }

    /// Install SIGINT/SIGTERM handlers that set this flag.
    pub fn install_signal_handlers(&self) {
        let flag = self.clone();
        tokio::spawn(async move {
            #[cfg(unix)]
            {
                use tokio::signal::unix::{signal, SignalKind};
                let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt()))
                else {
                    return;
                };
                tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
            }
            #[cfg(not(unix))]
            {
                let _ = tokio::signal::ctrl_c().await;
            }
            tracing::warn!("interrupted: finishing the page being committed, saving state, then stopping");
            flag.set();
        });
    }
}

/// Why a run stops before its work is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Interrupted,
    Deadline,
}

/// The run's stop conditions.
#[derive(Debug, Clone)]
pub struct Control {
    pub interrupt: Interrupt,
    deadline: Option<(Instant, Duration)>,
    /// Set when a task hit an error that dooms the run (a revoked token).
    fatal: Arc<AtomicBool>,
}

impl Control {
    pub fn new(interrupt: Interrupt, max_run: Option<Duration>) -> Control {
        Control { interrupt, deadline: max_run.map(|d| (Instant::now() + d, d)), fatal: Arc::default() }
    }

    /// Why the run must stop now, if it must.
    pub fn stop(&self) -> Option<Stop> {
        if self.interrupt.is_set() || self.fatal.load(Ordering::SeqCst) {
            return Some(Stop::Interrupted);
        }
        match self.deadline {
            Some((at, _)) if Instant::now() >= at => Some(Stop::Deadline),
            _ => None,
        }
    }

    pub fn set_fatal(&self) {
        self.fatal.store(true, Ordering::SeqCst)
    }

    pub fn is_fatal(&self) -> bool {
        self.fatal.load(Ordering::SeqCst)
    }

    /// The configured run limit (for messages).
    pub fn limit(&self) -> Option<Duration> {
        self.deadline.map(|(_, d)| d)
    }
}
