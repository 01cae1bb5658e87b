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

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn the_cpu_always_trains() {
        assert_eq!(check("cpu"), Ok(()));
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cuda_is_left_to_the_trainer_in_a_build_without_it() {
        assert_eq!(check("cuda:0"), Ok(()));
    }
}
