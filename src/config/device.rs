//! Where a run trains: the CPU or one CUDA GPU. Parsed once, from the experiment's
//! `device`, the `--device` flag or the TUI's choice, and written as `cpu` or `cuda:N`
//! in experiment files and run manifests.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Device {
    #[default]
    Cpu,
    /// The GPU of this ordinal (`cuda` alone is the first, `cuda:0`).
    Cuda(usize),
}

impl Device {
    pub fn is_cuda(self) -> bool {
        matches!(self, Device::Cuda(_))
    }
}

impl FromStr for Device {
    type Err = String;

    /// `cpu`, `cuda` or `cuda:N`.
    fn from_str(text: &str) -> Result<Self, String> {
        let unknown = || format!("unknown device {text:?}: use \"cpu\" or \"cuda[:N]\"");
        match text.strip_prefix("cuda:") {
            Some(ordinal) if !ordinal.is_empty() && ordinal.bytes().all(|b| b.is_ascii_digit()) => {
                ordinal.parse().map(Device::Cuda).map_err(|_| unknown())
            }
            Some(_) => Err(unknown()),
            None if text == "cpu" => Ok(Device::Cpu),
            None if text == "cuda" => Ok(Device::Cuda(0)),
            None => Err(unknown()),
        }
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu => write!(f, "cpu"),
            Device::Cuda(ordinal) => write!(f, "cuda:{ordinal}"),
        }
    }
}

impl Serialize for Device {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Device {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::Device;

    #[test]
    fn parses_and_writes_back() {
        for (text, device, written) in
            [("cpu", Device::Cpu, "cpu"), ("cuda", Device::Cuda(0), "cuda:0"), ("cuda:3", Device::Cuda(3), "cuda:3")]
        {
            assert_eq!(text.parse::<Device>(), Ok(device));
            assert_eq!(device.to_string(), written);
        }
        for bad in ["gpu", "cuda:", "cuda:x", "cuda:-1", "CPU", "cuda:99999999999999999999999"] {
            assert_eq!(bad.parse::<Device>(), Err(format!("unknown device {bad:?}: use \"cpu\" or \"cuda[:N]\"")));
        }
    }
}
