//! Checking a shared library's layout before the dynamic loader maps it: every loadable
//! segment must lie inside the file. A truncated library would otherwise be mapped past its
//! end, and the first touch of a missing page kills the process with `SIGBUS`. ELF only (the
//! platforms kgdb is built and tested on); elsewhere the check passes.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use object::elf;
use object::read::elf::{FileHeader, ProgramHeader};
use object::Endianness;

/// Bytes read for the ELF header and, usually, the program header table that follows it.
const HEAD: u64 = 64 * 1024;

/// Whether `file` (of `len` bytes, an ELF file by its magic) has every loadable segment
/// inside it; `Err` says what is wrong, in words.
pub(crate) fn check_segments(file: &File, len: u64) -> Result<(), String> {
    let mut head = read_at(file, 0, HEAD.min(len))?;
    let header = elf::FileHeader64::<Endianness>::parse(head.as_slice());
    if let Ok(header) = header {
        let endian = header.endian().map_err(|e| e.to_string())?;
        let table_end = header.e_phoff(endian).saturating_add(
            u64::from(header.e_phnum(endian)) * u64::from(header.e_phentsize(endian)),
        );
        if table_end > len {
            return Err(truncated(len, table_end));
        }
        if table_end > head.len() as u64 {
            head = read_at(file, 0, table_end)?;
        }
        let header =
            elf::FileHeader64::<Endianness>::parse(head.as_slice()).map_err(|e| e.to_string())?;
        let segments = header
            .program_headers(endian, head.as_slice())
            .map_err(|e| format!("its program headers are unreadable: {e}"))?;
        return check(
            len,
            segments
                .iter()
                .filter(|s| s.p_type(endian) == elf::PT_LOAD)
                .map(|s| (s.p_offset(endian), s.p_filesz(endian))),
        );
    }
    let header = elf::FileHeader32::<Endianness>::parse(head.as_slice())
        .map_err(|e| format!("its ELF header is unreadable: {e}"))?;
    let endian = header.endian().map_err(|e| e.to_string())?;
    let table_end = u64::from(header.e_phoff(endian))
        .saturating_add(u64::from(header.e_phnum(endian)) * u64::from(header.e_phentsize(endian)));
    if table_end > len {
        return Err(truncated(len, table_end));
    }
    if table_end > head.len() as u64 {
        head = read_at(file, 0, table_end)?;
    }
    let header =
        elf::FileHeader32::<Endianness>::parse(head.as_slice()).map_err(|e| e.to_string())?;
    let segments = header
        .program_headers(endian, head.as_slice())
        .map_err(|e| format!("its program headers are unreadable: {e}"))?;
    check(
        len,
        segments
            .iter()
            .filter(|s| s.p_type(endian) == elf::PT_LOAD)
            .map(|s| (u64::from(s.p_offset(endian)), u64::from(s.p_filesz(endian)))),
    )
}

fn check(len: u64, segments: impl Iterator<Item = (u64, u64)>) -> Result<(), String> {
    for (offset, size) in segments {
        let end = offset.saturating_add(size);
        if end > len {
            return Err(truncated(len, end));
        }
    }
    Ok(())
}

fn truncated(len: u64, needed: u64) -> String {
    format!("a truncated or damaged library: it is {len} bytes, but its segments need {needed}")
}

fn read_at(mut file: &File, offset: u64, len: u64) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(offset))
        .and_then(|_| file.take(len).read_to_end(&mut bytes))
        .map_err(|e| format!("it cannot be read: {e}"))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_running_test_binary_passes_and_its_truncation_does_not() {
        let exe = std::env::current_exe().unwrap();
        let file = File::open(&exe).unwrap();
        let len = file.metadata().unwrap().len();
        check_segments(&file, len).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let short = dir.path().join("short");
        let bytes = std::fs::read(&exe).unwrap();
        std::fs::write(&short, &bytes[..4096]).unwrap();
        let file = File::open(&short).unwrap();
        let error = check_segments(&file, 4096).unwrap_err();
        assert!(error.contains("truncated"), "{error}");
    }
}
