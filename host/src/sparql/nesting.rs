//! Deep texts and the stack: the parser, the optimiser and the evaluator recurse once per level
//! of brackets and once per operator of a chain (`UNION`, `||`, `/`…), so a text of a few
//! thousand nested `{` or a long chain would overflow a thread's stack and abort the process.
//! Brackets are bounded before parsing ([`MAX_NESTING`]), and so are nested calls the parser
//! reads twice ([`MAX_BACKTRACKING_CALLS`]); chains get room from [`with_sparql_stack`], which
//! the command line runs every request in.

use super::error::SparqlError;

/// The deepest nesting of `{`, `(` and `[` a query or update may have. Real queries stay far
/// below; the parser and evaluator handle far more on a thread's default stack.
pub const MAX_NESTING: usize = 256;

/// The deepest nesting of calls of `REGEX`, `SUBSTR`, `REPLACE` and `GROUP_CONCAT` (one inside
/// an argument of another). The parser tries each of their two forms (with and without the
/// optional last argument) from the start, so its time doubles with each level: 20 nested
/// `REPLACE`s took 3.5 s, 30 would take an hour (found by fuzzing). Real queries nest a few.
pub const MAX_BACKTRACKING_CALLS: usize = 12;

/// Functions whose calls the parser may read twice ([`MAX_BACKTRACKING_CALLS`]).
const BACKTRACKING_CALLS: [&str; 4] = ["REGEX", "SUBSTR", "REPLACE", "GROUP_CONCAT"];

/// Whether the `(` at `at` opens a call of one of [`BACKTRACKING_CALLS`].
fn opens_backtracking_call(bytes: &[u8], at: usize) -> bool {
    let before = bytes[..at].trim_ascii_end();
    let name_start = before
        .iter()
        .rposition(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
        .map_or(0, |position| position + 1);
    let name = &before[name_start..];
    BACKTRACKING_CALLS
        .iter()
        .any(|call| name.eq_ignore_ascii_case(call.as_bytes()))
}

/// The stack of a thread that parses and evaluates SPARQL: reserved address space, touched
/// only as deep as a request recurses (a chain of 30,000 `UNION`s needs about 100 MiB in a
/// debug build).
pub const SPARQL_STACK_BYTES: usize = 1 << 30;

/// Runs `work` on a thread with a [`SPARQL_STACK_BYTES`] stack and returns what it returns;
/// where no such thread can be started (the address space is limited, as under `ulimit -v`),
/// runs it on the calling thread.
///
/// # Panics
/// When `work` panics (the panic is passed on).
pub fn with_sparql_stack<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    let slot = std::sync::Mutex::new(Some(work));
    let take = || {
        slot.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    };
    let done = std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new()
            .name("sparql".into())
            .stack_size(SPARQL_STACK_BYTES)
            .spawn_scoped(scope, || take().map(|work| work()));
        match spawned.map(|handle| handle.join()) {
            Ok(Ok(value)) => value,
            Ok(Err(panic)) => std::panic::resume_unwind(panic),
            Err(_) => None,
        }
    });
    match done {
        Some(value) => value,
        None => match take() {
            Some(work) => work(),
            None => unreachable!("the work ran on the thread or is still here"),
        },
    }
}

/// Refuses `text` when its brackets (outside strings, IRIs and comments) nest deeper than
/// [`MAX_NESTING`], or its calls of `REGEX`, `SUBSTR`, `REPLACE` and `GROUP_CONCAT` deeper than
/// [`MAX_BACKTRACKING_CALLS`], naming `source_name`, the line and the column of the bracket
/// that is one too deep.
pub(super) fn check(text: &str, source_name: &str) -> Result<(), SparqlError> {
    let bytes = text.as_bytes();
    let (mut depth, mut line, mut line_start, mut i) = (0usize, 1usize, 0usize, 0usize);
    // Per open bracket, whether it opened a backtracking call; how many of those are open.
    let (mut open, mut calls) = (Vec::new(), 0usize);
    let too_deep = |line: usize, line_start: usize, i: usize, message: String| {
        let column = text[line_start..i].chars().count() + 1;
        SparqlError::Syntax {
            location: format!("{source_name}:{line}:{column}"),
            message,
        }
    };
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                line += 1;
                line_start = i + 1;
            }
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            quote @ (b'"' | b'\'') => {
                let long = bytes[i..].starts_with(&[quote; 3]);
                i += if long { 3 } else { 1 };
                while i < bytes.len() {
                    if bytes[i] == b'\\' {
                        i += 2;
                        continue;
                    }
                    if bytes[i] == b'\n' {
                        line += 1;
                        line_start = i + 1;
                    }
                    if long && bytes[i..].starts_with(&[quote; 3]) {
                        i += 3;
                        break;
                    }
                    if !long && bytes[i] == quote {
                        i += 1;
                        break;
                    }
                    i += 1;
                }
                continue;
            }
            // An IRI (`<` then IRIREF characters then `>`); otherwise `<` is an operator.
            b'<' => {
                let end = bytes[i + 1..]
                    .iter()
                    .position(|&b| b == b'>' || b <= b' ' || b"<\"{}|^`\\".contains(&b));
                if let Some(end) = end {
                    if bytes[i + 1 + end] == b'>' {
                        i += end + 2;
                        continue;
                    }
                }
            }
            bracket @ (b'{' | b'(' | b'[') => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(too_deep(
                        line,
                        line_start,
                        i,
                        format!(
                            "brackets nest deeper than {MAX_NESTING} levels, more than kgdb accepts"
                        ),
                    ));
                }
                let call = bracket == b'(' && opens_backtracking_call(bytes, i);
                calls += usize::from(call);
                if calls > MAX_BACKTRACKING_CALLS {
                    return Err(too_deep(
                        line,
                        line_start,
                        i,
                        format!(
                            "calls of REGEX, SUBSTR, REPLACE and GROUP_CONCAT nest deeper than {MAX_BACKTRACKING_CALLS} levels, more than kgdb accepts (the parser's time doubles with each level)"
                        ),
                    ));
                }
                open.push(call);
            }
            b'}' | b')' | b']' => {
                depth = depth.saturating_sub(1);
                if open.pop() == Some(true) {
                    calls -= 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_nesting_is_refused_at_the_bracket_one_too_deep() {
        let deep = format!(
            "SELECT * WHERE {}{}",
            "{".repeat(MAX_NESTING + 1),
            "}".repeat(MAX_NESTING + 1)
        );
        let error = check(&deep, "q").unwrap_err().to_string();
        assert!(
            error.starts_with(&format!("q:1:{}:", 16 + MAX_NESTING)),
            "{error}"
        );
        let fine = format!(
            "SELECT * WHERE {}{}",
            "{".repeat(MAX_NESTING),
            "}".repeat(MAX_NESTING)
        );
        check(&fine, "q").unwrap();
    }

    #[test]
    fn nested_calls_the_parser_reads_twice_are_bounded() {
        let nested = |depth: usize| {
            format!(
                "SELECT ({}?x{} AS ?y) WHERE {{}}",
                "replace (\"a\", \"b\", ".repeat(depth),
                ")".repeat(depth)
            )
        };
        check(&nested(MAX_BACKTRACKING_CALLS), "q").unwrap();
        let error = check(&nested(MAX_BACKTRACKING_CALLS + 1), "q")
            .unwrap_err()
            .to_string();
        assert!(error.contains("REPLACE"), "{error}");
        // Calls side by side, or under other brackets, do not add up.
        let side_by_side = format!(
            "SELECT * WHERE {{ FILTER({}) }}",
            vec!["REGEX(?a, \"x\")"; 2 * MAX_BACKTRACKING_CALLS].join(" && ")
        );
        check(&side_by_side, "q").unwrap();
        let other = format!(
            "SELECT * WHERE {{ FILTER({}?a{}) }}",
            "STR(".repeat(40),
            ")".repeat(40)
        );
        check(&other, "q").unwrap();
    }

    #[test]
    fn brackets_in_strings_iris_and_comments_do_not_count() {
        let many = "(".repeat(2 * MAX_NESTING);
        for text in [
            format!("SELECT * WHERE {{ ?s ?p \"{many}\" }}"),
            format!("SELECT * WHERE {{ ?s ?p '''{many}\n{many}''' }}"),
            format!("SELECT * WHERE {{ ?s ?p <http://x/{many}> }}"),
            format!("SELECT * WHERE {{ # {many}\n ?s ?p ?o }}"),
        ] {
            check(&text, "q").unwrap();
        }
        // `<` as an operator does not hide what follows.
        let deep = format!("SELECT * WHERE {{ FILTER(?a < {}1", "(".repeat(MAX_NESTING));
        assert!(check(&deep, "q").is_err());
    }
}
