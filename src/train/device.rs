//! Whether a run's device can train, asked before the run loads its data: cudarc 0.9
//! panics, rather than returning an error, when the CUDA driver finds no GPU or the
//! ordinal does not exist, and a panic on the trainer thread cannot say "use the CPU".

use crate::config::Device;

/// Ok when `device` can train, else the message for the user.
#[cfg(feature = "cuda")]
pub fn check(device: Device) -> Result<(), String> {
    use cudarc::driver::result;
    let Device::Cuda(ordinal) = device else { return Ok(()) };
    let unusable = |why: String| format!("no usable GPU \"{device}\" ({why}): train with --device cpu");
    result::init().map_err(|e| unusable(format!("{e:?}")))?;
    let count = result::device::get_count().map_err(|e| unusable(format!("{e:?}")))?;
    if ordinal >= usize::try_from(count).unwrap_or(0) {
        return Err(unusable(format!("this machine has {count} GPU(s)")));
    }
    Ok(())
}

/// Without CUDA only the trainer tells: it refuses `cuda` with the build command.
#[cfg(not(feature = "cuda"))]
pub fn check(_device: Device) -> Result<(), String> {
    Ok(())
}

// Without CUDA `check` has nothing to decide (tests/trainer.rs checks the trainer's
// refusal); with it, the answers below hold on any machine, with or without a GPU.
#[cfg(all(test, feature = "cuda"))]
mod tests {
    use super::{Device, check};

    #[test]
    fn the_cpu_is_not_asked_about() {
        assert_eq!(check(Device::Cpu), Ok(()));
    }

    #[test]
    fn an_ordinal_beyond_the_machine_says_to_train_on_the_cpu() {
        let error = check(Device::Cuda(999_999)).expect_err("no machine has a millionth GPU");
        assert!(error.starts_with("no usable GPU \"cuda:999999\""), "{error}");
        assert!(error.ends_with("train with --device cpu"), "{error}");
    }
}
