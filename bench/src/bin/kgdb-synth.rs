//! Writes a seeded synthetic data set (see `kgdb_bench::synth`) as N-Quads.
//!
//! ```sh
//! cargo run --release -p kgdb-bench --bin kgdb-synth -- --quads 1M --output synth-1m.nq.gz
//! ```

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use flate2::write::GzEncoder;
use flate2::Compression;
use indicatif::{ProgressBar, ProgressStyle};
use kgdb_bench::synth::Synth;
use oxrdfio::{RdfFormat, RdfSerializer};

/// Writes a seeded synthetic RDF data set (universities, people, publications; one named graph
/// per university) as N-Quads. The same seed and size always give the same file.
#[derive(Debug, Parser)]
#[command(name = "kgdb-synth", version)]
struct Args {
    /// How many quads: a number, or with a K or M suffix (`250K`, `10M`)
    #[arg(long, value_parser = parse_count)]
    quads: u64,
    /// The seed
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// The file to write (`.gz` for gzip); standard output when absent or `-`
    #[arg(long, short)]
    output: Option<PathBuf>,
}

fn parse_count(text: &str) -> Result<u64, String> {
    let text = text.trim().replace('_', "");
    let (digits, factor) = match text.chars().last() {
        Some('k' | 'K') => (&text[..text.len() - 1], 1_000),
        Some('m' | 'M') => (&text[..text.len() - 1], 1_000_000),
        _ => (&text[..], 1),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("`{text}` is not a positive count (e.g. 1000, 250K, 10M)"))
}

fn write(args: &Args, out: impl Write) -> io::Result<()> {
    let progress = ProgressBar::new(args.quads).with_style(
        ProgressStyle::with_template("{bar:40} {human_pos}/{human_len} quads, {per_sec}, {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut serializer = RdfSerializer::from_format(RdfFormat::NQuads).for_writer(out);
    for (index, quad) in Synth::new(args.seed).take(args.quads as usize).enumerate() {
        serializer.serialize_quad(&quad)?;
        if index % 65_536 == 0 {
            progress.set_position(index as u64);
        }
    }
    progress.finish_and_clear();
    serializer.finish()?.flush()
}

fn run(args: &Args) -> io::Result<()> {
    match args.output.as_deref() {
        None => write(args, BufWriter::new(io::stdout().lock())),
        Some(path) if path.as_os_str() == "-" => write(args, BufWriter::new(io::stdout().lock())),
        Some(path) => {
            let file = BufWriter::new(File::create(path)?);
            if path.extension().is_some_and(|e| e == "gz") {
                // Buffered before the encoder: the serializer writes a few bytes at a time.
                let mut gz =
                    BufWriter::with_capacity(1 << 16, GzEncoder::new(file, Compression::fast()));
                write(args, &mut gz)?;
                gz.into_inner()
                    .map_err(io::IntoInnerError::into_error)?
                    .finish()?
                    .flush()
            } else {
                write(args, file)
            }
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(error) => {
            let target = args
                .output
                .as_ref()
                .map_or_else(|| "standard output".to_owned(), |p| p.display().to_string());
            eprintln!("error: writing {target}: {error}");
            ExitCode::FAILURE
        }
    }
}
