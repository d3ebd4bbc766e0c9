//! Argument types and parsers shared by the commands: `--dtype`, `--layers`, `--activation`,
//! positive numbers, and sizes written as `2-16-16-2`.

use backprop::Activation;

/// `--dtype`: the scalar the network computes in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DtypeArg {
    /// 32-bit floats.
    F32,
    /// 64-bit floats.
    F64,
}

impl DtypeArg {
    /// The core crate's dtype.
    pub fn dtype(self) -> backprop::Dtype {
        match self {
            DtypeArg::F32 => backprop::Dtype::F32,
            DtypeArg::F64 => backprop::Dtype::F64,
        }
    }
}

/// `--layers`: l_0,…,l_n (a newtype, so that clap takes one value, not a list).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layers(pub Vec<usize>);

/// Parses `--layers` into [`Layers`].
pub fn layers_arg(s: &str) -> Result<Layers, String> {
    parse_layers(s).map(Layers)
}

/// Parses `--layers`: sizes l_0..l_n separated by commas (or hyphens, as in 3-4-5-2).
pub fn parse_layers(s: &str) -> Result<Vec<usize>, String> {
    let parts: Vec<&str> = s.split([',', '-']).map(str::trim).collect();
    let mut sizes = Vec::with_capacity(parts.len());
    for (i, p) in parts.iter().enumerate() {
        let l: usize = p
            .parse()
            .map_err(|_| format!("layer {i}: {p:?} is not a whole number (e.g. 2,16,16,2)"))?;
        if l == 0 {
            return Err(format!(
                "layer {i} has width 0; every l_i must be at least 1"
            ));
        }
        sizes.push(l);
    }
    if sizes.len() < 2 {
        return Err("give at least l_0 and l_n, e.g. 2,16,2".into());
    }
    Ok(sizes)
}

/// Parses `--activation` with the core crate's names.
pub fn parse_activation(s: &str) -> Result<Activation, String> {
    s.parse::<Activation>().map_err(|e| e.to_string())
}

/// A finite positive number (learning rate).
pub fn parse_positive(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
        _ => Err(format!("{s:?} is not a positive finite number")),
    }
}

/// Sizes as `2-16-16-2`.
pub fn sizes_text(sizes: &[usize]) -> String {
    sizes
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_parse_with_commas_or_hyphens() {
        assert_eq!(parse_layers("2,16,16,2").unwrap(), vec![2, 16, 16, 2]);
        assert_eq!(parse_layers("3-4-5-2").unwrap(), vec![3, 4, 5, 2]);
        assert_eq!(parse_layers(" 3, 1 ").unwrap(), vec![3, 1]);
        assert!(parse_layers("3").unwrap_err().contains("at least"));
        assert!(
            parse_layers("3,0,2")
                .unwrap_err()
                .contains("layer 1 has width 0")
        );
        assert!(parse_layers("3,x,2").unwrap_err().contains("layer 1"));
        assert!(parse_layers("").is_err());
    }
}
