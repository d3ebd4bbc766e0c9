//! Any bytes as a CSV data file: the reader returns a table or a one-line error naming the file,
//! never panics, and never holds more than the memory limit (`BACKPROP_MEMORY_LIMIT`, set small
//! by run.sh) allows.
#![no_main]

use backprop_cli::data::read_csv_from;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match read_csv_from(data, "fuzz.csv".into()) {
        Ok(t) => {
            // A table: at least one row, every row as wide as the first, every value finite,
            // lines increasing.
            assert!(t.rows() >= 1 && t.cols >= 1);
            assert_eq!(t.values.len(), t.rows() * t.cols);
            assert!(t.values.iter().all(|v| v.is_finite()));
            assert!(t.lines.windows(2).all(|l| l[0] < l[1]));
            if let Some(h) = &t.header {
                assert_eq!(h.len(), t.cols);
            }
            // Converting to either scalar works or names the value that does not fit.
            let inputs = t.cols / 2;
            if t.split::<f64>(inputs, t.cols - inputs, "fuzz").is_err() {
                panic!("every finite f64 fits in f64");
            }
            if let Err(e) = t.split::<f32>(inputs, t.cols - inputs, "fuzz") {
                assert!(e.to_string().contains("does not fit in F32"), "{e}");
            }
        }
        Err(e) => {
            let text = format!("{e:#}");
            assert!(!text.contains('\n'), "one line: {text:?}");
            assert!(text.contains("fuzz.csv"), "names the file: {text}");
        }
    }
});
