//! Importers: reading histories written in other tools' formats into a [`History`].
//!
//! - [`porcupine_etcd`]: porcupine's `test_data/jepsen/etcd_*.log` (Jepsen etcd cas-register logs).
//! - [`porcupine_kv`]: porcupine's `test_data/kv/*.txt` (EDN key/value logs with get/put/append).
//!
//! Both formats have no timestamps: line order is the clock, so each event's `time` and `index` are its
//! position. The mapping to Jepsen semantics is documented on each importer.

pub mod porcupine_etcd;
pub mod porcupine_kv;

use crate::history::{History, HistoryError};
use std::io::BufRead;

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A line does not have the expected shape.
    #[error("line {line}: {problem}")]
    Malformed {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        problem: String,
    },
    /// The lines parse but do not form a well-formed history, or reading failed.
    #[error(transparent)]
    History(#[from] HistoryError),
}

impl From<std::io::Error> for ImportError {
    fn from(e: std::io::Error) -> ImportError {
        ImportError::History(HistoryError::Io(e))
    }
}

/// A history file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// This project's JSON Lines (see `histories/README.md`).
    Jsonl,
    /// Porcupine's Jepsen etcd logs.
    PorcupineEtcd,
    /// Porcupine's key/value logs.
    PorcupineKv,
}

impl Format {
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::PorcupineEtcd => "porcupine-etcd",
            Format::PorcupineKv => "porcupine-kv",
        }
    }
}

/// Reads a history in `format`.
pub fn read_history(format: Format, reader: impl BufRead) -> Result<History, ImportError> {
    match format {
        Format::Jsonl => Ok(History::read_jsonl(reader)?),
        Format::PorcupineEtcd => porcupine_etcd::read(reader),
        Format::PorcupineKv => porcupine_kv::read(reader),
    }
}
