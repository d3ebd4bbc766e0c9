//! The book's chapter "Gradient checking": a central difference and one Richardson step by
//! hand on one weight, then the checker on a correct gradient (f64, and f32 against an f64
//! evaluation) and on a gradient with one element wrong by a relative 10⁻⁵, which it names.
//!
//! Run: `cargo run --release -p backprop-gradcheck --example book_gradient_checking`

use backprop::gradient::denominator;
use backprop::{Activation, Network};
use backprop_gradcheck::{CheckConfig, check_backprop, check_network};
use nalgebra::DMatrix;

fn main() -> Result<(), backprop_gradcheck::Error> {
    let net = Network::<f64>::random(&[3, 4, 5, 2], Activation::Sigmoid, 42)?;
    let x = DMatrix::from_fn(3, 4, |r, c| ((r * 4 + c) % 5) as f64 / 4.0 - 0.5);
    let y = DMatrix::from_fn(2, 4, |r, c| if (r + c) % 2 == 0 { 0.5 } else { -0.5 });
    let (_, g) = denominator::gradient(&net, x.as_view(), y.as_view())?;

    // ANCHOR: richardson
    // E as a function of the one weight W_0^{21}.
    let (i, j, k) = (0, 2, 1);
    let e_at = |w: f64| {
        let mut moved = net.clone();
        moved.weight_mut(i)[(j, k)] = w;
        backprop::loss(y.as_view(), moved.predict(x.as_view()).unwrap().as_view())
    };
    let w = net.weight(i)[(j, k)];
    // D(h) = (E(w + h) − E(w − h)) / 2h = g + c₃h² + c₅h⁴ + …
    let d = |h: f64| (e_at(w + h) - e_at(w - h)) / (2.0 * h);
    let h = 1e-2;
    // Richardson: D(h/2) + (D(h/2) − D(h)) / 3 cancels the h² term.
    let richardson = d(h / 2.0) + (d(h / 2.0) - d(h)) / 3.0;
    let exact = g.layer(i)[(j, k)];
    println!("backprop (∂E/∂W_{i})^{{{j}{k}}} = {exact:.12}");
    for (name, value) in [
        ("D(h)", d(h)),
        ("D(h/2)", d(h / 2.0)),
        ("Richardson", richardson),
    ] {
        println!(
            "{name:>10} = {value:.12}, error {:.1e}",
            (value - exact).abs()
        );
    }
    // Halving h divides the h² error by about 4; Richardson removes it.
    assert!((d(h / 2.0) - exact).abs() < (d(h) - exact).abs() / 3.0);
    assert!((richardson - exact).abs() < (d(h / 2.0) - exact).abs() / 100.0);
    // ANCHOR_END: richardson

    // ANCHOR: check
    // Every element against its own allowed error: backprop passes.
    let report = check_backprop(&net, x.as_view(), y.as_view(), &CheckConfig::full())?;
    assert!(report.passed());
    println!("correct f64 gradient: passed = {}", report.passed());

    // One element wrong by a relative 10⁻⁵: the check fails and names that element.
    let mut wrong = g.clone();
    wrong.layer_mut(1)[(3, 2)] *= 1.0 + 1e-5;
    let report = check_network(&net, x.as_view(), y.as_view(), &wrong, &CheckConfig::full())?;
    let named: Vec<_> = report.failures().map(|e| (e.layer, e.row, e.col)).collect();
    println!(
        "planted error at W_1[3, 2]: passed = {}, failures at {named:?}",
        report.passed()
    );
    assert!(!report.passed());
    assert_eq!(named, [(1, 3, 2)]);
    // ANCHOR_END: check

    // ANCHOR: f32
    // An f32 network is checked against an f64 evaluation of the same weights (the default).
    let net32 = Network::<f32>::random(&[3, 4, 5, 2], Activation::Sigmoid, 42)?;
    let report = check_backprop(
        &net32,
        x.cast::<f32>().as_view(),
        y.cast::<f32>().as_view(),
        &CheckConfig::full(),
    )?;
    println!(
        "correct f32 gradient, f64 evaluation: passed = {}",
        report.passed()
    );
    assert!(report.passed());
    // ANCHOR_END: f32
    Ok(())
}
