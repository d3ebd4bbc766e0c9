//! Reports are values: per layer counts, the worst elements with their place, a table
//! ([`std::fmt::Display`]) and JSON ([`serde`]).

use crate::method::{Mode, Oracle};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The verdict on one element (or one direction).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// |analytic − numeric| ≤ allowed, and the values stand above the float floor.
    Passed,
    /// |analytic − numeric| > allowed (or the analytic value is NaN or ∞).
    Failed,
    /// A perturbation moved a pre-activation across a kink of σ (relu's 0) even at the smallest
    /// step tried, or a pre-activation lies within its rounding error of a kink: a finite
    /// difference there does not estimate the derivative, so the element is neither passed nor
    /// failed.
    KinkCrossed,
    /// Both values are within the rounding error of 0: the check cannot tell them apart from
    /// zero. They agree to within the allowed error and are not counted as passed.
    BelowFloor,
}

impl Status {
    /// A short name: `passed`, `FAILED`, `kink`, `floor`.
    pub fn short(&self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Failed => "FAILED",
            Status::KinkCrossed => "kink",
            Status::BelowFloor => "floor",
        }
    }
}

/// The outcome of a whole check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// No value failed, and every layer judged at least [`Report::min_judged`] of its values.
    Passed,
    /// Some element or direction failed.
    Failed,
    /// No value failed, but some layer judged less than [`Report::min_judged`] of its values
    /// (the rest below the float floor or across a kink): the check cannot vouch for it.
    Inconclusive,
}

impl Verdict {
    /// `PASSED`, `FAILED` or `INCONCLUSIVE`, as the report's last line says it.
    pub fn name(&self) -> &'static str {
        match self {
            Verdict::Passed => "PASSED",
            Verdict::Failed => "FAILED",
            Verdict::Inconclusive => "INCONCLUSIVE",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One checked element W_i^{jk}: layer i, row j, column k.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ElementCheck {
    /// The layer i of W_i (for a function check, 0).
    pub layer: usize,
    /// The row j (for a function check, the parameter index).
    pub row: usize,
    /// The column k (for a function check, 0).
    pub col: usize,
    /// The analytic (∂E/∂W_i)^{jk} under test.
    pub analytic: f64,
    /// The numerical reference value.
    pub numeric: f64,
    /// |analytic − numeric|.
    pub difference: f64,
    /// The error allowed for this element (see the crate docs for the rule).
    pub allowed: f64,
    /// The finite-difference step h used (0 for the dual oracle).
    pub step: f64,
    /// The verdict.
    pub status: Status,
}

impl ElementCheck {
    /// difference / allowed: above 1 means failed. ∞ when nothing was allowed but the values
    /// differ, 0 when they agree exactly.
    pub fn ratio(&self) -> f64 {
        ratio(self.difference, self.allowed)
    }
}

/// One directional derivative of projected mode: Σ_{jk} (∂E/∂W_i)^{jk} V^{jk} for a seeded
/// unit direction V.
// ElementCheck's six numbers again, as plain fields so that users and JSON read them flat.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct DirectionCheck {
    /// The direction's index within its layer (0-based).
    pub index: usize,
    /// Σ (∂E/∂W_i) ⊙ V with the analytic gradient.
    pub analytic: f64,
    /// The central-difference estimate of the directional derivative.
    pub numeric: f64,
    /// |analytic − numeric|.
    pub difference: f64,
    /// The error allowed.
    pub allowed: f64,
    /// The step h along V.
    pub step: f64,
    /// The verdict.
    pub status: Status,
}

pub(crate) fn ratio(difference: f64, allowed: f64) -> f64 {
    if difference.is_nan() {
        f64::INFINITY
    } else if difference == 0.0 {
        0.0
    } else if allowed > 0.0 {
        difference / allowed
    } else {
        f64::INFINITY
    }
}

/// The results for one weight matrix W_i.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerReport {
    /// The layer i.
    pub layer: usize,
    /// l_{i+1}, the rows of W_i.
    pub rows: usize,
    /// l_i, the columns of W_i.
    pub cols: usize,
    /// Elements checked one by one.
    pub checked: usize,
    /// Elements passed.
    pub passed: usize,
    /// Elements failed.
    pub failed: usize,
    /// Elements where a step crossed a kink of σ.
    pub kink_crossed: usize,
    /// Elements below the float floor.
    pub below_floor: usize,
    /// checked / (rows × cols).
    pub coverage: f64,
    /// Projected mode: the directional derivatives (empty in the other modes).
    pub directions: Vec<DirectionCheck>,
    /// Projected mode: a direction failed, so every element of the layer was then checked.
    pub fell_back_to_full: bool,
    /// The worst elements checked, largest difference / allowed first.
    pub worst: Vec<ElementCheck>,
}

impl LayerReport {
    /// The report of W_i (`rows` × `cols`) before anything is checked: every count 0.
    pub fn empty(layer: usize, rows: usize, cols: usize) -> Self {
        Self {
            layer,
            rows,
            cols,
            checked: 0,
            passed: 0,
            failed: 0,
            kink_crossed: 0,
            below_floor: 0,
            coverage: 0.0,
            directions: Vec::new(),
            fell_back_to_full: false,
            worst: Vec::new(),
        }
    }

    /// Counts one checked element with verdict `status`.
    pub fn count(&mut self, status: Status) {
        self.checked += 1;
        match status {
            Status::Passed => self.passed += 1,
            Status::Failed => self.failed += 1,
            Status::KinkCrossed => self.kink_crossed += 1,
            Status::BelowFloor => self.below_floor += 1,
        }
    }

    /// The number of elements of W_i.
    pub fn elements(&self) -> usize {
        self.rows * self.cols
    }

    /// No element and no direction failed (see [`Report::verdict`] for whether enough of
    /// them were judged).
    pub fn passed(&self) -> bool {
        !self.any_failed()
    }

    /// Values judged (passed or failed, elements and directions) over values checked: the
    /// share of the layer's checks that could have failed. 0 when nothing was checked.
    pub fn judged_share(&self) -> f64 {
        let judged = self.passed
            + self.failed
            + self
                .directions
                .iter()
                .filter(|d| matches!(d.status, Status::Passed | Status::Failed))
                .count();
        let total = self.checked + self.directions.len();
        if total == 0 {
            0.0
        } else {
            judged as f64 / total as f64
        }
    }

    /// Some element or direction failed.
    pub fn any_failed(&self) -> bool {
        self.failed > 0 || self.directions.iter().any(|d| d.status == Status::Failed)
    }
}

/// The outcome of a check: what was checked, how, and the verdicts per layer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Which elements were checked. In JSON its fields stand at the top level: `"mode":
    /// "sampled", "per_layer": 16`.
    #[serde(flatten)]
    pub mode: Mode,
    /// The seed of sampled elements and directions.
    pub seed: u64,
    /// The numerical reference.
    pub oracle: Oracle,
    /// The scalar of the network and its analytic gradient: `F32` or `F64` (`F64` for a
    /// function check).
    pub dtype: String,
    /// The scalar the numerical reference was computed in.
    pub evaluation_dtype: String,
    /// The activation's name (empty for a function check).
    pub activation: String,
    /// l_0..l_n (for a function check, the parameter count).
    pub sizes: Vec<usize>,
    /// B, the samples in the batch (1 for a function check).
    pub samples: usize,
    /// E at the unperturbed weights, summed over the batch.
    pub loss: f64,
    /// One report per weight matrix W_0..W_{n−1}.
    pub layers: Vec<LayerReport>,
    /// The share of judged values each layer needed ([`crate::CheckConfig::min_judged`]).
    #[serde(default)]
    pub min_judged: f64,
}

impl Report {
    /// [`Verdict::Failed`] when any element or direction failed; otherwise
    /// [`Verdict::Inconclusive`] when some layer judged less than [`Report::min_judged`] of
    /// what it checked ([`LayerReport::judged_share`]); otherwise [`Verdict::Passed`].
    pub fn verdict(&self) -> Verdict {
        if self.any_failed() {
            Verdict::Failed
        } else if self.inconclusive_layers().is_empty() {
            Verdict::Passed
        } else {
            Verdict::Inconclusive
        }
    }

    /// The verdict is [`Verdict::Passed`]: nothing failed and every layer judged enough.
    pub fn passed(&self) -> bool {
        self.verdict() == Verdict::Passed
    }

    /// The layers i that judged less than [`Report::min_judged`] of their values, in order.
    pub fn inconclusive_layers(&self) -> Vec<usize> {
        self.layers
            .iter()
            .filter(|l| l.judged_share() < self.min_judged)
            .map(|l| l.layer)
            .collect()
    }

    /// Some element or direction failed.
    pub fn any_failed(&self) -> bool {
        self.layers.iter().any(LayerReport::any_failed)
    }

    /// The layers i with a failure, in order.
    pub fn failed_layers(&self) -> Vec<usize> {
        self.layers
            .iter()
            .filter(|l| l.any_failed())
            .map(|l| l.layer)
            .collect()
    }

    /// Failed elements recorded among the worst of each layer.
    pub fn failures(&self) -> impl Iterator<Item = &ElementCheck> {
        self.layers
            .iter()
            .flat_map(|l| l.worst.iter())
            .filter(|e| e.status == Status::Failed)
    }

    /// Totals over the layers: (checked, passed, failed, kink crossed, below floor).
    pub fn totals(&self) -> (usize, usize, usize, usize, usize) {
        self.layers.iter().fold((0, 0, 0, 0, 0), |t, l| {
            (
                t.0 + l.checked,
                t.1 + l.passed,
                t.2 + l.failed,
                t.3 + l.kink_crossed,
                t.4 + l.below_floor,
            )
        })
    }

    /// The report as pretty-printed JSON: its fields, with `verdict` (`passed`, `failed` or
    /// `inconclusive`) and `inconclusive_layers` first.
    pub fn to_json(&self) -> String {
        #[derive(Serialize)]
        struct Json<'a> {
            verdict: Verdict,
            inconclusive_layers: Vec<usize>,
            #[serde(flatten)]
            report: &'a Report,
        }
        let json = Json {
            verdict: self.verdict(),
            inconclusive_layers: self.inconclusive_layers(),
            report: self,
        };
        // Serialising plain data with finite or non-finite floats cannot fail: serde_json
        // writes non-finite floats as null.
        serde_json::to_string_pretty(&json).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sizes: Vec<String> = self.sizes.iter().map(usize::to_string).collect();
        writeln!(
            f,
            "gradient check: {} mode, oracle {}, sizes {}, {} sample(s), {} network checked in {}, seed {}{}",
            self.mode,
            match self.oracle {
                Oracle::FiniteDifferences => "finite differences",
                Oracle::Dual => "dual numbers",
            },
            sizes.join("-"),
            self.samples,
            self.dtype,
            self.evaluation_dtype,
            self.seed,
            if self.activation.is_empty() {
                String::new()
            } else {
                format!(", activation {}", self.activation)
            }
        )?;
        writeln!(f, "E = {:.6e}", self.loss)?;
        writeln!(
            f,
            "{:>5}  {:>9}  {:>9}  {:>8}  {:>8}  {:>8}  {:>8}  {:>8}  {:>10}",
            "layer",
            "shape",
            "checked",
            "coverage",
            "passed",
            "FAILED",
            "kink",
            "floor",
            "directions"
        )?;
        for l in &self.layers {
            let dirs = if l.directions.is_empty() {
                "-".to_string()
            } else {
                let bad = l
                    .directions
                    .iter()
                    .filter(|d| d.status == Status::Failed)
                    .count();
                format!("{}/{} ok", l.directions.len() - bad, l.directions.len())
            };
            writeln!(
                f,
                "{:>5}  {:>9}  {:>9}  {:>7.1}%  {:>8}  {:>8}  {:>8}  {:>8}  {:>10}",
                format!("W_{}", l.layer),
                format!("{}×{}", l.rows, l.cols),
                l.checked,
                100.0 * l.coverage,
                l.passed,
                l.failed,
                l.kink_crossed,
                l.below_floor,
                dirs
            )?;
        }
        let worst: Vec<&ElementCheck> = self.layers.iter().flat_map(|l| l.worst.iter()).collect();
        if !worst.is_empty() {
            writeln!(
                f,
                "worst elements (|analytic − numeric| / allowed, per layer):"
            )?;
            writeln!(
                f,
                "  {:<16} {:>14} {:>14} {:>10} {:>10} {:>10} {:>8}  status",
                "element", "analytic", "numeric", "|diff|", "allowed", "step", "ratio"
            )?;
            for e in worst {
                writeln!(
                    f,
                    "  {:<16} {:>14.6e} {:>14.6e} {:>10.2e} {:>10.2e} {:>10.2e} {:>8.2}  {}",
                    format!("W_{}[{},{}]", e.layer, e.row, e.col),
                    e.analytic,
                    e.numeric,
                    e.difference,
                    e.allowed,
                    e.step,
                    e.ratio(),
                    e.status.short()
                )?;
            }
        }
        for l in &self.layers {
            for d in l.directions.iter().filter(|d| d.status != Status::Passed) {
                writeln!(
                    f,
                    "  W_{} direction {}: analytic {:.6e}, numeric {:.6e}, |diff| {:.2e}, allowed {:.2e}, step {:.2e}: {}",
                    l.layer,
                    d.index,
                    d.analytic,
                    d.numeric,
                    d.difference,
                    d.allowed,
                    d.step,
                    d.status.short()
                )?;
            }
        }
        let (checked, passed, failed, kinks, floor) = self.totals();
        write!(
            f,
            "{}: {checked} checked, {passed} passed, {failed} failed, {kinks} kink crossed, {floor} below the float floor",
            self.verdict()
        )?;
        let unjudged: Vec<String> = self
            .layers
            .iter()
            .filter(|l| l.judged_share() < self.min_judged)
            .map(|l| format!("W_{} {:.1}%", l.layer, 100.0 * l.judged_share()))
            .collect();
        if !unjudged.is_empty() {
            write!(
                f,
                "; judged less than {:.1}% of the values in {}",
                100.0 * self.min_judged,
                unjudged.join(", ")
            )?;
        }
        Ok(())
    }
}
