//! What a person sees while albless works on AWS: lines on stdout, a spinner with the
//! elapsed time on stderr (drawn only on a terminal), and the yes/no question before a
//! change is applied or a stack destroyed.
//!
//! The question is asked only on a terminal: without one, the answer must come from
//! `--yes`, and the command refuses rather than guessing ([`Error::NeedsYes`]).

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::Error;

/// Output and questions for one command.
#[derive(Debug)]
pub struct Console {
    yes: bool,
    started: Instant,
    bar: ProgressBar,
}

impl Console {
    /// A console; `yes` answers every question with yes (`--yes`).
    pub fn new(yes: bool) -> Console {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        Console {
            yes,
            started: Instant::now(),
            bar,
        }
    }

    /// Time since the console was made (the command started).
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Prints a line on stdout, above the spinner.
    pub fn line(&self, text: impl AsRef<str>) {
        self.bar.suspend(|| println!("{}", text.as_ref()));
    }

    /// Sets the spinner's message and keeps it turning.
    pub fn spin(&self, message: impl Into<String>) {
        self.bar.set_message(message.into());
        self.bar.enable_steady_tick(Duration::from_millis(120));
    }

    /// Stops the spinner.
    pub fn stop(&self) {
        self.bar.finish_and_clear();
    }

    /// Asks `question`; `Ok(())` on yes. With `--yes`, yes without asking; without a
    /// terminal on stdin, [`Error::NeedsYes`]; on any answer but y/yes, [`Error::Declined`].
    pub fn confirm(&self, action: &'static str, question: &str) -> Result<(), Error> {
        if self.yes {
            return Ok(());
        }
        if !std::io::stdin().is_terminal() {
            return Err(Error::NeedsYes(action));
        }
        let answer = self.bar.suspend(|| {
            print!("{question} [y/N] ");
            let _ = std::io::stdout().flush();
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).map(|_| line)
        });
        match answer.map(|a| a.trim().to_ascii_lowercase()) {
            Ok(a) if a == "y" || a == "yes" => Ok(()),
            _ => Err(Error::Declined),
        }
    }
}
