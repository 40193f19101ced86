//! Reading a task's log file for the page's live tail: the last [`TAIL_BYTES`] on the
//! first call, then whatever was appended since the offset the previous call returned.
//!
//! Known limits: a chunk is cut at a byte count, so a multi-byte character split at its
//! start or end shows as a replacement character; a file that shrank (rotated, which
//! the scheduler does not do) is read again from its tail.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// How much of a log the first read returns (its tail).
pub const TAIL_BYTES: u64 = 64 * 1024;
/// The most one follow-up read returns.
pub const MAX_CHUNK: u64 = 256 * 1024;

/// A piece of a log file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// Offset of its first byte.
    pub from: u64,
    /// Offset to ask from next time.
    pub next: u64,
    /// Bytes before `from` (or between the asked offset and `from`) were skipped.
    pub truncated: bool,
    /// The bytes, as text.
    pub text: String,
}

/// Reads `path` from offset `from` (its tail when `None`, or when the file is now
/// shorter than `from`), at most [`MAX_CHUNK`] bytes; when more than that was written
/// since `from`, the latest [`MAX_CHUNK`] bytes are returned and `truncated` is set.
pub fn read(path: &Path, from: Option<u64>) -> std::io::Result<Chunk> {
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let (start, truncated) = match from {
        Some(from) if from <= len && len - from <= MAX_CHUNK => (from, false),
        Some(from) if from <= len => (len - MAX_CHUNK, true),
        _ => (len.saturating_sub(TAIL_BYTES), len > TAIL_BYTES),
    };
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::with_capacity((len - start) as usize);
    file.take(len - start).read_to_end(&mut bytes)?;
    Ok(Chunk {
        from: start,
        next: start + bytes.len() as u64,
        truncated,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn tail_then_follow() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("backend-1.log");
        std::fs::write(&path, "one\ntwo\n").unwrap();

        let first = read(&path, None).unwrap();
        assert_eq!((first.from, first.next), (0, 8));
        assert_eq!(first.text, "one\ntwo\n");
        assert!(!first.truncated);

        // Nothing new: an empty chunk at the same offset.
        let idle = read(&path, Some(first.next)).unwrap();
        assert_eq!((idle.text.as_str(), idle.next), ("", 8));

        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(b"three\n").unwrap();
        let next = read(&path, Some(first.next)).unwrap();
        assert_eq!(next.text, "three\n");
        assert_eq!(next.next, 14);
    }

    #[test]
    fn a_long_log_gives_its_tail_and_a_long_gap_its_latest_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("backend-2.log");
        let line = "0123456789abcdef\n";
        let big = line.repeat(((MAX_CHUNK * 2) / line.len() as u64) as usize);
        std::fs::write(&path, &big).unwrap();
        let len = big.len() as u64;

        let tail = read(&path, None).unwrap();
        assert!(tail.truncated);
        assert_eq!(tail.from, len - TAIL_BYTES);
        assert_eq!(tail.text.len() as u64, TAIL_BYTES);

        let gap = read(&path, Some(0)).unwrap();
        assert!(gap.truncated);
        assert_eq!((gap.from, gap.next), (len - MAX_CHUNK, len));

        // An offset past the end (the file was replaced) starts over from the tail.
        let past = read(&path, Some(len + 10)).unwrap();
        assert_eq!(past.from, len - TAIL_BYTES);
    }

    #[test]
    fn a_missing_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = read(&dir.path().join("none.log"), None).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    }
}
