//! Whether a run's device can train, asked before the run loads its data: cudarc 0.9
//! panics, rather than returning an error, when the CUDA driver finds no GPU or the
//! ordinal does not exist, and a panic on the trainer thread cannot say "use the CPU".

/// Ok when `device` can train, else the message for the user.
#[cfg(feature = "cuda")]
pub fn check(device: &str) -> Result<(), String> {
    use cudarc::driver::result;
    let Some(rest) = device.strip_prefix("cuda") else { return Ok(()) };
    let ordinal = match rest.strip_prefix(':') {
        Some(n) => n.parse().map_err(|_| format!("bad device {device:?}: use cuda or cuda:N"))?,
        None => 0,
    };
    let unusable = |why: String| format!("no usable GPU {device:?} ({why}): train with --device cpu");
    result::init().map_err(|e| unusable(format!("{e:?}")))?;
    let count = result::device::get_count().map_err(|e| unusable(format!("{e:?}")))?;
    if ordinal >= usize::try_from(count).unwrap_or(0) {
        return Err(unusable(format!("this machine has {count} GPU(s)")));
    }
    Ok(())
}

/// Without CUDA only the trainer tells: it refuses `cuda` with the build command.
#[cfg(not(feature = "cuda"))]
pub fn check(_device: &str) -> Result<(), String> {
    Ok(())
}

// Without CUDA `check` has nothing to decide (tests/trainer.rs checks the trainer's
// refusal); with it, the answers below hold on any machine, with or without a GPU.
#[cfg(all(test, feature = "cuda"))]
mod tests {
    use super::check;

    #[test]
    fn the_cpu_is_not_asked_about() {
        assert_eq!(check("cpu"), Ok(()));
    }

    #[test]
    fn a_bad_ordinal_is_refused_before_the_driver_is_asked() {
        assert_eq!(check("cuda:abc"), Err("bad device \"cuda:abc\": use cuda or cuda:N".to_string()));
    }

    #[test]
    fn an_ordinal_beyond_the_machine_says_to_train_on_the_cpu() {
        let error = check("cuda:999999").expect_err("no machine has a millionth GPU");
        assert!(error.starts_with("no usable GPU \"cuda:999999\""), "{error}");
        assert!(error.ends_with("train with --device cpu"), "{error}");
    }
}
