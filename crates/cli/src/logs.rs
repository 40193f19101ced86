//! `albless logs SERVICE [--follow]`: the output of a service's tasks, read from the
//! per-task log files in the state folder (`logs/<service>-<task id>.log`), each line
//! prefixed with the task's short id. With `--follow`, new lines and new tasks' files
//! are printed as they come, until Ctrl-C.
//!
//! Known limit: lines of different tasks are shown file by file (oldest file first),
//! not interleaved by time, since the files carry no timestamps.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use crate::control::StackArgs;

/// Options of `albless logs`.
#[derive(clap::Args)]
pub struct LogsArgs {
    /// The service (or RunTask family).
    service: String,
    #[command(flatten)]
    stack: StackArgs,
    /// Keep printing new lines.
    #[arg(long)]
    follow: bool,
}

/// Runs the command.
pub fn run(args: LogsArgs) -> anyhow::Result<ExitCode> {
    let dir = args.stack.state_dir().join("logs");
    anyhow::ensure!(
        dir.is_dir(),
        "no task logs in {} (has `albless up` run here?)",
        dir.display()
    );
    // A name with no log file yet must at least be a service of the stack file (a RunTask
    // family has a file as soon as its task starts): a typo is an error, not silence.
    if task_files(&dir, &args.service)?.is_empty() {
        let known = albless_spec::load(&args.stack.file)
            .map(|stack| stack.services.contains_key(&args.service))
            .unwrap_or(true);
        anyhow::ensure!(
            known,
            "no service `{}` in {} and no task logs for it in {}",
            args.service,
            args.stack.file.display(),
            dir.display()
        );
    }
    let mut offsets: HashMap<PathBuf, u64> = HashMap::new();
    let mut out = std::io::stdout().lock();
    loop {
        for file in task_files(&dir, &args.service)? {
            let offset = offsets.entry(file.clone()).or_insert(0);
            *offset = print_new_lines(&file, *offset, &mut out)?;
        }
        out.flush()?;
        if !args.follow {
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The service's log files, oldest first.
fn task_files(dir: &Path, service: &str) -> anyhow::Result<Vec<PathBuf>> {
    let prefix = format!("{service}-");
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            // `<service>-<32 hex>.log`: the id check keeps `api` from matching `api-v2-...`.
            name.strip_prefix(&prefix)
                .and_then(|r| r.strip_suffix(".log"))
                .is_some_and(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        })
        .map(|e| {
            (
                e.metadata()
                    .and_then(|m| m.created().or_else(|_| m.modified()))
                    .unwrap_or(std::time::UNIX_EPOCH),
                e.path(),
            )
        })
        .collect();
    files.sort();
    Ok(files.into_iter().map(|(_, p)| p).collect())
}

/// Prints the complete lines of `file` past `offset`; returns the new offset.
fn print_new_lines(file: &Path, offset: u64, out: &mut impl Write) -> anyhow::Result<u64> {
    let mut f = std::fs::File::open(file)?;
    f.seek(SeekFrom::Start(offset))?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)?;
    // A partly written last line waits for the next round.
    let complete = buf.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let name = file
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    let short = name
        .rsplit('-')
        .next()
        .map(|id| &id[..8.min(id.len())])
        .unwrap_or_default()
        .to_string();
    for line in String::from_utf8_lossy(&buf[..complete]).lines() {
        writeln!(out, "{short} | {line}")?;
    }
    Ok(offset + complete as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_only_complete_lines_of_the_service() {
        let dir = tempfile::tempdir().unwrap();
        let id = "0123456789abcdef0123456789abcdef";
        std::fs::write(dir.path().join(format!("api-{id}.log")), "one\ntwo\npart").unwrap();
        std::fs::write(dir.path().join(format!("api-v2-{id}.log")), "other\n").unwrap();
        let files = task_files(dir.path(), "api").unwrap();
        assert_eq!(files.len(), 1);
        let mut out = Vec::new();
        let offset = print_new_lines(&files[0], 0, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "01234567 | one\n01234567 | two\n"
        );
        assert_eq!(offset, 8);
    }
}
