//! Classification: the predicted class is the output with the largest value (argmax over z_n),
//! and targets are one-hot (1 at the sample's class, 0 elsewhere).

use crate::data::Table;
use std::cmp::Ordering;

/// The index of the largest of `values` (the first of equal ones; 0 for none). NaN is never
/// the largest.
pub fn argmax<T: PartialOrd + Copy>(values: impl IntoIterator<Item = T>) -> usize {
    let mut best: Option<(usize, T)> = None;
    for (k, v) in values.into_iter().enumerate() {
        match best {
            Some((_, b)) if v.partial_cmp(&b) != Some(Ordering::Greater) => {}
            // NaN compares false: it only stands where nothing else has yet.
            None if v.partial_cmp(&v).is_none() => {}
            _ => best = Some((k, v)),
        }
    }
    best.map_or(0, |(k, _)| k)
}

/// `true` when every target row of `table` (the fields after the first `inputs`) holds
/// exactly one 1 and otherwise 0s, over at least two targets: the targets are classes.
pub fn one_hot(table: &Table, inputs: usize) -> bool {
    let k = table.cols - inputs;
    k >= 2
        && (0..table.rows()).all(|s| {
            let y = &table.row(s)[inputs..];
            y.iter().all(|&v| v == 0.0 || v == 1.0) && y.iter().filter(|&&v| v == 1.0).count() == 1
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data;

    #[test]
    fn argmax_is_the_first_largest_and_never_nan() {
        assert_eq!(argmax([0.1, 0.7, 0.2]), 1);
        assert_eq!(argmax([0.5, 0.5]), 0);
        assert_eq!(argmax([f64::NAN, -1.0, -2.0]), 1);
        assert_eq!(argmax([-1.0f32, f32::NAN, 3.0]), 2);
        assert_eq!(argmax(Vec::<f64>::new()), 0);
        assert_eq!(argmax([3, 9, 9].iter()), 1);
    }

    #[test]
    fn one_hot_targets_are_recognised() {
        let t = data::read_csv_from("1,0,1\n2,1,0\n".as_bytes(), "d".into()).unwrap();
        assert!(one_hot(&t, 1));
        let t = data::read_csv_from("1,0,1\n2,1,1\n".as_bytes(), "d".into()).unwrap();
        assert!(!one_hot(&t, 1));
        let t = data::read_csv_from("1,0.5\n".as_bytes(), "d".into()).unwrap();
        assert!(!one_hot(&t, 1));
    }
}
