//! Smoke test.
use backprop::{Activation, Network};
use backprop_gradcheck::*;
use nalgebra::DMatrix;

#[test]
fn smoke() {
    for act in Activation::ALL {
        let net = Network::<f64>::random(&[3, 4, 5, 2], act, 1).unwrap();
        let x = DMatrix::from_fn(3, 2, |r, c| (r as f64 * 0.3 - c as f64 * 0.2) + 0.1);
        let y = DMatrix::from_fn(2, 2, |r, c| r as f64 - c as f64 * 0.5);
        for cfg in [
            CheckConfig::full(),
            CheckConfig::projected(3),
            CheckConfig::full().with_oracle(Oracle::Dual),
        ] {
            let rep = check_backprop(&net, x.as_view(), y.as_view(), &cfg).unwrap();
            println!("{rep}");
            assert!(rep.passed());
        }
        let net32 = Network::<f32>::random(&[3, 4, 5, 2], act, 1).unwrap();
        let x32 = x.map(|v| v as f32);
        let y32 = y.map(|v| v as f32);
        let rep =
            check_backprop(&net32, x32.as_view(), y32.as_view(), &CheckConfig::full()).unwrap();
        println!("{rep}");
        assert!(rep.passed());
        let mut ws = backprop::Workspace::new(&net, 2).unwrap();
        ws.gradient(&net, x.as_view(), y.as_view()).unwrap();
        let mut g = ws.gradient_ref().clone();
        g.layer_mut(1)[(2, 1)] += 1e-4;
        let rep = check_network(
            &net,
            x.as_view(),
            y.as_view(),
            &g,
            &CheckConfig::projected(2),
        )
        .unwrap();
        println!("{rep}");
        assert_eq!(rep.failed_layers(), vec![1]);
    }
}
