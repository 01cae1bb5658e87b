//! The trainer: runs on its own thread, reports [`Event`]s through a channel, and can be
//! paused, resumed and stopped.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;

use crate::config::Device;
use crate::config::experiment::LoadedExperiment;
use crate::data::LoadOptions;
use crate::train::Event;

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct TrainJob {
    pub experiment: LoadedExperiment,
    /// Overrides the experiment's seed.
    pub seed: u64,
    pub device: Device,
    /// Where the best model is saved (safetensors), if anywhere.
    pub checkpoint: Option<PathBuf>,
    pub load: LoadOptions,
}

const RUN: u8 = 0;
const PAUSE: u8 = 1;
const STOP: u8 = 2;

/// Shared between the trainer thread and its controllers.
#[derive(Debug, Default)]
pub struct Control(AtomicU8);

impl Control {
    pub fn pause(&self) {
        let _ = self.0.compare_exchange(RUN, PAUSE, Ordering::Relaxed, Ordering::Relaxed);
    }
    pub fn resume(&self) {
        let _ = self.0.compare_exchange(PAUSE, RUN, Ordering::Relaxed, Ordering::Relaxed);
    }
    /// Asks the trainer to stop at the next step; it still tests the best model so far.
    pub fn stop(&self) {
        self.0.store(STOP, Ordering::Relaxed);
    }
    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::Relaxed) == STOP
    }
    pub fn is_paused(&self) -> bool {
        self.0.load(Ordering::Relaxed) == PAUSE
    }
}

/// The caller's side of a running trainer.
pub struct TrainerHandle {
    pub events: Receiver<Event>,
    control: Arc<Control>,
    thread: Option<JoinHandle<()>>,
}

impl TrainerHandle {
    pub fn pause(&self) {
        self.control.pause();
    }
    pub fn resume(&self) {
        self.control.resume();
    }
    /// Asks the trainer to stop at the next step; it still tests the best model so far.
    pub fn stop(&self) {
        self.control.stop();
    }
    pub fn control(&self) -> Arc<Control> {
        self.control.clone()
    }
    /// Waits for the thread; an Err holds a panic message (a bug, reported not hidden).
    pub fn join(mut self) -> Result<(), String> {
        match self.thread.take().map(JoinHandle::join) {
            Some(Err(panic)) => Err(panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "the trainer panicked".into())),
            _ => Ok(()),
        }
    }
}

/// Starts training `job` on a new thread.
pub fn spawn(job: TrainJob) -> TrainerHandle {
    let (sender, events) = channel();
    let control = Arc::new(Control::default());
    let thread_control = control.clone();
    let thread = std::thread::Builder::new()
        .name("apg-trainer".into())
        .spawn(move || {
            let events: Sender<Event> = sender;
            let trained = crate::train::device::check(job.device)
                .and_then(|()| crate::train::run::train(&job, &thread_control, &events));
            if let Err(error) = trained {
                let _ = events.send(Event::Failed { error });
            }
        })
        .expect("a thread can be spawned");
    TrainerHandle { events, control, thread: Some(thread) }
}
