//! `total_order_key` orders like `f64::total_cmp` (the sorts that use it must give the sequences
//! of the stable `sort_by(total_cmp)` they replace).

use proptest::prelude::*;
use td_particles::total_order_key;

fn special() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        Just(0.0),
        Just(-0.0),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(f64::NAN),
        Just(-f64::NAN),
        Just(f64::MIN_POSITIVE),
        Just(-f64::MIN_POSITIVE),
    ]
}

proptest! {
    #[test]
    fn key_orders_like_total_cmp(a in special(), b in special()) {
        prop_assert_eq!(total_order_key(a).cmp(&total_order_key(b)), a.total_cmp(&b));
        prop_assert_eq!((!total_order_key(a)).cmp(&!total_order_key(b)), b.total_cmp(&a));
    }
}
