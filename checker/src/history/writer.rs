//! Writes events as JSON Lines, refusing any event that would make the history malformed.
//!
//! The harness records through this writer, so a recorded history always parses back.

use super::{Event, Validator};
use std::io::{self, BufWriter, Write};

/// A JSON Lines event writer that validates as it goes.
#[derive(Debug)]
pub struct JsonlWriter<W: Write> {
    out: BufWriter<W>,
    validator: Validator,
    written: usize,
}

impl<W: Write> JsonlWriter<W> {
    /// A writer over `out` (buffered internally).
    pub fn new(out: W) -> JsonlWriter<W> {
        JsonlWriter {
            out: BufWriter::new(out),
            validator: Validator::default(),
            written: 0,
        }
    }

    /// Appends one event. An event that would make the history malformed is refused with
    /// `io::ErrorKind::InvalidInput` and nothing is written.
    pub fn write_event(&mut self, event: &Event) -> io::Result<()> {
        self.validator
            .push(event, self.written, self.written + 1)
            .map_err(|problem| io::Error::new(io::ErrorKind::InvalidInput, problem))?;
        serde_json::to_writer(&mut self.out, event).map_err(io::Error::other)?;
        self.out.write_all(b"\n")?;
        self.written += 1;
        Ok(())
    }

    /// How many events were written.
    pub fn written(&self) -> usize {
        self.written
    }

    /// Flushes buffered lines to the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Flushes and returns the underlying writer.
    pub fn into_inner(self) -> io::Result<W> {
        self.out.into_inner().map_err(|e| e.into_error())
    }
}
