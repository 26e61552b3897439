//! Standard output of a command. A reader that went away (`kgdb-host … | head`) ends the output
//! quietly, and the command keeps its usual status; any other failure to write (a full device)
//! is the command's one `error:` line. Nothing here panics, unlike `println!`.

use std::fmt;
use std::io::{self, Write};

use super::Failure;

/// What a write's outcome means for the command.
pub(super) fn result(outcome: io::Result<()>) -> Result<(), Failure> {
    match outcome {
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(error) => Err(Failure(format!("writing to standard output: {error}"))),
        Ok(()) => Ok(()),
    }
}

/// Writes `args` and a newline to standard output.
pub(super) fn line(args: fmt::Arguments<'_>) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    result(
        out.write_fmt(args)
            .and_then(|()| out.write_all(b"\n"))
            .and_then(|()| out.flush()),
    )
}

/// Writes `text` to standard output as it is.
pub(super) fn text(text: &str) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    result(out.write_all(text.as_bytes()).and_then(|()| out.flush()))
}

/// `println!` for commands: `outln!(…)?` writes a line, see [`line`].
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::cli::output::line(format_args!($($arg)*))
    };
}
pub(super) use outln;
