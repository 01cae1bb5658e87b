//! Upper bounds on what a user's numbers may ask of the machine: memory for sizes
//! (layer widths, table rows, generated rows) and a thread count. Sizes are checked
//! against an estimate before anything is allocated, because an allocation that is too
//! large does not fail politely: Rust aborts the process ("memory allocation failed") or
//! panics ("capacity overflow") before any error can be reported. A bottom module:
//! `data`, `config` and `model` all use it.

/// Memory no estimate may exceed whatever the machine reports: a size beyond it is a
/// typing mistake rather than a model, and it keeps the check meaningful where the
/// available memory cannot be read.
pub const HARD_LIMIT_BYTES: f64 = (1u64 << 40) as f64;

/// Bytes a dense parameter costs while training: its value and Adam's two moments, f32.
pub const BYTES_PER_PARAMETER: f64 = 12.0;

/// Most threads a `threads` setting may ask for: rayon starts them all at once, and a
/// count far beyond any machine's cores only exhausts the process's thread limit.
pub const MAX_THREADS: usize = 1024;

/// Memory the system could give this process now: `MemAvailable` of /proc/meminfo (page
/// cache it can reclaim included), else the free RAM libc's sysinfo reports; None where
/// neither can be read.
pub fn available_bytes() -> Option<f64> {
    if let Ok(text) = std::fs::read_to_string("/proc/meminfo") {
        let kib = text
            .lines()
            .find_map(|line| line.strip_prefix("MemAvailable:")?.trim().strip_suffix("kB")?.trim().parse::<u64>().ok());
        if let Some(kib) = kib {
            return Some(kib as f64 * 1024.0);
        }
    }
    sysinfo_free_bytes()
}

#[cfg(target_os = "linux")]
fn sysinfo_free_bytes() -> Option<f64> {
    // SAFETY: sysinfo only writes into the zeroed struct it is given.
    let mut info: libc::sysinfo = unsafe { std::mem::zeroed() };
    // SAFETY: `info` is a valid, writable sysinfo struct.
    if unsafe { libc::sysinfo(&mut info) } != 0 {
        return None;
    }
    let unit = f64::from(info.mem_unit.max(1));
    Some((info.freeram as f64 + info.bufferram as f64) * unit)
}

#[cfg(not(target_os = "linux"))]
fn sysinfo_free_bytes() -> Option<f64> {
    None
}

/// Checks that `need` bytes fit: Err says how much more than what limit it is, as the
/// end of a sentence ("..., more than the 1.0 TiB apg-bench allows at most").
pub fn fits(need: f64) -> Result<(), String> {
    if need > HARD_LIMIT_BYTES {
        return Err(format!("more than the {} apg-bench allows at most", bytes(HARD_LIMIT_BYTES)));
    }
    match available_bytes() {
        Some(available) if need > available => {
            Err(format!("more than the {} of memory this machine has available now", bytes(available)))
        }
        _ => Ok(()),
    }
}

/// A byte count in binary units with three significant figures: `1.5 GiB`, `215 TiB`.
pub fn bytes(n: f64) -> String {
    const UNITS: [&str; 7] = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut value = n.max(0.0);
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    match unit {
        0 => format!("{value:.0} bytes"),
        _ if value >= 100.0 => format!("{value:.0} {}", UNITS[unit]),
        _ if value >= 10.0 => format!("{value:.1} {}", UNITS[unit]),
        _ => format!("{value:.2} {}", UNITS[unit]),
    }
}

/// Checks a `threads` setting against [`MAX_THREADS`] (callers say what 0 means).
pub fn check_threads(threads: usize) -> Result<(), String> {
    if threads > MAX_THREADS {
        return Err(format!("{threads} threads is more than the {MAX_THREADS} allowed"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts_read_in_binary_units() {
        assert_eq!(bytes(512.0), "512 bytes");
        assert_eq!(bytes(1536.0), "1.50 KiB");
        assert_eq!(bytes(HARD_LIMIT_BYTES), "1.00 TiB");
        assert_eq!(bytes(215.0 * HARD_LIMIT_BYTES), "215 TiB");
    }

    #[test]
    fn more_than_the_hard_limit_never_fits() {
        assert_eq!(fits(2.0 * HARD_LIMIT_BYTES), Err("more than the 1.00 TiB apg-bench allows at most".into()));
        assert_eq!(fits(1024.0), Ok(()));
    }
}
