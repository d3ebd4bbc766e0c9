//! Data files: CSV, one sample a row, the l_0 inputs then the l_n targets (DESIGN.md §3).
//!
//! An optional header row is skipped: a first row none of whose fields is a number. A first
//! row with numbers and a field that is not one (`1,2,x`) is a bad data row, refused with its
//! line and field, not taken as a header. Every other field must be a finite number; a bad field is an error naming the file, the line and the
//! field (1-based, as an editor shows them). Rows must all have the same number of fields.

use anyhow::{Result, bail};
use backprop::Scalar;
use nalgebra::DMatrix;
use std::path::{Path, PathBuf};

/// A table of numbers read from a CSV file or generated: `rows` samples of `cols` values each.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// Where the rows came from (a path, or `built-in NAME`), for error messages.
    pub source: String,
    /// Column names: the header row, or `None`.
    pub header: Option<Vec<String>>,
    /// Values, row-major: sample s is `values[s * cols..(s + 1) * cols]`.
    pub values: Vec<f64>,
    /// Fields per row.
    pub cols: usize,
    /// The 1-based line of each row in its file (the row number for generated data).
    pub lines: Vec<u64>,
}

impl Table {
    /// The number of samples.
    pub fn rows(&self) -> usize {
        self.lines.len()
    }

    /// Row `s`.
    pub fn row(&self, s: usize) -> &[f64] {
        &self.values[s * self.cols..(s + 1) * self.cols]
    }

    /// A table of the given rows (used for the train/test split).
    pub fn select(&self, rows: &[usize]) -> Table {
        let mut values = Vec::with_capacity(rows.len() * self.cols);
        let mut lines = Vec::with_capacity(rows.len());
        for &s in rows {
            values.extend_from_slice(self.row(s));
            lines.push(self.lines[s]);
        }
        Table {
            source: self.source.clone(),
            header: self.header.clone(),
            values,
            cols: self.cols,
            lines,
        }
    }

    /// Columns `first..first + count` of every row as a `count × rows` matrix (samples are
    /// columns), converted to `T`.
    ///
    /// Errors name the line and field of a value that is finite in f64 but overflows `T`.
    pub fn columns<T: Scalar>(&self, first: usize, count: usize) -> Result<DMatrix<T>> {
        let mut m = DMatrix::<T>::zeros(count, self.rows());
        for s in 0..self.rows() {
            let row = self.row(s);
            for k in 0..count {
                let v = T::of_f64(row[first + k]);
                if !v.finite() {
                    bail!(
                        "{}: line {}, field {}: {:e} does not fit in {}",
                        self.source,
                        self.lines[s],
                        first + k + 1,
                        row[first + k],
                        T::DTYPE.name()
                    );
                }
                m[(k, s)] = v;
            }
        }
        Ok(m)
    }

    /// Checks that every row has `inputs` + `outputs` fields, as `what` needs.
    ///
    /// The sum is taken in u128: layer sizes come from the command line and may be as large
    /// as `usize::MAX`.
    pub fn check_fields(&self, inputs: usize, outputs: usize, what: &str) -> Result<()> {
        let needed = inputs as u128 + outputs as u128;
        if self.cols as u128 != needed {
            bail!(
                "{}: rows have {} fields, but {what} needs {inputs} inputs + {outputs} targets = \
                 {needed}",
                self.source,
                self.cols,
            );
        }
        Ok(())
    }

    /// Splits the table into inputs X (l_0 × N) and targets Y (l_n × N), after checking that
    /// every row has l_0 + l_n fields.
    pub fn split<T: Scalar>(
        &self,
        inputs: usize,
        outputs: usize,
        what: &str,
    ) -> Result<(DMatrix<T>, DMatrix<T>)> {
        self.check_fields(inputs, outputs, what)?;
        Ok((self.columns(0, inputs)?, self.columns(inputs, outputs)?))
    }
}

/// The first row is a header when none of its fields is a number (a row with numbers and a
/// bad field is refused by [`mixed_first_row`] before this is asked).
fn is_header(record: &csv::StringRecord) -> bool {
    record.iter().all(|f| f.trim().parse::<f64>().is_err())
}

/// Reads a data file. Errors name the file, and for a bad row its line and field.
///
/// The file, and then the table as it grows, are checked against the memory limit
/// (`crate::budget`) before they are allocated: the error states the bytes needed and the
/// limit.
pub fn read_csv(path: &Path) -> Result<Table> {
    let bytes = crate::budget::read_bounded(path, "data file")?;
    read_csv_from(&bytes, path.to_path_buf())
}

/// Counts lines: the 1-based line of a byte offset, moving forward only.
struct LineCounter<'a> {
    bytes: &'a [u8],
    at: usize,
    line: u64,
}

impl LineCounter<'_> {
    /// The line of the first non-blank byte at or after `offset` (the csv reader reports a
    /// record's start before any blank lines it skipped).
    fn line_of(&mut self, offset: u64) -> u64 {
        let mut p = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.bytes.len());
        while p < self.bytes.len() && self.bytes[p].is_ascii_whitespace() {
            p += 1;
        }
        if p >= self.at {
            self.line += (self.at..p).filter(|&i| self.breaks_at(i)).count() as u64;
            self.at = p;
        }
        self.line
    }

    /// A line ends at byte `i`: a `\n`, or a `\r` not followed by `\n` (the csv reader ends
    /// records at a lone `\r` too, as old Mac files have them).
    fn breaks_at(&self, i: usize) -> bool {
        match self.bytes[i] {
            b'\n' => true,
            b'\r' => self.bytes.get(i + 1) != Some(&b'\n'),
            _ => false,
        }
    }
}

/// Bytes of a table: 8 per value and 8 per row (its line number).
fn table_bytes(values: usize, rows: usize) -> u128 {
    (values as u128 + rows as u128) * 8
}

/// How the table grew while a file was read: the reallocations of its two vectors and the
/// bytes they moved (each reallocation counted as a copy of everything held so far, the worst
/// an allocator can do).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Growth {
    /// Times the table's storage was enlarged.
    pub reallocations: usize,
    /// Bytes held by the table at those times, summed: what the enlargements may copy.
    pub bytes_copied: u128,
}

/// Reserves room for one more row of `cols` values in the table being read, checking first
/// that the grown table and the text it is read from fit in `limit`.
///
/// The capacity doubles (from 64 rows), capped at the most rows the limit allows beside the
/// text: O(log N) reallocations and O(N) bytes moved at any limit, and a table is refused
/// only when the rows read so far, plus this one, do not fit.
fn reserve(
    source: &str,
    text: usize,
    limit: u128,
    table: (&mut Vec<f64>, &mut Vec<u64>),
    cols: usize,
    growth: &mut Growth,
) -> Result<()> {
    let (values, lines) = table;
    let need_rows = lines.len().saturating_add(1);
    let need_values = values.len().saturating_add(cols);
    if need_values <= values.capacity() && need_rows <= lines.capacity() {
        return Ok(());
    }
    let bytes = text as u128 + table_bytes(need_values, need_rows);
    if bytes > limit {
        bail!(
            "reading {source} ({} rows so far) needs {bytes} bytes, more than the limit of \
             {limit} bytes",
            lines.len()
        );
    }
    // Rows of cols values and one line number each that fit beside the text (≥ need_rows,
    // checked above).
    let room = (limit - text as u128) / ((cols as u128 + 1) * 8);
    let rows = (lines.capacity().saturating_mul(2).max(64) as u128).min(room) as usize;
    let rows = rows.max(need_rows);
    growth.reallocations += 1;
    growth.bytes_copied += table_bytes(values.len(), lines.len());
    values.reserve_exact(rows.saturating_mul(cols) - values.len());
    lines.reserve_exact(rows - lines.len());
    Ok(())
}

/// The first non-numeric field of a first row that also holds numbers: such a row is data
/// with a bad field, not a header. `None` when the row is all numbers or all text.
fn mixed_first_row(record: &csv::StringRecord) -> Option<(usize, &str)> {
    let numeric = |f: &str| f.parse::<f64>().is_ok();
    if !record.iter().any(numeric) {
        return None;
    }
    record.iter().enumerate().find(|&(_, f)| !numeric(f))
}

/// Reads CSV from bytes in memory; `path` names it in errors.
///
/// # Errors
/// A bad field, a ragged row or no data rows, naming the line and field; a table that would
/// exceed the memory limit, with the bytes needed and the limit.
pub fn read_csv_from(bytes: &[u8], path: PathBuf) -> Result<Table> {
    read_csv_within(bytes, path, crate::budget::limit(), &mut Growth::default())
}

/// [`read_csv_from`] with the memory limit given (`limit` bytes for the text and the table
/// together), recording in `growth` how the table grew.
///
/// # Errors
/// As [`read_csv_from`].
pub fn read_csv_within(
    bytes: &[u8],
    path: PathBuf,
    limit: u128,
    growth: &mut Growth,
) -> Result<Table> {
    let source = path.display().to_string();
    // A UTF-8 byte-order mark (as some spreadsheets write) is not part of the first field.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut counter = LineCounter {
        bytes,
        at: 0,
        line: 1,
    };
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let mut header = None;
    let mut values = Vec::new();
    let mut lines = Vec::new();
    let mut cols = 0usize;
    let mut first_line = 0u64;
    let mut record = csv::StringRecord::new();
    let mut index = 0usize;
    loop {
        let more = rdr.read_record(&mut record).map_err(|e| {
            let line = e.position().map_or(0, |p| counter.line_of(p.byte()));
            match e.kind() {
                csv::ErrorKind::Utf8 { .. } => {
                    anyhow::anyhow!("{source}: line {line}: not valid UTF-8 text")
                }
                csv::ErrorKind::Io(io) => anyhow::anyhow!("{source}: cannot read: {io}"),
                _ => anyhow::anyhow!("{source}: line {line}: {e}"),
            }
        })?;
        if !more {
            break;
        }
        let line = record.position().map_or(0, |p| counter.line_of(p.byte()));
        // A line holding only whitespace gives one empty field: skip it like an empty line.
        if record.len() == 1 && record[0].is_empty() {
            continue;
        }
        if index == 0
            && let Some((k, field)) = mixed_first_row(&record)
        {
            bail!(
                "{source}: line {line}, field {}: {} is not a number (the row's other fields \
                 are, so it is not a header: a header has no numeric field)",
                k + 1,
                shown(field)
            );
        }
        if index == 0 && is_header(&record) {
            header = Some(record.iter().map(str::to_string).collect());
            cols = record.len();
            first_line = line;
            index += 1;
            continue;
        }
        if cols == 0 {
            cols = record.len();
            first_line = line;
        } else if record.len() != cols {
            bail!(
                "{source}: line {line} has {} fields, expected {cols} (as on line {first_line})",
                record.len()
            );
        }
        reserve(
            &source,
            bytes.len(),
            limit,
            (&mut values, &mut lines),
            record.len(),
            growth,
        )?;
        for (k, field) in record.iter().enumerate() {
            let v: f64 = field.parse().map_err(|_| {
                anyhow::anyhow!(
                    "{source}: line {line}, field {}: {} is not a number",
                    k + 1,
                    shown(field)
                )
            })?;
            if !v.is_finite() {
                bail!(
                    "{source}: line {line}, field {}: {field} is not a finite number",
                    k + 1
                );
            }
            values.push(v);
        }
        lines.push(line);
        index += 1;
    }
    if lines.is_empty() {
        if header.is_some() {
            bail!("{source}: has a header row but no data rows");
        }
        if bytes.iter().all(u8::is_ascii_whitespace) && !bytes.is_empty() {
            bail!("{source}: no data rows (the file holds only blank lines)");
        }
        bail!("{source}: no data rows (the file is empty)");
    }
    Ok(Table {
        source,
        header,
        values,
        cols,
        lines,
    })
}

/// A field as an error shows it: quoted and cut at 40 characters, or "an empty field".
fn shown(field: &str) -> String {
    if field.is_empty() {
        "an empty field".to_string()
    } else {
        format!("{:?}", truncate(field, 40))
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max).collect();
        t.push('…');
        t
    }
}

/// Formats a matrix (rows = samples after transposing: `m` is l × N) as CSV text with a header.
pub fn to_csv<T: Scalar>(names: &[String], m: &DMatrix<T>) -> String {
    to_csv_with(names, m, |_| String::new())
}

/// [`to_csv`] with one more field after every row's numbers, `last(s)` for column `s` (none
/// where it is empty).
pub fn to_csv_with<T: Scalar>(
    names: &[String],
    m: &DMatrix<T>,
    last: impl Fn(usize) -> String,
) -> String {
    let mut out = names.join(",");
    out.push('\n');
    for s in 0..m.ncols() {
        for k in 0..m.nrows() {
            if k > 0 {
                out.push(',');
            }
            out.push_str(&number(m[(k, s)]));
        }
        let extra = last(s);
        if !extra.is_empty() {
            out.push(',');
            out.push_str(&extra);
        }
        out.push('\n');
    }
    out
}

/// The shortest text that reads back to the same value: plain for ordinary magnitudes,
/// scientific for very small or large ones.
pub fn number<T: Scalar>(v: T) -> String {
    let a = v.as_f64().abs();
    if a == 0.0 || (1e-4..1e15).contains(&a) {
        format!("{v}")
    } else {
        format!("{v:e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Table> {
        read_csv_from(text.as_bytes(), PathBuf::from("d.csv"))
    }

    fn err(text: &str) -> String {
        format!("{:#}", parse(text).unwrap_err())
    }

    #[test]
    fn reads_rows_and_skips_a_header() {
        let t = parse("x0,x1,y\n1,2,3\n4, 5 ,6\n").unwrap();
        assert_eq!(t.header.as_deref().unwrap(), ["x0", "x1", "y"]);
        assert_eq!(t.values, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(t.lines, vec![2, 3]);
        let (x, y) = t.split::<f64>(2, 1, "the model").unwrap();
        assert_eq!(x, DMatrix::from_column_slice(2, 2, &[1.0, 2.0, 4.0, 5.0]));
        assert_eq!(y, DMatrix::from_column_slice(1, 2, &[3.0, 6.0]));
        let t = parse("1,2\n\n3,4\n  \n\r\n5,6").unwrap();
        assert!(t.header.is_none());
        assert_eq!(t.lines, vec![1, 3, 6]);
        assert_eq!(
            err("1,2\n\n\n3,x\n"),
            "d.csv: line 4, field 2: \"x\" is not a number"
        );
    }

    #[test]
    fn a_lone_carriage_return_ends_a_line() {
        // Found by the csv_data fuzz target: "\r32\r3\n" gave both rows line 1.
        let t = parse("\r32\r3\n").unwrap();
        assert_eq!(t.lines, vec![2, 3]);
        assert_eq!(parse("1,2\r3,4\r\n5,6\n").unwrap().lines, vec![1, 2, 3]);
        assert_eq!(
            err("1,2\r3,4\r5,x\r"),
            "d.csv: line 3, field 2: \"x\" is not a number"
        );
    }

    #[test]
    fn bad_rows_name_line_and_field() {
        assert_eq!(
            err("a,b\n1,2\n3,x\n"),
            "d.csv: line 3, field 2: \"x\" is not a number"
        );
        assert_eq!(
            err("1,2\n3,4,5\n"),
            "d.csv: line 2 has 3 fields, expected 2 (as on line 1)"
        );
        assert_eq!(
            err("1,2\n3\n"),
            "d.csv: line 2 has 1 fields, expected 2 (as on line 1)"
        );
        assert_eq!(
            err("1,2\n3,NaN\n"),
            "d.csv: line 2, field 2: NaN is not a finite number"
        );
        assert_eq!(
            err("1,2\n-inf,4\n"),
            "d.csv: line 2, field 1: -inf is not a finite number"
        );
        assert_eq!(
            err("1,2\n3,\n"),
            "d.csv: line 2, field 2: an empty field is not a number"
        );
        assert_eq!(err(""), "d.csv: no data rows (the file is empty)");
        assert_eq!(
            err(" \n\r\n\t\n"),
            "d.csv: no data rows (the file holds only blank lines)"
        );
        assert_eq!(err("a,b\n"), "d.csv: has a header row but no data rows");
    }

    #[test]
    fn column_count_must_match_the_network() {
        let t = parse("1,2,3\n").unwrap();
        let e = t.split::<f64>(3, 1, "the model").unwrap_err();
        assert_eq!(
            e.to_string(),
            "d.csv: rows have 3 fields, but the model needs 3 inputs + 1 targets = 4"
        );
    }

    #[test]
    fn layer_sizes_near_usize_max_do_not_overflow_the_field_count() {
        let t = parse("1,2\n").unwrap();
        let e = t.check_fields(usize::MAX, 1, "the network").unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "d.csv: rows have 2 fields, but the network needs {} inputs + 1 targets = {}",
                usize::MAX,
                usize::MAX as u128 + 1
            )
        );
    }

    #[test]
    fn values_that_overflow_f32_are_refused() {
        let t = parse("1e300,2\n").unwrap();
        let e = t.split::<f32>(1, 1, "the model").unwrap_err();
        assert_eq!(
            e.to_string(),
            "d.csv: line 1, field 1: 1e300 does not fit in F32"
        );
        assert!(t.split::<f64>(1, 1, "the model").is_ok());
    }

    #[test]
    fn csv_output_reads_back_exactly() {
        let m = DMatrix::from_column_slice(2, 2, &[0.1f64, -1.0 / 3.0, 1e-300, 7.0]);
        let text = to_csv(&["a".into(), "b".into()], &m);
        let t = parse(&text).unwrap();
        let (x, _) = t.split::<f64>(2, 0, "it").unwrap();
        assert_eq!(x, m);
    }
}
