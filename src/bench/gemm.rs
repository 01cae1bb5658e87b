//! This machine's f32 GEMM peak, measured through the same dfdx matmul the models use
//! (gemm crate, rayon threads): square products of a few sizes, the best median wins.

use dfdx::prelude::*;

use std::time::{Duration, Instant};

use crate::bench::{Figure, Options, Sink, median, quiet};

/// Key of the peak figure; other sections read it to express their speed against it.
pub const PEAK_KEY: &str = "gemm.peak";

pub fn run(options: &Options, sink: &mut Sink) {
    let device = Cpu::seed_from_u64(0);
    let sizes: &[usize] = if options.quick { &[512, 1024] } else { &[256, 512, 1024, 2048] };
    let mut best: Option<(usize, f64)> = None;
    for &n in sizes {
        let a: Tensor<(usize, usize), f32, Cpu> = device.sample_normal_like(&(n, n));
        let b: Tensor<(usize, usize), f32, Cpu> = device.sample_normal_like(&(n, n));
        // Enough products per repetition for ~0.2 s at 50 GFLOP/s.
        let flops = 2.0 * (n * n * n) as f64;
        let calls = ((1e10 / flops).ceil() as usize).max(1);
        let product = || {
            for _ in 0..calls {
                std::hint::black_box(a.clone().matmul(b.clone()));
            }
        };
        product();
        // Repetitions while other processes ran are retried, as in the model section.
        let max_wait = if options.quick { Duration::ZERO } else { Duration::from_secs(30) };
        let rates = quiet::repeat_quietly(options.reps(), max_wait, || {
            let start = Instant::now();
            product();
            flops * calls as f64 / start.elapsed().as_secs_f64() / 1e9
        })
        .values();
        let rate = median(&rates);
        sink.push(
            Figure::new("gemm", format!("gemm.square.{n}"), format!("f32 GEMM {n}x{n}x{n}"), rate, "GFLOP/s")
                .samples(rates),
        );
        if best.is_none_or(|(_, r)| rate > r) {
            best = Some((n, rate));
        }
    }
    if let Some((n, rate)) = best {
        sink.push(
            Figure::new("gemm", PEAK_KEY, format!("f32 GEMM peak ({} thread(s))", options.threads), rate, "GFLOP/s")
                .note(format!("best median, at {n}x{n}x{n}")),
        );
    }
}
