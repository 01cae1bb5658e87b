//! Trains one experiment file headlessly and prints the events (development aid).
use apg_bench::config::experiment::LoadedExperiment;
use apg_bench::train::trainer::{TrainJob, spawn};

fn main() {
    let path = std::env::args().nth(1).expect("experiment path");
    let experiment = LoadedExperiment::from_file(std::path::Path::new(&path)).unwrap_or_else(|e| panic!("{e}"));
    let seed = experiment.experiment.seed;
    let handle = spawn(TrainJob {
        experiment,
        seed,
        device: apg_bench::config::Device::Cpu,
        checkpoint: None,
        load: Default::default(),
    });
    for event in handle.events.iter() {
        println!("{}", serde_json::to_string(&event).unwrap());
    }
    handle.join().unwrap();
}
