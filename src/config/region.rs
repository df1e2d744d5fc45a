//! The seven geographic regions provinces are grouped by: the compilation
//! orders by them, `--region` filters by them, and `sources.toml` names
//! them as 华东, 华北, 华中, 华南, 西南, 西北 and 东北.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The seven geographic regions used to group provinces in the compilation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Region {
    #[serde(rename = "华东")]
    EastChina,
    #[serde(rename = "华北")]
    NorthChina,
    #[serde(rename = "华中")]
    CentralChina,
    #[serde(rename = "华南")]
    SouthChina,
    #[serde(rename = "西南")]
    Southwest,
    #[serde(rename = "西北")]
    Northwest,
    #[serde(rename = "东北")]
    Northeast,
}

impl Region {
    pub const ALL: [Region; 7] = [
        Region::EastChina,
        Region::NorthChina,
        Region::CentralChina,
        Region::SouthChina,
        Region::Southwest,
        Region::Northwest,
        Region::Northeast,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Region::EastChina => "华东",
            Region::NorthChina => "华北",
            Region::CentralChina => "华中",
            Region::SouthChina => "华南",
            Region::Southwest => "西南",
            Region::Northwest => "西北",
            Region::Northeast => "东北",
        }
    }

    pub fn parse(s: &str) -> Option<Region> {
        Region::ALL.into_iter().find(|r| r.name() == s)
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
