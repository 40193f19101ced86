//! Task output as lines: split the engine's byte frames into lines, and the sink that
//! writes a task's lines to its log file and, when asked, to albless's stdout with a
//! prefix. The sink is public because the scheduler's process driver writes its tasks'
//! output through the same one, so both drivers keep logs alike.

use std::path::PathBuf;

use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

/// Collects bytes of one stream (stdout or stderr) and yields whole lines.
#[derive(Default)]
pub(crate) struct LineSplitter {
    partial: Vec<u8>,
}

impl LineSplitter {
    /// Adds `bytes`; returns the lines they complete, without `\n` or `\r\n`.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        for &b in bytes {
            if b == b'\n' {
                out.push(take_line(&mut self.partial));
            } else {
                self.partial.push(b);
            }
        }
        out
    }

    /// The last line when the stream ended without a newline.
    pub(crate) fn finish(&mut self) -> Option<String> {
        (!self.partial.is_empty()).then(|| take_line(&mut self.partial))
    }
}

fn take_line(buf: &mut Vec<u8>) -> String {
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    let line = String::from_utf8_lossy(buf).into_owned();
    buf.clear();
    line
}

/// Starts the writer of a task's output; lines sent to the returned channel go to
/// `log_file` (appended) and, with a prefix, to stdout as `<prefix> | <line>`.
pub fn spawn_sink(log_file: PathBuf, echo_prefix: Option<String>) -> mpsc::UnboundedSender<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(write_lines(rx, log_file, echo_prefix));
    tx
}

async fn write_lines(
    mut rx: mpsc::UnboundedReceiver<String>,
    path: PathBuf,
    echo_prefix: Option<String>,
) {
    let mut file = match tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .await
    {
        Ok(f) => Some(f),
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "cannot open task log file");
            None
        }
    };
    while let Some(line) = rx.recv().await {
        if let Some(prefix) = &echo_prefix {
            println!("{prefix} | {line}");
        }
        if let Some(f) = file.as_mut() {
            let _ = f.write_all(format!("{line}\n").as_bytes()).await;
        }
    }
    if let Some(f) = file.as_mut() {
        let _ = f.flush().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_frames_into_lines() {
        let mut s = LineSplitter::default();
        assert!(s.push(b"hel").is_empty());
        assert_eq!(s.push(b"lo\r\nwor"), vec!["hello"]);
        assert_eq!(s.push(b"ld\n\nlast"), vec!["world", ""]);
        assert_eq!(s.finish().as_deref(), Some("last"));
        assert_eq!(s.finish(), None);
    }

    #[tokio::test]
    async fn sink_appends_to_the_log_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("task.log");
        std::fs::write(&path, "before\n").unwrap();
        let tx = spawn_sink(path.clone(), None);
        tx.send("one".into()).unwrap();
        tx.send("two".into()).unwrap();
        drop(tx);
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let text = std::fs::read_to_string(&path).unwrap();
            if text == "before\none\ntwo\n" {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "log file holds {text:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}
