//! The access log (aws-behavior.md §1.8): one line per request, built from a format of
//! `$context` variables, written when the response has been sent, so that
//! `$context.responseLength` and `$context.responseLatency` cover the whole body.
//! Unset variables print `-`, as on AWS.
//!
//! Lines are handed to a writer thread over a channel, so a request never waits on the
//! file; the thread flushes whenever the channel runs dry, so a line reaches the file
//! within moments of its request.
//!
//! Known limits: lines still queued when the process is killed are lost; a write
//! error stops the log (with a warning) rather than the gateway.

use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};

use tokio::time::Instant;

use crate::context::{ContextVar, Piece, Record, parse_template};

/// A compiled log format and the channel to the writer.
#[derive(Debug)]
pub(crate) struct AccessLogger {
    format: Vec<Piece<ContextVar>>,
    lines: Sender<String>,
}

/// The writer's end, opened by [`open`].
pub(crate) type LogReceiver = Receiver<String>;

impl AccessLogger {
    /// Compiles `format`; the lines go to the returned receiver.
    pub(crate) fn new(format: &str) -> (AccessLogger, LogReceiver) {
        let format = parse_template(format, |name| {
            name.strip_prefix("context.").map(ContextVar::parse)
        });
        let (lines, receiver) = channel();
        (AccessLogger { format, lines }, receiver)
    }

    /// The line of `record`, with a trailing newline.
    pub(crate) fn render(&self, record: &Record) -> String {
        let mut line = String::with_capacity(160);
        for piece in &self.format {
            match piece {
                Piece::Text(text) => line.push_str(text),
                Piece::Var(var) => record.render(*var, &mut line, true),
            }
        }
        line.push('\n');
        line
    }
}

/// One request's line, waiting for its response to end.
#[derive(Debug)]
pub(crate) struct PendingLine {
    pub(crate) record: Record,
    pub(crate) logger: Arc<AccessLogger>,
    pub(crate) start: Instant,
}

impl PendingLine {
    /// Counts response body bytes.
    pub(crate) fn add_bytes(&mut self, n: u64) {
        *self.record.response_length.get_or_insert(0) += n;
    }

    /// Renders the line and queues it.
    pub(crate) fn write(mut self: Box<Self>) {
        self.record.response_latency = Some(self.start.elapsed());
        self.record.response_length.get_or_insert(0);
        let line = self.logger.render(&self.record);
        // The writer is gone only if its file failed; that was logged then.
        let _ = self.logger.lines.send(line);
    }
}

/// Opens `file` for appending (standard output when `None`) and starts the writer
/// thread draining `lines` into it.
pub(crate) fn open(file: Option<&Path>, lines: LogReceiver) -> io::Result<()> {
    let out: Box<dyn Write + Send> = match file {
        Some(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?;
            Box::new(io::BufWriter::new(file))
        }
        None => Box::new(io::BufWriter::new(io::stdout())),
    };
    std::thread::Builder::new()
        .name("albless-access-log".into())
        .spawn(move || write_lines(out, lines))?;
    Ok(())
}

fn write_lines(mut out: Box<dyn Write + Send>, lines: LogReceiver) {
    // Ends when every sender (the gateway) is gone.
    while let Ok(line) = lines.recv() {
        let mut result = out.write_all(line.as_bytes());
        while let (Ok(()), Ok(line)) = (&result, lines.try_recv()) {
            result = out.write_all(line.as_bytes());
        }
        if let Err(err) = result.and_then(|()| out.flush()) {
            tracing::warn!(error = %err, "access log write failed, log stopped");
            return;
        }
    }
    let _ = out.flush();
}
